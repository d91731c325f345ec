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

with m as materialized (
  select
    p.process_id, e.position::integer as position, p.updated_at as seen_at,
    x."from", x."to", x.at, x.by, x.note,
    lml_util.ts(x.at) as moved_at,
    lml_util.user_id(x.by) as moved_by_user_id
  from lml_raw.lml_processes_mesa4core as r
  join lml_processes.main as p on p.process_id = r._id
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(r.doc -> 'movements') = 'array' then r.doc -> 'movements' end
  ) with ordinality as e(movement, position)
  cross join lateral jsonb_to_record(e.movement) as x("from" jsonb, "to" jsonb, at jsonb, by jsonb, note text)
  where jsonb_typeof(e.movement) = 'object'
),
movement_rows as (
  insert into lml_processes.movements
  select
    m.process_id, m.position, lml_util.ref_id(m."from"), lml_util.ref_id(m."to"),
    m.moved_at, m.moved_by_user_id, m.note
  from m
),
garbage as (
  insert into lml_processes.garbage_timestamps
  select m.process_id, 'movements.at', m.at
  from m
  where m.moved_at is null and m.at is not null and jsonb_typeof(m.at) <> 'null'
),
unresolvable as (
  insert into lml_processes.unresolvable_snapshots
  select m.process_id, 'movements.by', m.by
  from m
  where lml_util.is_unresolvable(m.by)
),
refs as (
  insert into lml_processes_user_refs
  select
    m.moved_by_user_id, m.by ->> 'username', m.by ->> 'firstName', m.by ->> 'lastName',
    m.by ->> 'email', m.seen_at
  from m
  where m.moved_by_user_id is not null
    and not exists (
      select from lml_users.main as u where u.user_id = m.moved_by_user_id and not u.is_ghost
    )
),
-- Area copies reduced to the winner per area (latest document, then greatest name).
copies as (
  select lml_util.ref_id(m."from") as area_id, m."from" ->> 'name' as name, m.seen_at
  from m where jsonb_typeof(m."from") = 'object'
  union all
  select lml_util.ref_id(m."to"), m."to" ->> 'name', m.seen_at
  from m where jsonb_typeof(m."to") = 'object'
),
latest as (
  select c.area_id, max(coalesce(c.seen_at, '-infinity')) as seen_at
  from copies as c
  group by c.area_id
)
insert into lml_processes_area_copies
select c.area_id, max(c.name collate "C"), null, l.seen_at
from copies as c
join latest as l on l.area_id is not distinct from c.area_id
  and l.seen_at = coalesce(c.seen_at, '-infinity')
group by c.area_id, l.seen_at;

alter table lml_processes.movements add primary key (process_id, position);

comment on table lml_processes.movements is 'movements[]: the passes of a process between areas.';
comment on column lml_processes.movements.process_id is 'The process (FK).';
comment on column lml_processes.movements.position is 'Position (from 1) in movements[].';
comment on column lml_processes.movements.from_area_id is 'movements[].from._id (FK to lml_users.areas).';
comment on column lml_processes.movements.to_area_id is 'movements[].to._id (FK to lml_users.areas).';
comment on column lml_processes.movements.moved_at is 'movements[].at.';
comment on column lml_processes.movements.moved_by_user_id is 'movements[].by._id (FK to lml_users.main, ghosts included).';
comment on column lml_processes.movements.note is 'movements[].note.';
