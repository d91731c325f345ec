/**
 * The transform run: rebuilds the selected schemas from the raw tables in ONE transaction
 * (shared helpers, then each collection's files in dependency order), runs the checks, and
 * commits only when every error check passes; and the assert run, the same checks alone in a
 * read-only transaction. Both are recorded in the ledger (lml_meta); the caller writes the
 * reports.
 * @module
 */
import type postgres from "postgres";
import {
  captureDependents,
  type CheckResult,
  checkRunId,
  type CollectionConfig,
  ConfigError,
  DEFAULT_REPORTS,
  DEFAULTS,
  displayPath,
  dropRetired,
  ensureMeta,
  type FileResult,
  guardSchemas,
  heartbeat,
  type Logger,
  markSchemas,
  maskSamples,
  newRunId,
  newRunResult,
  peakRssBytes,
  type PipelineConfig,
  quoteIdent,
  recordRun,
  replaceSchema,
  restoreDependents,
  restoreRelations,
  RetryLog,
  type RetryPolicy,
  RunError,
  type RunLock,
  type RunResult,
  type SchemaState,
  selectCollections,
  silentLogger,
  type SourceReads,
  type Sql,
  startRun,
  type StatementRun,
  type TableCount,
} from "../core/mod.ts";
import { type Check, derivedChecks, fileChecks, runCheckList } from "./checks.ts";
import { declaredPaths, driftChecks, observePaths } from "./drift.ts";
import { buildPlan, graphMermaid, type Plan } from "./plan.ts";
import { discoverFiles, type SqlFile, type SqlLayout } from "./sql_files.ts";
import { applyRunSettings, sessionLost, StatementRunner } from "./statements.ts";
import { retryTransaction } from "./transaction_retry.ts";
import { countTables, writtenRows } from "./tables.ts";

/** Options of {@linkcode runTransforms}. */
export interface TransformOptions {
  /** Collection or schema names to rebuild, plus everything downstream. Default: all. */
  select?: readonly string[];
  /** Only build the plan (returned as `plan`, status "planned"); touches nothing. Default: false. */
  dryRun?: boolean;
  /** Progress and warnings. Default: silent. */
  logger?: Logger;
  /** Run id (letters, digits, `_`, `.`, `-`). Default: UTC time plus random suffix. */
  runId?: string;
  /** Recorded in the ledger and reports. Default: "transform". */
  command?: "transform" | "refresh";
  /** Called inside the transaction before the transforms. */
  prepare?: (tx: postgres.TransactionSql) => Promise<void>;
  /**
   * Replaces the raw schema too: inside the transaction, before the transforms, the raw schema
   * is replaced by a fresh one (see lib/core/publish.ts) and this moves the staged tables in
   * (a refresh). Default: the raw schema is left alone.
   */
  swapRaw?: (tx: postgres.TransactionSql) => Promise<void>;
  /** The run lock held by the caller; verified right before COMMIT. Default: none. */
  lock?: RunLock;
  /** Test hook: awaited inside the transaction at `point`. Default: none. */
  pauseAt?: (point: PausePoint) => Promise<void>;
  /** lock_timeout of every statement, in ms. Default: 10000. */
  lockTimeoutMs?: number;
  /** Retries of a statement that hit the lock timeout. Default: 3. */
  lockRetries?: number;
  /** First pause before a retry, doubled each time, in ms. Default: 1000. */
  lockRetryDelayMs?: number;
  /** Extraction metrics to include in the result. Default: none. */
  extract?: RunResult["extract"];
  /** Seconds between heartbeat lines during a long file. Default: 30. */
  heartbeatSeconds?: number;
  /** How a failure to begin the transaction is retried (see transaction_retry.ts). Default: config.retry. */
  retry?: RetryPolicy;
  /** Where retries are recorded (a refresh shares its log). Default: a log of the run's own. */
  retryLog?: RetryLog;
  /** How the source was read, for the reports (a refresh). Default: none. */
  sourceReads?: SourceReads;
}

/** Where {@linkcode TransformOptions.pauseAt} is called: after the raw swap, after the first
 * rebuilt schema, during the checks. */
export type PausePoint = "raw-swapped" | "mid-transforms" | "checks";

/** What {@linkcode runTransforms} returns: the run's result, plus the plan of a dry run. */
export interface TransformResult extends RunResult {
  /** The plan (dry runs only). */
  plan: Plan | undefined;
  /** Seconds of the drift scan (every document's top-level paths), once it ran. */
  driftScanSeconds?: number;
}

/**
 * Runs the transforms of the selected collections and their checks in one transaction.
 *
 * Resolves with status "succeeded", or "failed" with `error` set: a RunError naming the failed
 * error checks (`failedChecks`), a SqlFileError (`sql/<schema>/<file>.sql:LINE:COL: message`),
 * a LockTimeoutError, or any other error that happened during the run. Either way everything
 * was rolled back and the ledger (runs, run_files, check_results) is written before it
 * resolves; a ledger that cannot be written after the run is logged and never changes the
 * outcome (a committed run stays "succeeded"). It rejects only when the run cannot start
 * (ConfigError for bad check files, UsageError for an unknown selection, connection errors). A
 * dry run resolves with status "planned" and `plan`, touching nothing. The pool needs two
 * connections (one for the transaction, one for the ledger and lock diagnostics).
 */
export async function runTransforms(
  sql: Sql,
  config: PipelineConfig,
  options: TransformOptions = {},
): Promise<TransformResult> {
  const logger = options.logger ?? silentLogger;
  const command = options.command ?? "transform";
  const runId = checkRunId(options.runId ?? newRunId());
  const collections = selectCollections(config, options.select ?? []);
  const selected = collections.map((c) => c.schema);
  const graph = graphMermaid(config, selected);
  if (options.dryRun) {
    const plan = await buildPlan(sql, config, { select: options.select ?? [] });
    return { ...newRunResult({ runId, command, selected, graph }), plan };
  }
  const layout = await discoverFiles(config, { collections });
  for (const warning of layout.warnings) logger.warn(warning);
  const result: TransformResult = {
    ...newRunResult({ runId, command, selected, graph }, { extract: options.extract ?? [] }),
    plan: undefined,
  };
  const started = new Date(result.startedAt);
  const clock = performance.now();
  await ensureMeta(sql, config.metaSchema);
  const published = [...(options.swapRaw ? [config.rawSchema] : []), ...selected];
  await guardSchemas(sql, [config.utilSchema, ...published], {
    ...config,
    file: displayPath(config.file),
  });
  await checkGrantRoles(sql, config, collections);
  await dropRetired(sql, { metaSchema: config.metaSchema, logger });
  // runs.pid names the session holding the lock (queried by nothing else: see run_lock.ts).
  await startRun(sql, { runId, command, selected }, {
    metaSchema: config.metaSchema,
    pid: options.lock?.pid,
  });
  logger.info(`${command} ${runId}: rebuilding ${selected.join(", ")}`);

  const retries = options.retryLog ?? new RetryLog(logger);
  const engine = new StatementRunner(sql, logger, {
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
    lockRetries: options.lockRetries ?? DEFAULTS.lockRetries,
    lockRetryDelayMs: options.lockRetryDelayMs ?? DEFAULTS.lockRetryDelayMs,
    watchedSchemas: [config.rawSchema, config.utilSchema, ...selected],
    retries,
  });
  const elapsed = () => Math.round((performance.now() - clock) / 1000);
  try {
    await retryTransaction(sql, async (tx) => {
      // A rerun starts from scratch.
      Object.assign(result, { files: [], checks: [], tables: [], failedChecks: [] });
      await engine.begin(tx, runId, started);
      const pause = async (point: PausePoint) => await options.pauseAt?.(point);
      const run: StatementRun = (statement, where) => engine.run(statement, where);
      const publishing = { runId, metaSchema: config.metaSchema, run };
      // Others' views and foreign keys on the tables replaced, captured before any rename.
      const dependents = await captureDependents(tx, { schemas: published }, {
        exclude: published,
      });
      const states: SchemaState[] = [];
      if (options.prepare) await options.prepare(tx);
      if (options.swapRaw) {
        states.push(await replaceSchema(tx, config.rawSchema, publishing));
        await options.swapRaw(tx);
        await pause("raw-swapped");
      }
      const runFile = async (file: SqlFile, kind: FileResult["kind"], schema: string | null) => {
        logger.info(`running ${file.relativePath}`, { elapsed_s: elapsed() });
        const fileStarted = performance.now();
        const before = await writtenRows(tx);
        {
          using _beat = heartbeat(logger, `running ${file.relativePath}`, {
            seconds: options.heartbeatSeconds ?? DEFAULTS.heartbeatSeconds,
          });
          await engine.runFile(file);
        }
        result.files.push({
          path: file.relativePath,
          kind,
          schema,
          sha256: file.sha256,
          seconds: (performance.now() - fileStarted) / 1000,
          rows: Math.max(0, (await writtenRows(tx)) - before),
        });
      };
      for (const file of layout.shared) await runFile(file, "shared", null);
      if (layout.shared.length > 0) {
        await markSchemas(tx, [config.utilSchema], { metaSchema: config.metaSchema, runId });
      }
      for (const [k, entry] of layout.schemas.entries()) {
        states.push(await replaceSchema(tx, entry.schema, publishing));
        for (const file of entry.files) await runFile(file, "transform", entry.schema);
        if (k === 0) await pause("mid-transforms");
      }
      const scanned = performance.now();
      await observePaths(tx, config, { runId, collections });
      result.driftScanSeconds = (performance.now() - scanned) / 1000;
      logger.info("drift scan", { seconds: Math.round(result.driftScanSeconds * 1000) / 1000 });
      logger.info("running checks", { elapsed_s: elapsed() });
      Object.assign(
        result,
        await checkAndCount(tx, config, {
          collections,
          layout,
          logger,
          pause: () => pause("checks"),
        }),
      );
      if (result.failedChecks.length > 0) throw failedChecksError(result.failedChecks, true);
      // What others added to the previous tables, on the new ones; then the config's grants.
      for (const state of states) await restoreRelations(tx, state, run);
      await restoreDependents(tx, dependents, run);
      await applyGrants(config, collections, run);
      await options.lock?.verify(tx);
    }, {
      policy: options.retry ?? config.retry,
      log: retries,
      explain: (lost) => sessionLost(lost, engine.lastFailure)?.message,
    });
  } catch (caught) {
    result.error = sessionLost(caught, engine.lastFailure) ??
      (caught instanceof Error ? caught : new RunError(String(caught), { cause: caught }));
    logger.error(result.error.message.split("\n")[0]!);
  }
  if (!result.error) await dropRetired(sql, { metaSchema: config.metaSchema, logger });
  result.files.push(...checkFileResults(layout, result.checks, { ranOnly: true }));
  result.retries = retries.events;
  if (options.sourceReads) result.sourceReads = options.sourceReads;
  finish(result, clock);
  await recordRun(sql, result, { metaSchema: config.metaSchema, logger });
  logger.info(`${command} ${runId} ${result.status}`, { seconds: Math.round(result.seconds) });
  return result;
}

/** Options of {@linkcode runChecks}. */
export interface CheckOptions {
  /** Collection or schema names whose checks run (no downstream added). Default: all. */
  select?: readonly string[];
  /** Progress and warnings. Default: silent. */
  logger?: Logger;
  /** Run id. Default: UTC time plus random suffix. */
  runId?: string;
}

/**
 * Runs the checks (derived and from files) alone against the current data, in a read-only
 * transaction; the run is recorded in the ledger with command "assert". Resolves with status
 * "failed" (and `failedChecks`) when an error check does not pass.
 */
export async function runChecks(
  sql: Sql,
  config: PipelineConfig,
  options: CheckOptions = {},
): Promise<RunResult> {
  const logger = options.logger ?? silentLogger;
  const runId = checkRunId(options.runId ?? newRunId());
  const collections = selectCollections(config, options.select ?? [], { downstream: false });
  const selected = collections.map((c) => c.schema);
  const layout = await discoverFiles(config, { collections });
  const graph = graphMermaid(config, selected);
  const result = newRunResult({ runId, command: "assert", selected, graph });
  const clock = performance.now();
  await ensureMeta(sql, config.metaSchema);
  await startRun(sql, { runId, command: "assert", selected }, { metaSchema: config.metaSchema });
  try {
    await sql.begin("read only", async (tx) => {
      await applyRunSettings(tx, { runId, started: new Date(result.startedAt) });
      Object.assign(result, await checkAndCount(tx, config, { collections, layout, logger }));
    });
    if (result.failedChecks.length > 0) {
      result.error = failedChecksError(result.failedChecks, false);
    }
  } catch (caught) {
    result.error = caught instanceof Error
      ? caught
      : new RunError(String(caught), { cause: caught });
  }
  result.files = checkFileResults(layout, result.checks, { ranOnly: false });
  finish(result, clock);
  await recordRun(sql, result, { metaSchema: config.metaSchema, logger });
  return result;
}

/** Runs the derived and file checks of `collections`, then counts their tables. */
async function checkAndCount(
  tx: postgres.TransactionSql,
  config: PipelineConfig,
  options: {
    collections: CollectionConfig[];
    layout: SqlLayout;
    logger: Logger;
    pause?: () => Promise<void>;
  },
): Promise<{ checks: CheckResult[]; failedChecks: string[]; tables: TableCount[] }> {
  const list: Check[] = [
    ...(await derivedChecks(tx, config, { collections: options.collections })),
    ...driftChecks(config, {
      collections: options.collections,
      declared: declaredPaths(options.layout.schemas.flatMap((s) => s.files)),
    }),
    ...fileChecks(options.layout.checks),
  ];
  await options.pause?.();
  const checks = maskSamples(
    await runCheckList(tx, list, { logger: options.logger, controls: config.checks }),
    (config.reports ?? DEFAULT_REPORTS).maskedColumns,
  );
  return {
    checks,
    failedChecks: checks
      .filter((c) => c.severity === "error" && c.status !== "passed")
      .map((c) => c.name),
    tables: await countTables(tx, options.collections.map((c) => c.schema)),
  };
}

/** The roles the config grants to, per collection: `grants:` of the collection, else the top's. */
function grantsOf(config: PipelineConfig, collection: CollectionConfig): Record<string, string[]> {
  return collection.grants ?? config.grants ?? {};
}

/** Rejects with a ConfigError naming a role of `grants:` that does not exist. */
async function checkGrantRoles(
  sql: Sql,
  config: PipelineConfig,
  collections: readonly CollectionConfig[],
): Promise<void> {
  const roles = [
    ...new Set(collections.flatMap((c) => Object.values(grantsOf(config, c)).flat())),
  ].filter((r) => r !== "public");
  if (roles.length === 0) return;
  const found = await sql<{ rolname: string }[]>`
    select rolname::text from pg_roles where rolname = any(${roles}::text[])`;
  const missing = roles.filter((r) => !found.some((f) => f.rolname === r));
  if (missing.length > 0) {
    throw new ConfigError(
      `grants: role ${missing.map((r) => `"${r}"`).join(", ")} does not exist in this database`,
      {
        file: displayPath(config.file),
        hint: "create the role (create role ... nologin) or fix its name",
      },
    );
  }
}

/** Grants the config's privileges on each rebuilt schema (usage) and all of its tables. */
async function applyGrants(
  config: PipelineConfig,
  collections: readonly CollectionConfig[],
  run: StatementRun,
): Promise<void> {
  for (const c of collections) {
    const schema = quoteIdent(c.schema);
    for (const [privilege, roles] of Object.entries(grantsOf(config, c))) {
      for (const role of roles) {
        const to = role === "public" ? "public" : `"${role.replaceAll('"', '""')}"`;
        await run(`grant usage on schema ${schema} to ${to}`, `grants of ${c.schema}`);
        await run(
          `grant ${privilege} on all tables in schema ${schema} to ${to}`,
          `grants of ${c.schema}`,
        );
      }
    }
  }
}

/** The error of a run whose error checks did not pass. */
function failedChecksError(failed: string[], rolledBack: boolean): RunError {
  const n = failed.length;
  return new RunError(
    `${n} error ${n === 1 ? "check" : "checks"} failed: ${failed.join(", ")}` +
      (rolledBack ? "; nothing was changed (rolled back)" : ""),
    { hint: "the report lists the offending rows of each check" },
  );
}

/** The check files as file results (only those that ran, or all of them with their time). */
function checkFileResults(
  layout: SqlLayout,
  checks: readonly CheckResult[],
  options: { ranOnly: boolean },
): FileResult[] {
  return layout.checks.flatMap((file) => {
    const ran = checks.find((c) => c.name === file.name && c.source !== "derived");
    if (!ran && options.ranOnly) return [];
    return [{
      path: file.relativePath,
      kind: "check" as const,
      schema: file.schema ?? null,
      sha256: file.sha256,
      seconds: ran?.seconds ?? 0,
      rows: 0,
    }];
  });
}

/** Sets status, end time, duration and peak memory of a finished run. */
function finish(result: RunResult, clock: number): void {
  result.status = result.error ? "failed" : "succeeded";
  result.finishedAt = new Date().toISOString();
  result.seconds = (performance.now() - clock) / 1000;
  result.peakRssBytes = peakRssBytes();
}
