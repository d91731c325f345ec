-- Ghost users and catalog areas referenced by processes.
call lml_util.add_ghost_users('lml_processes_user_refs');
call lml_util.add_areas('lml_processes_area_copies');
drop table lml_processes_user_refs, lml_processes_area_copies;
