-- Foreign keys and indexes of lml_people.
alter table lml_people.main
  add constraint main_legal_representative_person_id_fkey
    foreign key (legal_representative_person_id) references lml_people.main (person_id),
  add constraint main_created_by_user_id_fkey foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_people.emails add foreign key (person_id) references lml_people.main (person_id);
alter table lml_people.phones add foreign key (person_id) references lml_people.main (person_id);
alter table lml_people.addresses add foreign key (person_id) references lml_people.main (person_id);

create index on lml_people.main (document_number);
create index on lml_people.main (person_type);
create index on lml_people.main (legal_representative_person_id);
create index on lml_people.main (created_by_user_id);
create index on lml_people.main (updated_by_user_id);
create index on lml_people.main (is_deleted);
create index on lml_people.main (created_at);
create index on lml_people.emails (email);
create index on lml_people.unmapped_values (document_id);
create index on lml_people.unresolvable_snapshots (document_id);
analyze lml_people.main;
