-- Ghost users referenced by groups (createdBy, updatedBy, owner, members).
call lml_util.add_ghost_users('lml_usersgroups_user_refs');
drop table lml_usersgroups_user_refs;
