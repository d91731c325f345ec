-- Foreign keys and indexes of lml_processes.

alter table lml_processes.main
  add constraint main_process_type_id_fkey foreign key (process_type_id) references lml_processtypes.main (process_type_id),
  add constraint main_applicant_person_id_fkey foreign key (applicant_person_id) references lml_people.main (person_id),
  add constraint main_current_area_id_fkey foreign key (current_area_id) references lml_users.areas (area_id),
  add constraint main_assigned_user_id_fkey foreign key (assigned_user_id) references lml_users.main (user_id),
  add constraint main_created_by_user_id_fkey foreign key (created_by_user_id) references lml_users.main (user_id),
  add constraint main_updated_by_user_id_fkey foreign key (updated_by_user_id) references lml_users.main (user_id);
alter table lml_processes.movements
  add foreign key (process_id) references lml_processes.main (process_id),
  add foreign key (from_area_id) references lml_users.areas (area_id),
  add foreign key (to_area_id) references lml_users.areas (area_id),
  add foreign key (moved_by_user_id) references lml_users.main (user_id);
alter table lml_processes.attachments
  add foreign key (process_id) references lml_processes.main (process_id),
  add foreign key (uploaded_by_user_id) references lml_users.main (user_id);

create index on lml_processes.main (process_number);
create index on lml_processes.main (status);
create index on lml_processes.main (process_type_id);
create index on lml_processes.main (applicant_person_id);
create index on lml_processes.main (current_area_id);
create index on lml_processes.main (assigned_user_id);
create index on lml_processes.main (created_by_user_id);
create index on lml_processes.main (updated_by_user_id);
create index on lml_processes.main (is_deleted);
create index on lml_processes.main (created_at);
create index on lml_processes.movements (from_area_id);
create index on lml_processes.movements (to_area_id);
create index on lml_processes.movements (moved_by_user_id);
create index on lml_processes.movements (moved_at);
create index on lml_processes.attachments (uploaded_by_user_id);
create index on lml_processes.unmapped_values (document_id);
create index on lml_processes.unresolvable_snapshots (document_id);
analyze lml_processes.movements;
analyze lml_processes.attachments;
