-- lml_users.roles and lml_users.areas (catalogs shared by every schema), user_roles, user_areas.

create table lml_users.roles (
  role_id text primary key,
  name text,
  description text,
  name_seen_at timestamptz
);

create table lml_users.areas (
  area_id text primary key,
  name text,
  code text,
  name_seen_at timestamptz
);

create temp table lml_users_role_copies as
select
  d.user_id, lml_util.oid(e -> '_id') as role_id, e ->> 'name' as name,
  e ->> 'description' as description, d.seen_at
from lml_users_docs as d
cross join lateral jsonb_array_elements(
  case when jsonb_typeof(d.roles) = 'array' then d.roles end
) as e
where jsonb_typeof(e) = 'object';

create temp table lml_users_area_copies as
select
  d.user_id, lml_util.oid(e -> '_id') as area_id, e ->> 'name' as name,
  e ->> 'code' as code, d.seen_at
from lml_users_docs as d
cross join lateral jsonb_array_elements(
  case when jsonb_typeof(d.areas) = 'array' then d.areas end
) as e
where jsonb_typeof(e) = 'object';

call lml_util.add_roles('lml_users_role_copies');
call lml_util.add_areas('lml_users_area_copies');

create table lml_users.user_roles as
select distinct c.user_id, c.role_id
from lml_users_role_copies as c
where c.role_id is not null;

create table lml_users.user_areas as
select distinct c.user_id, c.area_id
from lml_users_area_copies as c
where c.area_id is not null;

alter table lml_users.user_roles
  alter column user_id set not null,
  alter column role_id set not null,
  add primary key (user_id, role_id);
alter table lml_users.user_areas
  alter column user_id set not null,
  alter column area_id set not null,
  add primary key (user_id, area_id);

drop table lml_users_role_copies, lml_users_area_copies, lml_users_docs;

comment on table lml_users.roles is
  'Role catalog: every role _id found in users.roles[]; the name of the copy in the most recently updated user wins.';
comment on column lml_users.roles.role_id is 'roles[]._id (24-hex). Mongo path: roles[]._id.';
comment on column lml_users.roles.name is 'roles[].name of the winning copy. Mongo path: roles[].name.';
comment on column lml_users.roles.description is 'roles[].description of the winning copy (kept from an older copy when it has none). Mongo path: roles[].description.';
comment on column lml_users.roles.name_seen_at is 'Effective updated time of the document holding the winning copy.';

comment on table lml_users.areas is
  'Area catalog: every area _id found anywhere (users.areas[], processtypes area and steps[].area, processes currentArea and movements[].from/to); the copy in the most recently updated document wins.';
comment on column lml_users.areas.area_id is 'The area _id (24-hex).';
comment on column lml_users.areas.name is 'name of the winning copy.';
comment on column lml_users.areas.code is 'code (only users.areas[] copies carry it), from the winning copy or the last one that had it.';
comment on column lml_users.areas.name_seen_at is 'Effective updated time of the document holding the winning copy.';

comment on table lml_users.user_roles is 'Roles of each user (users.roles[]), one row per distinct (user, role).';
comment on column lml_users.user_roles.user_id is 'The user (FK to lml_users.main).';
comment on column lml_users.user_roles.role_id is 'roles[]._id (FK to lml_users.roles). Mongo path: roles[]._id.';

comment on table lml_users.user_areas is 'Areas of each user (users.areas[]), one row per distinct (user, area).';
comment on column lml_users.user_areas.user_id is 'The user (FK to lml_users.main).';
comment on column lml_users.user_areas.area_id is 'areas[]._id (FK to lml_users.areas). Mongo path: areas[]._id.';
