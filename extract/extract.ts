/**
 * The extract/load stage: every selected collection is streamed from the source into a staging
 * table, then swapped in atomically; one row per collection goes to `<meta>.extract_log`.
 *
 * `extractCollections` stages and swaps each collection on its own. The lower-level
 * `stageCollections` / `swapStagingTables` / `dropStagingTables` let a caller stage everything
 * first and swap inside its own transaction.
 * @module
 */
import {
  captureDependents,
  captureSchema,
  DEFAULTS,
  displayPath,
  dropRetired,
  ensureMeta,
  type ExtractResult,
  guardSchemas,
  isSessionLost,
  LmlError,
  type Logger,
  markSchemas,
  newRunId,
  pause,
  type PipelineConfig,
  recordRetries,
  redactText,
  restoreDependents,
  restoreRelations,
  retiredName,
  RetryLog,
  type RetryPolicy,
  silentLogger,
  type Sql,
  STAGING_SCHEMA,
  within,
} from "../lib/core/mod.ts";
import type postgres from "postgres";
import {
  copySupported,
  createStaging,
  dropStagingTables,
  DuplicateIdError,
  finishStaging,
  loadDocuments,
  type LoadMethod,
  swapStagingTables,
} from "./load.ts";
import { createProgress, type Progress } from "./progress.ts";
import { openSource } from "./open_source.ts";
import { type Source, SourceError, type SourceEstimate } from "./source.ts";
import { restageOnLostSession } from "./retry.ts";

/** A collection that could not be extracted; names the document when one is at fault. */
class ExtractError extends LmlError {
  /** The collection. */
  collection: string;
  /** 1-based position of the failing document, when known. */
  ordinal: number | undefined;
  /** Byte offset of the failing document in its dump file, when known. */
  offset: number | undefined;
  constructor(
    collection: string,
    message: string,
    options: { ordinal?: number | undefined; offset?: number | undefined; cause?: unknown } = {},
  ) {
    super(`${collection}: ${message}`, { cause: options.cause });
    this.name = "ExtractError";
    this.collection = collection;
    this.ordinal = options.ordinal;
    this.offset = options.offset;
  }
}

/** Options of {@linkcode extractCollections} and {@linkcode stageCollections}. */
export interface ExtractOptions {
  /** A `mongodb://` URL or a dump directory, or an opened {@linkcode Source} (left open). */
  source: string | Source;
  /** Collection names (validated by the caller, e.g. with selectCollections). Default: all. */
  select?: readonly string[];
  /** Collections extracted at once. Default: 2. */
  concurrency?: number;
  /** Where progress and the summary go. Default: silentLogger. */
  logger?: Logger;
  /** Run id written to extract_log (must exist in runs). Default: none (NULL). */
  runId?: string;
  /** Bytes of COPY text per write. Default: 262144. */
  batchBytes?: number;
  /** Bytes per COPY statement before the next one starts. Default: 32 MiB. */
  copyBytes?: number;
  /**
   * How rows are loaded: "auto" probes COPY FROM STDIN once per run and falls back to batched
   * INSERTs where it is refused. "copy" and "insert" force one (tests). Default: "auto".
   */
  method?: LoadMethod | "auto";
  /** How transient faults (source reads, lost PostgreSQL sessions) are retried. Default: config.retry. */
  retry?: RetryPolicy;
  /**
   * Where retries are recorded. Default: a log of the extraction's own, written to
   * `<meta>.retries` when it ends (a caller passing its log writes it itself).
   */
  retryLog?: RetryLog;
  /** Called with the source once it is open (its `reads` are final once the extraction ends). */
  onSource?: (source: Source) => void;
}

/** Options of {@linkcode stageCollection}. */
export interface StageOptions extends Omit<ExtractOptions, "select" | "concurrency" | "source"> {
  /** The collection to stage. */
  collection: string;
  /** The opened source. */
  source: Source;
  /** True for an error to rethrow (the caller restarts the staging) instead of reporting it. */
  restartable?: (error: unknown) => boolean;
}

interface RunState {
  method: Promise<LoadMethod> | undefined;
  forced: LoadMethod | undefined;
  progress: Progress | undefined;
}

const runStates = new WeakMap<Source, RunState>();

function describeError(collection: string, error: unknown): ExtractError {
  if (error instanceof ExtractError) return error;
  if (error instanceof SourceError) {
    const at = error.ordinal === undefined
      ? ""
      : `document ${error.ordinal}${error.offset === undefined ? "" : ` at byte ${error.offset}`}${
        error.location ? ` of ${error.location}` : ""
      }: `;
    return new ExtractError(collection, `${at}${error.message}`, {
      ordinal: error.ordinal,
      offset: error.offset,
      cause: error,
    });
  }
  if (error instanceof DuplicateIdError) {
    return new ExtractError(collection, error.message, {
      ordinal: error.ordinals[1],
      offset: error.offsets[1],
      cause: error,
    });
  }
  const message = redactText(error instanceof Error ? error.message : String(error));
  return new ExtractError(collection, `loading into PostgreSQL failed: ${message}`, {
    cause: error,
  });
}

/**
 * Streams one collection from `options.source` into `lml_staging.<collection>__next` with its primary
 * key, ready for swapStagingTables. Never throws for a collection's own failure: the
 * staging table is dropped and the result says why (status "failed").
 */
async function stageCollection(
  sql: Sql,
  config: PipelineConfig,
  options: StageOptions,
): Promise<ExtractResult> {
  const { collection, source } = options;
  const logger = options.logger ?? silentLogger;
  const target = { collection };
  const state = runStates.get(source) ??
    { method: undefined, forced: undefined, progress: undefined };
  const started = performance.now();
  const extractedAt = new Date().toISOString();
  const total = await source.estimate(collection).catch(() => ({}));
  const tracker = state.progress?.start(collection, total);
  let counts = { documents: 0, bytes: 0, anomalies: 0 };
  // Probe before reserving: the probe needs a connection of its own.
  const forced = options.method && options.method !== "auto" ? options.method : state.forced;
  const method = forced ?? await (state.method ??= copySupported(sql).then((ok) => {
    if (!ok) logger.warn("COPY FROM STDIN is not supported here: loading with INSERTs");
    return ok ? "copy" : "insert";
  }));
  const reserved = await sql.reserve();
  let extra: postgres.ReservedSql | undefined;
  let lost = false;
  try {
    await createStaging(reserved, target);
    const location = await source.locate(collection);
    const retry = {
      policy: options.retry ?? config.retry,
      log: options.retryLog ?? new RetryLog(),
    };
    counts = await loadDocuments(reserved, source.read(collection, { retry }), {
      ...target,
      location,
      extractedAt,
      method,
      ...(options.batchBytes ? { batchBytes: options.batchBytes } : {}),
      ...(options.copyBytes ? { copyBytes: options.copyBytes } : {}),
      onProgress: (c, consumed) => tracker?.update({ ...c, consumed }),
      // A large collection is parsed by two server processes when the pool has one to spare
      // (asked once, waiting at most 250 ms: a busy pool only delays the load that long).
      extraLane: async () => (extra = await tryReserve(sql, { waitMs: 250 })),
    });
    const loaded = performance.now();
    await finishStaging(reserved, target);
    logger.debug(`${collection}: staged`, {
      method,
      load_s: Number(((loaded - started) / 1000).toFixed(3)),
      primary_key_s: Number(((performance.now() - loaded) / 1000).toFixed(3)),
    });
    tracker?.finish("staged");
    return {
      collection,
      ...counts,
      seconds: (performance.now() - started) / 1000,
      status: "succeeded",
    };
  } catch (error) {
    lost = isSessionLost(error);
    if (options.restartable?.(error)) {
      tracker?.finish("restarting");
      throw error;
    }
    const failure = describeError(collection, error);
    tracker?.finish("failed");
    logger.error(failure.message);
    await dropStagingTables(lost ? sql : reserved, { collections: [collection] }).catch(() => {});
    return {
      collection,
      documents: 0,
      bytes: 0,
      anomalies: 0,
      seconds: (performance.now() - started) / 1000,
      status: "failed",
      error: failure.message,
    };
  } finally {
    // postgres.js 3.4 would put a connection that closed while reserved back among the open
    // ones, where it swallows every later query: it is left to the pool, which reconnects it.
    if (!lost) reserved.release();
    if (extra) await releaseIfAlive(extra);
  }
}

/**
 * Gives a reserved connection back when it still answers. A dead one is left to the pool, which
 * reconnects it (postgres.js 3.4 would put it back among the open ones, where it swallows every
 * later query).
 */
async function releaseIfAlive(conn: postgres.ReservedSql): Promise<void> {
  try {
    await within(conn`select 1`, 1000);
    conn.release();
  } catch {
    // left to the pool
  }
}

/**
 * A connection of the pool reserved if one is free within `waitMs`; otherwise undefined, and the
 * reservation, when it comes later, is given back at once.
 */
async function tryReserve(
  sql: Sql,
  options: { waitMs: number },
): Promise<postgres.ReservedSql | undefined> {
  const pending = sql.reserve();
  try {
    return await within(pending, options.waitMs);
  } catch {
    pending.then((late) => late.release(), () => {});
    return undefined;
  }
}

/**
 * Refuses raw or staging schemas the toolkit did not create, drops the previous data of
 * earlier runs, and creates the staging schema, marked as the toolkit's own.
 */
async function prepareSchemas(sql: Sql, config: PipelineConfig): Promise<void> {
  await guardSchemas(sql, [config.rawSchema, STAGING_SCHEMA], {
    ...config,
    file: displayPath(config.file),
  });
  await dropRetired(sql, { metaSchema: config.metaSchema });
  await sql`create schema if not exists ${sql(STAGING_SCHEMA)}`;
  await markSchemas(sql, [STAGING_SCHEMA], { metaSchema: config.metaSchema, role: "staging" });
}

/**
 * Publishes one staged collection in a short transaction of its own: the live raw table is
 * retired (moved to a schema dropped after COMMIT), the staged one moved in, and what others
 * added to the previous one (owner, grants, comment, their views and foreign keys) carried
 * over. Readers wait at most for this transaction, never for a whole extraction.
 */
async function publishCollection(
  sql: Sql,
  config: PipelineConfig,
  collection: string,
): Promise<void> {
  // Moving the live table out waits for readers in a query on it, and readers queue behind
  // that wait: it gives way after SWITCH_WAIT_MS and tries again, for lockTimeoutMs in all.
  for (let waited = 0;; waited += SWITCH_WAIT_MS) {
    try {
      return await switchCollection(sql, config, collection);
    } catch (error) {
      const code = (error as { code?: string; cause?: { code?: string } }).code ??
        (error as { cause?: { code?: string } }).cause?.code;
      if (code !== "55P03" || waited >= DEFAULTS.lockTimeoutMs) throw error;
      await pause(SWITCH_WAIT_MS / 2);
    }
  }
}

/** How long one attempt of a raw table's switch waits for a lock, in ms. */
const SWITCH_WAIT_MS = 500;

/** One attempt of {@linkcode publishCollection}. */
async function switchCollection(
  sql: Sql,
  config: PipelineConfig,
  collection: string,
): Promise<void> {
  const raw = config.rawSchema;
  const retired = retiredName(`${raw}_${collection}`, newRunId());
  const meta = sql(config.metaSchema);
  await sql.begin(async (tx) => {
    await tx`select set_config('lock_timeout', ${`${SWITCH_WAIT_MS}ms`}, true)`;
    const run = async (statement: string, where: string) => {
      await tx.unsafe(statement).catch((error: Error) => {
        throw new LmlError(`${where}: ${error.message}`, { cause: error });
      });
    };
    const dependents = await captureDependents(tx, { tables: [`${raw}.${collection}`] }, {
      exclude: [raw],
    });
    const state = await captureSchema(tx, raw);
    state.relations = state.relations.filter((r) => r.name === collection);
    if (state.relations.length > 0) {
      await tx`create schema ${tx(retired)}`;
      await tx`insert into ${meta}.owned_schemas (schema_name, role) values (${retired}, 'retired')`;
      await tx`alter table ${tx(raw)}.${tx(collection)} set schema ${tx(retired)}`;
    }
    await swapStagingTables(tx, { rawSchema: raw, collections: [collection] });
    await restoreRelations(tx, state, run);
    await restoreDependents(tx, dependents, run);
  });
}

async function withSource<T>(
  config: PipelineConfig,
  options: ExtractOptions,
  fn: (source: Source) => Promise<T>,
): Promise<T> {
  if (typeof options.source === "object") return await fn(options.source);
  const source = await openSource(options.source, { database: config.sourceDatabase });
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

/**
 * Orders collections largest first (by the source's estimate), so the biggest one starts at once
 * and the small ones share the other slots instead of delaying it.
 */
async function largestFirst(source: Source, names: readonly string[]): Promise<string[]> {
  const sizes = new Map<string, number>();
  for (const name of names) {
    const estimate = await source.estimate(name).catch(() => ({} as SourceEstimate));
    sizes.set(name, estimate.bytes ?? estimate.documents ?? 0);
  }
  return [...names].sort((a, b) => sizes.get(b)! - sizes.get(a)!);
}

async function pool<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      results[k] = await fn(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
  return results;
}

async function writeLog(
  sql: Sql,
  config: PipelineConfig,
  source: Source,
  result: ExtractResult,
  runId: string | undefined,
): Promise<void> {
  const location = source.kind === "dump"
    ? await source.locate(result.collection).catch(() => source.description)
    : source.description;
  const finished = new Date();
  const started = new Date(finished.getTime() - result.seconds * 1000);
  await sql`
    insert into ${sql(config.metaSchema)}.extract_log
      (run_id, collection, source, status, documents, bytes, anomalies,
       started_at, finished_at, seconds, error)
    values (${runId ?? null}, ${result.collection}, ${redactText(location)}, ${result.status},
            ${result.documents}, ${result.bytes}, ${result.anomalies},
            ${started}, ${finished}, ${result.seconds}, ${result.error ?? null})`;
}

async function run(
  sql: Sql,
  config: PipelineConfig,
  options: ExtractOptions,
  swap: boolean,
): Promise<ExtractResult[]> {
  const logger = options.logger ?? silentLogger;
  const names = options.select ?? config.collections.map((c) => c.name);
  await ensureMeta(sql, config.metaSchema);
  await prepareSchemas(sql, config);
  if (swap) {
    // Created here, once: collections switched in at once would race to create it.
    await sql`create schema if not exists ${sql(config.rawSchema)}`;
    await markSchemas(sql, [config.rawSchema], { metaSchema: config.metaSchema });
  }
  const retry = options.retry ?? config.retry;
  const retryLog = options.retryLog ?? new RetryLog(logger);
  return await withSource(config, options, async (source) => {
    options.onSource?.(source);
    using progress = createProgress(logger);
    const forced = options.method && options.method !== "auto" ? options.method : undefined;
    runStates.set(source, { method: undefined, forced, progress });
    logger.info(`extracting ${names.length} collection(s) from ${source.description}`);
    try {
      const results = await pool(
        await largestFirst(source, names),
        options.concurrency ?? DEFAULTS.concurrency,
        // Any lost PostgreSQL session in a collection's work restarts that work from its start.
        (collection) =>
          restageOnLostSession(async (restartable) => {
            let result = await stageCollection(sql, config, {
              ...options,
              collection,
              source,
              retry,
              retryLog,
              restartable,
            });
            if (swap && result.status === "succeeded") {
              try {
                await publishCollection(sql, config, collection);
              } catch (error) {
                if (restartable(error)) throw error;
                const failure = describeError(collection, error);
                logger.error(failure.message);
                await dropStagingTables(sql, { collections: [collection] }).catch(() => {});
                result = { ...result, status: "failed", error: failure.message };
              }
            }
            await writeLog(sql, config, source, result, options.runId);
            return result;
          }, { sql, collection, policy: retry, log: retryLog }),
      );
      if (swap) await dropRetired(sql, { metaSchema: config.metaSchema, logger });
      results.sort((a, b) => names.indexOf(a.collection) - names.indexOf(b.collection));
      progress.summary(results);
      if (!options.retryLog) {
        await recordRetries(sql, retryLog.events, {
          metaSchema: config.metaSchema,
          runId: options.runId ?? null,
        });
      }
      return results;
    } finally {
      runStates.delete(source);
    }
  });
}

/**
 * Extracts the selected collections (default: all in config order), `concurrency` at a time:
 * each is staged and swapped in on its own, atomically, and logged in extract_log. A failing
 * collection leaves its previous raw table untouched; its result has status "failed" and an
 * error naming the document. Throws only when the source cannot be opened at all.
 */
export async function extractCollections(
  sql: Sql,
  config: PipelineConfig,
  options: ExtractOptions,
): Promise<ExtractResult[]> {
  return await run(sql, config, options, true);
}

/**
 * Stages the selected collections without swapping them in (see swapStagingTables); each
 * is logged in extract_log. On any failure the caller should dropStagingTables.
 */
export async function stageCollections(
  sql: Sql,
  config: PipelineConfig,
  options: ExtractOptions,
): Promise<ExtractResult[]> {
  return await run(sql, config, options, false);
}
