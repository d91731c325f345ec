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
  RunError,
  type RunResult,
  silentLogger,
  type Sql,
  startRun,
  withLogFile,
} from "../core/mod.ts";
import type postgres from "postgres";
import type { ReportPaths } from "../report/mod.ts";
import { graphMermaid, runTransforms } from "../transform/mod.ts";
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
  /**
   * auto (incremental from the stored change stream position, else full), full or incremental
   * (fails when no valid position is stored); see sync.ts. Default: "auto".
   */
  mode?: RefreshMode;
  /**
   * After a successful run, keep applying the source's changes to the raw tables (sync
   * --follow) until this signal aborts, still holding the lock. Default: no following.
   */
  follow?: AbortSignal;
  /** How long one change stream getMore waits before the stream counts as caught up, in ms. Default: 500. */
  maxAwaitMs?: number;
}

/** Raised when another refresh holds the database (exit code 1). */
export class RefreshBusyError extends RunError {
  constructor(message: string) {
    super(message, { hint: "wait for it to finish; a refresh that died frees the lock by itself" });
    this.name = "RefreshBusyError";
  }
}

/** What {@linkcode refresh} resolves with: the run's result and where its reports went. */
export interface RefreshResult extends RunResult {
  /** The reports written. */
  reports: ReportPaths;
}

/**
 * Runs the whole pipeline as one unit and resolves with its result (status "failed" with
 * `error` on any failure); the ledger and the reports are written either way. Rejects with
 * RefreshBusyError when another refresh runs on the same database.
 */
export async function refresh(
  sql: Sql,
  config: PipelineConfig,
  options: RefreshOptions,
): Promise<RefreshResult> {
  const reportsDir = options.reportsDir ?? DEFAULTS.reportsDir;
  const runId = options.runId ?? newRunId();
  await ensureMeta(sql, config.metaSchema);
  const lock = options.lock === false ? undefined : await sql.reserve();
  try {
    if (lock) await takeLock(lock, config);
    const runDir = `${reportsDir}/runs/${runId}`;
    await Deno.mkdir(runDir, { recursive: true });
    using logger = withLogFile(options.logger ?? silentLogger, `${runDir}/refresh.log`);
    const result = await refreshByMode(sql, config, {
      source: options.source,
      runId,
      logger,
      session: lock,
      retry: retryPolicy(options.retry, config.retry),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.maxAwaitMs === undefined ? {} : { maxAwaitMs: options.maxAwaitMs }),
    }, (publish) => run(sql, config, { ...options, runId, logger, session: lock, publish }));
    const reports = await reportRun(result, {
      dir: reportsDir,
      logger,
      private: config.reports?.private,
    });
    if (options.follow && result.status === "succeeded") {
      await follow(sql, config, {
        source: options.source,
        runId: newRunId(),
        logger,
        signal: options.follow,
      });
    }
    return { ...result, reports };
  } finally {
    if (lock) {
      await lock`select pg_advisory_unlock_all()`.catch(() => {});
      lock.release();
    }
  }
}

/** The refresh itself, once the lock is held: stage, then transform with the swap inside. */
async function run(
  sql: Sql,
  config: PipelineConfig,
  options: RefreshOptions & {
    runId: string;
    logger: Logger;
    session: Sql | undefined;
    /** Writes made in the publishing transaction after the swap (the sync position). */
    publish?: (tx: postgres.TransactionSql) => Promise<void>;
  },
): Promise<RunResult> {
  const { runId, logger } = options;
  const all = config.collections.map((c) => c.name);
  const selected = config.collections.map((c) => c.schema);
  // On the lock's session, so runs.pid names the session holding the lock (see takeLock).
  await startRun(options.session ?? sql, { runId, command: "refresh", selected }, {
    metaSchema: config.metaSchema,
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
    return await runTransforms(sql, config, {
      command: "refresh",
      runId,
      logger,
      extract,
      prepare: async (tx) => {
        await swapStagingTables(tx, { rawSchema: config.rawSchema, collections: all });
        await options.publish?.(tx);
      },
      retry,
      retryLog,
      ...(source ? { sourceReads: source.reads } : {}),
      ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
      ...(options.lockRetries === undefined ? {} : { lockRetries: options.lockRetries }),
    });
  } finally {
    await dropStagingTables(sql, { rawSchema: config.rawSchema, collections: all });
  }
}

/** Takes the refresh lock on `lock`'s session, and marks refreshes that died as abandoned. */
async function takeLock(lock: Sql, config: PipelineConfig): Promise<void> {
  const runs = lock(config.metaSchema);
  const [got] = await lock<[{ ok: boolean }]>`
    select pg_try_advisory_lock(hashtext('lml'), hashtext('refresh')) as ok`;
  if (!got.ok) throw new RefreshBusyError(await describeHolder(lock, config));
  await lock`
    update ${runs}.runs
    set status = 'abandoned', finished_at = clock_timestamp(),
        error = 'the process ended before finishing the run (killed or lost its connection)'
    where command = 'refresh' and status = 'running'`;
}

/**
 * Names the refresh holding the lock: its run (recorded right after it took the lock, on the
 * same session, so it is waited for a few seconds at most), else its session.
 */
async function describeHolder(lock: Sql, config: PipelineConfig): Promise<string> {
  const runs = lock(config.metaSchema);
  const deadline = Date.now() + 5000;
  for (;;) {
    const [holder] = await lock<{ pid: number; run_id: string | null; started_at: Date | null }[]>`
      select l.pid, r.run_id, r.started_at
      from pg_locks l
      left join ${runs}.runs r
        on r.pid = l.pid and r.command = 'refresh' and r.status = 'running'
      where l.locktype = 'advisory' and l.granted
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = hashtext('lml')::oid and l.objid = hashtext('refresh')::oid
        and l.objsubid = 2
      order by r.started_at desc nulls last
      limit 1`;
    if (holder?.run_id && holder.started_at) {
      return `another refresh (${holder.run_id}) has been running since ${holder.started_at.toISOString()}; this one exits`;
    }
    if (!holder || Date.now() > deadline) {
      return holder
        ? `another refresh (session pid ${holder.pid}) holds this database; this one exits`
        : "another refresh held this database a moment ago; this one exits";
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
