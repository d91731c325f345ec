-- lml_processtypes.main (one row per process type document) and steps; area copies for the catalog.

create table lml_processtypes.main (
  process_type_id text not null,
  name text,
  code text,
  description text,
  form_id text,
  form_ref jsonb,
  area_id text,
  is_active boolean,
  is_deleted boolean not null,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text
);

create table lml_processtypes.steps (
  process_type_id text not null,
  position integer not null,
  step_order integer,
  name text,
  area_id text,
  sla_days integer
);

create table lml_processtypes.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_processtypes.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

create temp table lml_processtypes_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);
create temp table lml_processtypes_area_copies (
  area_id text, name text, code text, seen_at timestamptz
);

with t as materialized (
  select
    d.*,
    lml_util.ref_id(d.form) as form_ref_id,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.process_type_id)) as created_at,
    coalesce(
      d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.process_type_id)
    ) as updated_at
  from (
    select
      r._id as process_type_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed
    from lml_raw.lml_processtypes_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      name text, code text, description text, form jsonb, area jsonb, steps jsonb,
      active jsonb, deleted jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
),
s as (
  select t.process_type_id, e.position::integer as position, e.step, t.updated_at as seen_at
  from t
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(t.steps) = 'array' then t.steps end
  ) with ordinality as e(step, position)
  where jsonb_typeof(e.step) = 'object'
),
main_rows as (
  insert into lml_processtypes.main
  select
    t.process_type_id, t.name, t.code, t.description,
    f.form_id,
    case when f.form_id is null and jsonb_typeof(t.form) is distinct from 'null' then t.form end,
    lml_util.ref_id(t.area),
    lml_util.bool(t.active),
    coalesce(lml_util.bool(t.deleted), false),
    t.created_at, t.updated_at,
    lml_util.user_id(t."createdBy"), lml_util.user_id(t."updatedBy")
  from t
  left join lml_formbuilder.main as f on f.form_id = t.form_ref_id
),
step_rows as (
  insert into lml_processtypes.steps
  select
    s.process_type_id, s.position, lml_util.long(s.step -> 'order')::integer,
    s.step ->> 'name', lml_util.ref_id(s.step -> 'area'),
    lml_util.long(s.step -> 'slaDays')::integer
  from s
),
area_copies as (
  insert into lml_processtypes_area_copies
  select lml_util.ref_id(t.area), t.area ->> 'name', null, t.updated_at
  from t where jsonb_typeof(t.area) = 'object'
  union all
  select lml_util.ref_id(s.step -> 'area'), s.step -> 'area' ->> 'name', null, s.seen_at
  from s where jsonb_typeof(s.step -> 'area') = 'object'
),
unmapped as (
  insert into lml_processtypes.unmapped_values
  select t.process_type_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, u.expected)
  from t
  cross join lateral (values
    ('createdAt', t."createdAt", t.created_at_parsed is null, 'timestamp'),
    ('updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp'),
    ('active', t.active, lml_util.bool(t.active) is null, 'boolean'),
    ('deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean')
  ) as u(path, raw_value, is_unmapped, expected)
  where u.is_unmapped and jsonb_typeof(u.raw_value) <> 'null'
  union all
  select t.process_type_id, a.path, a.raw_value, a.reason
  from t
  cross join lateral lml_util.unmapped_array('steps', t.steps) as a
  union all
  select s.process_type_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, 'integer')
  from s
  cross join lateral (values
    ('steps.order', s.step -> 'order'), ('steps.slaDays', s.step -> 'slaDays')
  ) as u(path, raw_value)
  where jsonb_typeof(u.raw_value) <> 'null' and lml_util.long(u.raw_value) is null
),
snapshots as (
  select t.process_type_id as document_id, v.path, v.snapshot, t.updated_at as seen_at
  from t
  cross join lateral (values ('createdBy', t."createdBy"), ('updatedBy', t."updatedBy")) as v(path, snapshot)
  where jsonb_typeof(v.snapshot) in ('object', 'string')
),
unresolvable as (
  insert into lml_processtypes.unresolvable_snapshots
  select v.document_id, v.path, v.snapshot from snapshots as v
  where lml_util.is_unresolvable(v.snapshot)
)
insert into lml_processtypes_user_refs
select
  lml_util.user_id(v.snapshot), v.snapshot ->> 'username', v.snapshot ->> 'firstName',
  v.snapshot ->> 'lastName', v.snapshot ->> 'email', v.seen_at
from snapshots as v
where lml_util.user_id(v.snapshot) is not null;

alter table lml_processtypes.main add constraint main_pkey primary key (process_type_id);
alter table lml_processtypes.steps add primary key (process_type_id, position);

comment on table lml_processtypes.main is 'One row per document of lml_processtypes_mesa4core (types of process).';
comment on column lml_processtypes.main.process_type_id is 'The document _id. Mongo path: _id.';
comment on column lml_processtypes.main.name is 'name. Mongo path: name.';
comment on column lml_processtypes.main.code is 'code (unique). Mongo path: code.';
comment on column lml_processtypes.main.description is 'description. Mongo path: description.';
comment on column lml_processtypes.main.form_id is 'form._id when that form exists (FK to lml_formbuilder.main); NULL for no form or a dangling one. Mongo path: form._id.';
comment on column lml_processtypes.main.form_ref is 'form snapshot, kept only when it points to no existing form (dangling). Mongo path: form.';
comment on column lml_processtypes.main.area_id is 'area._id (FK to lml_users.areas). Mongo path: area._id.';
comment on column lml_processtypes.main.is_active is 'active in any boolean spelling. Mongo path: active.';
comment on column lml_processtypes.main.is_deleted is 'deleted in any spelling, missing = false. Mongo path: deleted.';
comment on column lml_processtypes.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_processtypes.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_processtypes.main.created_by_user_id is 'createdBy._id (FK to lml_users.main). Mongo path: createdBy._id.';
comment on column lml_processtypes.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main). Mongo path: updatedBy._id.';

comment on table lml_processtypes.steps is 'steps[]: the steps of a process type.';
comment on column lml_processtypes.steps.process_type_id is 'The process type (FK).';
comment on column lml_processtypes.steps.position is 'Position (from 1) in steps[].';
comment on column lml_processtypes.steps.step_order is 'steps[].order. Mongo path: steps[].order.';
comment on column lml_processtypes.steps.name is 'steps[].name. Mongo path: steps[].name.';
comment on column lml_processtypes.steps.area_id is 'steps[].area._id (FK to lml_users.areas). Mongo path: steps[].area._id.';
comment on column lml_processtypes.steps.sla_days is 'steps[].slaDays. Mongo path: steps[].slaDays.';

comment on table lml_processtypes.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_processtypes.unmapped_values.document_id is 'The process type _id.';
comment on column lml_processtypes.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_processtypes.unmapped_values.raw_value is 'The value as found.';
comment on column lml_processtypes.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';
comment on table lml_processtypes.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy).';
comment on column lml_processtypes.unresolvable_snapshots.document_id is 'The process type _id.';
comment on column lml_processtypes.unresolvable_snapshots.path is 'Mongo path: createdBy or updatedBy.';
comment on column lml_processtypes.unresolvable_snapshots.snapshot is 'The snapshot as found.';
