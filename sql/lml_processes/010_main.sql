-- lml_processes.main: one row per process document, its unmapped values and unresolvable snapshots.

create table lml_processes.main (
  process_id text not null,
  process_number text,
  year integer,
  process_type_id text,
  process_type_ref jsonb,
  status text,
  subject text,
  applicant_person_id text,
  applicant_ref jsonb,
  current_area_id text,
  assigned_user_id text,
  form_data jsonb,
  is_deleted boolean not null,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text
);

create table lml_processes.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_processes.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

-- Snapshots of users missing from lml_users (ghost candidates) and area copies, for 080.
create temp table lml_processes_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);
create temp table lml_processes_area_copies (
  area_id text, name text, code text, seen_at timestamptz
);

-- One row per document with the columns of main already computed, plus the raw values the
-- other tables need. Built with create table as, which (unlike insert) parses the documents in
-- parallel workers.
create temp table lml_processes_documents as
select
  t.*,
  pt.process_type_id,
  case
    when pt.process_type_id is null and jsonb_typeof(t."processType") is distinct from 'null'
    then t."processType"
  end as process_type_ref,
  pp.person_id as applicant_person_id,
  case
    when pp.person_id is null and jsonb_typeof(t.applicant) is distinct from 'null'
    then t.applicant
  end as applicant_ref
from (
  select
    d.*,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.process_id)) as created_at,
    coalesce(d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.process_id)) as updated_at,
    lml_util.long(d.year)::integer as year_number,
    lml_util.ref_id(d."processType") as process_type_key,
    lml_util.ref_id(d.applicant) as applicant_key,
    lml_util.ref_id(d."currentArea") as current_area_id,
    lml_util.user_id(d."assignedTo") as assigned_user_id,
    coalesce(lml_util.bool(d.deleted), false) as is_deleted,
    lml_util.user_id(d."createdBy") as created_by_user_id,
    lml_util.user_id(d."updatedBy") as updated_by_user_id
  from (
    select
      r._id as process_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed
    from lml_raw.lml_processes_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      "processNumber" text, year jsonb, "processType" jsonb, status text, subject text,
      applicant jsonb, "currentArea" jsonb, "assignedTo" jsonb, "formData" jsonb, deleted jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
  offset 0
) as t
left join lml_processtypes.main as pt on pt.process_type_id = t.process_type_key
left join lml_people.main as pp on pp.person_id = t.applicant_key;

with main_rows as (
  insert into lml_processes.main
  select
    t.process_id, t."processNumber", t.year_number, t.process_type_id, t.process_type_ref,
    t.status, t.subject, t.applicant_person_id, t.applicant_ref, t.current_area_id,
    t.assigned_user_id, t."formData", t.is_deleted, t.created_at, t.updated_at,
    t.created_by_user_id, t.updated_by_user_id
  from lml_processes_documents as t
),
-- Only the latest copy of each (area, name): add_areas would otherwise sort one row per process.
area_copies as (
  insert into lml_processes_area_copies
  select t.current_area_id, t."currentArea" ->> 'name', null, max(t.updated_at)
  from lml_processes_documents as t
  where jsonb_typeof(t."currentArea") = 'object'
  group by t.current_area_id, t."currentArea" ->> 'name'
),
unmapped as (
  insert into lml_processes.unmapped_values
  select t.process_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, u.expected)
  from lml_processes_documents as t
  cross join lateral (values
    ('createdAt', t."createdAt", t.created_at_parsed is null, 'timestamp'),
    ('updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp'),
    ('year', t.year, t.year_number is null, 'integer'),
    ('deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean')
  ) as u(path, raw_value, is_unmapped, expected)
  where u.is_unmapped and jsonb_typeof(u.raw_value) <> 'null'
),
-- The user ids were computed with the documents (lml_util.user_id); a snapshot object without
-- one is what lml_util.is_unresolvable means.
snapshots as (
  select t.process_id as document_id, v.path, v.snapshot, v.user_id, t.updated_at as seen_at
  from lml_processes_documents as t
  cross join lateral (values
    ('createdBy', t."createdBy", t.created_by_user_id),
    ('updatedBy', t."updatedBy", t.updated_by_user_id),
    ('assignedTo', t."assignedTo", t.assigned_user_id)
  ) as v(path, snapshot, user_id)
  where jsonb_typeof(v.snapshot) in ('object', 'string')
),
unresolvable as (
  insert into lml_processes.unresolvable_snapshots
  select v.document_id, v.path, v.snapshot from snapshots as v
  where jsonb_typeof(v.snapshot) = 'object' and v.user_id is null
)
insert into lml_processes_user_refs
select
  v.user_id, v.snapshot ->> 'username', v.snapshot ->> 'firstName',
  v.snapshot ->> 'lastName', v.snapshot ->> 'email', v.seen_at
from snapshots as v
where v.user_id is not null
  and not exists (
    select from lml_users.main as u where u.user_id = v.user_id and not u.is_ghost
  );

drop table lml_processes_documents;

alter table lml_processes.main add constraint main_pkey primary key (process_id);
analyze lml_processes.main;

comment on table lml_processes.main is 'One row per document of lml_processes_mesa4core (trámites), soft-deleted ones included.';
comment on column lml_processes.main.process_id is 'The document _id. Mongo path: _id.';
comment on column lml_processes.main.process_number is 'processNumber (e.g. EXP-2022-000123). Mongo path: processNumber.';
comment on column lml_processes.main.year is 'year. Mongo path: year.';
comment on column lml_processes.main.process_type_id is 'processType._id when that type exists (FK to lml_processtypes.main). Mongo path: processType._id.';
comment on column lml_processes.main.process_type_ref is 'processType snapshot, kept only when it points to no existing type (dangling). Mongo path: processType.';
comment on column lml_processes.main.status is 'status: iniciado, en_tramite, finalizado or archivado; any other value is kept (check lml_processes_status_known warns). Mongo path: status.';
comment on column lml_processes.main.subject is 'subject. Mongo path: subject.';
comment on column lml_processes.main.applicant_person_id is 'applicant._id when that person exists (FK to lml_people.main). Mongo path: applicant._id.';
comment on column lml_processes.main.applicant_ref is 'applicant snapshot, kept only when it points to no existing person (dangling). Mongo path: applicant.';
comment on column lml_processes.main.current_area_id is 'currentArea._id (FK to lml_users.areas). Mongo path: currentArea._id.';
comment on column lml_processes.main.assigned_user_id is 'assignedTo._id (FK to lml_users.main, ghosts included); NULL when unassigned. Mongo path: assignedTo._id.';
comment on column lml_processes.main.form_data is 'formData, verbatim (keys follow the form version of the process type). Mongo path: formData.';
comment on column lml_processes.main.is_deleted is 'deleted in any spelling, missing = false. Mongo path: deleted.';
comment on column lml_processes.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_processes.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_processes.main.created_by_user_id is 'createdBy._id (FK to lml_users.main). Mongo path: createdBy._id.';
comment on column lml_processes.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main). Mongo path: updatedBy._id.';

comment on table lml_processes.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_processes.unmapped_values.document_id is 'The process _id.';
comment on column lml_processes.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_processes.unmapped_values.raw_value is 'The value as found.';
comment on column lml_processes.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';
comment on table lml_processes.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy, assignedTo, movements.by, attachments.uploadedBy).';
comment on column lml_processes.unresolvable_snapshots.document_id is 'The process _id.';
comment on column lml_processes.unresolvable_snapshots.path is 'Mongo path of the snapshot.';
comment on column lml_processes.unresolvable_snapshots.snapshot is 'The snapshot as found.';
