/**
 * Assertion checks: the ones written as SQL files, the ones derived from the config (no lost
 * documents, keys, timestamps, ghosts, dangling references...), and running them inside a
 * transaction, each in its own savepoint so a broken check cannot abort the run.
 * @module
 */
import type postgres from "postgres";
import {
  type CheckControl,
  type CheckResult,
  type CollectionConfig,
  isIdentifier,
  listTables,
  type Logger,
  meetsThreshold,
  type PipelineConfig,
  type Queryable,
  quoteIdent,
  type Severity,
  silentLogger,
  truncate,
} from "../core/mod.ts";
import { type CheckFile, locateError, type PgErrorFields } from "./sql_files.ts";

/** A check ready to run: a SELECT returning the offending rows (passes when it returns none). */
export interface Check {
  /** Unique name (snake_case). */
  name: string;
  /** The schema it is about; undefined for cross-schema checks of `sql/_checks/`. */
  schema: string | undefined;
  /** `error` fails the run; `warn` only reports. */
  severity: Severity;
  /** One line for people. */
  description: string;
  /** The SELECT, without a trailing semicolon. */
  query: string;
  /** The check file's path relative to the SQL folder's parent, or "derived". */
  source: string;
  /** The check file, to locate errors in it; undefined for derived checks. */
  file?: CheckFile | undefined;
}

/** How many offending rows a result keeps. */
export const SAMPLE_ROWS = 10;

/** Turns check files into checks. */
export function fileChecks(files: readonly CheckFile[]): Check[] {
  return files.map((file) => ({
    name: file.name,
    schema: file.schema,
    severity: file.severity,
    description: file.description,
    query: file.query,
    source: file.relativePath,
    file,
  }));
}

interface Column {
  name: string;
  type: string;
}

/** Options of {@linkcode derivedChecks}. */
export interface DerivedOptions {
  /** Collections to derive checks for, in run order. Default: all of the config. */
  collections?: readonly CollectionConfig[];
}

/**
 * Generates the checks every collection gets from the config, from what exists in the database
 * (run it inside the transaction, after the transforms): raw documents match main rows, primary
 * key not null, no timestamp after the run started, created_at not before 1990 (warn), and warn
 * counts of ghost users, unresolvable snapshots, dangling `*_ref` references and unmapped
 * values. A check is generated only when the tables and columns it needs exist.
 */
export async function derivedChecks(
  sql: Queryable,
  config: PipelineConfig,
  options: DerivedOptions = {},
): Promise<Check[]> {
  const collections = options.collections ?? config.collections;
  if (collections.length === 0) return [];
  const schemas = collections.map((c) => c.schema);
  const rows = await sql<
    { schema_name: string; table_name: string; column_name: string; type: string }[]
  >`
    select n.nspname as schema_name, c.relname as table_name, a.attname as column_name,
           format_type(a.atttypid, a.atttypmod) as type
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid
    where n.nspname = any(${schemas}::text[])
      and c.relkind in ('r', 'p')
      and a.attnum > 0
      and not a.attisdropped
    order by n.nspname, c.relname, a.attnum
  `;
  const tables = new Map<string, Map<string, Column[]>>();
  for (const r of rows) {
    if (!isIdentifier(r.table_name) || !isIdentifier(r.column_name)) continue;
    const bySchema = tables.get(r.schema_name) ?? new Map<string, Column[]>();
    tables.set(r.schema_name, bySchema);
    const columns = bySchema.get(r.table_name) ?? [];
    bySchema.set(r.table_name, columns);
    columns.push({ name: r.column_name, type: r.type });
  }
  const rawTables = new Set((await listTables(sql, [config.rawSchema])).map((t) => t.table));
  const runStarted =
    `coalesce(nullif(current_setting('lml.run_started_at', true), '')::timestamptz, now())`;
  const checks: Check[] = [];
  for (const collection of collections) {
    const s = collection.schema;
    const q = quoteIdent(s);
    const schemaTables = tables.get(s) ?? new Map<string, Column[]>();
    const main = schemaTables.get("main");
    const has = (table: Column[] | undefined, column: string) =>
      table?.some((c) => c.name === column) ?? false;
    const derived = (
      suffix: string,
      severity: Severity,
      description: string,
      query: string,
    ) =>
      checks.push({
        name: `${s}_${suffix}`,
        schema: s,
        severity,
        description,
        query,
        source: "derived",
      });

    if (main && has(main, collection.primaryKey) && rawTables.has(collection.name)) {
      const pk = quoteIdent(collection.primaryKey);
      const ghosts = has(main, "is_ghost") ? " where m.is_ghost is not true" : "";
      derived(
        "main_matches_raw",
        "error",
        `every document of ${config.rawSchema}.${collection.name} is exactly one ${s}.main row` +
          (ghosts ? " (ghost users aside)" : ""),
        `select coalesce(r._id, m.document_id) as document_id,
       case when m.document_id is null then 'raw document missing from main'
            else 'main row without raw document' end as problem
from ${quoteIdent(config.rawSchema)}.${quoteIdent(collection.name)} r
full join (select m.${pk}::text as document_id from ${q}.main m${ghosts}) m
  on m.document_id = r._id
where r._id is null or m.document_id is null`,
      );
    }
    if (main && has(main, collection.primaryKey)) {
      const pk = quoteIdent(collection.primaryKey);
      derived(
        "primary_key_not_null",
        "error",
        `${s}.main.${collection.primaryKey} is never null`,
        `select * from ${q}.main where ${pk} is null`,
      );
    }
    const timestampQueries: string[] = [];
    const refQueries: string[] = [];
    for (const [table, columns] of schemaTables) {
      const first = quoteIdent(columns[0]!.name);
      const rowKey = `jsonb_build_object('${columns[0]!.name}', t.${first})`;
      const stamps = columns.filter((c) => c.type === "timestamp with time zone");
      if (stamps.length > 0) {
        const values = stamps.map((c) => `('${c.name}', t.${quoteIdent(c.name)})`).join(", ");
        timestampQueries.push(
          `select '${table}' as table_name, v.column_name, v.value, ${rowKey} as row_key
from ${q}.${quoteIdent(table)} t
cross join lateral (values ${values}) v(column_name, value)
where v.value > ${runStarted}`,
        );
      }
      const refs = columns.filter((c) => c.name.endsWith("_ref"));
      if (refs.length > 0) {
        const values = refs.map((c) => `('${c.name}', to_jsonb(t.${quoteIdent(c.name)}))`)
          .join(", ");
        refQueries.push(
          `select '${table}' as table_name, v.column_name, v.reference, ${rowKey} as row_key
from ${q}.${quoteIdent(table)} t
cross join lateral (values ${values}) v(column_name, reference)
where v.reference is not null and v.reference <> 'null'::jsonb`,
        );
      }
    }
    if (timestampQueries.length > 0) {
      derived(
        "no_future_timestamps",
        "error",
        `no timestamp in ${s} is later than the start of the run`,
        timestampQueries.join("\nunion all\n"),
      );
    }
    if (main && main.some((c) => c.name === "created_at" && c.type.startsWith("timestamp"))) {
      derived(
        "created_at_in_range",
        "warn",
        `${s}.main.created_at is not before 1990-01-01`,
        `select * from ${q}.main where created_at < '1990-01-01'`,
      );
    }
    if (main && has(main, "is_ghost")) {
      derived(
        "ghost_users",
        "warn",
        `referenced users missing from the source, kept as ghost rows of ${s}.main`,
        `select * from ${q}.main where is_ghost`,
      );
    }
    if (schemaTables.has("unresolvable_snapshots")) {
      derived(
        "unresolvable_snapshots",
        "warn",
        `user snapshots without _id (their FK is null), in ${s}.unresolvable_snapshots`,
        `select * from ${q}.unresolvable_snapshots`,
      );
    }
    if (schemaTables.has("resolved_snapshots")) {
      derived(
        "resolved_snapshots",
        "warn",
        `user snapshots without _id resolved by their username or email, in ${s}.resolved_snapshots`,
        `select * from ${q}.resolved_snapshots`,
      );
    }
    if (refQueries.length > 0) {
      derived(
        "dangling_references",
        "warn",
        `references to missing documents, kept in *_ref columns of ${s}`,
        refQueries.join("\nunion all\n"),
      );
    }
    if (schemaTables.has("unmapped_values")) {
      derived(
        "unmapped_values",
        "warn",
        `raw values read and not mapped (unparseable, of another type, not an array...), in ${s}.unmapped_values`,
        `select * from ${q}.unmapped_values`,
      );
    }
  }
  return checks;
}

/** Options of {@linkcode runCheckList}. */
export interface RunCheckOptions {
  /** Progress lines. Default: silent. */
  logger?: Logger;
  /** Severity and thresholds per check name (`checks:` of the config). Default: none. */
  controls?: Record<string, CheckControl> | undefined;
}

/**
 * The severity and status of a check with `offending` rows under `control` (dbt-style): a check
 * of severity error fails the run when `error_if` holds (default: any row), else warns when
 * `warn_if` holds (default: any row), else passes; `total` is the denominator of a share.
 */
export function judgeCheck(
  severity: Severity,
  offending: number,
  control: CheckControl | undefined,
  total: number,
): { severity: Severity; status: "passed" | "failed" } {
  const base = control?.severity ?? severity;
  if (offending === 0) return { severity: base, status: "passed" };
  const holds = (t: CheckControl["warnIf"]) => t ? meetsThreshold(t, offending, total) : true;
  if (base === "error" && holds(control?.errorIf)) return { severity: "error", status: "failed" };
  if (holds(control?.warnIf)) return { severity: "warn", status: "failed" };
  return { severity: base, status: "passed" };
}

/** Rows of `<schema>.main` (the denominator of a share threshold), 0 when there is none. */
async function mainRows(tx: postgres.TransactionSql, schema: string | undefined): Promise<number> {
  if (!schema || !isIdentifier(schema)) return 0;
  try {
    const [row] = await tx.savepoint((sp) =>
      sp.unsafe<{ n: string }[]>(`select count(*)::bigint as n from ${quoteIdent(schema)}.main`)
    );
    return Number(row?.n ?? 0);
  } catch (error) {
    if (isPgError(error)) return 0;
    throw error;
  }
}

const WRAP_PREFIX = "with offending as materialized (\n";
const WRAP_SUFFIX = `
)
select (select count(*) from offending)::bigint as offending,
       coalesce((select json_agg(s) from (select * from offending limit ${SAMPLE_ROWS}) s),
                '[]'::json) as samples`;

/**
 * Runs `checks` one after the other inside transaction `tx`, each in a savepoint: a check whose
 * query fails is `errored` and the transaction stays usable.
 */
export async function runCheckList(
  tx: postgres.TransactionSql,
  checks: readonly Check[],
  options: RunCheckOptions = {},
): Promise<CheckResult[]> {
  const logger = options.logger ?? silentLogger;
  const results: CheckResult[] = [];
  for (const check of checks) {
    const started = performance.now();
    const base = {
      name: check.name,
      schema: check.schema ?? null,
      severity: options.controls?.[check.name]?.severity ?? check.severity,
      description: check.description,
      source: check.source,
    };
    const sent = WRAP_PREFIX + check.query + WRAP_SUFFIX;
    try {
      const [row] = await tx.savepoint((sp) =>
        sp.unsafe<{ offending: string; samples: Record<string, unknown>[] }[]>(sent)
      );
      const offending = Number(row?.offending ?? 0);
      const control = options.controls?.[check.name];
      const share = control?.warnIf?.percent || control?.errorIf?.percent;
      const total = offending > 0 && share ? await mainRows(tx, check.schema) : 0;
      const judged = judgeCheck(check.severity, offending, control, total);
      results.push({
        ...base,
        severity: judged.severity,
        status: judged.status,
        offending,
        samples: (row?.samples ?? []).map((s) => shorten(s) as Record<string, unknown>),
        seconds: (performance.now() - started) / 1000,
      });
    } catch (error) {
      if (!isPgError(error)) throw error;
      const message = check.file
        ? locateError(check.file, check.file.queryOffset, error, {
          sent,
          prefixLength: WRAP_PREFIX.length,
        }).message
        : `${check.name}: ${error.message}`;
      results.push({
        ...base,
        status: "errored",
        offending: 0,
        samples: [],
        seconds: (performance.now() - started) / 1000,
        error: message,
      });
    }
    const result = results[results.length - 1]!;
    const log = result.status === "passed"
      ? logger.debug
      : result.severity === "error"
      ? logger.error
      : logger.warn;
    const what = result.status === "errored"
      ? "could not run"
      : result.status === "passed"
      ? "passed"
      : `${result.offending} offending row(s)`;
    log(`check ${check.name} (${check.severity}): ${what}`, {
      ...(result.error ? { error: result.error } : {}),
    });
  }
  return results;
}

/** True for errors coming from the PostgreSQL server (they carry a SQLSTATE). */
export function isPgError(error: unknown): error is Error & PgErrorFields {
  return error instanceof Error && error.name === "PostgresError" &&
    typeof (error as { code?: unknown }).code === "string";
}

const MAX_STRING = 300;

/** Shortens long strings inside a JSON value (samples stay readable and small). */
function shorten(value: unknown): unknown {
  if (typeof value === "string") {
    return truncate(value, MAX_STRING + 1);
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, 20).map(shorten);
    if (value.length > 20) items.push(`… ${value.length - 20} more`);
    return items;
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v)]));
  }
  return value;
}
