-- lml_processes.attachments: attachments[] of every process, expanded once.

create table lml_processes.attachments (
  process_id text not null,
  position integer not null,
  name text,
  size_bytes bigint,
  mime_type text,
  uploaded_at timestamptz,
  uploaded_by_user_id text
);

-- One row per attachment, narrow: the raw `uploadedAt` and `uploadedBy` are kept only for the
-- rows that need them (garbage timestamps, snapshots without _id, users missing from lml_users).
-- Built with create table as, which (unlike insert) parses the documents in parallel workers.
create temp table lml_processes_attachment_rows as
select
  e.process_id, e.position, e.seen_at, e.name, e.size_bytes, e.mime_type, e.uploaded_at,
  e.uploaded_by_user_id,
  case
    when e.uploaded_at is null and jsonb_typeof(e.uploaded_raw) <> 'null' then e.uploaded_raw
  end as garbage_at,
  case
    when jsonb_typeof(e.by) = 'object' and (e.uploaded_by_user_id is null or u.user_id is null)
    then e.by
  end as odd_by
from (
  select
    p.process_id, v.position::integer as position, p.updated_at as seen_at,
    x.name, lml_util.long(x.size) as size_bytes, x."mimeType" as mime_type,
    x."uploadedAt" as uploaded_raw, lml_util.ts(x."uploadedAt") as uploaded_at,
    x."uploadedBy" as by, lml_util.user_id(x."uploadedBy") as uploaded_by_user_id
  from lml_raw.lml_processes_mesa4core as r
  join lml_processes.main as p on p.process_id = r._id
  cross join lateral jsonb_to_record(r.doc) as y(attachments jsonb)
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(y.attachments) = 'array' then y.attachments end
  ) with ordinality as v(attachment, position)
  cross join lateral jsonb_to_record(v.attachment) as x(
    name text, size jsonb, "mimeType" text, "uploadedAt" jsonb, "uploadedBy" jsonb
  )
  where jsonb_typeof(v.attachment) = 'object'
  offset 0
) as e
left join lml_users.main as u on u.user_id = e.uploaded_by_user_id and not u.is_ghost;

with attachment_rows as (
  insert into lml_processes.attachments
  select
    a.process_id, a.position, a.name, a.size_bytes, a.mime_type,
    a.uploaded_at, a.uploaded_by_user_id
  from lml_processes_attachment_rows as a
),
garbage as (
  insert into lml_processes.garbage_timestamps
  select a.process_id, 'attachments.uploadedAt', a.garbage_at
  from lml_processes_attachment_rows as a
  where a.garbage_at is not null
),
unresolvable as (
  insert into lml_processes.unresolvable_snapshots
  select a.process_id, 'attachments.uploadedBy', a.odd_by
  from lml_processes_attachment_rows as a
  where a.odd_by is not null and a.uploaded_by_user_id is null
)
insert into lml_processes_user_refs
select
  a.uploaded_by_user_id, a.odd_by ->> 'username', a.odd_by ->> 'firstName',
  a.odd_by ->> 'lastName', a.odd_by ->> 'email', a.seen_at
from lml_processes_attachment_rows as a
where a.odd_by is not null and a.uploaded_by_user_id is not null;

drop table lml_processes_attachment_rows;

alter table lml_processes.attachments add primary key (process_id, position);

comment on table lml_processes.attachments is 'attachments[]: files attached to a process.';
comment on column lml_processes.attachments.process_id is 'The process (FK).';
comment on column lml_processes.attachments.position is 'Position (from 1) in attachments[].';
comment on column lml_processes.attachments.name is 'attachments[].name (file name).';
comment on column lml_processes.attachments.size_bytes is 'attachments[].size in bytes.';
comment on column lml_processes.attachments.mime_type is 'attachments[].mimeType.';
comment on column lml_processes.attachments.uploaded_at is 'attachments[].uploadedAt.';
comment on column lml_processes.attachments.uploaded_by_user_id is 'attachments[].uploadedBy._id (FK to lml_users.main, ghosts included).';
