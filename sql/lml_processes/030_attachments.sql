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

with a as materialized (
  select
    p.process_id, e.position::integer as position, p.updated_at as seen_at,
    x.name, x.size, x."mimeType", x."uploadedAt", x."uploadedBy",
    lml_util.ts(x."uploadedAt") as uploaded_at,
    lml_util.user_id(x."uploadedBy") as uploaded_by_user_id
  from lml_raw.lml_processes_mesa4core as r
  join lml_processes.main as p on p.process_id = r._id
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(r.doc -> 'attachments') = 'array' then r.doc -> 'attachments' end
  ) with ordinality as e(attachment, position)
  cross join lateral jsonb_to_record(e.attachment) as x(
    name text, size jsonb, "mimeType" text, "uploadedAt" jsonb, "uploadedBy" jsonb
  )
  where jsonb_typeof(e.attachment) = 'object'
),
attachment_rows as (
  insert into lml_processes.attachments
  select
    a.process_id, a.position, a.name, lml_util.long(a.size), a."mimeType",
    a.uploaded_at, a.uploaded_by_user_id
  from a
),
garbage as (
  insert into lml_processes.garbage_timestamps
  select a.process_id, 'attachments.uploadedAt', a."uploadedAt"
  from a
  where a.uploaded_at is null and a."uploadedAt" is not null
    and jsonb_typeof(a."uploadedAt") <> 'null'
),
unresolvable as (
  insert into lml_processes.unresolvable_snapshots
  select a.process_id, 'attachments.uploadedBy', a."uploadedBy"
  from a
  where lml_util.is_unresolvable(a."uploadedBy")
)
insert into lml_processes_user_refs
select
  a.uploaded_by_user_id, a."uploadedBy" ->> 'username', a."uploadedBy" ->> 'firstName',
  a."uploadedBy" ->> 'lastName', a."uploadedBy" ->> 'email', a.seen_at
from a
where a.uploaded_by_user_id is not null
  and not exists (
    select from lml_users.main as u where u.user_id = a.uploaded_by_user_id and not u.is_ghost
  );

alter table lml_processes.attachments add primary key (process_id, position);

comment on table lml_processes.attachments is 'attachments[]: files attached to a process.';
comment on column lml_processes.attachments.process_id is 'The process (FK).';
comment on column lml_processes.attachments.position is 'Position (from 1) in attachments[].';
comment on column lml_processes.attachments.name is 'attachments[].name (file name).';
comment on column lml_processes.attachments.size_bytes is 'attachments[].size in bytes.';
comment on column lml_processes.attachments.mime_type is 'attachments[].mimeType.';
comment on column lml_processes.attachments.uploaded_at is 'attachments[].uploadedAt.';
comment on column lml_processes.attachments.uploaded_by_user_id is 'attachments[].uploadedBy._id (FK to lml_users.main, ghosts included).';
