/**
 * Profiles a collection's raw documents (lml_raw.<collection>) in SQL: every field path with its
 * BSON types, presence, nulls, distinct values, ranges, array lengths, examples and hints.
 * Formatting and report files live in profile_format.ts.
 * @module
 */
import { didYouMean, isIdentifier, listTables, RunError, type Sql } from "../core/mod.ts";
import { deriveHints } from "./hints.ts";
import type {
  CollectionProfile,
  FieldProfile,
  ObjectStats,
  ProfileOptions,
  SamplingInfo,
} from "./types.ts";

const TYPE_FUNCTION = `
create or replace function pg_temp.lml_profile_type(v jsonb) returns text
language sql immutable as $fn$
  select case jsonb_typeof(v)
    when 'object' then case
      when v ? '$oid' and v - '$oid' = '{}' then 'objectId'
      when v ? '$date' and v - '$date' = '{}' then 'date'
      when v ? '$numberLong' and v - '$numberLong' = '{}' then 'long'
      when v ? '$numberDecimal' and v - '$numberDecimal' = '{}' then 'decimal'
      when v ? '$numberDouble' and v - '$numberDouble' = '{}' then 'double'
      when v ? '$numberInt' and v - '$numberInt' = '{}' then 'int'
      when v ? '$binary' and v - '$binary' = '{}' then 'binData'
      when v ? '$regularExpression' and v - '$regularExpression' = '{}' then 'regex'
      when v ? '$timestamp' and v - '$timestamp' = '{}' then 'timestamp'
      when v ? '$code' and v - '$code' - '$scope' = '{}' then 'javascript'
      when v ? '$symbol' and v - '$symbol' = '{}' then 'symbol'
      when v ? '$minKey' and v - '$minKey' = '{}' then 'minKey'
      when v ? '$maxKey' and v - '$maxKey' = '{}' then 'maxKey'
      when v ? '$undefined' and v - '$undefined' = '{}' then 'undefined'
      when v ? '$dbPointer' and v - '$dbPointer' = '{}' then 'dbPointer'
      else 'object' end
    when 'boolean' then 'bool'
    else jsonb_typeof(v) end
$fn$`;

// The date part of ISO-like strings, with valid month and day ranges.
const YMD = String.raw`\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])`;
const HMS = String.raw`([01]\d|2[0-3]):[0-5]\d(:[0-5]\d([.,]\d+)?)?`;

const TIMESTAMP_FORMAT_FUNCTION = `
create or replace function pg_temp.lml_profile_ts_format(v jsonb, t text) returns text
language sql immutable as $fn$
  select case
    when t = 'date' then 'ejson_date'
    when t = 'number' then case
      when (v::text)::numeric between 1e11 and 1e13 then 'epoch_ms'
      when (v::text)::numeric between -1e13 and 1e13 then 'number' end
    when t = 'long' then case
      when (v ->> '$numberLong') ~ '^\\d{12,13}$'
        and (v ->> '$numberLong')::numeric between 1e11 and 1e13 then 'epoch_ms' end
    when t <> 'string' then null
    when (v #>> '{}') ~ '^${YMD}T${HMS}Z$' then 'iso_z'
    when (v #>> '{}') ~ '^${YMD}[T ]${HMS} ?[+-]([01]\\d)(:?[0-5]\\d)?$' then 'iso_offset'
    when (v #>> '{}') ~ '^${YMD}[T ]${HMS}$' then 'naive'
    when (v #>> '{}') ~ '^${YMD}$' then 'date_only'
    else 'garbage' end
$fn$`;

// Casting a BSON date can fail on odd literal sub-documents; such values are skipped.
const DATE_FUNCTION = `
create or replace function pg_temp.lml_profile_date(v jsonb) returns timestamptz
language plpgsql immutable as $fn$
begin
  if jsonb_typeof(v -> '$date') = 'string' then
    return (v ->> '$date')::timestamptz;
  end if;
  return to_timestamp(((v -> '$date' ->> '$numberLong')::numeric / 1000)::float8);
exception when others then
  return null;
end
$fn$`;

const BOOLEAN_WORDS = ["true", "false", "t", "f", "yes", "no", "y", "n", "si", "sí", "0", "1"];

const NUMERIC = String.raw`^-?\d+(\.\d+)?([eE][+-]?\d+)?$`;

interface PathRow {
  path: string;
  depth: number;
  occurrences: string;
  documents: string;
  nulls: string;
  boolean_like: string;
  min_number: string | null;
  max_number: string | null;
  fractional: string;
  min_date: string | null;
  max_date: string | null;
  min_length: number | null;
  avg_length: string | null;
  max_length: number | null;
}

interface ObjectRow {
  path: string;
  objects: string;
  avg_keys: string;
  key_sets: string;
  with_id: string;
  with_username: string;
  with_name: string;
  distinct_ids: string;
  distinct_id_names: string;
  with_dollar_keys: string;
}

/**
 * Profiles `lml_raw.<collection>` (or `options.rawSchema`) in a few set-based queries over a
 * sample of at most `sampleSize` documents. Read-only: temporary tables and functions only.
 * Throws RunError when the raw table is missing.
 */
export async function profileCollection(
  sql: Sql,
  collection: string,
  options: ProfileOptions = {},
): Promise<CollectionProfile> {
  const rawSchema = options.rawSchema ?? "lml_raw";
  const sampleSize = options.sampleSize ?? 10000;
  const method = options.sampling ?? "system";
  const seed = options.seed ?? 1;
  const exampleCount = options.examples ?? 3;
  const maxDepth = options.maxDepth ?? 12;
  if (!Number.isInteger(sampleSize) || sampleSize < 1) {
    throw new RangeError(`sampleSize must be a positive integer, not ${sampleSize}`);
  }
  if (!Number.isInteger(maxDepth) || maxDepth < 1) {
    throw new RangeError(`maxDepth must be a positive integer, not ${maxDepth}`);
  }
  const rawTable = `${rawSchema}.${collection}`;
  await assertRawTable(sql, rawSchema, collection);
  const table = sql`${sql(rawSchema)}.${sql(collection)}`;

  return await sql.begin(async (tx) => {
    await tx.unsafe(TYPE_FUNCTION);
    await tx.unsafe(TIMESTAMP_FORMAT_FUNCTION);
    await tx.unsafe(DATE_FUNCTION);

    const [{ total }] = await tx<[{ total: string }]>`select count(*) as total from ${table}`;
    const totalDocuments = Number(total);
    let sampling: SamplingInfo;
    if (totalDocuments <= sampleSize) {
      await tx`
        create temp table lml_profile_sample on commit drop as
        select _id, doc from ${table}`;
      sampling = {
        method: "full",
        sampleSize,
        percent: null,
        seed: null,
        description: `all ${fmtInt(totalDocuments)} documents`,
      };
    } else if (method === "limit") {
      await tx`
        create temp table lml_profile_sample on commit drop as
        select _id, doc from ${table} limit ${sampleSize}`;
      sampling = {
        method,
        sampleSize,
        percent: null,
        seed: null,
        description: `the first ${fmtInt(sampleSize)} of ${
          fmtInt(totalDocuments)
        } documents in physical order (limit ${sampleSize})`,
      };
    } else {
      // Ask for a quarter more than needed: block sampling returns a rough share.
      const percent = Math.min(100, Math.ceil((sampleSize * 1.25 / totalDocuments) * 1e6) / 1e4);
      const sample = method === "system"
        ? tx`tablesample system (${percent}) repeatable (${seed})`
        : tx`tablesample bernoulli (${percent}) repeatable (${seed})`;
      await tx`
        create temp table lml_profile_sample on commit drop as
        select _id, doc from ${table} ${sample} limit ${sampleSize}`;
      sampling = {
        method,
        sampleSize,
        percent,
        seed,
        description: "",
      };
    }
    const [{ sampled }] = await tx<[{ sampled: string }]>`
      select count(*) as sampled from lml_profile_sample`;
    const sampledDocuments = Number(sampled);
    if (sampling.method === "system" || sampling.method === "bernoulli") {
      sampling.description = `${fmtInt(sampledDocuments)} of ${
        fmtInt(totalDocuments)
      } documents (tablesample ${sampling.method} ${sampling.percent}% repeatable ${seed}, limit ${sampleSize})`;
    }

    await tx`
      create temp table lml_profile_walk on commit drop as
      with recursive walk (document_id, path, depth, value, type) as (
        select s._id, e.key, 1, e.value, pg_temp.lml_profile_type(e.value)
        from lml_profile_sample s
        cross join lateral jsonb_each(s.doc) e
        union all
        select w.document_id, c.path, w.depth + 1, c.value, pg_temp.lml_profile_type(c.value)
        from walk w
        cross join lateral (
          select w.path || '.' || e.key as path, e.value
          from jsonb_each(case when w.type = 'object' then w.value else '{}' end) e
          union all
          select w.path || '[]', a.value
          from jsonb_array_elements(case when w.type = 'array' then w.value else '[]' end) a
        ) c
        where w.depth < ${maxDepth} and w.type in ('object', 'array')
      )
      select document_id, path, depth, value, type from walk`;

    const paths = await tx<PathRow[]>`
      with typed as (
        select
          path, depth, document_id, type, value,
          case
            when type = 'number' then (value::text)::numeric
            when type = 'long' and value ->> '$numberLong' ~ ${NUMERIC}
              then (value ->> '$numberLong')::numeric
            when type = 'int' and value ->> '$numberInt' ~ ${NUMERIC}
              then (value ->> '$numberInt')::numeric
            when type = 'decimal' and value ->> '$numberDecimal' ~ ${NUMERIC}
              then (value ->> '$numberDecimal')::numeric
          end as number_value,
          case when type = 'date' then pg_temp.lml_profile_date(value) end as date_value
        from lml_profile_walk
      )
      select
        path,
        min(depth) as depth,
        count(*) as occurrences,
        count(distinct document_id) as documents,
        count(*) filter (where type = 'null') as nulls,
        count(*) filter (
          where type = 'bool'
            or (type = 'number' and value::text in ('0', '1'))
            or (type = 'string' and lower(btrim(value #>> '{}')) = any(${BOOLEAN_WORDS}::text[]))
        ) as boolean_like,
        min(number_value)::text as min_number,
        max(number_value)::text as max_number,
        count(*) filter (where number_value <> trunc(number_value)) as fractional,
        to_char(min(date_value) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as min_date,
        to_char(max(date_value) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as max_date,
        min(jsonb_array_length(value)) filter (where type = 'array') as min_length,
        round(avg(jsonb_array_length(value)) filter (where type = 'array'), 2)::text
          as avg_length,
        max(jsonb_array_length(value)) filter (where type = 'array') as max_length
      from typed
      group by path`;

    const types = await tx<{ path: string; type: string; n: string }[]>`
      select path, type, count(*) as n
      from lml_profile_walk
      group by path, type`;

    const values = await tx<{ path: string; distinct_values: string; examples: string[] | null }[]>`
      with counted as (
        select path, value, type, count(*) as n
        from lml_profile_walk
        group by path, value, type
      ),
      ranked as (
        select
          path, value, type,
          count(*) over (partition by path) as distinct_values,
          row_number() over (
            partition by path
            order by type in ('object', 'array', 'null'), n desc, value::text
          ) as rank
        from counted
      )
      select
        path,
        max(distinct_values) as distinct_values,
        array_agg(left(value::text, 80) order by rank) filter (where rank <= ${exampleCount} and type not in ('object', 'array', 'null'))
          as examples
      from ranked
      group by path`;

    const formats = await tx<{ path: string; format: string; n: string }[]>`
      select path, format, count(*) as n
      from (
        select path, pg_temp.lml_profile_ts_format(value, type) as format
        from lml_profile_walk
        where type not in ('null', 'object', 'array')
      ) f
      where format is not null
      group by path, format`;

    const objects = await tx<ObjectRow[]>`
      with objects as (
        select
          w.path, w.value,
          k.keys, k.key_set, k.has_dollar
        from lml_profile_walk w
        cross join lateral (
          select
            count(*) as keys,
            string_agg(key, ',' order by key) as key_set,
            bool_or(key like '$%') as has_dollar
          from jsonb_object_keys(w.value) key
        ) k
        where w.type = 'object'
      )
      select
        path,
        count(*) as objects,
        round(avg(keys), 2)::text as avg_keys,
        count(distinct key_set) as key_sets,
        count(*) filter (where value ? '_id') as with_id,
        count(*) filter (where value ? 'username') as with_username,
        count(*) filter (where value ? 'name') as with_name,
        count(distinct value -> '_id') as distinct_ids,
        count(distinct jsonb_build_array(value -> '_id', value -> 'name'))
          filter (where value ? '_id') as distinct_id_names,
        count(*) filter (where has_dollar) as with_dollar_keys
      from objects
      group by path`;

    const keys = await tx<{ path: string; distinct_keys: string; top_keys: string[] }[]>`
      with counted as (
        select w.path, key, count(*) as n
        from lml_profile_walk w
        cross join lateral jsonb_object_keys(w.value) key
        where w.type = 'object'
        group by w.path, key
      )
      select
        path,
        count(*) as distinct_keys,
        (array_agg(key order by n desc, key))[1:12] as top_keys
      from counted
      group by path`;

    await tx`drop function pg_temp.lml_profile_type(jsonb)`;
    await tx`drop function pg_temp.lml_profile_ts_format(jsonb, text)`;
    await tx`drop function pg_temp.lml_profile_date(jsonb)`;

    const typesByPath = groupBy(types, (r) => r.path);
    const formatsByPath = groupBy(formats, (r) => r.path);
    const valuesByPath = new Map(values.map((r) => [r.path, r]));
    const objectsByPath = new Map(objects.map((r) => [r.path, r]));
    const keysByPath = new Map(keys.map((r) => [r.path, r]));
    const fields = paths.map((row): FieldProfile => {
      const occurrences = Number(row.occurrences);
      const documents = Number(row.documents);
      const typeCounts = (typesByPath.get(row.path) ?? [])
        .map((t) => ({ type: t.type, count: Number(t.n), pct: pct(Number(t.n), occurrences) }))
        .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
      const timestampFormats = foldFormats(formatsByPath.get(row.path) ?? []);
      const o = objectsByPath.get(row.path);
      const k = keysByPath.get(row.path);
      const objectStats: ObjectStats | null = o
        ? {
          objects: Number(o.objects),
          distinctKeys: Number(k?.distinct_keys ?? 0),
          avgKeys: Number(o.avg_keys),
          keySets: Number(o.key_sets),
          withId: Number(o.with_id),
          withUsername: Number(o.with_username),
          withName: Number(o.with_name),
          distinctIds: Number(o.distinct_ids),
          distinctIdNames: Number(o.distinct_id_names),
          withDollarKeys: Number(o.with_dollar_keys),
          topKeys: k?.top_keys ?? [],
        }
        : null;
      const v = valuesByPath.get(row.path);
      const field: FieldProfile = {
        path: row.path,
        depth: Number(row.depth),
        occurrences,
        documents,
        presencePct: pct(documents, sampledDocuments),
        nullPct: pct(Number(row.nulls), occurrences),
        booleanLike: Number(row.boolean_like),
        types: typeCounts,
        distinct: Number(v?.distinct_values ?? 0),
        minNumber: row.min_number,
        maxNumber: row.max_number,
        integral: row.min_number === null ? null : Number(row.fractional) === 0,
        minDate: row.min_date,
        maxDate: row.max_date,
        arrayLength: row.min_length === null || row.max_length === null
          ? null
          : { min: row.min_length, avg: Number(row.avg_length), max: row.max_length },
        timestampFormats,
        objectStats,
        examples: v?.examples ?? [],
        hints: [],
      };
      field.hints = deriveHints(field);
      return field;
    });
    fields.sort((a, b) => comparePaths(a.path, b.path));
    return {
      collection,
      rawTable,
      generatedAt: new Date().toISOString(),
      totalDocuments,
      sampledDocuments,
      sampling,
      fields,
    };
  });
}

async function assertRawTable(sql: Sql, rawSchema: string, collection: string): Promise<void> {
  if (!isIdentifier(rawSchema)) {
    throw new TypeError(`Invalid raw schema name "${rawSchema}"`);
  }
  if (!isIdentifier(collection)) {
    throw new RunError(
      `cannot profile "${collection}": not a valid collection name (lower-case letters, digits, _)`,
    );
  }
  const names = (await listTables(sql, [rawSchema])).map((t) => t.table);
  if (!names.includes(collection)) {
    throw new RunError(
      `cannot profile "${collection}": table ${rawSchema}.${collection} does not exist${
        didYouMean(collection, names)
      }`,
      { hint: `extract it first: deno task extract --select ${collection}` },
    );
  }
}

/** Orders paths so `_id` comes first and children follow their parent. */
function comparePaths(a: string, b: string): number {
  const rank = (p: string) => (p === "_id" || p.startsWith("_id.") ? 0 : 1);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Timestamp formats of a path, or null when no value looks like a timestamp. Numbers outside
 * the usual epoch-ms range (`number`) count as epoch ms only next to other timestamp formats.
 */
function foldFormats(rows: { format: string; n: string }[]): Record<string, number> | null {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.format, Number(r.n));
  const other = counts.get("number");
  counts.delete("number");
  if (![...counts.keys()].some((f) => f !== "garbage")) return null;
  if (other) counts.set("epoch_ms", (counts.get("epoch_ms") ?? 0) + other);
  return Object.fromEntries(
    [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  );
}

function pct(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 10000) / 100;
}

function groupBy<T>(rows: Iterable<T>, key: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}

function fmtInt(n: number): string {
  return n.toLocaleString("en-US");
}
