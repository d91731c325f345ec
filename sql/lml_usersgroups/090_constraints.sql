-- Foreign keys and indexes of lml_usersgroups.
alter table lml_usersgroups.main
  add constraint main_owner_user_id_fkey foreign key (owner_user_id) references lml_users.main (user_id),
  add constraint main_created_by_user_id_fkey foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_usersgroups.members
  add foreign key (group_id) references lml_usersgroups.main (group_id),
  add foreign key (user_id) references lml_users.main (user_id);

create index on lml_usersgroups.main (owner_user_id);
create index on lml_usersgroups.main (created_by_user_id);
create index on lml_usersgroups.main (updated_by_user_id);
create index on lml_usersgroups.main (is_deleted);
create index on lml_usersgroups.main (created_at);
create index on lml_usersgroups.members (user_id);
create index on lml_usersgroups.unmapped_values (document_id);
create index on lml_usersgroups.unresolvable_snapshots (document_id);
