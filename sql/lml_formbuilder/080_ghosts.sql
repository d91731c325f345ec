-- Ghost users referenced by forms (createdBy, updatedBy).
call lml_util.add_ghost_users('lml_formbuilder_user_refs');
drop table lml_formbuilder_user_refs;
