-- lml_usersgroups.main (one row per group document) and members, with garbage and unresolvable snapshots.

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

create table lml_usersgroups.garbage_timestamps (
  document_id text not null,
  path text not null,
  value jsonb not null
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
garbage as (
  insert into lml_usersgroups.garbage_timestamps
  select g.document_id, g.path, g.value
  from (
    select t.group_id as document_id, 'createdAt' as path, t."createdAt" as value, t.created_at_parsed as parsed from t
    union all
    select t.group_id, 'updatedAt', t."updatedAt", t.updated_at_parsed from t
    union all
    select m.group_id, 'members.addedAt', m.added_raw, m.added_at from m
  ) as g
  where g.parsed is null and g.value is not null and jsonb_typeof(g.value) <> 'null'
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
comment on column lml_usersgroups.main.group_id is 'The document _id.';
comment on column lml_usersgroups.main.name is 'name.';
comment on column lml_usersgroups.main.description is 'description.';
comment on column lml_usersgroups.main.owner_user_id is 'owner._id (FK to lml_users.main, ghosts included; NULL when the snapshot has no _id).';
comment on column lml_usersgroups.main.is_deleted is 'deleted in any spelling, missing = false.';
comment on column lml_usersgroups.main.created_at is 'createdAt, else the ObjectId time of _id.';
comment on column lml_usersgroups.main.updated_at is 'updatedAt, else created_at.';
comment on column lml_usersgroups.main.created_by_user_id is 'createdBy._id (FK to lml_users.main).';
comment on column lml_usersgroups.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main).';

comment on table lml_usersgroups.members is
  'members[]: one row per (group, user); a user listed twice keeps the entry with the earliest addedAt. Members without _id are in unresolvable_snapshots.';
comment on column lml_usersgroups.members.group_id is 'The group (FK to lml_usersgroups.main).';
comment on column lml_usersgroups.members.user_id is 'members[]._id (FK to lml_users.main, ghosts included).';
comment on column lml_usersgroups.members.added_at is 'members[].addedAt.';
comment on column lml_usersgroups.members.position is 'Position (from 1) of the kept entry in members[].';

comment on table lml_usersgroups.garbage_timestamps is 'Unparseable timestamps (createdAt, updatedAt, members.addedAt), stored as NULL.';
comment on column lml_usersgroups.garbage_timestamps.document_id is 'The group _id.';
comment on column lml_usersgroups.garbage_timestamps.path is 'Mongo path: createdAt, updatedAt or members.addedAt.';
comment on column lml_usersgroups.garbage_timestamps.value is 'The value as found.';
comment on table lml_usersgroups.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy, owner, members).';
comment on column lml_usersgroups.unresolvable_snapshots.document_id is 'The group _id.';
comment on column lml_usersgroups.unresolvable_snapshots.path is 'Mongo path: createdBy, updatedBy, owner or members.';
comment on column lml_usersgroups.unresolvable_snapshots.snapshot is 'The snapshot as found.';
