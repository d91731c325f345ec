-- Foreign keys and indexes of lml_formbuilder.
alter table lml_formbuilder.main
  add constraint main_created_by_user_id_fkey foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_formbuilder.fields
  add foreign key (form_id) references lml_formbuilder.main (form_id);
alter table lml_formbuilder.field_options
  add foreign key (form_id, field_position) references lml_formbuilder.fields (form_id, position);

create index on lml_formbuilder.main (created_by_user_id);
create index on lml_formbuilder.main (updated_by_user_id);
create index on lml_formbuilder.main (status);
create index on lml_formbuilder.main (is_deleted);
create index on lml_formbuilder.main (created_at);
create index on lml_formbuilder.unmapped_values (document_id);
create index on lml_formbuilder.unresolvable_snapshots (document_id);
analyze lml_formbuilder.main;
