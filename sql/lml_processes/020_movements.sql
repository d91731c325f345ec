-- lml_processes.movements: movements[] of every process, expanded once.

create table lml_processes.movements (
  process_id text not null,
  position integer not null,
  from_area_id text,
  to_area_id text,
  moved_at timestamptz,
  moved_by_user_id text,
  note text
);

-- One row per movement, narrow: the raw `at` and `by` are kept only for the rows that need them
-- (garbage timestamps, snapshots without _id, users missing from lml_users). Built with create
-- table as, which (unlike insert) parses the documents in parallel workers.
create temp table lml_processes_movement_rows as
select
  e.process_id, e.position, e.seen_at, e.from_area_id, e.from_name, e.to_area_id, e.to_name,
  e.moved_at, e.moved_by_user_id, e.note,
  case when e.moved_at is null and jsonb_typeof(e.at) <> 'null' then e.at end as garbage_at,
  case
    when jsonb_typeof(e.by) = 'object' and (e.moved_by_user_id is null or u.user_id is null)
    then e.by
  end as odd_by
from (
  select
    p.process_id, v.position::integer as position, p.updated_at as seen_at,
    lml_util.ref_id(x."from") as from_area_id, x."from" ->> 'name' as from_name,
    lml_util.ref_id(x."to") as to_area_id, x."to" ->> 'name' as to_name,
    x.at, lml_util.ts(x.at) as moved_at,
    x.by, lml_util.user_id(x.by) as moved_by_user_id,
    x.note
  from lml_raw.lml_processes_mesa4core as r
  join lml_processes.main as p on p.process_id = r._id
  cross join lateral jsonb_to_record(r.doc) as y(movements jsonb)
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(y.movements) = 'array' then y.movements end
  ) with ordinality as v(movement, position)
  cross join lateral jsonb_to_record(v.movement)
    as x("from" jsonb, "to" jsonb, at jsonb, by jsonb, note text)
  where jsonb_typeof(v.movement) = 'object'
  offset 0
) as e
left join lml_users.main as u on u.user_id = e.moved_by_user_id and not u.is_ghost;

with movement_rows as (
  insert into lml_processes.movements
  select
    m.process_id, m.position, m.from_area_id, m.to_area_id, m.moved_at, m.moved_by_user_id, m.note
  from lml_processes_movement_rows as m
),
-- The few rows with a garbage timestamp or an odd snapshot, read once.
odd as materialized (
  select m.process_id, m.garbage_at, m.odd_by, m.moved_by_user_id, m.seen_at
  from lml_processes_movement_rows as m
  where m.garbage_at is not null or m.odd_by is not null
),
garbage as (
  insert into lml_processes.unmapped_values
  select m.process_id, 'movements.at', m.garbage_at, lml_util.unmapped_reason(m.garbage_at, 'timestamp')
  from odd as m
  where m.garbage_at is not null
),
unresolvable as (
  insert into lml_processes.unresolvable_snapshots
  select m.process_id, 'movements.by', m.odd_by
  from odd as m
  where m.odd_by is not null and m.moved_by_user_id is null
),
refs as (
  insert into lml_processes_user_refs
  select
    m.moved_by_user_id, m.odd_by ->> 'username', m.odd_by ->> 'firstName',
    m.odd_by ->> 'lastName', m.odd_by ->> 'email', m.seen_at
  from odd as m
  where m.odd_by is not null and m.moved_by_user_id is not null
),
-- Area copies reduced to the winner per area (latest document, then greatest name): the latest
-- copy of each (area, name) first, a few rows from one scan, then the winner among those.
copies as (
  select c.area_id, c.name, max(coalesce(m.seen_at, '-infinity')) as seen_at
  from lml_processes_movement_rows as m
  cross join lateral (values (m.from_area_id, m.from_name), (m.to_area_id, m.to_name))
    as c(area_id, name)
  where c.area_id is not null
  group by c.area_id, c.name
)
insert into lml_processes_area_copies
select distinct on (c.area_id) c.area_id, c.name, null, c.seen_at
from copies as c
order by c.area_id, c.seen_at desc, c.name collate "C" desc nulls last;

drop table lml_processes_movement_rows;

alter table lml_processes.movements add primary key (process_id, position);

comment on table lml_processes.movements is 'movements[]: the passes of a process between areas.';
comment on column lml_processes.movements.process_id is 'The process (FK).';
comment on column lml_processes.movements.position is 'Position (from 1) in movements[].';
comment on column lml_processes.movements.from_area_id is 'movements[].from._id (FK to lml_users.areas). Mongo path: movements[].from._id.';
comment on column lml_processes.movements.to_area_id is 'movements[].to._id (FK to lml_users.areas). Mongo path: movements[].to._id.';
comment on column lml_processes.movements.moved_at is 'movements[].at. Mongo path: movements[].at.';
comment on column lml_processes.movements.moved_by_user_id is 'movements[].by._id (FK to lml_users.main, ghosts included). Mongo path: movements[].by._id.';
comment on column lml_processes.movements.note is 'movements[].note. Mongo path: movements[].note.';
