-- Ghost users referenced by the users' own createdBy/updatedBy.
call lml_util.add_ghost_users('lml_users_user_refs');
drop table lml_users_user_refs;
