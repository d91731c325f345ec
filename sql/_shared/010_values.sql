-- lml_util value helpers: Extended JSON accessors, the timestamp parser, booleans, ObjectIds.
-- Every function is a single SQL expression (inlined by the planner), never raises on bad input
-- and does not depend on the session TimeZone. Pass them columns, not `doc -> 'x'` expressions:
-- an inlined argument is evaluated once per use inside the body.
create schema if not exists lml_util;
comment on schema lml_util is 'Shared helpers of the transforms (sql/_shared): value parsers, ghost users, catalogs.';

-- Numbers --------------------------------------------------------------------------------------

create or replace function lml_util.decimal(v jsonb) returns numeric
language sql immutable parallel safe as $$
  select case jsonb_typeof(v)
    when 'number' then (v)::numeric
    when 'object' then case
      when (v ->> '$numberDecimal') ~ '^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$'
        then (v ->> '$numberDecimal')::numeric
      when (v ->> '$numberDouble') ~ '^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$'
        then (v ->> '$numberDouble')::numeric
      when (v ->> '$numberLong') ~ '^[+-]?\d{1,19}$' then (v ->> '$numberLong')::numeric
      when (v ->> '$numberInt') ~ '^[+-]?\d{1,10}$' then (v ->> '$numberInt')::numeric
      when (v ->> '$numberDecimal') in ('NaN', '-NaN') then 'NaN'::numeric
      when (v ->> '$numberDecimal') in ('Infinity', 'Inf') then 'Infinity'::numeric
      when (v ->> '$numberDecimal') in ('-Infinity', '-Inf') then '-Infinity'::numeric
    end
  end
$$;
comment on function lml_util.decimal(jsonb) is
  'Exact numeric of a JSON number or {"$numberDecimal"|"$numberDouble"|"$numberLong"|"$numberInt"}; NULL otherwise (Decimal128 NaN/Infinity kept).';

create or replace function lml_util.num(v jsonb) returns double precision
language sql immutable parallel safe as $$
  select case
    when jsonb_typeof(v) = 'object' and (v ->> '$numberDouble') in ('NaN', 'Infinity', '-Infinity')
      then (v ->> '$numberDouble')::double precision
    else lml_util.decimal(v)::double precision
  end
$$;
comment on function lml_util.num(jsonb) is
  'Double of a JSON number or any Extended JSON number ({"$numberDouble": "NaN"} included); NULL otherwise.';

create or replace function lml_util.long(v jsonb) returns bigint
language sql immutable parallel safe as $$
  select case
    when jsonb_typeof(v) = 'object' and (v ->> '$numberLong') ~ '^[+-]?\d{1,19}$'
      and (v ->> '$numberLong')::numeric between -9223372036854775808 and 9223372036854775807
      then (v ->> '$numberLong')::bigint
    when jsonb_typeof(v) = 'number' and (v)::numeric = trunc((v)::numeric)
      and (v)::numeric between -9223372036854775808 and 9223372036854775807
      then (v)::numeric::bigint
    when jsonb_typeof(v) = 'object' and (v ->> '$numberInt') ~ '^[+-]?\d{1,10}$'
      then (v ->> '$numberInt')::bigint
  end
$$;
comment on function lml_util.long(jsonb) is
  'Integer of an integral JSON number, {"$numberLong"} or {"$numberInt"}; NULL for fractions, overflow and anything else.';

create or replace function lml_util.digits(t text) returns text
language sql immutable parallel safe as $$
  select nullif(regexp_replace(t, '\D', '', 'g'), '')
$$;
comment on function lml_util.digits(text) is
  'The decimal digits of a text (document numbers, phones), NULL when it has none.';

-- Booleans -------------------------------------------------------------------------------------

create or replace function lml_util.bool(v jsonb) returns boolean
language sql immutable parallel safe as $$
  select case jsonb_typeof(v)
    when 'boolean' then (v)::boolean
    when 'number' then case (v)::numeric when 1 then true when 0 then false end
    when 'string' then case lower(btrim(v #>> '{}'))
      when 'true' then true when 't' then true when '1' then true when 'yes' then true
      when 'y' then true when 'si' then true when 'sí' then true when 's' then true
      when 'on' then true
      when 'false' then false when 'f' then false when '0' then false when 'no' then false
      when 'n' then false when 'off' then false
    end
    when 'object' then case coalesce(v ->> '$numberInt', v ->> '$numberLong')
      when '1' then true when '0' then false
    end
  end
$$;
comment on function lml_util.bool(jsonb) is
  'Boolean in any spelling: true/false, 1/0, "true"/"false", "1"/"0", "si"/"no", "yes"/"no"...; NULL when unknown or missing.';

-- ObjectIds ------------------------------------------------------------------------------------

create or replace function lml_util.oid(v jsonb) returns text
language sql immutable parallel safe as $$
  select case jsonb_typeof(v)
    when 'object' then case
      when (v ->> '$oid') ~ '^[0-9a-fA-F]{24}$' then lower(v ->> '$oid')
      else v ->> '$oid'
    end
    when 'string' then case
      when (v #>> '{}') ~ '^[0-9a-fA-F]{24}$' then lower(v #>> '{}')
      else v #>> '{}'
    end
    when 'number' then v #>> '{}'
  end
$$;
comment on function lml_util.oid(jsonb) is
  'Id text of an ObjectId {"$oid"} or a 24-hex string (lower-case hex); other strings and numbers as text; NULL otherwise.';

create or replace function lml_util.oid_time(id text) returns timestamptz
language sql immutable parallel safe as $$
  select case when id ~ '^[0-9a-fA-F]{24}$'
    then to_timestamp(('x' || substr(id, 1, 8))::bit(32)::bigint)
  end
$$;
comment on function lml_util.oid_time(text) is
  'Creation time held in the first 4 bytes of a 24-hex ObjectId; NULL for any other id.';

-- Timestamps -----------------------------------------------------------------------------------

create or replace function lml_util.days_in_month(y integer, m integer) returns integer
language sql immutable parallel safe as $$
  select case
    when m = 2 then case when y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0) then 29 else 28 end
    when m in (4, 6, 9, 11) then 30
    else 31
  end
$$;
comment on function lml_util.days_in_month(integer, integer) is 'Days in month m of year y (Gregorian).';

create or replace function lml_util.ts_ms(ms numeric) returns timestamptz
language sql immutable parallel safe as $$
  select case when ms between -8640000000000000 and 8640000000000000
    then to_timestamp((ms / 1000)::double precision)
  end
$$;
comment on function lml_util.ts_ms(numeric) is
  'Timestamp of epoch milliseconds (JavaScript Date range); NULL outside it, for NaN and Infinity.';

create or replace function lml_util.ts_canonical(s text) returns timestamptz
language sql immutable parallel safe as $$
  -- The shape of every BSON date in relaxed Extended JSON, checked without regular expressions
  -- (set membership is much cheaper here): YYYY-MM-DDTHH:MM:SS.mmmZ.
  select case
    when substr(s, 1, 2) = any('{00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99}'::text[]) and substr(s, 3, 2) = any('{00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99}'::text[])
      and substr(s, 1, 4) <> '0000'
      and substr(s, 6, 5) = any('{01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16,01-17,01-18,01-19,01-20,01-21,01-22,01-23,01-24,01-25,01-26,01-27,01-28,01-29,01-30,01-31,02-01,02-02,02-03,02-04,02-05,02-06,02-07,02-08,02-09,02-10,02-11,02-12,02-13,02-14,02-15,02-16,02-17,02-18,02-19,02-20,02-21,02-22,02-23,02-24,02-25,02-26,02-27,02-28,02-29,03-01,03-02,03-03,03-04,03-05,03-06,03-07,03-08,03-09,03-10,03-11,03-12,03-13,03-14,03-15,03-16,03-17,03-18,03-19,03-20,03-21,03-22,03-23,03-24,03-25,03-26,03-27,03-28,03-29,03-30,03-31,04-01,04-02,04-03,04-04,04-05,04-06,04-07,04-08,04-09,04-10,04-11,04-12,04-13,04-14,04-15,04-16,04-17,04-18,04-19,04-20,04-21,04-22,04-23,04-24,04-25,04-26,04-27,04-28,04-29,04-30,05-01,05-02,05-03,05-04,05-05,05-06,05-07,05-08,05-09,05-10,05-11,05-12,05-13,05-14,05-15,05-16,05-17,05-18,05-19,05-20,05-21,05-22,05-23,05-24,05-25,05-26,05-27,05-28,05-29,05-30,05-31,06-01,06-02,06-03,06-04,06-05,06-06,06-07,06-08,06-09,06-10,06-11,06-12,06-13,06-14,06-15,06-16,06-17,06-18,06-19,06-20,06-21,06-22,06-23,06-24,06-25,06-26,06-27,06-28,06-29,06-30,07-01,07-02,07-03,07-04,07-05,07-06,07-07,07-08,07-09,07-10,07-11,07-12,07-13,07-14,07-15,07-16,07-17,07-18,07-19,07-20,07-21,07-22,07-23,07-24,07-25,07-26,07-27,07-28,07-29,07-30,07-31,08-01,08-02,08-03,08-04,08-05,08-06,08-07,08-08,08-09,08-10,08-11,08-12,08-13,08-14,08-15,08-16,08-17,08-18,08-19,08-20,08-21,08-22,08-23,08-24,08-25,08-26,08-27,08-28,08-29,08-30,08-31,09-01,09-02,09-03,09-04,09-05,09-06,09-07,09-08,09-09,09-10,09-11,09-12,09-13,09-14,09-15,09-16,09-17,09-18,09-19,09-20,09-21,09-22,09-23,09-24,09-25,09-26,09-27,09-28,09-29,09-30,10-01,10-02,10-03,10-04,10-05,10-06,10-07,10-08,10-09,10-10,10-11,10-12,10-13,10-14,10-15,10-16,10-17,10-18,10-19,10-20,10-21,10-22,10-23,10-24,10-25,10-26,10-27,10-28,10-29,10-30,10-31,11-01,11-02,11-03,11-04,11-05,11-06,11-07,11-08,11-09,11-10,11-11,11-12,11-13,11-14,11-15,11-16,11-17,11-18,11-19,11-20,11-21,11-22,11-23,11-24,11-25,11-26,11-27,11-28,11-29,11-30,12-01,12-02,12-03,12-04,12-05,12-06,12-07,12-08,12-09,12-10,12-11,12-12,12-13,12-14,12-15,12-16,12-17,12-18,12-19,12-20,12-21,12-22,12-23,12-24,12-25,12-26,12-27,12-28,12-29,12-30,12-31}'::text[])
      and (substr(s, 6, 5) <> '02-29'
        or (substr(s, 1, 4)::integer % 4 = 0
          and (substr(s, 1, 4)::integer % 100 <> 0 or substr(s, 1, 4)::integer % 400 = 0)))
      and substr(s, 12, 2) = any('{00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23}'::text[])
      and substr(s, 15, 2) = any('{00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59}'::text[]) and substr(s, 18, 2) = any('{00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59}'::text[])
      and substr(s, 21, 2) = any('{00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99}'::text[])
      and substr(s, 23, 1) = any('{0,1,2,3,4,5,6,7,8,9}'::text[])
    then timezone('UTC', make_timestamp(
      substr(s, 1, 4)::integer, substr(s, 6, 2)::integer, substr(s, 9, 2)::integer,
      substr(s, 12, 2)::integer, substr(s, 15, 2)::integer, substr(s, 18, 6)::numeric::double precision
    ))
  end
$$;
comment on function lml_util.ts_canonical(text) is
  'Timestamp of a text shaped YYYY-MM-DDTHH:MM:SS.mmmZ (the relaxed Extended JSON date), NULL when a field is out of range.';

create or replace function lml_util.ts_text(s text) returns timestamptz
language sql stable parallel safe as $$
  -- Canonical dates take the cheap path; the other shapes a regular expression, then field
  -- ranges by comparison (digits are guaranteed, so code-point order is numeric order).
  select case
    when s like '____-__-__T__:__:__.___Z' then lml_util.ts_canonical(s)
    when s ~ '^[0-9]{4}-[0-9][0-9]-[0-9][0-9]([T ][0-9][0-9]:[0-9][0-9](:[0-9][0-9](\.[0-9]{1,9})?)?[zZ]?)?$' then case
      when substr(s, 1, 4) <> '0000'
        and substr(s, 6, 5) = any('{01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16,01-17,01-18,01-19,01-20,01-21,01-22,01-23,01-24,01-25,01-26,01-27,01-28,01-29,01-30,01-31,02-01,02-02,02-03,02-04,02-05,02-06,02-07,02-08,02-09,02-10,02-11,02-12,02-13,02-14,02-15,02-16,02-17,02-18,02-19,02-20,02-21,02-22,02-23,02-24,02-25,02-26,02-27,02-28,02-29,03-01,03-02,03-03,03-04,03-05,03-06,03-07,03-08,03-09,03-10,03-11,03-12,03-13,03-14,03-15,03-16,03-17,03-18,03-19,03-20,03-21,03-22,03-23,03-24,03-25,03-26,03-27,03-28,03-29,03-30,03-31,04-01,04-02,04-03,04-04,04-05,04-06,04-07,04-08,04-09,04-10,04-11,04-12,04-13,04-14,04-15,04-16,04-17,04-18,04-19,04-20,04-21,04-22,04-23,04-24,04-25,04-26,04-27,04-28,04-29,04-30,05-01,05-02,05-03,05-04,05-05,05-06,05-07,05-08,05-09,05-10,05-11,05-12,05-13,05-14,05-15,05-16,05-17,05-18,05-19,05-20,05-21,05-22,05-23,05-24,05-25,05-26,05-27,05-28,05-29,05-30,05-31,06-01,06-02,06-03,06-04,06-05,06-06,06-07,06-08,06-09,06-10,06-11,06-12,06-13,06-14,06-15,06-16,06-17,06-18,06-19,06-20,06-21,06-22,06-23,06-24,06-25,06-26,06-27,06-28,06-29,06-30,07-01,07-02,07-03,07-04,07-05,07-06,07-07,07-08,07-09,07-10,07-11,07-12,07-13,07-14,07-15,07-16,07-17,07-18,07-19,07-20,07-21,07-22,07-23,07-24,07-25,07-26,07-27,07-28,07-29,07-30,07-31,08-01,08-02,08-03,08-04,08-05,08-06,08-07,08-08,08-09,08-10,08-11,08-12,08-13,08-14,08-15,08-16,08-17,08-18,08-19,08-20,08-21,08-22,08-23,08-24,08-25,08-26,08-27,08-28,08-29,08-30,08-31,09-01,09-02,09-03,09-04,09-05,09-06,09-07,09-08,09-09,09-10,09-11,09-12,09-13,09-14,09-15,09-16,09-17,09-18,09-19,09-20,09-21,09-22,09-23,09-24,09-25,09-26,09-27,09-28,09-29,09-30,10-01,10-02,10-03,10-04,10-05,10-06,10-07,10-08,10-09,10-10,10-11,10-12,10-13,10-14,10-15,10-16,10-17,10-18,10-19,10-20,10-21,10-22,10-23,10-24,10-25,10-26,10-27,10-28,10-29,10-30,10-31,11-01,11-02,11-03,11-04,11-05,11-06,11-07,11-08,11-09,11-10,11-11,11-12,11-13,11-14,11-15,11-16,11-17,11-18,11-19,11-20,11-21,11-22,11-23,11-24,11-25,11-26,11-27,11-28,11-29,11-30,12-01,12-02,12-03,12-04,12-05,12-06,12-07,12-08,12-09,12-10,12-11,12-12,12-13,12-14,12-15,12-16,12-17,12-18,12-19,12-20,12-21,12-22,12-23,12-24,12-25,12-26,12-27,12-28,12-29,12-30,12-31}'::text[])
        and (substr(s, 6, 5) <> '02-29'
          or (substr(s, 1, 4)::integer % 4 = 0
            and (substr(s, 1, 4)::integer % 100 <> 0 or substr(s, 1, 4)::integer % 400 = 0)))
        and (length(s) = 10 or (
          substr(s, 12, 2) collate "C" <= '23'
          and substr(s, 15, 1) collate "C" <= '5'
          and (substr(s, 17, 1) <> ':' or substr(s, 18, 1) collate "C" <= '5')))
      then case
        when right(s, 1) in ('Z', 'z') then s::timestamptz
        else (s || 'Z')::timestamptz
      end
    end
    when s ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?$'
      and substr(s, 1, 4) <> '0000'
      and substr(s, 9, 2)::integer
        <= lml_util.days_in_month(substr(s, 1, 4)::integer, substr(s, 6, 2)::integer)
    then s::timestamptz
  end
$$;
comment on function lml_util.ts_text(text) is
  'Timestamp of an ISO-8601 text: with Z or an offset, or naive (= UTC), with or without time and fraction; NULL for anything else.';

create or replace function lml_util.ts_date(d jsonb) returns timestamptz
language sql stable parallel safe as $$
  select case jsonb_typeof(d)
    when 'string' then lml_util.ts_text(d #>> '{}')
    when 'number' then lml_util.ts_ms((d)::numeric)
    when 'object' then lml_util.ts_ms(lml_util.decimal(d))
  end
$$;
comment on function lml_util.ts_date(jsonb) is
  'Timestamp of the value of a {"$date": ...} object: ISO text, epoch ms number or {"$numberLong"}.';

create or replace function lml_util.ts(v jsonb) returns timestamptz
language sql stable parallel safe as $$
  select case jsonb_typeof(v)
    when 'object' then case
      when v ? '$date' then lml_util.ts_date(v -> '$date')
      else lml_util.ts_ms(lml_util.decimal(v))
    end
    when 'string' then lml_util.ts_text(v #>> '{}')
    when 'number' then lml_util.ts_ms((v)::numeric)
  end
$$;
comment on function lml_util.ts(jsonb) is
  'Timestamp of any variant of the spec: BSON date (relaxed or canonical), ISO text with Z, offset or none (UTC), epoch ms (number, $numberLong, $numberDouble), a literal {"$date"} sub-document; NULL for null, missing and garbage.';

create or replace function lml_util.is_garbage_ts(v jsonb) returns boolean
language sql stable parallel safe as $$
  select v is not null and jsonb_typeof(v) <> 'null' and lml_util.ts(v) is null
$$;
comment on function lml_util.is_garbage_ts(jsonb) is
  'True when a timestamp value is present, not JSON null, and no variant parses it.';

-- Run metadata ---------------------------------------------------------------------------------

create or replace function lml_util.run_started_at() returns timestamptz
language sql stable parallel safe as $$
  select coalesce(nullif(current_setting('lml.run_started_at', true), '')::timestamptz, now())
$$;
comment on function lml_util.run_started_at() is
  'Start of the current run (setting lml.run_started_at), or now() outside a run.';
