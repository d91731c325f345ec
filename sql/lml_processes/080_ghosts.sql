-- Ghost users and catalog areas referenced by processes.
call lml_util.add_ghost_users('lml_processes_user_refs');
call lml_util.add_areas('lml_processes_area_copies');
drop table lml_processes_user_refs, lml_processes_area_copies;
-- Snapshots of main without _id that a username (else email) identifies.
call lml_util.resolve_snapshots('lml_processes', 'process_id', '{"createdBy": "created_by_user_id", "updatedBy": "updated_by_user_id", "assignedTo": "assigned_user_id"}');
