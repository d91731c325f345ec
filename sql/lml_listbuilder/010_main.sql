-- lml_listbuilder.main (one row per list configuration), columns and visible_roles.

create table lml_listbuilder.main (
  list_id text not null,
  name text,
  entity text,
  filters jsonb,
  default_sort_field text,
  default_sort_direction integer,
  is_deleted boolean not null,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text
);

create table lml_listbuilder.columns (
  list_id text not null,
  position integer not null,
  field text,
  label text,
  width integer,
  is_sortable boolean,
  format jsonb
);

create table lml_listbuilder.visible_roles (
  list_id text not null,
  role_name text not null,
  role_id text
);

create table lml_listbuilder.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_listbuilder.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

create temp table lml_listbuilder_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);

with t as materialized (
  select
    d.*,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.list_id)) as created_at,
    coalesce(d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.list_id)) as updated_at
  from (
    select
      r._id as list_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed
    from lml_raw.lml_listbuilder_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      name text, entity text, columns jsonb, filters jsonb, "defaultSort" jsonb,
      "visibleToRoles" jsonb, deleted jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
),
-- Role names are unique in the catalog when one role carries them; others stay unresolved.
role_names as (
  select r.name, min(r.role_id) as role_id
  from lml_users.roles as r
  where r.name is not null
  group by r.name
  having count(*) = 1
),
main_rows as (
  insert into lml_listbuilder.main
  select
    t.list_id, t.name, t.entity, t.filters,
    t."defaultSort" ->> 'field', lml_util.long(t."defaultSort" -> 'direction')::integer,
    coalesce(lml_util.bool(t.deleted), false),
    t.created_at, t.updated_at,
    lml_util.user_id(t."createdBy"), lml_util.user_id(t."updatedBy")
  from t
),
column_rows as (
  insert into lml_listbuilder.columns
  select
    t.list_id, e.position::integer, e.col ->> 'field', e.col ->> 'label',
    lml_util.long(e.col -> 'width')::integer, lml_util.bool(e.col -> 'sortable'), e.col -> 'format'
  from t
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(t.columns) = 'array' then t.columns end
  ) with ordinality as e(col, position)
  where jsonb_typeof(e.col) = 'object'
),
role_rows as (
  insert into lml_listbuilder.visible_roles
  select v.list_id, v.role_name, rn.role_id
  from (
    select distinct t.list_id, e.role #>> '{}' as role_name
    from t
    cross join lateral jsonb_array_elements(
      case when jsonb_typeof(t."visibleToRoles") = 'array' then t."visibleToRoles" end
    ) as e(role)
    where jsonb_typeof(e.role) = 'string'
  ) as v
  left join role_names as rn on rn.name = v.role_name
),
unmapped as (
  insert into lml_listbuilder.unmapped_values
  select t.list_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, u.expected)
  from t
  cross join lateral (values
    ('createdAt', t."createdAt", t.created_at_parsed is null, 'timestamp'),
    ('updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp'),
    ('deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean')
  ) as u(path, raw_value, is_unmapped, expected)
  where u.is_unmapped and jsonb_typeof(u.raw_value) <> 'null'
  union all
  select t.list_id, a.path, a.raw_value, a.reason
  from t
  cross join lateral (
    select * from lml_util.unmapped_array('columns', t.columns)
    union all
    select * from lml_util.unmapped_array('visibleToRoles', t."visibleToRoles", 'string')
  ) as a
),
snapshots as (
  select t.list_id as document_id, v.path, v.snapshot, t.updated_at as seen_at
  from t
  cross join lateral (values ('createdBy', t."createdBy"), ('updatedBy', t."updatedBy")) as v(path, snapshot)
  where jsonb_typeof(v.snapshot) in ('object', 'string')
),
unresolvable as (
  insert into lml_listbuilder.unresolvable_snapshots
  select v.document_id, v.path, v.snapshot from snapshots as v
  where lml_util.is_unresolvable(v.snapshot)
)
insert into lml_listbuilder_user_refs
select
  lml_util.user_id(v.snapshot), v.snapshot ->> 'username', v.snapshot ->> 'firstName',
  v.snapshot ->> 'lastName', v.snapshot ->> 'email', v.seen_at
from snapshots as v
where lml_util.user_id(v.snapshot) is not null;

alter table lml_listbuilder.main add constraint main_pkey primary key (list_id);
alter table lml_listbuilder.columns add primary key (list_id, position);
alter table lml_listbuilder.visible_roles add primary key (list_id, role_name);

comment on table lml_listbuilder.main is 'One row per document of lml_listbuilder_mesa4core (UI list configurations).';
comment on column lml_listbuilder.main.list_id is 'The document _id. Mongo path: _id.';
comment on column lml_listbuilder.main.name is 'name. Mongo path: name.';
comment on column lml_listbuilder.main.entity is 'entity: the collection the list shows (e.g. processes). Mongo path: entity.';
comment on column lml_listbuilder.main.filters is 'filters, verbatim (MongoDB query operators such as $in as keys). Mongo path: filters.';
comment on column lml_listbuilder.main.default_sort_field is 'defaultSort.field. Mongo path: defaultSort.field.';
comment on column lml_listbuilder.main.default_sort_direction is 'defaultSort.direction: 1 ascending, -1 descending. Mongo path: defaultSort.direction.';
comment on column lml_listbuilder.main.is_deleted is 'deleted in any spelling, missing = false. Mongo path: deleted.';
comment on column lml_listbuilder.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_listbuilder.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_listbuilder.main.created_by_user_id is 'createdBy._id (FK to lml_users.main). Mongo path: createdBy._id.';
comment on column lml_listbuilder.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main). Mongo path: updatedBy._id.';

comment on table lml_listbuilder.columns is 'columns[]: the columns of a list.';
comment on column lml_listbuilder.columns.list_id is 'The list (FK).';
comment on column lml_listbuilder.columns.position is 'Position (from 1) in columns[].';
comment on column lml_listbuilder.columns.field is 'columns[].field. Mongo path: columns[].field.';
comment on column lml_listbuilder.columns.label is 'columns[].label. Mongo path: columns[].label.';
comment on column lml_listbuilder.columns.width is 'columns[].width in pixels. Mongo path: columns[].width.';
comment on column lml_listbuilder.columns.is_sortable is 'columns[].sortable. Mongo path: columns[].sortable.';
comment on column lml_listbuilder.columns.format is 'columns[].format, verbatim. Mongo path: columns[].format.';

comment on table lml_listbuilder.visible_roles is 'visibleToRoles[]: role names allowed to see a list, one row per distinct (list, name).';
comment on column lml_listbuilder.visible_roles.list_id is 'The list (FK).';
comment on column lml_listbuilder.visible_roles.role_name is 'visibleToRoles[] (a role name). Mongo path: visibleToRoles[].';
comment on column lml_listbuilder.visible_roles.role_id is 'The catalog role bearing that name when exactly one does (FK to lml_users.roles).';

comment on table lml_listbuilder.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_listbuilder.unmapped_values.document_id is 'The list _id.';
comment on column lml_listbuilder.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_listbuilder.unmapped_values.raw_value is 'The value as found.';
comment on column lml_listbuilder.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';
comment on table lml_listbuilder.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy).';
comment on column lml_listbuilder.unresolvable_snapshots.document_id is 'The list _id.';
comment on column lml_listbuilder.unresolvable_snapshots.path is 'Mongo path: createdBy or updatedBy.';
comment on column lml_listbuilder.unresolvable_snapshots.snapshot is 'The snapshot as found.';
