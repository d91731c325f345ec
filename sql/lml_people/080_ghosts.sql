-- Ghost users referenced by people (createdBy, updatedBy).
call lml_util.add_ghost_users('lml_people_user_refs');
drop table lml_people_user_refs;
-- Snapshots of main without _id that a username (else email) identifies.
call lml_util.resolve_snapshots('lml_people', 'person_id', '{"createdBy": "created_by_user_id", "updatedBy": "updated_by_user_id"}');
