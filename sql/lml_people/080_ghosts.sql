-- Ghost users referenced by people (createdBy, updatedBy).
call lml_util.add_ghost_users('lml_people_user_refs');
drop table lml_people_user_refs;
