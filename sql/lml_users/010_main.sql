-- lml_users.main: one row per user document; the unmapped values and unresolvable snapshots.

create table lml_users.main (
  user_id text not null,
  username text,
  email text,
  first_name text,
  last_name text,
  document_number text,
  document_number_raw text,
  is_active boolean,
  is_deleted boolean not null,
  is_ghost boolean not null,
  last_login_at timestamptz,
  settings jsonb,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text,
  ghost_seen_at timestamptz
);

create table lml_users.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_users.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

-- The user snapshots (createdBy, updatedBy) and catalog copies, kept for 020 and 030.
create temp table lml_users_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);
create temp table lml_users_docs (
  user_id text, roles jsonb, areas jsonb, seen_at timestamptz
);

with t as materialized (
  select
    d.*,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.user_id)) as created_at,
    coalesce(d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.user_id)) as updated_at
  from (
    select
      r._id as user_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed,
      lml_util.ts(x."lastLogin") as last_login_parsed
    from lml_raw.lml_users_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      username text, email text, "firstName" text, "lastName" text, dni text,
      roles jsonb, areas jsonb, active jsonb, deleted jsonb, "lastLogin" jsonb, settings jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
),
main_rows as (
  insert into lml_users.main
  select
    t.user_id,
    t.username,
    lower(btrim(t.email)),
    t."firstName",
    t."lastName",
    lml_util.digits(t.dni),
    t.dni,
    lml_util.bool(t.active),
    coalesce(lml_util.bool(t.deleted), false),
    false,
    t.last_login_parsed,
    t.settings,
    t.created_at,
    t.updated_at,
    lml_util.user_id(t."createdBy"),
    lml_util.user_id(t."updatedBy"),
    null
  from t
),
unmapped as (
  insert into lml_users.unmapped_values
  select t.user_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, u.expected)
  from t
  cross join lateral (values
    ('createdAt', t."createdAt", t.created_at_parsed is null, 'timestamp'),
    ('updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp'),
    ('lastLogin', t."lastLogin", t.last_login_parsed is null, 'timestamp'),
    ('active', t.active, lml_util.bool(t.active) is null, 'boolean'),
    ('deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean')
  ) as u(path, raw_value, is_unmapped, expected)
  where u.is_unmapped and jsonb_typeof(u.raw_value) <> 'null'
  union all
  select t.user_id, a.path, a.raw_value, a.reason
  from t
  cross join lateral (
    select * from lml_util.unmapped_array('roles', t.roles)
    union all
    select * from lml_util.unmapped_array('areas', t.areas)
  ) as a
),
snapshots as (
  select t.user_id as document_id, s.path, s.snapshot, t.updated_at as seen_at
  from t
  cross join lateral (values ('createdBy', t."createdBy"), ('updatedBy', t."updatedBy")) as s(path, snapshot)
  where jsonb_typeof(s.snapshot) in ('object', 'string')
),
unresolvable as (
  insert into lml_users.unresolvable_snapshots
  select s.document_id, s.path, s.snapshot from snapshots as s
  where lml_util.is_unresolvable(s.snapshot)
),
refs as (
  insert into lml_users_user_refs
  select
    lml_util.user_id(s.snapshot), s.snapshot ->> 'username', s.snapshot ->> 'firstName',
    s.snapshot ->> 'lastName', s.snapshot ->> 'email', s.seen_at
  from snapshots as s
  where lml_util.user_id(s.snapshot) is not null
)
insert into lml_users_docs
select t.user_id, t.roles, t.areas, t.updated_at from t;

alter table lml_users.main add constraint main_pkey primary key (user_id);

comment on table lml_users.main is
  'One row per document of lml_users_mesa4core (soft-deleted ones included) plus one ghost row per user referenced anywhere but missing from the collection.';
comment on column lml_users.main.user_id is 'The document _id (24-hex ObjectId, or the string id). Mongo path: _id.';
comment on column lml_users.main.username is 'username; unique among non-deleted real users. Mongo path: username.';
comment on column lml_users.main.email is 'email, trimmed and lower-cased (may be missing or shared). Mongo path: email.';
comment on column lml_users.main.first_name is 'firstName. Mongo path: firstName.';
comment on column lml_users.main.last_name is 'lastName. Mongo path: lastName.';
comment on column lml_users.main.document_number is 'dni reduced to its digits. Mongo path: dni.';
comment on column lml_users.main.document_number_raw is 'dni as stored. Mongo path: dni.';
comment on column lml_users.main.is_active is 'active, in any boolean spelling; NULL when missing or unreadable; false for ghosts. Mongo path: active.';
comment on column lml_users.main.is_deleted is 'deleted (soft delete) in any spelling, missing = false; true for ghosts. Mongo path: deleted.';
comment on column lml_users.main.is_ghost is 'True for a user referenced by some snapshot but absent from the collection; its fields come from its most recent snapshot.';
comment on column lml_users.main.last_login_at is 'lastLogin (any timestamp variant; garbage = NULL). Mongo path: lastLogin.';
comment on column lml_users.main.settings is 'settings, verbatim (free-form UI preferences). Mongo path: settings.';
comment on column lml_users.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_users.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_users.main.created_by_user_id is 'createdBy._id: the user who created this one (FK, ghosts included). Mongo path: createdBy._id.';
comment on column lml_users.main.updated_by_user_id is 'updatedBy._id: the user who last updated this one (FK). Mongo path: updatedBy._id.';
comment on column lml_users.main.ghost_seen_at is 'Ghosts only: effective updated time of the document holding the snapshot their fields come from.';

comment on table lml_users.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_users.unmapped_values.document_id is 'The user _id.';
comment on column lml_users.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_users.unmapped_values.raw_value is 'The value as found.';
comment on column lml_users.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';

comment on table lml_users.unresolvable_snapshots is
  'User snapshots of lml_users_mesa4core without _id (their FK is NULL).';
comment on column lml_users.unresolvable_snapshots.document_id is 'The user _id holding the snapshot.';
comment on column lml_users.unresolvable_snapshots.path is 'Mongo path: createdBy or updatedBy.';
comment on column lml_users.unresolvable_snapshots.snapshot is 'The snapshot as found.';
