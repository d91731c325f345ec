/**
 * Schema drift: which document paths the transforms read (declared once, as `Mongo path: ...` in
 * the COMMENT ON of each column), which top-level paths and JSON types every document of a
 * collection holds (one SQL scan per run into `<meta>.observed_paths`), and a derived warn check
 * per schema comparing both with the last successful run: new paths nobody reads, read paths
 * whose type changed, read paths that disappeared.
 *
 * The scan reads the top level of every document (`jsonb_each`, no recursion: a nested scan cost
 * ten times more); nested values that drift are recorded by the value accounting instead
 * (`<schema>.unmapped_values`).
 * @module
 */
import type postgres from "postgres";
import { type CollectionConfig, type PipelineConfig, quoteIdent } from "../core/mod.ts";
import type { Check } from "./checks.ts";
import type { SqlFile } from "./sql_files.ts";

const COMMENT =
  /comment\s+on\s+column\s+([a-z_][a-z0-9_]*)\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\s+is\s+'((?:[^']|'')*)'/gi;
const MONGO_PATH = /Mongo path: (.+?)\.(?:\s|$)/;

/**
 * The Mongo paths declared in the COMMENT ON column statements of `files`
 * (`... Mongo path: movements[].at.`; several as `a, b or c`), by schema, sorted.
 */
export function declaredPaths(files: readonly Pick<SqlFile, "text">[]): Map<string, string[]> {
  const bySchema = new Map<string, Set<string>>();
  for (const file of files) {
    for (const m of file.text.matchAll(COMMENT)) {
      const found = MONGO_PATH.exec(m[2]!.replaceAll("''", "'"));
      if (!found) continue;
      const set = bySchema.get(m[1]!) ?? new Set<string>();
      bySchema.set(m[1]!, set);
      for (const path of found[1]!.split(/,\s*|\s+or\s+/)) if (path.trim()) set.add(path.trim());
    }
  }
  return new Map([...bySchema].map(([s, set]) => [s, [...set].sort()]));
}

/** The top-level key of a Mongo path: `movements[].at` → `movements`. */
export function topLevel(path: string): string {
  return path.split(/[.[]/)[0]!;
}

/** The JSON type of `e.value` as the drift report names it (Extended JSON kinds included). */
const JSON_KIND = `case jsonb_typeof(e.value)
    when 'object' then case
      when e.value ? '$oid' then 'objectId'
      when e.value ? '$date' then 'date'
      when e.value ?| '{$numberLong,$numberInt,$numberDouble,$numberDecimal}'::text[] then 'number'
      when e.value ? '$binary' then 'binary'
      else 'object'
    end
    else jsonb_typeof(e.value)
  end`;

/**
 * Scans every document of `collections` (top level only) into `<meta>.observed_paths` for the
 * run `runId`, inside transaction `tx`.
 */
export async function observePaths(
  tx: postgres.TransactionSql,
  config: PipelineConfig,
  options: { runId: string; collections: readonly CollectionConfig[] },
): Promise<void> {
  const m = quoteIdent(config.metaSchema);
  const raw = quoteIdent(config.rawSchema);
  for (const c of options.collections) {
    // create table as runs in parallel workers (insert ... select does not).
    await tx.unsafe(
      `create temp table lml_observed_paths as
       select e.key as path, ${JSON_KIND} as json_type, count(*) as documents
       from ${raw}.${quoteIdent(c.name)} as r
       cross join lateral jsonb_each(r.doc) as e
       group by 1, 2`,
    );
    await tx.unsafe(
      `insert into ${m}.observed_paths (run_id, collection, path, json_type, documents)
       select $1, $2, path, json_type, documents from lml_observed_paths`,
      [options.runId, c.name],
    );
    await tx.unsafe(`drop table lml_observed_paths`);
  }
}

/**
 * The derived warn check `<schema>_source_drift` of each collection: rows (path, drift, types
 * before, types now, documents) for top-level paths new since the last successful run that no
 * column reads, read paths whose types changed, and read paths that disappeared. Needs the
 * current run's observed paths (setting `lml.run_id`).
 */
export function driftChecks(
  config: PipelineConfig,
  options: { collections: readonly CollectionConfig[]; declared: Map<string, string[]> },
): Check[] {
  const m = quoteIdent(config.metaSchema);
  return options.collections.map((c) => {
    const read = [...new Set((options.declared.get(c.schema) ?? []).map(topLevel))];
    const literal = `array[${read.map((p) => `'${p.replaceAll("'", "''")}'`).join(", ")}]::text[]`;
    const name = `'${c.name.replaceAll("'", "''")}'`;
    return {
      name: `${c.schema}_source_drift`,
      schema: c.schema,
      severity: "warn" as const,
      description:
        `paths of ${c.name} new since the last successful run that nothing reads, read paths whose JSON type changed, read paths that disappeared`,
      source: "derived",
      query: `with runs as (
  select o.run_id, o.run_id = current_setting('lml.run_id', true) as is_current, r.finished_at
  from (select distinct run_id from ${m}.observed_paths where collection = ${name}) as o
  join ${m}.runs as r on r.run_id = o.run_id
  where r.status = 'succeeded' or o.run_id = current_setting('lml.run_id', true)
),
now_run as (
  select run_id from runs order by is_current desc, finished_at desc limit 1
),
last_run as (
  select run_id from runs
  where run_id <> (select run_id from now_run)
  order by finished_at desc
  limit 1
),
now as (
  select path, array_agg(json_type order by json_type) as types, sum(documents)::bigint as documents
  from ${m}.observed_paths
  where run_id = (select run_id from now_run) and collection = ${name}
  group by path
),
before as (
  select path, array_agg(json_type order by json_type) as types, sum(documents)::bigint as documents
  from ${m}.observed_paths
  where run_id = (select run_id from last_run) and collection = ${name}
  group by path
)
select ${name} as collection, coalesce(n.path, b.path) as path,
  case
    when b.path is null then 'new path nobody reads'
    when n.path is null then 'read path disappeared'
    else 'type changed'
  end as drift,
  b.types as types_before, n.types as types_now,
  coalesce(n.documents, 0) as documents
from now as n
full join before as b on b.path = n.path
where exists (select from last_run)
  and (
    (b.path is null and not n.path = any(${literal}))
    or (n.path is null and b.path = any(${literal}))
    or (n.path = any(${literal}) and not n.types <@ b.types)
  )`,
    };
  });
}
