/**
 * What follows every transform, assert and refresh run, failed or not: `metrics.prom`, the
 * OpenTelemetry trace, the alerts of `notify:`, and retention. None of it can change the
 * run's outcome: each step's failure is logged and the run's result is returned as it was.
 * @module
 */
import {
  DEFAULT_RETENTION_DAYS,
  type Logger,
  peakRssBytes,
  type PipelineConfig,
  type RunResult,
  type Sql,
} from "../core/mod.ts";
import { writeMetrics } from "../report/mod.ts";
import { type AlertResult, alertSummary, recordAlerts, sendAlerts, wantsAlert } from "./notify.ts";
import { type PruneResult, pruneRetention } from "./retention.ts";
import { type ExtractTiming, traceRun } from "./trace.ts";

/** A run's result; a refresh that fell back to a full one names why in `fallback`. */
export type MonitoredResult = RunResult & { fallback?: string | undefined };

/** Options of {@linkcode afterRun}. */
export interface AfterRunOptions {
  /** Where each step's trouble is logged. */
  logger: Logger;
  /** Reports folder (metrics.prom and runs/ live there). Default: "reports". */
  reportsDir?: string;
  /** When the whole run started. Default: the result's startedAt. */
  runStartedAt?: Date;
  /** Prune old runs (not after a run that never started). Default: true. */
  prune?: boolean;
  /** Pause before the first alert retry, in ms. Default: 1000. */
  retryDelayMs?: number;
}

/** What {@linkcode afterRun} did. */
export interface AfterRunReport {
  /** Path of metrics.prom, unless writing it failed. */
  metrics: string | undefined;
  /** The run's trace id (all zeros when tracing is off). */
  traceId: string | undefined;
  /** One result per alert target (empty when no alert was due). */
  alerts: AlertResult[];
  /** What retention deleted, unless it did not run. */
  pruned: PruneResult | undefined;
}

/**
 * Writes metrics.prom, emits the trace, sends the alerts due and prunes old runs, in that
 * order; never rejects.
 */
export async function afterRun(
  sql: Sql,
  config: PipelineConfig,
  result: MonitoredResult,
  options: AfterRunOptions,
): Promise<AfterRunReport> {
  const { logger } = options;
  const reportsDir = options.reportsDir ?? "reports";
  const report: AfterRunReport = {
    metrics: undefined,
    traceId: undefined,
    alerts: [],
    pruned: undefined,
  };
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      logger.warn(`${what} failed: ${(error as Error).message}`, { run_id: result.runId });
      return undefined;
    }
  };
  const meta = sql(config.metaSchema);
  // As the ledger (and so `status`) has it; the run's own end when the ledger is out of reach.
  const lastSuccessAt = await step("reading the last successful run", async () => {
    const [row] = await sql<{ at: Date | null }[]>`
      select max(finished_at) as at from ${meta}.runs
      where command = ${result.command} and status = 'succeeded'`;
    return row?.at ?? undefined;
  }) ?? (result.status === "succeeded" ? new Date(result.finishedAt) : undefined);
  report.metrics = await step("writing metrics.prom", () =>
    writeMetrics(result, {
      dir: reportsDir,
      runStartedAt: options.runStartedAt,
      lastSuccessAt,
      collections: new Map(config.collections.map((c) => [c.schema, c.name])),
    }));
  const timings = result.extract.length === 0 ? [] : await step(
    "reading the extraction log",
    async () =>
      (await sql<ExtractTiming[]>`
        select collection, started_at as "startedAt", finished_at as "finishedAt"
        from ${meta}.extract_log where run_id = ${result.runId}`).map((t) => ({ ...t })),
  );
  report.traceId = await step("tracing", () =>
    Promise.resolve(
      traceRun(result, { runStartedAt: options.runStartedAt, extractTimings: timings ?? [] }),
    ));
  const notify = config.notify;
  if (notify) {
    const runDir = `${reportsDir}/runs/${result.runId}`;
    const written = await Deno.stat(`${runDir}/report.md`).then(() => true, () => false);
    const summary = alertSummary(result, {
      fallback: result.fallback,
      ...(written ? { runDir } : {}),
    });
    if (wantsAlert(notify, summary)) {
      report.alerts = await sendAlerts(summary, notify, {
        logger,
        ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
      });
      await step(
        "recording the alerts",
        () => recordAlerts(sql, config.metaSchema, summary, report.alerts),
      );
    }
  }
  if (options.prune !== false) {
    report.pruned = await step("pruning old runs", () =>
      pruneRetention(sql, config.metaSchema, {
        days: config.retentionDays ?? DEFAULT_RETENTION_DAYS,
        reportsDir,
        keep: [result.runId],
      }));
    const { runs = [], folders = [] } = report.pruned ?? {};
    if (runs.length + folders.length > 0) {
      logger.info(
        `retention: pruned ${runs.length} ledger runs and ${folders.length} run folders older than ${
          config.retentionDays ?? DEFAULT_RETENTION_DAYS
        } days`,
      );
    }
  }
  return report;
}

/** Options of {@linkcode monitorRun}. */
export interface MonitorOptions extends AfterRunOptions {
  /** The command, for a run that rejects before producing its result. */
  command: RunResult["command"];
  /** The run id given to `run` (and named by a run that rejects). */
  runId: string;
}

/**
 * Runs `run` and then {@linkcode afterRun}, also when `run` rejects (another refresh holds
 * the database, the database is unreachable, ...): that counts as a failed run for the
 * metrics and the alerts, and the rejection is passed on unchanged.
 */
export async function monitorRun<T extends MonitoredResult>(
  sql: Sql,
  config: PipelineConfig,
  options: MonitorOptions,
  run: () => Promise<T>,
): Promise<T> {
  const runStartedAt = new Date();
  let result: T;
  try {
    result = await run();
  } catch (error) {
    const finished = new Date();
    const crashed: RunResult = {
      runId: options.runId,
      command: options.command,
      status: "failed",
      startedAt: runStartedAt.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - runStartedAt.getTime()) / 1000,
      selected: [],
      files: [],
      checks: [],
      failedChecks: [],
      tables: [],
      extract: [],
      peakRssBytes: peakRssBytes(),
      graph: "",
      error: error instanceof Error ? error : new Error(String(error)),
    };
    await afterRun(sql, config, crashed, { ...options, runStartedAt, prune: false });
    throw error;
  }
  await afterRun(sql, config, result, { ...options, runStartedAt });
  return result;
}
