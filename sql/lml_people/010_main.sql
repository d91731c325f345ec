-- lml_people.main (one row per person document), emails, phones and addresses.

create table lml_people.main (
  person_id text not null,
  person_type text,
  first_name text,
  last_name text,
  business_name text,
  document_type text,
  document_number text,
  document_number_raw text,
  birth_date date,
  legal_representative_person_id text,
  legal_representative_ref jsonb,
  is_deleted boolean not null,
  created_at timestamptz,
  updated_at timestamptz,
  created_by_user_id text,
  updated_by_user_id text
);

create table lml_people.emails (
  person_id text not null,
  email text not null,
  is_primary boolean,
  position integer not null
);

create table lml_people.phones (
  person_id text not null,
  position integer not null,
  phone_type text,
  number text,
  number_digits text
);

create table lml_people.addresses (
  person_id text not null,
  position integer not null,
  street text,
  street_number text,
  city text,
  province text,
  postal_code text,
  country text,
  is_primary boolean
);

create table lml_people.unmapped_values (
  document_id text not null,
  path text not null,
  raw_value jsonb not null,
  reason text not null
);

create table lml_people.unresolvable_snapshots (
  document_id text not null,
  path text not null,
  snapshot jsonb not null
);

create temp table lml_people_user_refs (
  user_id text, username text, first_name text, last_name text, email text, seen_at timestamptz
);

with t as materialized (
  select
    d.*,
    coalesce(d.created_at_parsed, lml_util.oid_time(d.person_id)) as created_at,
    coalesce(d.updated_at_parsed, d.created_at_parsed, lml_util.oid_time(d.person_id)) as updated_at
  from (
    select
      r._id as person_id,
      x.*,
      lml_util.ts(x."createdAt") as created_at_parsed,
      lml_util.ts(x."updatedAt") as updated_at_parsed,
      lml_util.ts(x."birthDate") as birth_parsed
    from lml_raw.lml_people_mesa4core as r
    cross join lateral jsonb_to_record(r.doc) as x(
      "personType" text, "firstName" text, "lastName" text, "businessName" text,
      "documentType" text, "documentNumber" text, "birthDate" jsonb,
      "legalRepresentative" jsonb, emails jsonb, phones jsonb, addresses jsonb, deleted jsonb,
      "createdAt" jsonb, "updatedAt" jsonb, "createdBy" jsonb, "updatedBy" jsonb
    )
    offset 0
  ) as d
),
main_rows as (
  insert into lml_people.main
  select
    t.person_id, t."personType", t."firstName", t."lastName", t."businessName",
    t."documentType", lml_util.digits(t."documentNumber"), t."documentNumber",
    (t.birth_parsed at time zone 'UTC')::date,
    p._id,
    case
      when p._id is null and jsonb_typeof(t."legalRepresentative") is distinct from 'null'
      then t."legalRepresentative"
    end,
    coalesce(lml_util.bool(t.deleted), false),
    t.created_at, t.updated_at,
    lml_util.user_id(t."createdBy"), lml_util.user_id(t."updatedBy")
  from t
  left join lml_raw.lml_people_mesa4core as p
    on p._id = lml_util.ref_id(t."legalRepresentative")
),
email_rows as (
  insert into lml_people.emails
  select distinct on (e.person_id, e.email)
    e.person_id, e.email, e.is_primary, e.position
  from (
    select
      t.person_id, x.position::integer as position,
      lower(btrim(case jsonb_typeof(x.entry)
        when 'string' then x.entry #>> '{}'
        when 'object' then x.entry ->> 'address'
      end)) as email,
      case when jsonb_typeof(x.entry) = 'object' then lml_util.bool(x.entry -> 'primary') end
        as is_primary
    from t
    cross join lateral jsonb_array_elements(
      case when jsonb_typeof(t.emails) = 'array' then t.emails end
    ) with ordinality as x(entry, position)
  ) as e
  where e.email is not null
  order by e.person_id, e.email, e.is_primary desc nulls last, e.position
),
phone_rows as (
  insert into lml_people.phones
  select
    t.person_id, x.position::integer, x.phone ->> 'type', x.phone ->> 'number',
    lml_util.digits(x.phone ->> 'number')
  from t
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(t.phones) = 'array' then t.phones end
  ) with ordinality as x(phone, position)
  where jsonb_typeof(x.phone) = 'object'
),
address_rows as (
  insert into lml_people.addresses
  select
    t.person_id, x.position::integer, x.address ->> 'street', x.address ->> 'number',
    x.address ->> 'city', x.address ->> 'province', x.address ->> 'postalCode',
    x.address ->> 'country', lml_util.bool(x.address -> 'primary')
  from t
  cross join lateral jsonb_array_elements(
    case when jsonb_typeof(t.addresses) = 'array' then t.addresses end
  ) with ordinality as x(address, position)
  where jsonb_typeof(x.address) = 'object'
),
unmapped as (
  insert into lml_people.unmapped_values
  select t.person_id, u.path, u.raw_value, lml_util.unmapped_reason(u.raw_value, u.expected)
  from t
  cross join lateral (values
    ('createdAt', t."createdAt", t.created_at_parsed is null, 'timestamp'),
    ('updatedAt', t."updatedAt", t.updated_at_parsed is null, 'timestamp'),
    ('birthDate', t."birthDate", t.birth_parsed is null, 'timestamp'),
    ('deleted', t.deleted, lml_util.bool(t.deleted) is null, 'boolean')
  ) as u(path, raw_value, is_unmapped, expected)
  where u.is_unmapped and jsonb_typeof(u.raw_value) <> 'null'
  union all
  select t.person_id, a.path, a.raw_value, a.reason
  from t
  cross join lateral (
    select * from lml_util.unmapped_array('emails', t.emails, 'string', 'object')
    union all
    select * from lml_util.unmapped_array('phones', t.phones)
    union all
    select * from lml_util.unmapped_array('addresses', t.addresses)
  ) as a
),
snapshots as (
  select t.person_id as document_id, v.path, v.snapshot, t.updated_at as seen_at
  from t
  cross join lateral (values ('createdBy', t."createdBy"), ('updatedBy', t."updatedBy")) as v(path, snapshot)
  where jsonb_typeof(v.snapshot) in ('object', 'string')
),
unresolvable as (
  insert into lml_people.unresolvable_snapshots
  select v.document_id, v.path, v.snapshot from snapshots as v
  where lml_util.is_unresolvable(v.snapshot)
)
insert into lml_people_user_refs
select
  lml_util.user_id(v.snapshot), v.snapshot ->> 'username', v.snapshot ->> 'firstName',
  v.snapshot ->> 'lastName', v.snapshot ->> 'email', v.seen_at
from snapshots as v
where lml_util.user_id(v.snapshot) is not null;

alter table lml_people.main add constraint main_pkey primary key (person_id);
alter table lml_people.emails add primary key (person_id, email);
alter table lml_people.phones add primary key (person_id, position);
alter table lml_people.addresses add primary key (person_id, position);

comment on table lml_people.main is 'One row per document of lml_people_mesa4core: individuals (physical) and companies (juridical).';
comment on column lml_people.main.person_id is 'The document _id. Mongo path: _id.';
comment on column lml_people.main.person_type is 'personType: physical or juridical; any other value is kept (check lml_people_person_type_known warns). Mongo path: personType.';
comment on column lml_people.main.first_name is 'firstName (individuals). Mongo path: firstName.';
comment on column lml_people.main.last_name is 'lastName (individuals). Mongo path: lastName.';
comment on column lml_people.main.business_name is 'businessName (companies). Mongo path: businessName.';
comment on column lml_people.main.document_type is 'documentType (DNI, CUIT...). Mongo path: documentType.';
comment on column lml_people.main.document_number is 'documentNumber reduced to its digits (dots and dashes removed). Mongo path: documentNumber.';
comment on column lml_people.main.document_number_raw is 'documentNumber as stored. Mongo path: documentNumber.';
comment on column lml_people.main.birth_date is 'birthDate as a UTC calendar date. Mongo path: birthDate.';
comment on column lml_people.main.legal_representative_person_id is 'legalRepresentative._id when that person exists (FK to lml_people.main). Mongo path: legalRepresentative._id.';
comment on column lml_people.main.legal_representative_ref is 'legalRepresentative snapshot, kept only when it points to no existing person (dangling). Mongo path: legalRepresentative.';
comment on column lml_people.main.is_deleted is 'deleted in any spelling, missing = false. Mongo path: deleted.';
comment on column lml_people.main.created_at is 'createdAt, else the ObjectId time of _id. Mongo path: createdAt.';
comment on column lml_people.main.updated_at is 'updatedAt, else created_at. Mongo path: updatedAt.';
comment on column lml_people.main.created_by_user_id is 'createdBy._id (FK to lml_users.main). Mongo path: createdBy._id.';
comment on column lml_people.main.updated_by_user_id is 'updatedBy._id (FK to lml_users.main). Mongo path: updatedBy._id.';

comment on table lml_people.emails is 'emails[] (strings or {address, primary}), trimmed, lower-cased, one row per distinct address per person.';
comment on column lml_people.emails.person_id is 'The person (FK).';
comment on column lml_people.emails.email is 'The address, trimmed and lower-cased. Mongo path: emails[], emails[].address.';
comment on column lml_people.emails.is_primary is 'emails[].primary (object shape only; NULL for plain strings). Mongo path: emails[].primary.';
comment on column lml_people.emails.position is 'Position (from 1) of the kept entry in emails[].';

comment on table lml_people.phones is 'phones[].';
comment on column lml_people.phones.person_id is 'The person (FK).';
comment on column lml_people.phones.position is 'Position (from 1) in phones[].';
comment on column lml_people.phones.phone_type is 'phones[].type (mobile, home...). Mongo path: phones[].type.';
comment on column lml_people.phones.number is 'phones[].number as stored. Mongo path: phones[].number.';
comment on column lml_people.phones.number_digits is 'phones[].number reduced to its digits. Mongo path: phones[].number.';

comment on table lml_people.addresses is 'addresses[].';
comment on column lml_people.addresses.person_id is 'The person (FK).';
comment on column lml_people.addresses.position is 'Position (from 1) in addresses[].';
comment on column lml_people.addresses.street is 'addresses[].street. Mongo path: addresses[].street.';
comment on column lml_people.addresses.street_number is 'addresses[].number. Mongo path: addresses[].number.';
comment on column lml_people.addresses.city is 'addresses[].city. Mongo path: addresses[].city.';
comment on column lml_people.addresses.province is 'addresses[].province. Mongo path: addresses[].province.';
comment on column lml_people.addresses.postal_code is 'addresses[].postalCode. Mongo path: addresses[].postalCode.';
comment on column lml_people.addresses.country is 'addresses[].country. Mongo path: addresses[].country.';
comment on column lml_people.addresses.is_primary is 'addresses[].primary. Mongo path: addresses[].primary.';

comment on table lml_people.unmapped_values is
  'Raw values read and not mapped (unparseable, of another type, an array expected and something else found, an array element of another type): their column holds NULL or their row is missing.';
comment on column lml_people.unmapped_values.document_id is 'The person _id.';
comment on column lml_people.unmapped_values.path is 'Mongo path of the value (an element of array a is at a[]).';
comment on column lml_people.unmapped_values.raw_value is 'The value as found.';
comment on column lml_people.unmapped_values.reason is 'Why it was not mapped: unparseable timestamp, array expected, object found...';
comment on table lml_people.unresolvable_snapshots is 'User snapshots without _id (createdBy, updatedBy).';
comment on column lml_people.unresolvable_snapshots.document_id is 'The person _id.';
comment on column lml_people.unresolvable_snapshots.path is 'Mongo path: createdBy or updatedBy.';
comment on column lml_people.unresolvable_snapshots.snapshot is 'The snapshot as found.';
