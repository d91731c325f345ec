/**
 * The run ledger in the meta schema (default lml_meta): runs, files run, check results, the
 * extraction log, the alerts sent and the retries (and, from sync_ledger.ts, the change stream
 * position). Created on first use; never dropped but by `reset`.
 * @module
 */
import type postgres from "postgres";
import { quoteIdent, type Sql } from "./db.ts";
import { UsageError } from "./errors.ts";
import { hex } from "./hash.ts";
import { recordRetries } from "./retry.ts";
import { type Logger, silentLogger } from "./log.ts";
import { redactText } from "./redact.ts";
import { syncMetaStatements } from "./sync_ledger.ts";
import type { RunResult } from "./result.ts";

const RUN_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** A new run id: UTC time and a random suffix, e.g. `20250301T120000Z-4f9a1c`. */
export function newRunId(): string {
  const time = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const random = crypto.getRandomValues(new Uint8Array(3));
  return `${time}-${hex(random)}`;
}

/** Returns `runId` when it is valid (letters, digits, `_`, `.`, `-`; it names a reports folder). */
export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId)) {
    throw new UsageError(
      `invalid run id "${runId}": use letters, digits, _, . and - (it names a reports folder)`,
    );
  }
  return runId;
}

/** Creates the meta schema and its tables when missing (safe to call concurrently). */
export async function ensureMeta(sql: Sql, metaSchema = "lml_meta"): Promise<void> {
  const m = quoteIdent(metaSchema);
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('lml ensure meta'))`;
    await tx.unsafe(`
      create schema if not exists ${m};
      create table if not exists ${m}.runs (
        run_id text primary key,
        command text not null,
        status text not null check (status in ('running', 'succeeded', 'failed', 'abandoned')),
        started_at timestamptz not null default clock_timestamp(),
        finished_at timestamptz,
        seconds double precision,
        selected text[],
        error text,
        peak_rss_bytes bigint,
        pid integer default pg_backend_pid()
      );
      comment on table ${m}.runs is 'One row per extract, transform, assert or refresh run; written outside the run''s transaction, so failed runs are kept.';
      create table if not exists ${m}.run_files (
        run_id text not null references ${m}.runs on delete cascade,
        ordinal integer not null,
        path text not null,
        sha256 text not null,
        seconds double precision not null,
        rows bigint not null,
        primary key (run_id, path)
      );
      comment on table ${m}.run_files is 'Every SQL file a run executed, with its checksum, duration and rows written.';
      create table if not exists ${m}.check_results (
        run_id text not null references ${m}.runs on delete cascade,
        check_name text not null,
        schema_name text,
        severity text not null check (severity in ('error', 'warn')),
        status text not null check (status in ('passed', 'failed', 'errored')),
        offending bigint not null,
        description text,
        samples jsonb not null default '[]',
        seconds double precision not null,
        primary key (run_id, check_name)
      );
      comment on table ${m}.check_results is 'Every assertion check of a run: passed when it returned no rows.';
      create table if not exists ${m}.extract_log (
        run_id text references ${m}.runs on delete cascade,
        collection text not null,
        source text not null,
        status text not null check (status in ('succeeded', 'failed')),
        documents bigint not null default 0,
        bytes bigint not null default 0,
        anomalies bigint not null default 0,
        started_at timestamptz not null,
        finished_at timestamptz not null,
        seconds double precision not null,
        error text
      );
      comment on table ${m}.extract_log is 'One row per collection extraction: source (credentials redacted), documents, bytes, anomalies (documents whose original BSON was kept), timing.';
      create table if not exists ${m}.alerts (
        run_id text references ${m}.runs on delete cascade,
        target text not null,
        outcome text not null,
        status text not null check (status in ('sent', 'failed')),
        attempts integer not null,
        error text,
        seconds double precision not null,
        sent_at timestamptz not null default clock_timestamp()
      );
      comment on table ${m}.alerts is 'Every alert a run sent (notify: in pipeline.yaml): target as configured (no secrets), attempts, and why it failed; run_id is null for a run that never started.';
      create table if not exists ${m}.retries (
        run_id text references ${m}.runs on delete cascade,
        ordinal integer not null,
        at timestamptz not null,
        stage text not null check (stage in ('read', 'stage', 'statement', 'transaction')),
        what text not null,
        why text not null,
        attempt integer not null,
        waited_ms integer not null
      );
      create table if not exists ${m}.observed_paths (
        run_id text not null references ${m}.runs on delete cascade,
        collection text not null,
        path text not null,
        json_type text not null,
        documents bigint not null,
        primary key (run_id, collection, path, json_type)
      );
      comment on table ${m}.observed_paths is 'Top-level paths of the raw documents and their JSON types (objectId, date, number... for Extended JSON), counted by every transform run inside its transaction (kept only for runs that finished), for the drift report.';
      comment on table ${m}.retries is 'Every transient fault a run retried: a MongoDB read resumed, a staging restarted, a statement or the publishing transaction run again; run_id is null for an extract run.';
      create table if not exists ${m}.owned_schemas (
        schema_name text primary key,
        role text not null check (role in ('published', 'staging', 'retired')),
        marked_at timestamptz not null default clock_timestamp(),
        run_id text
      );
      comment on table ${m}.owned_schemas is 'Schemas this toolkit created and may replace or drop: published (raw, helpers, one per collection), staging, and retired ones (the previous data of a run, dropped once it committed). Any other schema is never touched.';
    `);
    // Incremental sync: the change stream position and the events applied (sync_ledger.ts).
    await tx.unsafe(syncMetaStatements(m));
  });
}

/**
 * Records a run as running, outside any transaction (a run started earlier under the same id,
 * e.g. by the refresh before its extraction, is taken over). `pid` is recorded as the run's
 * session (the one holding the run lock; default: this session).
 */
export async function startRun(
  sql: Sql,
  run: { runId: string; command: string; selected: string[] },
  options: { metaSchema?: string; pid?: number | undefined } = {},
): Promise<void> {
  const meta = sql(options.metaSchema ?? "lml_meta");
  const pid = options.pid ?? null;
  await sql`
    insert into ${meta}.runs (run_id, command, status, selected, pid)
    values (${run.runId}, ${run.command}, 'running', ${run.selected}::text[],
            coalesce(${pid}::int, pg_backend_pid()))
    on conflict (run_id) do update set status = 'running', selected = excluded.selected
  `;
}

/** Options of {@linkcode recordRun}. */
export interface RecordRunOptions {
  /** The meta schema. Default: "lml_meta". */
  metaSchema?: string;
  /** Told when the ledger could not be written in full or at all. Default: silent. */
  logger?: Logger;
}

/**
 * Records how a run ended, with its files and check results, outside its transaction. The
 * ledger never changes a run's outcome: when the full record cannot be written (the run's data
 * may already be committed), the run's status and error alone are recorded, and when even that
 * fails the logger is told; it never rejects.
 */
export async function recordRun(
  sql: Sql,
  result: RunResult,
  options: RecordRunOptions = {},
): Promise<void> {
  const logger = options.logger ?? silentLogger;
  const meta = sql(options.metaSchema ?? "lml_meta");
  const error = result.error ? storable(redactText(result.error.message)) : null;
  try {
    await recordInFull(sql, result, { meta, error, metaSchema: options.metaSchema ?? "lml_meta" });
    return;
  } catch (cause) {
    logger.warn(
      `run ${result.runId} ${result.status}, but its files and checks could not be recorded ` +
        `in the ledger: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  try {
    await sql`
      update ${meta}.runs
      set status = ${result.status}, finished_at = clock_timestamp(), seconds = ${result.seconds},
          error = ${error}, peak_rss_bytes = ${result.peakRssBytes}
      where run_id = ${result.runId}
    `;
  } catch (cause) {
    logger.error(
      `run ${result.runId} ${result.status}, but the ledger could not record it: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
    );
  }
}

/** Text PostgreSQL accepts: no NUL, no lone surrogate. */
function storable(text: string): string {
  return text.replaceAll("\0", "\\x00").toWellFormed();
}

/** The whole record of a run in one transaction: its row, files and checks. */
async function recordInFull(
  sql: Sql,
  result: RunResult,
  { meta, error, metaSchema }: {
    meta: postgres.Helper<string>;
    error: string | null;
    metaSchema: string;
  },
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      update ${meta}.runs
      set status = ${result.status}, finished_at = clock_timestamp(), seconds = ${result.seconds},
          error = ${error}, peak_rss_bytes = ${result.peakRssBytes}
      where run_id = ${result.runId}
    `;
    if (result.files.length > 0) {
      const rows = result.files.map((f, i) => ({
        run_id: result.runId,
        ordinal: i + 1,
        path: f.path,
        sha256: f.sha256,
        seconds: f.seconds,
        rows: f.rows,
      }));
      await tx`insert into ${meta}.run_files ${sql(rows)}`;
    }
    if (result.checks.length > 0) {
      const rows = result.checks.map((c) => ({
        run_id: result.runId,
        check_name: c.name,
        schema_name: c.schema,
        severity: c.severity,
        status: c.status,
        offending: c.offending,
        description: c.description,
        samples: c.samples as unknown as postgres.JSONValue,
        seconds: c.seconds,
      }));
      await tx`
        insert into ${meta}.check_results
          (run_id, check_name, schema_name, severity, status, offending, description, samples, seconds)
        select run_id, check_name, schema_name, severity, status, offending, description,
               samples, seconds
        from jsonb_to_recordset(${sql.json(rows as unknown as postgres.JSONValue)}::jsonb) as r(
          run_id text, check_name text, schema_name text, severity text, status text,
          offending bigint, description text, samples jsonb, seconds double precision)
      `;
    }
    await recordRetries(tx, result.retries ?? [], { metaSchema, runId: result.runId });
  });
}
