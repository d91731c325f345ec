-- Ghost users and catalog areas referenced by process types.
call lml_util.add_ghost_users('lml_processtypes_user_refs');
call lml_util.add_areas('lml_processtypes_area_copies');
drop table lml_processtypes_user_refs, lml_processtypes_area_copies;
-- Snapshots of main without _id that a username (else email) identifies.
call lml_util.resolve_snapshots('lml_processtypes', 'process_type_id', '{"createdBy": "created_by_user_id", "updatedBy": "updated_by_user_id"}');
