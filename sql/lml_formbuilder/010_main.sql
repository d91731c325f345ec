-- lml_formbuilder.main (one row per form document), fields and field_options.

create table lml_formbuilder.main (
  form_id text not null,
  name text,
  version integer,
  status text,
  layout jsonb,
  is_deleted boolean not null,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text
);

create table lml_formbuilder.fields (
  form_id text not null,
  position integer not null,
  field_key text,
  label text,
  type text,
  is_required boolean,
  sort_order integer,
  validations jsonb
);

create table lml_formbuilder.field_options (
  form_id text not null,
  field_position integer not null,
  position integer not null,
  value text,
  label text
);

create table lml_formbuilder.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_formbuilder.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

create temp table lml_formbuilder_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);

with t as materialized (
  select
    d.*,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.form_id)) as created_at,
    coalesce(d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.form_id)) as updated_at
  from (
    select
      r._id as form_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed
    from lml_raw.lml_formbuilder_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      name text, version jsonb, status text, fields jsonb, layout jsonb, deleted jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
),
f as (
  select t.form_id, e.position::integer as position, e.field
  from t
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(t.fields) = 'array' then t.fields end
  ) with ordinality as e(field, position)
  where jsonb_typeof(e.field) = 'object'
),
main_rows as (
  insert into lml_formbuilder.main
  select
    t.form_id, t.name, lml_util.long(t.version)::integer, t.status, t.layout,
    coalesce(lml_util.bool(t.deleted), false),
    t.created_at, t.updated_at,
    lml_util.user_id(t."createdBy"), lml_util.user_id(t."updatedBy")
  from t
),
field_rows as (
  insert into lml_formbuilder.fields
  select
    f.form_id, f.position, f.field ->> 'key', f.field ->> 'label', f.field ->> 'type',
    lml_util.bool(f.field -> 'required'), lml_util.long(f.field -> 'order')::integer,
    f.field -> 'validations'
  from f
),
option_rows as (
  insert into lml_formbuilder.field_options
  select f.form_id, f.position, o.position::integer, o.option ->> 'value', o.option ->> 'label'
  from f
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(f.field -> 'options') = 'array' then f.field -> 'options' end
  ) with ordinality as o(option, position)
  where jsonb_typeof(o.option) = 'object'
),
unmapped as (
  insert into lml_formbuilder.unmapped_values
  select t.form_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, u.expected)
  from t
  cross join lateral (values
    ('createdAt', t."createdAt", t.created_at_parsed is null, 'timestamp'),
    ('updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp'),
    ('version', t.version, lml_util.long(t.version) is null, 'integer'),
    ('deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean')
  ) as u(path, raw_value, is_unmapped, expected)
  where u.is_unmapped and jsonb_typeof(u.raw_value) <> 'null'
  union all
  select t.form_id, a.path, a.raw_value, a.reason
  from t
  cross join lateral lml_util.unmapped_array('fields', t.fields) as a
  union all
  select f.form_id, a.path, a.raw_value, a.reason
  from f
  cross join lateral lml_util.unmapped_array('fields.options', f.field -> 'options') as a
),
snapshots as (
  select t.form_id as document_id, s.path, s.snapshot, t.updated_at as seen_at
  from t
  cross join lateral (values ('createdBy', t."createdBy"), ('updatedBy', t."updatedBy")) as s(path, snapshot)
  where jsonb_typeof(s.snapshot) in ('object', 'string')
),
unresolvable as (
  insert into lml_formbuilder.unresolvable_snapshots
  select s.document_id, s.path, s.snapshot from snapshots as s
  where lml_util.is_unresolvable(s.snapshot)
)
insert into lml_formbuilder_user_refs
select
  lml_util.user_id(s.snapshot), s.snapshot ->> 'username', s.snapshot ->> 'firstName',
  s.snapshot ->> 'lastName', s.snapshot ->> 'email', s.seen_at
from snapshots as s
where lml_util.user_id(s.snapshot) is not null;

alter table lml_formbuilder.main add constraint main_pkey primary key (form_id);
alter table lml_formbuilder.fields add primary key (form_id, position);
alter table lml_formbuilder.field_options add primary key (form_id, field_position, position);

comment on table lml_formbuilder.main is 'One row per document of lml_formbuilder_mesa4core (dynamic forms).';
comment on column lml_formbuilder.main.form_id is 'The document _id. Mongo path: _id.';
comment on column lml_formbuilder.main.name is 'name. Mongo path: name.';
comment on column lml_formbuilder.main.version is 'version. Mongo path: version.';
comment on column lml_formbuilder.main.status is 'status (e.g. published). Mongo path: status.';
comment on column lml_formbuilder.main.layout is 'layout, verbatim (free-form). Mongo path: layout.';
comment on column lml_formbuilder.main.is_deleted is 'deleted in any spelling, missing = false. Mongo path: deleted.';
comment on column lml_formbuilder.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_formbuilder.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_formbuilder.main.created_by_user_id is 'createdBy._id (FK to lml_users.main). Mongo path: createdBy._id.';
comment on column lml_formbuilder.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main). Mongo path: updatedBy._id.';

comment on table lml_formbuilder.fields is 'fields[]: one row per field of a form.';
comment on column lml_formbuilder.fields.form_id is 'The form (FK to lml_formbuilder.main).';
comment on column lml_formbuilder.fields.position is 'Position (from 1) in fields[].';
comment on column lml_formbuilder.fields.field_key is 'fields[].key (the formData key). Mongo path: fields[].key.';
comment on column lml_formbuilder.fields.label is 'fields[].label. Mongo path: fields[].label.';
comment on column lml_formbuilder.fields.type is 'fields[].type: text, textarea, number, date, select, multiselect, checkbox or file; any other value is kept (check lml_formbuilder_field_type_known warns). Mongo path: fields[].type.';
comment on column lml_formbuilder.fields.is_required is 'fields[].required in any boolean spelling. Mongo path: fields[].required.';
comment on column lml_formbuilder.fields.sort_order is 'fields[].order. Mongo path: fields[].order.';
comment on column lml_formbuilder.fields.validations is 'fields[].validations, verbatim. Mongo path: fields[].validations.';

comment on table lml_formbuilder.field_options is 'fields[].options[] (select and multiselect fields).';
comment on column lml_formbuilder.field_options.form_id is 'The form.';
comment on column lml_formbuilder.field_options.field_position is 'The field (FK with form_id to lml_formbuilder.fields).';
comment on column lml_formbuilder.field_options.position is 'Position (from 1) in options[].';
comment on column lml_formbuilder.field_options.value is 'options[].value. Mongo path: fields[].options[].value.';
comment on column lml_formbuilder.field_options.label is 'options[].label. Mongo path: fields[].options[].label.';

comment on table lml_formbuilder.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_formbuilder.unmapped_values.document_id is 'The form _id.';
comment on column lml_formbuilder.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_formbuilder.unmapped_values.raw_value is 'The value as found.';
comment on column lml_formbuilder.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';
comment on table lml_formbuilder.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy).';
comment on column lml_formbuilder.unresolvable_snapshots.document_id is 'The form _id.';
comment on column lml_formbuilder.unresolvable_snapshots.path is 'Mongo path: createdBy or updatedBy.';
comment on column lml_formbuilder.unresolvable_snapshots.snapshot is 'The snapshot as found.';
