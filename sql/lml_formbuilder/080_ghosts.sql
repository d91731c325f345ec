-- Ghost users referenced by forms (createdBy, updatedBy).
call lml_util.add_ghost_users('lml_formbuilder_user_refs');
drop table lml_formbuilder_user_refs;
-- Snapshots of main without _id that a username (else email) identifies.
call lml_util.resolve_snapshots('lml_formbuilder', 'form_id', '{"createdBy": "created_by_user_id", "updatedBy": "updated_by_user_id"}');
