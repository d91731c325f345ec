-- Ghost users referenced by list configurations (createdBy, updatedBy).
call lml_util.add_ghost_users('lml_listbuilder_user_refs');
drop table lml_listbuilder_user_refs;
