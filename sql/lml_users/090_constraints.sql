-- Foreign keys and indexes of lml_users, added once the rows (ghosts included) exist.

alter table lml_users.main
  add constraint main_created_by_user_id_fkey
    foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey
    foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_users.user_roles
  add foreign key (user_id) references lml_users.main (user_id),
  add foreign key (role_id) references lml_users.roles (role_id);
alter table lml_users.user_areas
  add foreign key (user_id) references lml_users.main (user_id),
  add foreign key (area_id) references lml_users.areas (area_id);

create index on lml_users.main (username);
create index on lml_users.main (email);
create index on lml_users.main (document_number);
create index on lml_users.main (created_by_user_id);
create index on lml_users.main (updated_by_user_id);
create index on lml_users.main (created_at);
create index on lml_users.main (is_deleted);
create index on lml_users.main (is_ghost);
create index on lml_users.user_roles (role_id);
create index on lml_users.user_areas (area_id);
create index on lml_users.unmapped_values (document_id);
create index on lml_users.unresolvable_snapshots (document_id);

analyze lml_users.main;
analyze lml_users.roles;
analyze lml_users.areas;
