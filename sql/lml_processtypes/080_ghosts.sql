-- Ghost users and catalog areas referenced by process types.
call lml_util.add_ghost_users('lml_processtypes_user_refs');
call lml_util.add_areas('lml_processtypes_area_copies');
drop table lml_processtypes_user_refs, lml_processtypes_area_copies;
