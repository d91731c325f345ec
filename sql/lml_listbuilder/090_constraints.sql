-- Foreign keys and indexes of lml_listbuilder.
alter table lml_listbuilder.main
  add constraint main_created_by_user_id_fkey foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_listbuilder.columns
  add foreign key (list_id) references lml_listbuilder.main (list_id);
alter table lml_listbuilder.visible_roles
  add foreign key (list_id) references lml_listbuilder.main (list_id),
  add foreign key (role_id) references lml_users.roles (role_id);

create index on lml_listbuilder.main (entity);
create index on lml_listbuilder.main (created_by_user_id);
create index on lml_listbuilder.main (updated_by_user_id);
create index on lml_listbuilder.main (is_deleted);
create index on lml_listbuilder.main (created_at);
create index on lml_listbuilder.visible_roles (role_id);
create index on lml_listbuilder.unmapped_values (document_id);
create index on lml_listbuilder.unresolvable_snapshots (document_id);
