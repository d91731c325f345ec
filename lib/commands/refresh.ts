/**
 * The nightly refresh: extract every collection into staging tables, then, in ONE transaction,
 * swap them in, rebuild every schema and run the checks. Any failure leaves the previous raw
 * and normalized data exactly as they were. One refresh at a time per database. With a change
 * stream position stored, mode auto reads only the changes since it instead (sync.ts).
 * @module
 */
import {
  dropStagingTables,
  type Source,
  stageCollections,
  swapStagingTables,
} from "../../extract/mod.ts";
import {
  acquireRunLock,
  checkVolumes,
  DEFAULTS,
  ensureMeta,
  type ExtractResult,
  type Logger,
  newRunId,
  newRunResult,
  peakRssBytes,
  type PipelineConfig,
  recordRun,
  RetryLog,
  type RetryPolicy,
  retryPolicy,
  RunBusyError,
  RunError,
  type RunLock,
  type RunResult,
  silentLogger,
  type Sql,
  startRun,
  withLogFile,
} from "../core/mod.ts";
import type postgres from "postgres";
import type { ReportPaths } from "../report/mod.ts";
import { graphMermaid, type PausePoint, runTransforms } from "../transform/mod.ts";
import { extractionFailure, reportRun } from "./conclude.ts";
import { follow, refreshByMode, type RefreshMode } from "./sync.ts";

/** Options of {@linkcode refresh}. */
export interface RefreshOptions {
  /** MongoDB URL or dump directory. */
  source: string;
  /** Progress and warnings. Default: silent. */
  logger?: Logger;
  /** Reports folder; the run's log file goes to `<dir>/runs/<run_id>/refresh.log`. Default: "reports". */
  reportsDir?: string;
  /** Collections extracted at once. Default: 2. */
  concurrency?: number;
  /** Run id. Default: UTC time plus a random suffix. */
  runId?: string;
  /** Take the per-database advisory lock (off only where one session exists anyway). Default: true. */
  lock?: boolean;
  /** lock_timeout of each transform statement, in ms. Default: 10000. */
  lockTimeoutMs?: number;
  /** Retries of a statement that hit the lock timeout. Default: 3. */
  lockRetries?: number;
  /** How transient faults are retried (fields set here win over config.retry). Default: config.retry. */
  retry?: Partial<RetryPolicy>;
  /** Test hook: awaited inside the publishing transaction at `point`. Default: none. */
  pauseAt?: (point: PausePoint) => Promise<void>;
  /** Accept collections that shrank beyond `volume_guard.max_shrink` (this run only). Default: false. */
  allowShrink?: boolean;
  /**
   * auto (incremental from the stored change stream position, else full), full or incremental
   * (fails when no valid position is stored); see sync.ts. Default: "auto".
   */
  mode?: RefreshMode;
  /**
   * After a successful run, keep applying the source's changes to the raw tables (sync
   * --follow) until this signal aborts, taking the run lock only inside each of its short
   * transactions. Default: no following.
   */
  follow?: AbortSignal;
  /** How long one change stream getMore waits before the stream counts as caught up, in ms. Default: 500. */
  maxAwaitMs?: number;
}

/** Raised when another run holds the database (exit code 1). */
export { RunBusyError as RefreshBusyError };

/** What {@linkcode refresh} resolves with: the run's result and where its reports went. */
export interface RefreshResult extends RunResult {
  /** The reports written. */
  reports: ReportPaths;
}

/**
 * Runs the whole pipeline as one unit and resolves with its result (status "failed" with
 * `error` on any failure); the ledger and the reports are written either way. Rejects with
 * RunBusyError (RefreshBusyError) when another writing command runs on the same database.
 */
export async function refresh(
  sql: Sql,
  config: PipelineConfig,
  options: RefreshOptions,
): Promise<RefreshResult> {
  const reportsDir = options.reportsDir ?? DEFAULTS.reportsDir;
  const runId = options.runId ?? newRunId();
  await ensureMeta(sql, config.metaSchema);
  // A follower holds a lock of its own for its lifetime, and the run lock only while it writes.
  await using _follower = options.follow
    ? await acquireRunLock(sql, {
      command: "follow",
      lock: "follow",
      metaSchema: config.metaSchema,
      enabled: options.lock !== false,
    })
    : undefined;
  await using lock = await acquireRunLock(sql, {
    command: "refresh",
    metaSchema: config.metaSchema,
    enabled: options.lock !== false,
  });
  {
    const runDir = `${reportsDir}/runs/${runId}`;
    await Deno.mkdir(runDir, { recursive: true });
    using logger = withLogFile(options.logger ?? silentLogger, `${runDir}/refresh.log`);
    const result = await refreshByMode(sql, config, {
      source: options.source,
      runId,
      logger,
      runLock: lock,
      retry: retryPolicy(options.retry, config.retry),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.maxAwaitMs === undefined ? {} : { maxAwaitMs: options.maxAwaitMs }),
      ...(options.allowShrink ? { allowShrink: true } : {}),
    }, (publish) => run(sql, config, { ...options, runId, logger, runLock: lock, publish }));
    const reports = await reportRun(result, {
      dir: reportsDir,
      logger,
      private: config.reports?.private,
    });
    if (options.follow && result.status === "succeeded") {
      await lock[Symbol.asyncDispose](); // scheduled transforms may run beside the follower
      await follow(sql, config, {
        source: options.source,
        runId: newRunId(),
        logger,
        signal: options.follow,
        exclusive: options.lock !== false,
      });
    }
    return { ...result, reports };
  }
}

/** The refresh itself, once the lock is held: stage, then transform with the swap inside. */
async function run(
  sql: Sql,
  config: PipelineConfig,
  options: RefreshOptions & {
    runId: string;
    logger: Logger;
    runLock: RunLock;
    /** Writes made in the publishing transaction after the swap (the sync position). */
    publish?: (tx: postgres.TransactionSql) => Promise<void>;
  },
): Promise<RunResult> {
  const { runId, logger } = options;
  const all = config.collections.map((c) => c.name);
  const selected = config.collections.map((c) => c.schema);
  // On the lock's session, so runs.pid names the session holding the lock (see takeLock).
  await startRun(sql, { runId, command: "refresh", selected }, {
    metaSchema: config.metaSchema,
    pid: options.runLock.pid,
  });
  logger.info(`refresh ${runId}: extracting ${all.length} collections`);
  const started = new Date();
  const retry = retryPolicy(options.retry, config.retry);
  const retryLog = new RetryLog(logger);
  let source: Source | undefined;
  const failed = async (error: Error, extract: ExtractResult[]): Promise<RunResult> => {
    const graph = graphMermaid(config, selected);
    const result: RunResult = {
      ...newRunResult({ runId, command: "refresh", selected, graph }, { extract, started }),
      status: "failed",
      finishedAt: new Date().toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000,
      peakRssBytes: peakRssBytes(),
      error,
      retries: retryLog.events,
      ...(source ? { sourceReads: source.reads } : {}),
    };
    await recordRun(sql, result, { metaSchema: config.metaSchema, logger });
    return result;
  };
  try {
    let extract: ExtractResult[];
    try {
      extract = await stageCollections(sql, config, {
        source: options.source,
        logger,
        runId,
        concurrency: options.concurrency ?? DEFAULTS.concurrency,
        retry,
        retryLog,
        onSource: (opened) => source = opened,
      });
    } catch (cause) {
      // The source could not be opened at all: the run fails like any extraction failure.
      return await failed(cause instanceof Error ? cause : new RunError(String(cause)), []);
    }
    const failure = extractionFailure(extract, "nothing was changed");
    if (failure) return await failed(failure, extract);
    const shrunk = options.allowShrink ? undefined : await checkVolumes(sql, extract, {
      rawSchema: config.rawSchema,
      maxShrink: config.maxShrink ?? DEFAULTS.maxShrink,
    });
    if (shrunk) return await failed(shrunk, extract);
    return await runTransforms(sql, config, {
      command: "refresh",
      runId,
      logger,
      extract,
      swapRaw: async (tx) => {
        await swapStagingTables(tx, { rawSchema: config.rawSchema, collections: all });
        await options.publish?.(tx);
      },
      lock: options.runLock,
      ...(options.pauseAt ? { pauseAt: options.pauseAt } : {}),
      retry,
      retryLog,
      ...(source ? { sourceReads: source.reads } : {}),
      ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
      ...(options.lockRetries === undefined ? {} : { lockRetries: options.lockRetries }),
    });
  } finally {
    await dropStagingTables(sql, { collections: all });
  }
}
