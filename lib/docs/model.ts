/**
 * What the catalog site shows, gathered once: the database catalog (schemas, tables, columns,
 * keys, comments, row counts), the config, the SQL files, the ledger (runs, files, checks,
 * extractions) and the reports of past runs (row counts over time, the drift report).
 * @module
 */
import {
  type CollectionConfig,
  DEFAULT_REPORTS,
  displayPath,
  isMasked,
  listTables,
  MASK,
  type PipelineConfig,
  quoteIdent,
  type Sql,
} from "../core/mod.ts";
import { discoverFiles, type SqlLayout } from "../transform/mod.ts";
import { mongoPathOf } from "./lineage.ts";

/** A foreign key. */
export interface ForeignKey {
  /** Constraint name. */
  name: string;
  /** Schema and table holding it. */
  schema: string;
  table: string;
  /** Its columns. */
  columns: string[];
  /** The referenced table and columns. */
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

/** A column. */
export interface ColumnDoc {
  name: string;
  /** format_type() of its type. */
  type: string;
  nullable: boolean;
  /** Its default expression, if any. */
  default: string | null;
  /** COMMENT ON COLUMN. */
  comment: string | null;
  /** The MongoDB path the comment names (e.g. `movements[].from._id`), if any. */
  mongoPath: string | null;
  /** Part of the primary key. */
  isKey: boolean;
  /** The foreign key this column is part of, if any. */
  references: ForeignKey | null;
}

/** A table (or view). */
export interface TableDoc {
  schema: string;
  name: string;
  /** "table", "view" or "materialized view". */
  kind: string;
  comment: string | null;
  /** Exact row count now. */
  rows: number;
  columns: ColumnDoc[];
  primaryKey: string[];
  /** Its foreign keys. */
  foreignKeys: ForeignKey[];
  /** Foreign keys of other tables pointing to it. */
  referencedBy: ForeignKey[];
  /** CREATE INDEX statements. */
  indexes: string[];
  /** Other constraints (CHECK, UNIQUE), as pg_get_constraintdef gives them. */
  constraints: string[];
}

/** A SQL file of a schema. */
export interface FileDoc {
  /** e.g. `sql/lml_users/010_main.sql`. */
  path: string;
  /** Its leading comment. */
  description: string;
  /** The SQL text. */
  text: string;
  /** "transform" or "check". */
  kind: "shared" | "transform" | "check";
  /** Check name, for check files. */
  check?: string;
  /** Check severity, for check files. */
  severity?: string;
}

/** One schema of the pipeline (or lml_raw). */
export interface SchemaDoc {
  name: string;
  /** The collection it is built from (undefined for lml_raw). */
  collection: CollectionConfig | undefined;
  comment: string | null;
  tables: TableDoc[];
  /** Its SQL files, checks included. */
  files: FileDoc[];
  /** Its SQL unit test files. */
  tests: string[];
}

/** A run of the ledger. */
export interface RunDoc {
  runId: string;
  command: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  seconds: number | null;
  selected: string[];
  error: string | null;
  /** Seconds per stage (extract, transform, checks). */
  stages: { extract: number; transform: number; checks: number };
  /** Transform seconds per schema. */
  schemaSeconds: Record<string, number>;
}

/** A check result of the ledger. */
export interface CheckDoc {
  runId: string;
  name: string;
  schema: string | null;
  severity: string;
  status: string;
  offending: number;
  description: string | null;
  samples: Record<string, unknown>[];
  seconds: number;
}

/** One collection's extraction. */
export interface ExtractDoc {
  runId: string | null;
  collection: string;
  status: string;
  documents: number;
  bytes: number;
  startedAt: string;
  seconds: number;
}

/** Row counts of one run's report. */
export interface CountsDoc {
  runId: string;
  startedAt: string;
  tables: Record<string, number>;
}

/** A shared helper function of lml_util. */
export interface HelperDoc {
  name: string;
  arguments: string;
  kind: string;
  comment: string | null;
}

/** Everything the site shows. */
export interface DocsModel {
  /** When it was gathered (ISO). */
  generatedAt: string;
  /** The database's name. */
  database: string;
  /** The pipeline config. */
  config: PipelineConfig;
  /** The raw schema first, then every collection's schema in run order. */
  schemas: SchemaDoc[];
  /** The shared SQL files. */
  shared: FileDoc[];
  /** lml_util's functions and procedures. */
  helpers: HelperDoc[];
  /** Recent runs, newest first. */
  runs: RunDoc[];
  /** Check results of those runs. */
  checks: CheckDoc[];
  /** Recent extractions, newest first. */
  extracts: ExtractDoc[];
  /** Row counts per run from the reports, oldest first. */
  counts: CountsDoc[];
  /** The drift report of the last run, as recorded (report.json `drift`, or a ledger table). */
  drift: { source: string; runId: string | null; value: unknown } | undefined;
}

/** Options of {@linkcode collectModel}. */
export interface CollectOptions {
  /** The reports folder holding report.json and runs/. Default: "reports". */
  reportsDir?: string;
  /** How many recent runs to show. Default: 30. */
  runs?: number;
}

/** Gathers the model of the site from the database `sql` and the files of `config`. */
export async function collectModel(
  sql: Sql,
  config: PipelineConfig,
  options: CollectOptions = {},
): Promise<DocsModel> {
  const reportsDir = (options.reportsDir ?? "reports").replace(/\/+$/, "") || ".";
  const limit = options.runs ?? 30;
  const layout = await discoverFiles(config);
  const schemaNames = [config.rawSchema, ...config.collections.map((c) => c.schema)];
  const tables = await catalogTables(sql, schemaNames);
  const [{ database }] = await sql<[{ database: string }]>`select current_database() as database`;
  const comments = new Map(
    (await sql<{ name: string; comment: string | null }[]>`
      select nspname::text as name, obj_description(oid, 'pg_namespace') as comment
      from pg_namespace where nspname = any(${schemaNames}::text[])
    `).map((r) => [r.name, r.comment]),
  );
  const schemas: SchemaDoc[] = [];
  for (const name of schemaNames) {
    const collection = config.collections.find((c) => c.schema === name);
    schemas.push({
      name,
      collection,
      comment: comments.get(name) ?? null,
      tables: tables.filter((t) => t.schema === name),
      files: collection ? filesOf(layout, name) : [],
      tests: collection ? await testFiles(`${config.sqlDir}/${name}/tests`) : [],
    });
  }
  const helpers = await sql<HelperDoc[]>`
    select p.proname::text as name, pg_get_function_identity_arguments(p.oid) as arguments,
           case p.prokind when 'p' then 'procedure' else 'function' end as kind,
           obj_description(p.oid, 'pg_proc') as comment
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = ${config.utilSchema}
    order by p.proname
  `;
  const ledger = await readLedger(sql, config, limit);
  // Samples recorded before masking existed are masked here too.
  const masked = (config.reports ?? DEFAULT_REPORTS).maskedColumns;
  for (const check of ledger.checks) {
    check.samples = check.samples.map((s) =>
      Object.fromEntries(
        Object.entries(s).map(([k, v]) => [k, v !== null && isMasked(k, masked) ? MASK : v]),
      )
    );
  }
  const reports = await readReports(reportsDir, limit);
  return {
    generatedAt: new Date().toISOString(),
    database,
    config,
    schemas,
    shared: layout.shared.map((f) => ({
      path: f.relativePath,
      description: f.description,
      text: f.text,
      kind: "shared" as const,
    })),
    helpers: [...helpers],
    ...ledger,
    counts: reports.counts,
    drift: reports.drift ?? ledger.drift,
  };
}

function filesOf(layout: SqlLayout, schema: string): FileDoc[] {
  const entry = layout.schemas.find((s) => s.schema === schema);
  return [
    ...(entry?.files ?? []).map((f) => ({
      path: f.relativePath,
      description: f.description,
      text: f.text,
      kind: "transform" as const,
    })),
    ...layout.checks.filter((c) => c.schema === schema).map((c) => ({
      path: c.relativePath,
      description: c.description,
      text: c.text,
      kind: "check" as const,
      check: c.name,
      severity: c.severity,
    })),
  ];
}

async function testFiles(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir)))
      .filter((e) => e.isFile && /\.ya?ml$/.test(e.name))
      .map((e) => displayPath(`${dir}/${e.name}`))
      .sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Tables, columns, keys, indexes and exact row counts of `schemas`. */
async function catalogTables(sql: Sql, schemas: readonly string[]): Promise<TableDoc[]> {
  const relations = await sql<
    { schema: string; name: string; kind: string; comment: string | null }[]
  >`
    select n.nspname::text as schema, c.relname::text as name,
           case c.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end
             as kind,
           obj_description(c.oid, 'pg_class') as comment
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemas as string[]}::text[]) and c.relkind in ('r', 'p', 'v', 'm')
    order by array_position(${schemas as string[]}::text[], n.nspname::text),
             c.relname <> 'main', c.relname
  `;
  const columns = await sql<
    {
      schema: string;
      table: string;
      name: string;
      type: string;
      nullable: boolean;
      default: string | null;
      comment: string | null;
    }[]
  >`
    select n.nspname::text as schema, c.relname::text as table, a.attname::text as name,
           format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable,
           pg_get_expr(d.adbin, d.adrelid) as default,
           col_description(c.oid, a.attnum) as comment
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where n.nspname = any(${schemas as string[]}::text[]) and c.relkind in ('r', 'p', 'v', 'm')
      and a.attnum > 0 and not a.attisdropped
    order by n.nspname, c.relname, a.attnum
  `;
  const constraints = await sql<
    {
      name: string;
      type: string;
      schema: string;
      table: string;
      columns: string[];
      ref_schema: string | null;
      ref_table: string | null;
      ref_columns: string[] | null;
      definition: string;
    }[]
  >`
    select con.conname::text as name, con.contype::text as type,
           n.nspname::text as schema, c.relname::text as table,
           array(select a.attname::text from unnest(con.conkey) with ordinality k(num, i)
                 join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num
                 order by k.i) as columns,
           rn.nspname::text as ref_schema, rc.relname::text as ref_table,
           case when con.contype = 'f' then
             array(select a.attname::text from unnest(con.confkey) with ordinality k(num, i)
                   join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num
                   order by k.i) end as ref_columns,
           pg_get_constraintdef(con.oid) as definition
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_class rc on rc.oid = con.confrelid
    left join pg_namespace rn on rn.oid = rc.relnamespace
    where n.nspname = any(${schemas as string[]}::text[])
    order by n.nspname, c.relname, con.conname
  `;
  const indexes = await sql<{ schema: string; table: string; definition: string }[]>`
    select n.nspname::text as schema, c.relname::text as table,
           pg_get_indexdef(i.indexrelid) as definition
    from pg_index i
    join pg_class c on c.oid = i.indrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemas as string[]}::text[])
    order by n.nspname, c.relname, 3
  `;
  const foreignKeys: ForeignKey[] = constraints.filter((k) => k.type === "f").map((k) => ({
    name: k.name,
    schema: k.schema,
    table: k.table,
    columns: k.columns,
    refSchema: k.ref_schema!,
    refTable: k.ref_table!,
    refColumns: k.ref_columns ?? [],
  }));
  const result: TableDoc[] = [];
  for (const r of relations) {
    const own = (k: { schema: string; table: string }) =>
      k.schema === r.schema && k.table === r.name;
    const primaryKey = constraints.find((k) => own(k) && k.type === "p")?.columns ?? [];
    const fks = foreignKeys.filter(own);
    const [{ rows }] = await sql.unsafe<[{ rows: string }]>(
      `select count(*) as rows from ${quoteIdent(r.schema)}.${quoteIdent(r.name)}`,
    );
    result.push({
      schema: r.schema,
      name: r.name,
      kind: r.kind,
      comment: r.comment,
      rows: Number(rows),
      columns: columns.filter(own).map((c) => ({
        name: c.name,
        type: c.type,
        nullable: c.nullable,
        default: c.default,
        comment: c.comment,
        mongoPath: mongoPathOf(c.comment),
        isKey: primaryKey.includes(c.name),
        references: fks.find((k) => k.columns.includes(c.name)) ?? null,
      })),
      primaryKey,
      foreignKeys: fks,
      referencedBy: foreignKeys.filter((k) => k.refSchema === r.schema && k.refTable === r.name),
      indexes: indexes.filter(own).map((i) => i.definition),
      constraints: constraints.filter((k) => own(k) && (k.type === "c" || k.type === "u"))
        .map((k) => `${k.name}: ${k.definition}`),
    });
  }
  return result;
}

/** Recent runs with their stage times, check results and extractions, from the ledger. */
async function readLedger(
  sql: Sql,
  config: PipelineConfig,
  limit: number,
): Promise<Pick<DocsModel, "runs" | "checks" | "extracts" | "drift">> {
  const meta = config.metaSchema;
  const present = new Set((await listTables(sql, [meta])).map((t) => t.table));
  if (!present.has("runs")) return { runs: [], checks: [], extracts: [], drift: undefined };
  const m = sql(meta);
  const runs = await sql<
    {
      run_id: string;
      command: string;
      status: string;
      started_at: Date;
      finished_at: Date | null;
      seconds: number | null;
      selected: string[] | null;
      error: string | null;
    }[]
  >`
    select run_id, command, status, started_at, finished_at, seconds, selected, error
    from ${m}.runs order by started_at desc limit ${limit}
  `;
  const ids = runs.map((r) => r.run_id);
  const files = present.has("run_files")
    ? await sql<{ run_id: string; path: string; seconds: number }[]>`
        select run_id, path, seconds from ${m}.run_files where run_id = any(${ids}::text[])`
    : [];
  const checks = present.has("check_results")
    ? await sql<
      {
        run_id: string;
        check_name: string;
        schema_name: string | null;
        severity: string;
        status: string;
        offending: string;
        description: string | null;
        samples: Record<string, unknown>[];
        seconds: number;
      }[]
    >`
        select run_id, check_name, schema_name, severity, status, offending, description,
               samples, seconds
        from ${m}.check_results where run_id = any(${ids}::text[])
        order by check_name`
    : [];
  const extracts = present.has("extract_log")
    ? await sql<
      {
        run_id: string | null;
        collection: string;
        status: string;
        documents: string;
        bytes: string;
        started_at: Date;
        finished_at: Date;
        seconds: number;
      }[]
    >`
        select run_id, collection, status, documents, bytes, started_at, finished_at, seconds
        from ${m}.extract_log order by started_at desc
        limit ${limit * Math.max(1, config.collections.length)}`
    : [];
  const schemaOfPath = (path: string) => path.split("/").slice(-2, -1)[0] ?? "";
  let drift: DocsModel["drift"];
  const driftTable = [...present].find((t) => t.includes("drift"));
  if (driftTable && ids.length > 0) {
    const rows = await sql.unsafe(
      `select * from ${quoteIdent(meta)}.${quoteIdent(driftTable)} where run_id = $1 limit 500`,
      [ids[0]!],
    ).catch(() => [] as Record<string, unknown>[]);
    if (rows.length > 0) {
      drift = { source: `${meta}.${driftTable}`, runId: ids[0]!, value: [...rows] };
    }
  }
  return {
    runs: runs.map((r) => {
      const own = files.filter((f) => f.run_id === r.run_id);
      const transformFiles = own.filter((f) => !/(^|\/)(_?checks)\//.test(f.path));
      const extracted = extracts.filter((e) => e.run_id === r.run_id);
      const schemaSeconds: Record<string, number> = {};
      for (const f of transformFiles) {
        const schema = schemaOfPath(f.path);
        schemaSeconds[schema] = (schemaSeconds[schema] ?? 0) + f.seconds;
      }
      return {
        runId: r.run_id,
        command: r.command,
        status: r.status,
        startedAt: new Date(r.started_at).toISOString(),
        finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
        seconds: r.seconds,
        selected: r.selected ?? [],
        error: r.error,
        stages: {
          extract: extracted.length === 0 ? 0 : (
            Math.max(...extracted.map((e) => new Date(e.finished_at).getTime())) -
            Math.min(...extracted.map((e) => new Date(e.started_at).getTime()))
          ) / 1000,
          transform: transformFiles.reduce((n, f) => n + f.seconds, 0),
          checks: checks.filter((c) => c.run_id === r.run_id).reduce((n, c) => n + c.seconds, 0),
        },
        schemaSeconds,
      };
    }),
    checks: checks.map((c) => ({
      runId: c.run_id,
      name: c.check_name,
      schema: c.schema_name,
      severity: c.severity,
      status: c.status,
      offending: Number(c.offending),
      description: c.description,
      samples: c.samples ?? [],
      seconds: c.seconds,
    })),
    extracts: extracts.map((e) => ({
      runId: e.run_id,
      collection: e.collection,
      status: e.status,
      documents: Number(e.documents),
      bytes: Number(e.bytes),
      startedAt: new Date(e.started_at).toISOString(),
      seconds: e.seconds,
    })),
    drift,
  };
}

/** Row counts over time and the last drift report, from report.json files. */
async function readReports(
  dir: string,
  limit: number,
): Promise<{ counts: CountsDoc[]; drift: DocsModel["drift"] }> {
  const reports: Record<string, unknown>[] = [];
  try {
    for await (const entry of Deno.readDir(`${dir}/runs`)) {
      if (!entry.isDirectory) continue;
      const report = await readJson(`${dir}/runs/${entry.name}/report.json`);
      if (report) reports.push(report);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  reports.sort((a, b) => String(a.started_at).localeCompare(String(b.started_at)));
  const counts = reports.filter((r) => Array.isArray(r.tables) && r.tables.length > 0)
    .slice(-limit)
    .map((r) => ({
      runId: String(r.run_id),
      startedAt: String(r.started_at),
      tables: Object.fromEntries(
        (r.tables as { schema: string; table: string; rows: number }[])
          .map((t) => [`${t.schema}.${t.table}`, Number(t.rows)]),
      ),
    }));
  const latest = (await readJson(`${dir}/report.json`)) ?? reports[reports.length - 1];
  const drift = latest && latest.drift !== undefined && latest.drift !== null
    ? {
      source: `${displayPath(dir)}/report.json`,
      runId: String(latest.run_id),
      value: latest.drift,
    }
    : undefined;
  return { counts, drift };
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path));
    return value && typeof value === "object" ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
