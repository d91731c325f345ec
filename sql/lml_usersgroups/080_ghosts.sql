-- Ghost users referenced by groups (createdBy, updatedBy, owner, members).
call lml_util.add_ghost_users('lml_usersgroups_user_refs');
drop table lml_usersgroups_user_refs;
-- Snapshots of main without _id that a username (else email) identifies.
call lml_util.resolve_snapshots('lml_usersgroups', 'group_id', '{"createdBy": "created_by_user_id", "updatedBy": "updated_by_user_id", "owner": "owner_user_id"}');
