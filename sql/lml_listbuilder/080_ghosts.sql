-- Ghost users referenced by list configurations (createdBy, updatedBy).
call lml_util.add_ghost_users('lml_listbuilder_user_refs');
drop table lml_listbuilder_user_refs;
-- Snapshots of main without _id that a username (else email) identifies.
call lml_util.resolve_snapshots('lml_listbuilder', 'list_id', '{"createdBy": "created_by_user_id", "updatedBy": "updated_by_user_id"}');
