/**
 * Incremental sync from the source's change stream, with the full refresh as its safety net.
 *
 * - A full refresh first takes the change stream's present position, before reading any
 *   collection, and commits it with the data (lml_meta.sync_positions): every change made while
 *   it reads is after that position, so the next sync applies it (applying is idempotent).
 * - A sync resumes from the stored position, reads every change up to the present, reads the
 *   documents written by `_id`, and in ONE transaction upserts and deletes them in the raw
 *   tables, rebuilds the normalized schemas, runs the checks, and stores the new position.
 * - A lost position (oplog rolled over, collection dropped or renamed, stream invalidated) is
 *   never replaced by "now": mode `auto` falls back to a full refresh and says why (log,
 *   reports, alerts); mode `incremental` fails.
 * - `follow` keeps applying changes to the raw tables in small transactions, each with its
 *   position, until stopped; the normalized rebuild stays scheduled (`deno task transform`).
 * @module
 */
import {
  applyRawChanges,
  type ChangeSource,
  type ChangesRead,
  hasChangeStream,
  openChangeSource,
  type RawChanges,
  rawRowOfBson,
} from "../../extract/mod.ts";
import {
  compareVolumes,
  DEFAULTS,
  type ExtractResult,
  forgetPositions,
  loadPosition,
  type Logger,
  newRunResult,
  pause,
  peakRssBytes,
  type PipelineConfig,
  rawCounts,
  recordRun,
  recordSyncEvents,
  RetryLog,
  type RetryPolicy,
  RunError,
  type RunLock,
  type RunResult,
  savePosition,
  type Sql,
  startRun,
  type SyncEventCount,
  type SyncPosition,
  tryRunLockInTransaction,
} from "../core/mod.ts";
import type postgres from "postgres";
import { graphMermaid, runTransforms } from "../transform/mod.ts";

/** How a refresh reads the source. */
export type RefreshMode = "auto" | "full" | "incremental";

/** The refresh modes, for --mode. */
export const REFRESH_MODES: readonly RefreshMode[] = ["auto", "full", "incremental"];

/** Raised by mode `incremental` when no incremental run is possible. */
export class PositionLostError extends RunError {
  constructor(message: string) {
    super(message, {
      hint: "run `deno task refresh --mode full` (or `--mode auto`, which falls back by itself)",
    });
    this.name = "PositionLostError";
  }
}

/** A full refresh that stores `publish`'s writes in its publishing transaction. */
export type FullRefresh = (
  publish: (tx: postgres.TransactionSql) => Promise<void>,
) => Promise<RunResult>;

/** Options of {@linkcode refreshByMode}. */
export interface ModeOptions {
  /** MongoDB URL or dump directory. */
  source: string;
  /** auto, full or incremental. Default: "auto". */
  mode?: RefreshMode;
  /** The run's id. */
  runId: string;
  /** Progress and the loud fallback warning. */
  logger: Logger;
  /** The run lock the caller holds (runs.pid names its session; verified before COMMIT). Default: none. */
  runLock?: RunLock | undefined;
  /** How transient faults are retried. */
  retry: RetryPolicy;
  /** lock_timeout of each transform statement, in ms. Default: DEFAULTS.lockTimeoutMs. */
  lockTimeoutMs?: number;
  /** Retries of a statement that hit the lock timeout. Default: DEFAULTS.lockRetries. */
  lockRetries?: number;
  /** How long one getMore waits for changes before the stream counts as caught up, in ms. Default: 500. */
  maxAwaitMs?: number;
  /** Accept collections the changes shrink beyond `volume_guard.max_shrink`. Default: false. */
  allowShrink?: boolean;
}

/**
 * Runs a refresh in `options.mode` (the caller holds the refresh lock): incremental when a
 * valid position is stored, else `full` (the full refresh, storing the position taken
 * before it reads). The result names the mode, the events applied, and `fallback` when a lost
 * position made `auto` refresh in full.
 */
export async function refreshByMode(
  sql: Sql,
  config: PipelineConfig,
  options: ModeOptions,
  full: FullRefresh,
): Promise<RunResult> {
  const mode = options.mode ?? "auto";
  const { logger } = options;
  if (!hasChangeStream(options.source)) {
    if (mode === "incremental") {
      throw new PositionLostError(
        "--mode incremental needs a MongoDB source with a change stream; a dump folder has none",
      );
    }
    return await fullRefresh(config, options, full, undefined);
  }
  let opened: ChangeSource;
  try {
    opened = await openChangeSource(options.source, {
      database: config.sourceDatabase,
      ...(options.maxAwaitMs === undefined ? {} : { maxAwaitMs: options.maxAwaitMs }),
    });
  } catch (error) {
    // The full refresh fails on it too, recorded and reported as any extraction failure.
    if (mode === "incremental") throw error;
    logger.warn(`cannot open the change stream: ${messageOf(error)}`);
    return await fullRefresh(config, options, full, undefined);
  }
  await using source = opened;
  if (mode === "full") return await fullRefresh(config, options, full, source);
  const position = await loadPosition(sql, source.database, { metaSchema: config.metaSchema });
  const all = config.collections.map((c) => c.name);
  let why: string | undefined;
  let read: ChangesRead | undefined;
  if (!position) why = "no change stream position is stored yet (first run)";
  else if (!sameSet(position.collections, all)) {
    why = "the configured collections changed since the position was stored";
  } else {
    try {
      read = await source.changesSince(position.token, { collections: all });
    } catch (error) {
      const message = `reading the change stream failed; nothing was changed: ${messageOf(error)}`;
      return await failedRun(sql, config, options, message, error);
    }
    if (read.lost !== undefined) why = `the stored change stream position is lost: ${read.lost}`;
  }
  if (read && read.lost === undefined) {
    return await incremental(sql, config, options, { source, read });
  }
  if (mode === "incremental") {
    throw new PositionLostError(`no incremental refresh possible: ${why}`);
  }
  // A first run is expected; anything else is a fallback, said loudly.
  const fallback = position ? why : undefined;
  if (fallback) {
    logger.warn(`FALLING BACK TO A FULL REFRESH: ${fallback}; every document is read again`);
  } else logger.info(`full refresh: ${why}`);
  return await fullRefresh(config, options, full, source, fallback);
}

/** The full refresh, storing the position taken before it reads (or forgetting it). */
async function fullRefresh(
  config: PipelineConfig,
  options: ModeOptions,
  full: FullRefresh,
  source: ChangeSource | undefined,
  fallback?: string,
): Promise<RunResult> {
  const taken = source
    ? await source.position().catch((error) => ({ unavailable: messageOf(error) }))
    : undefined;
  if (taken && "unavailable" in taken) {
    options.logger.info(`no incremental refresh next time: ${taken.unavailable}`);
  }
  const position = taken && "position" in taken ? taken.position : undefined;
  const meta = config.metaSchema;
  const result = await full(async (tx) => {
    await forgetPositions(tx, { metaSchema: meta });
    if (position && source) {
      await savePosition(tx, {
        sourceDatabase: source.database,
        token: position,
        collections: config.collections.map((c) => c.name),
        runId: options.runId,
        mode: "full",
      }, { metaSchema: meta });
    }
  });
  return {
    ...result,
    ...(fallback ? { fallback } : {}),
    sync: { mode: "full", positionStored: position !== undefined, events: [], skipped: 0 },
  };
}

/** The documents of `read`'s changes, read from the source by `_id`, as raw table rows. */
async function readChangedDocuments(
  source: ChangeSource,
  read: Extract<ChangesRead, { lost?: undefined }>,
  config: PipelineConfig,
): Promise<{ rows: RawChanges[]; extract: ExtractResult[]; events: SyncEventCount[] }> {
  const rows: RawChanges[] = [];
  const extract: ExtractResult[] = [];
  const events: SyncEventCount[] = [];
  for (const { name } of config.collections) {
    const started = performance.now();
    const changes = read.changes.find((c) => c.collection === name);
    const counts = { documents: 0, bytes: 0, anomalies: 0 };
    if (changes) {
      const upserts = [];
      const found = new Set<string>();
      for await (const batch of source.documents(name, changes.keys.values())) {
        for (const doc of batch) {
          const row = rawRowOfBson(doc);
          upserts.push(row);
          found.add(row.id);
          counts.documents++;
          counts.bytes += doc.byteLength;
          if (row.original) counts.anomalies++;
        }
      }
      const deletes = [...changes.keys.keys()].filter((id) => !found.has(id));
      rows.push({ collection: name, upserts, deletes });
      for (const [operation, n] of Object.entries(changes.events)) {
        events.push({ collection: name, operation, events: n });
      }
    }
    extract.push({
      collection: name,
      ...counts,
      seconds: (performance.now() - started) / 1000,
      status: "succeeded",
    });
  }
  return { rows, extract, events };
}

/** The incremental run: changes applied, schemas rebuilt, position stored, in one transaction. */
async function incremental(
  sql: Sql,
  config: PipelineConfig,
  options: ModeOptions,
  { source, read }: { source: ChangeSource; read: Extract<ChangesRead, { lost?: undefined }> },
): Promise<RunResult> {
  const { runId, logger } = options;
  const selected = config.collections.map((c) => c.schema);
  const meta = config.metaSchema;
  await startRun(sql, { runId, command: "refresh", selected }, {
    metaSchema: meta,
    pid: options.runLock?.pid,
  });
  const started = new Date();
  logger.info(
    `incremental refresh ${runId}: ${read.events} change events since the stored position ` +
      `(${read.skipped} skipped)`,
  );
  let documents: Awaited<ReturnType<typeof readChangedDocuments>>;
  try {
    documents = await readChangedDocuments(source, read, config);
  } catch (error) {
    const message = `reading the changed documents failed; nothing was changed: ${
      messageOf(error)
    }`;
    return await failedRun(sql, config, options, message, error, started);
  }
  const extractedAt = new Date().toISOString();
  const retryLog = new RetryLog(logger);
  const result = await runTransforms(sql, config, {
    command: "refresh",
    runId,
    logger,
    extract: documents.extract,
    prepare: async (tx) => {
      // The volume guard, on what the changes leave of each changed collection.
      const changed = documents.extract.map((e) => e.collection);
      const guard = {
        rawSchema: config.rawSchema,
        maxShrink: config.maxShrink ?? DEFAULTS.maxShrink,
      };
      const before = options.allowShrink ? undefined : await rawCounts(tx, changed, guard);
      await applyRawChanges(tx, documents.rows, { rawSchema: config.rawSchema, extractedAt });
      if (before) {
        const after = await rawCounts(tx, changed, guard);
        const shrunk = compareVolumes(
          before,
          [...after].map(([collection, documents]) => ({
            collection,
            documents,
          })),
          guard,
        );
        if (shrunk) throw shrunk;
      }
      await recordSyncEvents(tx, documents.events, { metaSchema: meta, runId });
      await savePosition(tx, {
        sourceDatabase: source.database,
        token: read.position,
        collections: config.collections.map((c) => c.name),
        runId,
        mode: "incremental",
      }, { metaSchema: meta });
    },
    retry: options.retry,
    retryLog,
    ...(options.runLock ? { lock: options.runLock } : {}),
    ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
    ...(options.lockRetries === undefined ? {} : { lockRetries: options.lockRetries }),
  });
  return {
    ...result,
    sync: {
      mode: "incremental",
      positionStored: true,
      events: documents.events,
      skipped: read.skipped,
    },
  };
}

/** Options of {@linkcode follow}. */
export interface FollowOptions {
  /** MongoDB URL. */
  source: string;
  /** The follow run's id (its events are recorded under it). */
  runId: string;
  /** Progress. */
  logger: Logger;
  /** Stops following (after the transaction in progress). */
  signal: AbortSignal;
  /** Change events per transaction at most. Default: 1000. */
  maxEvents?: number;
  /** How long one getMore waits for changes, in ms. Default: 1000. */
  maxAwaitMs?: number;
  /** Called after each transaction committed, with the events it applied. */
  onApplied?: (events: number) => void;
  /**
   * Take the run lock inside each transaction, and leave a batch for later while a writing
   * command (a scheduled transform) holds it. Default: true.
   */
  exclusive?: boolean;
}

/**
 * Keeps the raw tables seconds behind the source until `signal` aborts: changes since the
 * stored position, applied in small transactions, each storing its position. The normalized
 * schemas are not rebuilt. Throws PositionLostError when the position is lost (the next
 * `refresh` falls back to a full one) and RunError when none is stored. The caller holds the
 * follower's lock (one follower at a time); each transaction takes the run lock, and a batch
 * that finds it held (a scheduled transform) or finds the position moved (a refresh ran) is
 * read again later, from the stored position.
 */
export async function follow(
  sql: Sql,
  config: PipelineConfig,
  options: FollowOptions,
): Promise<{ events: number; transactions: number }> {
  const { logger, signal, runId } = options;
  const meta = config.metaSchema;
  const all = config.collections.map((c) => c.name);
  await using source = await openChangeSource(options.source, {
    database: config.sourceDatabase,
    maxAwaitMs: options.maxAwaitMs ?? 1000,
  });
  let position: SyncPosition | undefined = await loadPosition(sql, source.database, {
    metaSchema: meta,
  });
  if (!position || !sameSet(position.collections, all)) {
    throw new RunError("--follow needs a stored change stream position for every collection", {
      hint: "run `deno task sync` (or refresh) first; it stores one",
    });
  }
  // The caller holds the follower's lock: a follow still "running" was killed.
  await sql`
    update ${sql(meta)}.runs
    set status = 'abandoned', finished_at = clock_timestamp(),
        error = 'the process ended before finishing the run (killed or lost its connection)'
    where command = 'follow' and status = 'running'`;
  await startRun(sql, { runId, command: "follow", selected: [] }, { metaSchema: meta });
  logger.info(`following the change stream of ${source.database} from the stored position`);
  const totals = { events: 0, transactions: 0 };
  let status = "succeeded";
  let error: string | null = null;
  try {
    while (!signal.aborted) {
      // A refresh or sync that committed meanwhile moved the position: go on from there.
      position = await loadPosition(sql, source.database, { metaSchema: meta }) ?? position;
      const read = await source.changesSince(position.token, {
        collections: all,
        maxEvents: options.maxEvents ?? 1000,
      });
      if (read.lost !== undefined) {
        throw new PositionLostError(
          `the change stream position was lost while following: ${read.lost}; the next ` +
            "refresh (mode auto) refreshes in full",
        );
      }
      if (read.events === 0 && samePosition(read.position, position.token)) {
        await pause(250); // idle: the next read waits for changes anyway
        continue;
      }
      const documents = await readChangedDocuments(source, read, config);
      const next: SyncPosition = { ...position, token: read.position, runId, mode: "follow" };
      const extractedAt = new Date().toISOString();
      const from = position.token;
      const written = await sql.begin(async (tx) => {
        if (options.exclusive !== false && !(await tryRunLockInTransaction(tx))) return false;
        const stored = await loadPosition(tx, source.database, { metaSchema: meta });
        if (!stored || !samePosition(stored.token, from)) return false;
        await applyRawChanges(tx, documents.rows, { rawSchema: config.rawSchema, extractedAt });
        await recordSyncEvents(tx, documents.events, { metaSchema: meta, runId });
        await savePosition(tx, next, { metaSchema: meta });
        return true;
      });
      if (!written) {
        await pause(1000); // a writing command holds the lock, or moved the position
        continue;
      }
      position = next;
      const applied = documents.events.reduce((n, e) => n + e.events, 0);
      totals.events += applied;
      totals.transactions++;
      if (applied > 0) logger.info(`follow: applied ${applied} change events`);
      options.onApplied?.(applied);
    }
    return totals;
  } catch (caught) {
    status = "failed";
    error = caught instanceof Error ? caught.message : String(caught);
    throw caught;
  } finally {
    await sql`
      update ${sql(meta)}.runs
      set status = ${status}, finished_at = clock_timestamp(),
          seconds = extract(epoch from clock_timestamp() - started_at), error = ${error}
      where run_id = ${runId}`.catch(() => {});
  }
}

/** Records and returns a refresh that failed before its transaction. */
async function failedRun(
  sql: Sql,
  config: PipelineConfig,
  options: ModeOptions,
  message: string,
  cause: unknown,
  started = new Date(),
): Promise<RunResult> {
  const { runId } = options;
  const selected = config.collections.map((c) => c.schema);
  await startRun(sql, { runId, command: "refresh", selected }, {
    metaSchema: config.metaSchema,
    pid: options.runLock?.pid,
  });
  const graph = graphMermaid(config, selected);
  const result: RunResult = {
    ...newRunResult({ runId, command: "refresh", selected, graph }, { started }),
    status: "failed",
    finishedAt: new Date().toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    peakRssBytes: peakRssBytes(),
    error: new RunError(message, { cause }),
  };
  options.logger.error(message);
  await recordRun(sql, result, { metaSchema: config.metaSchema, logger: options.logger });
  return result;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
}

function samePosition(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
