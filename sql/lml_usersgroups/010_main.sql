-- lml_usersgroups.main (one row per group document) and members, with unmapped values and unresolvable snapshots.

create table lml_usersgroups.main (
  group_id text not null,
  name text,
  description text,
  owner_user_id text,
  is_deleted boolean not null,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text
);

create table lml_usersgroups.members (
  group_id text not null,
  user_id text not null,
  added_at timestamptz,
  position integer not null
);

create table lml_usersgroups.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_usersgroups.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

create temp table lml_usersgroups_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);

with t as materialized (
  select
    d.*,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.group_id)) as created_at,
    coalesce(d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.group_id)) as updated_at
  from (
    select
      r._id as group_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed
    from lml_raw.lml_usersgroups_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      name text, description text, owner jsonb, members jsonb, deleted jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
),
m as (
  select
    t.group_id, e.position::integer as position, e.member,
    lml_util.user_id(e.member) as user_id,
    e.member -> 'addedAt' as added_raw,
    lml_util.ts(e.member -> 'addedAt') as added_at,
    t.updated_at as seen_at
  from t
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(t.members) = 'array' then t.members end
  ) with ordinality as e(member, position)
  where jsonb_typeof(e.member) = 'object'
),
main_rows as (
  insert into lml_usersgroups.main
  select
    t.group_id, t.name, t.description, lml_util.user_id(t.owner),
    coalesce(lml_util.bool(t.deleted), false),
    t.created_at, t.updated_at,
    lml_util.user_id(t."createdBy"), lml_util.user_id(t."updatedBy")
  from t
),
member_rows as (
  insert into lml_usersgroups.members
  select distinct on (m.group_id, m.user_id) m.group_id, m.user_id, m.added_at, m.position
  from m
  where m.user_id is not null
  order by m.group_id, m.user_id, m.added_at nulls last, m.position
),
unmapped as (
  insert into lml_usersgroups.unmapped_values
  select g.document_id, g.path, g.raw_value, lml_util.unmapped_reason(g.raw_value, g.expected)
  from (
    select t.group_id as document_id, 'createdAt' as path, t."createdAt" as raw_value,
      t.created_at_parsed is null as is_unmapped, 'timestamp' as expected
    from t
    union all
    select t.group_id, 'updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp' from t
    union all
    select t.group_id, 'deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean' from t
    union all
    select m.group_id, 'members.addedAt', m.added_raw, m.added_at is null, 'timestamp' from m
  ) as g
  where g.is_unmapped and jsonb_typeof(g.raw_value) <> 'null'
  union all
  select t.group_id, a.path, a.raw_value, a.reason
  from t
  cross join lateral lml_util.unmapped_array('members', t.members) as a
),
snapshots as (
  select t.group_id as document_id, s.path, s.snapshot, t.updated_at as seen_at
  from t
  cross join lateral (values
    ('createdBy', t."createdBy"), ('updatedBy', t."updatedBy"), ('owner', t.owner)
  ) as s(path, snapshot)
  where jsonb_typeof(s.snapshot) in ('object', 'string')
  union all
  select m.group_id, 'members', m.member, m.seen_at from m
),
unresolvable as (
  insert into lml_usersgroups.unresolvable_snapshots
  select s.document_id, s.path, s.snapshot from snapshots as s
  where lml_util.is_unresolvable(s.snapshot)
)
insert into lml_usersgroups_user_refs
select
  lml_util.user_id(s.snapshot), s.snapshot ->> 'username', s.snapshot ->> 'firstName',
  s.snapshot ->> 'lastName', s.snapshot ->> 'email', s.seen_at
from snapshots as s
where lml_util.user_id(s.snapshot) is not null;

alter table lml_usersgroups.main add constraint main_pkey primary key (group_id);
alter table lml_usersgroups.members add primary key (group_id, user_id);

comment on table lml_usersgroups.main is 'One row per document of lml_usersgroups_mesa4core (soft-deleted ones included).';
comment on column lml_usersgroups.main.group_id is 'The document _id. Mongo path: _id.';
comment on column lml_usersgroups.main.name is 'name. Mongo path: name.';
comment on column lml_usersgroups.main.description is 'description. Mongo path: description.';
comment on column lml_usersgroups.main.owner_user_id is 'owner._id (FK to lml_users.main, ghosts included; NULL when the snapshot has no _id). Mongo path: owner._id.';
comment on column lml_usersgroups.main.is_deleted is 'deleted in any spelling, missing = false. Mongo path: deleted.';
comment on column lml_usersgroups.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_usersgroups.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_usersgroups.main.created_by_user_id is 'createdBy._id (FK to lml_users.main). Mongo path: createdBy._id.';
comment on column lml_usersgroups.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main). Mongo path: updatedBy._id.';

comment on table lml_usersgroups.members is
  'members[]: one row per (group, user); a user listed twice keeps the entry with the earliest addedAt. Members without _id are in unresolvable_snapshots.';
comment on column lml_usersgroups.members.group_id is 'The group (FK to lml_usersgroups.main).';
comment on column lml_usersgroups.members.user_id is 'members[]._id (FK to lml_users.main, ghosts included). Mongo path: members[]._id.';
comment on column lml_usersgroups.members.added_at is 'members[].addedAt. Mongo path: members[].addedAt.';
comment on column lml_usersgroups.members.position is 'Position (from 1) of the kept entry in members[].';

comment on table lml_usersgroups.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_usersgroups.unmapped_values.document_id is 'The group _id.';
comment on column lml_usersgroups.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_usersgroups.unmapped_values.raw_value is 'The value as found.';
comment on column lml_usersgroups.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';
comment on table lml_usersgroups.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy, owner, members).';
comment on column lml_usersgroups.unresolvable_snapshots.document_id is 'The group _id.';
comment on column lml_usersgroups.unresolvable_snapshots.path is 'Mongo path: createdBy, updatedBy, owner or members.';
comment on column lml_usersgroups.unresolvable_snapshots.snapshot is 'The snapshot as found.';
