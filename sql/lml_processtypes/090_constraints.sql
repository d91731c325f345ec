-- Foreign keys and indexes of lml_processtypes.
alter table lml_processtypes.main
  add constraint main_form_id_fkey foreign key (form_id) references lml_formbuilder.main (form_id),
  add constraint main_area_id_fkey foreign key (area_id) references lml_users.areas (area_id),
  add constraint main_created_by_user_id_fkey foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_processtypes.steps
  add foreign key (process_type_id) references lml_processtypes.main (process_type_id),
  add foreign key (area_id) references lml_users.areas (area_id);

create index on lml_processtypes.main (code);
create index on lml_processtypes.main (form_id);
create index on lml_processtypes.main (area_id);
create index on lml_processtypes.main (created_by_user_id);
create index on lml_processtypes.main (updated_by_user_id);
create index on lml_processtypes.main (is_deleted);
create index on lml_processtypes.main (created_at);
create index on lml_processtypes.steps (area_id);
create index on lml_processtypes.unmapped_values (document_id);
create index on lml_processtypes.unresolvable_snapshots (document_id);
analyze lml_processtypes.main;
