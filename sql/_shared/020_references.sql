-- lml_util reference helpers: user snapshot ids, ghost users and the role/area catalogs.
-- Each schema collects its copies in a table and calls these procedures; they upsert into
-- lml_users so that the result does not depend on the order the schemas run in.

create or replace function lml_util.user_id(snapshot jsonb) returns text
language sql immutable parallel safe as $$
  select case jsonb_typeof(snapshot)
    when 'object' then lml_util.oid(snapshot -> '_id')
    when 'string' then lml_util.oid(snapshot)
  end
$$;
comment on function lml_util.user_id(jsonb) is
  'User id of a user snapshot ({"_id": ObjectId or 24-hex, ...}) as lower-case hex; NULL when it has no _id.';

create or replace function lml_util.is_unresolvable(snapshot jsonb) returns boolean
language sql immutable parallel safe as $$
  select jsonb_typeof(snapshot) = 'object' and lml_util.oid(snapshot -> '_id') is null
$$;
comment on function lml_util.is_unresolvable(jsonb) is
  'True for a snapshot object that has no usable _id (its FK stays NULL and it is recorded in <schema>.unresolvable_snapshots).';

create or replace function lml_util.newer(
  seen_at timestamptz, label text, than_seen_at timestamptz, than_label text
) returns boolean
language sql immutable parallel safe as $$
  select (coalesce(seen_at, '-infinity'), coalesce(label, '') collate "C")
    > (coalesce(than_seen_at, '-infinity'), coalesce(than_label, '') collate "C")
$$;
comment on function lml_util.newer(timestamptz, text, timestamptz, text) is
  'Whether a copy seen at seen_at wins over another: later effective updated time, ties to the greatest label (code-point order); NULL times are the oldest.';

create or replace procedure lml_util.add_ghost_users(refs regclass)
language plpgsql as $proc$
begin
  -- refs: (user_id text, username text, first_name text, last_name text, email text,
  --        seen_at timestamptz), one row per user snapshot (any subset including the ghosts').
  execute format($sql$
    insert into lml_users.main as u (
      user_id, username, first_name, last_name, email,
      is_active, is_deleted, is_ghost, ghost_seen_at
    )
    select distinct on (r.user_id)
      r.user_id, r.username, r.first_name, r.last_name, lower(btrim(r.email)),
      false, true, true, r.seen_at
    from %s as r
    where r.user_id is not null
      and not exists (
        select from lml_users.main as m where m.user_id = r.user_id and not m.is_ghost
      )
    -- The remaining columns break the last ties, so the winner never depends on the physical
    -- row order (an incremental sync moves upserted rows; it must build what a full refresh does).
    order by r.user_id, coalesce(r.seen_at, '-infinity') desc,
      r.username collate "C" desc nulls last, r.first_name collate "C" desc nulls last,
      r.last_name collate "C" desc nulls last, r.email collate "C" desc nulls last
    on conflict (user_id) do update set
      username = excluded.username,
      first_name = excluded.first_name,
      last_name = excluded.last_name,
      email = excluded.email,
      ghost_seen_at = excluded.ghost_seen_at
    where u.is_ghost
      and lml_util.newer(excluded.ghost_seen_at, excluded.username, u.ghost_seen_at, u.username)
  $sql$, refs);
end
$proc$;
comment on procedure lml_util.add_ghost_users(regclass) is
  'Inserts every user id of refs(user_id, username, first_name, last_name, email, seen_at) missing from lml_users.main as a ghost (is_ghost, is_deleted) with the fields of its most recent snapshot; updates existing ghosts when a snapshot is more recent.';

create or replace procedure lml_util.add_areas(copies regclass)
language plpgsql as $proc$
begin
  -- copies: (area_id text, name text, code text, seen_at timestamptz), one row per copy.
  execute format($sql$
    insert into lml_users.areas as a (area_id, name, code, name_seen_at)
    select distinct on (c.area_id) c.area_id, c.name, c.code, c.seen_at
    from %s as c
    where c.area_id is not null
    order by c.area_id, coalesce(c.seen_at, '-infinity') desc, c.name collate "C" desc nulls last,
      c.code collate "C" desc nulls last -- last tie: independent of the physical row order
    on conflict (area_id) do update set
      name = excluded.name,
      code = coalesce(excluded.code, a.code),
      name_seen_at = excluded.name_seen_at
    where lml_util.newer(excluded.name_seen_at, excluded.name, a.name_seen_at, a.name)
  $sql$, copies);
end
$proc$;
comment on procedure lml_util.add_areas(regclass) is
  'Adds the areas of copies(area_id, name, code, seen_at) to lml_users.areas; the most recently updated copy''s name wins.';

create or replace procedure lml_util.add_roles(copies regclass)
language plpgsql as $proc$
begin
  -- copies: (role_id text, name text, description text, seen_at timestamptz), one row per copy.
  execute format($sql$
    insert into lml_users.roles as r (role_id, name, description, name_seen_at)
    select distinct on (c.role_id) c.role_id, c.name, c.description, c.seen_at
    from %s as c
    where c.role_id is not null
    order by c.role_id, coalesce(c.seen_at, '-infinity') desc, c.name collate "C" desc nulls last,
      c.description collate "C" desc nulls last -- last tie: independent of the physical row order
    on conflict (role_id) do update set
      name = excluded.name,
      description = coalesce(excluded.description, r.description),
      name_seen_at = excluded.name_seen_at
    where lml_util.newer(excluded.name_seen_at, excluded.name, r.name_seen_at, r.name)
  $sql$, copies);
end
$proc$;
comment on procedure lml_util.add_roles(regclass) is
  'Adds the roles of copies(role_id, name, description, seen_at) to lml_users.roles; the most recently updated copy''s name wins.';

create or replace function lml_util.ref_id(snapshot jsonb) returns text
language sql immutable parallel safe as $$
  select case jsonb_typeof(snapshot)
    when 'object' then lml_util.oid(snapshot -> '_id')
    when 'string' then lml_util.oid(snapshot)
  end
$$;
comment on function lml_util.ref_id(jsonb) is
  'Id of a reference snapshot ({"_id": ..., ...}, or a bare id) as text; NULL when it has none.';

create or replace procedure lml_util.resolve_snapshots(
  schema_name text, key_column text, columns jsonb
)
language plpgsql as $proc$
declare
  snapshot_path text;
  fk_column text;
begin
  -- columns: {"<Mongo path>": "<FK column of <schema>.main>"}, for the paths of main's snapshots.
  -- A snapshot without _id whose username (else email) identifies exactly one real user moves
  -- from unresolvable_snapshots to resolved_snapshots, and its FK column gets that user.
  execute format($sql$
    create table if not exists %1$I.resolved_snapshots (
      document_id text not null,
      path text not null,
      snapshot jsonb not null,
      user_id text not null references lml_users.main (user_id)
    );
    comment on table %1$I.resolved_snapshots is
      'User snapshots without _id resolved by their username (else email), which matched exactly one user; their FK column holds that user.';
    -- Real users by username and by email, kept only where the name or address is unique.
    create temp table lml_snapshot_names as
    select 'username' as kind, u.username as name, min(u.user_id) as user_id
    from lml_users.main as u
    where not u.is_ghost and u.username is not null
    group by u.username
    having count(*) = 1
    union all
    select 'email', u.email, min(u.user_id)
    from lml_users.main as u
    where not u.is_ghost and u.email is not null
    group by u.email
    having count(*) = 1;
    -- Statistics, or the planner takes both tables for a few rows and joins them in nested loops
    -- (quadratic: 3.5 s for 600 snapshots and 60,000 names).
    analyze lml_snapshot_names;
    analyze %1$I.unresolvable_snapshots;
    with candidates as materialized (
      select s.document_id, s.path, s.snapshot, coalesce(byname.user_id, byemail.user_id) as user_id
      from %1$I.unresolvable_snapshots as s
      left join lml_snapshot_names as byname
        on byname.kind = 'username' and byname.name = s.snapshot ->> 'username'
      left join lml_snapshot_names as byemail
        on byemail.kind = 'email' and s.snapshot ->> 'username' is null
        and byemail.name = lower(btrim(s.snapshot ->> 'email'))
      where s.path in (select jsonb_object_keys(%2$L::jsonb))
        and jsonb_typeof(s.snapshot) = 'object'
        and coalesce(byname.user_id, byemail.user_id) is not null
    ),
    moved as (
      delete from %1$I.unresolvable_snapshots as s
      using candidates as c
      where s.document_id = c.document_id and s.path = c.path and s.snapshot = c.snapshot
      returning c.document_id, c.path, c.snapshot, c.user_id
    )
    insert into %1$I.resolved_snapshots select * from moved;
    drop table lml_snapshot_names
  $sql$, schema_name, columns);
  for snapshot_path, fk_column in select * from jsonb_each_text(columns) loop
    execute format(
      'update %1$I.main as m set %2$I = r.user_id from %1$I.resolved_snapshots as r
       where r.path = %3$L and m.%4$I = r.document_id',
      schema_name, fk_column, snapshot_path, key_column
    );
  end loop;
end
$proc$;
comment on procedure lml_util.resolve_snapshots(text, text, jsonb) is
  'Resolves the snapshots without _id of <schema>.main (paths → FK columns) whose username, else email, identifies exactly one real user: moved to <schema>.resolved_snapshots, FK set; ambiguous ones stay unresolvable.';
