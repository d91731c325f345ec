/**
 * The run ledger in the meta schema (default lml_meta): runs, files run, check results, the
 * extraction log and the retries. Created on first use; never dropped but by `reset`.
 * @module
 */
import { quoteIdent, type Sql } from "./db.ts";

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
      comment on table ${m}.retries is 'Every transient fault a run retried: a MongoDB read resumed, a staging restarted, a statement or the publishing transaction run again; run_id is null for an extract run.';
    `);
  });
}
