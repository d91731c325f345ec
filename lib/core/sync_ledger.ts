/**
 * The stored change stream position and the events a sync applied, in the meta schema
 * (tables created by ensureMeta): `sync_positions` holds, per source database, the resume
 * token after which the raw tables are complete; `sync_events` counts the events each run
 * applied per collection and operation. Both are written inside the transaction that writes
 * the data, so data and position never disagree.
 * @module
 */
import type postgres from "postgres";
import type { Sql } from "./db.ts";

/** Where the raw tables stand in the source's change stream. */
export interface SyncPosition {
  /** The source database the position belongs to. */
  sourceDatabase: string;
  /** The resume token, as canonical Extended JSON (`{"_data": "82..."}` on MongoDB 4.2+). */
  token: Record<string, unknown>;
  /** The collections the raw tables were complete for at that position. */
  collections: string[];
  /** The run that stored it. */
  runId: string;
  /** "full" (a full refresh), "incremental" (a sync) or "follow" (sync --follow). */
  mode: "full" | "incremental" | "follow";
  /** When it was stored (ISO-8601); set when read back. */
  updatedAt?: string;
}

/** Events applied to one collection for one operation type. */
export interface SyncEventCount {
  /** Collection. */
  collection: string;
  /** insert, update, replace or delete. */
  operation: string;
  /** Events read for that collection and operation. */
  events: number;
}

/** The statements that create the sync tables in the meta schema `m` (quoted). */
export function syncMetaStatements(m: string): string {
  return `
      create table if not exists ${m}.sync_positions (
        source_database text primary key,
        resume_token jsonb not null,
        collections text[] not null,
        run_id text not null,
        mode text not null check (mode in ('full', 'incremental', 'follow')),
        updated_at timestamptz not null default clock_timestamp()
      );
      comment on table ${m}.sync_positions is 'Per source database, the change stream position (resume token) up to which lml_raw is complete; written in the same transaction as the data. Absent: the next refresh is a full one.';
      create table if not exists ${m}.sync_events (
        run_id text not null references ${m}.runs on delete cascade,
        collection text not null,
        operation text not null,
        events bigint not null,
        primary key (run_id, collection, operation)
      );
      comment on table ${m}.sync_events is 'Change events a sync applied to lml_raw, per run, collection and operation type (insert, update, replace, delete); written with the data.';
  `;
}

/** The stored position of `sourceDatabase`, or undefined. */
export async function loadPosition(
  sql: Sql | postgres.TransactionSql,
  sourceDatabase: string,
  options: { metaSchema: string },
): Promise<SyncPosition | undefined> {
  const [row] = await sql<
    {
      resume_token: Record<string, unknown>;
      collections: string[];
      run_id: string;
      mode: SyncPosition["mode"];
      updated_at: Date;
    }[]
  >`
    select resume_token, collections, run_id, mode, updated_at
    from ${sql(options.metaSchema)}.sync_positions where source_database = ${sourceDatabase}`;
  if (!row) return undefined;
  return {
    sourceDatabase,
    token: row.resume_token,
    collections: row.collections,
    runId: row.run_id,
    mode: row.mode,
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Stores `position` (inside the caller's transaction `tx`, with the data it stands for). */
export async function savePosition(
  tx: Sql | postgres.TransactionSql,
  position: SyncPosition,
  options: { metaSchema: string },
): Promise<void> {
  const meta = tx(options.metaSchema);
  await tx`
    insert into ${meta}.sync_positions
      (source_database, resume_token, collections, run_id, mode, updated_at)
    values (${position.sourceDatabase}, ${tx.json(position.token as postgres.JSONValue)},
      ${position.collections}::text[], ${position.runId}, ${position.mode}, clock_timestamp())
    on conflict (source_database) do update set
      resume_token = excluded.resume_token, collections = excluded.collections,
      run_id = excluded.run_id, mode = excluded.mode, updated_at = excluded.updated_at`;
}

/**
 * Forgets every stored position (inside the caller's transaction `tx`): after a full refresh the
 * raw tables no longer stand at any of them (a dump may even be older).
 */
export async function forgetPositions(
  tx: Sql | postgres.TransactionSql,
  options: { metaSchema: string },
): Promise<void> {
  await tx`delete from ${tx(options.metaSchema)}.sync_positions`;
}

/** Adds `counts` to the run's applied events (inside the caller's transaction `tx`). */
export async function recordSyncEvents(
  tx: Sql | postgres.TransactionSql,
  counts: readonly SyncEventCount[],
  options: { metaSchema: string; runId: string },
): Promise<void> {
  if (counts.length === 0) return;
  const meta = tx(options.metaSchema);
  await tx`
    insert into ${meta}.sync_events (run_id, collection, operation, events)
    select ${options.runId}, c, o, e
    from unnest(${counts.map((c) => c.collection)}::text[], ${
    counts.map((c) => c.operation)
  }::text[], ${counts.map((c) => c.events)}::bigint[]) as u(c, o, e)
    on conflict (run_id, collection, operation)
    do update set events = ${meta}.sync_events.events + excluded.events`;
}
