/**
 * The transform engine: rebuilds the selected schemas from the raw tables in ONE transaction
 * (shared helpers, then each collection's files in dependency order), runs the checks, and
 * commits only when every error check passes. Every run is kept in the ledger (lml_meta) and
 * reported (report.md, junit.xml, report.json), failed runs included.
 * @module
 */
import { peakRssBytes } from "../core/metrics.ts";
import type postgres from "postgres";
import { type PipelineConfig, selectCollections } from "../core/config.ts";
import { quoteIdent, type Sql } from "../core/db.ts";
import { RunError, UsageError } from "../core/errors.ts";
import { heartbeat, type Logger, silentLogger } from "../core/log.ts";
import { ensureMeta } from "../core/ledger.ts";
import { describePgFault, isRaceLost } from "../core/pg_faults.ts";
import { recordRetries, RetryLog, type RetryPolicy } from "../core/retry.ts";
import type { SourceReads } from "../core/source_reads.ts";
import { retryTransaction } from "./transaction_retry.ts";
import {
  type Check,
  type CheckResult,
  derivedChecks,
  fileChecks,
  isPgError,
  runCheckList,
} from "./checks.ts";
import { buildPlan, graphMermaid, type Plan } from "./plan.ts";
import type { ExtractResult } from "../../extract/extract.ts";
import {
  type FileResult,
  type ReportPaths,
  type RunResult,
  type TableCount,
  writeReports,
} from "../report/reports.ts";
import { discoverFiles, locateError, splitStatements, type SqlFile } from "./sql_files.ts";

/** A session holding a lock a run waited for (from pg_stat_activity). */
export interface BlockingSession {
  /** Backend pid (`select pg_terminate_backend(pid)` ends it). */
  pid: number;
  /** Role name. */
  user: string | null;
  /** application_name. */
  application: string | null;
  /** state, e.g. "idle in transaction". */
  state: string | null;
  /** Its current or last query (shortened). */
  query: string | null;
}

/** A statement could not get its locks within the lock timeout, retries included. */
export class LockTimeoutError extends RunError {
  /** Where the statement is: `sql/<schema>/<file>.sql:LINE`, or the engine's step. */
  where: string;
  /** The sessions that held the lock. */
  blockers: BlockingSession[];
  constructor(
    where: string,
    blockers: BlockingSession[],
    options: { timeoutMs: number; attempts: number; cause?: unknown },
  ) {
    const who = blockers.length
      ? blockers.map((b) =>
        `pid ${b.pid} (user ${b.user ?? "?"}, application "${b.application ?? ""}", state ${
          b.state ?? "?"
        }, query: ${JSON.stringify(b.query ?? "")})`
      ).join("; ")
      : "a session that had finished by the time it was looked up";
    super(
      `${where}: could not get a lock within ${options.timeoutMs} ms ` +
        `(${options.attempts} attempts); blocked by ${who}`,
      {
        hint: blockers.length
          ? `wait for that session to finish, or end it: select pg_terminate_backend(${
            blockers[0]!.pid
          }); a longer lock timeout also helps`
          : "run again, or raise the lock timeout",
        cause: options.cause,
      },
    );
    this.name = "LockTimeoutError";
    this.where = where;
    this.blockers = blockers;
  }
}

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
  /** Called inside the transaction before the transforms (the refresh swaps raw tables). */
  prepare?: (tx: postgres.TransactionSql) => Promise<void>;
  /** lock_timeout of every statement, in ms. Default: 10000. */
  lockTimeoutMs?: number;
  /** Retries of a statement that hit the lock timeout. Default: 3. */
  lockRetries?: number;
  /** First pause before a retry, doubled each time, in ms. Default: 1000. */
  lockRetryDelayMs?: number;
  /** Reports folder, or false for none. Default: "reports". */
  reportsDir?: string | false;
  /** Extraction metrics to include in the reports. Default: none. */
  extract?: ExtractResult[];
  /** Seconds between heartbeat lines during a long file. Default: 30. */
  heartbeatSeconds?: number;
  /** How a failure to begin the transaction is retried (see transaction_retry.ts). Default: config.retry. */
  retry?: RetryPolicy;
  /** Where retries are recorded (a refresh shares its log). Default: a log of the run's own. */
  retryLog?: RetryLog;
  /** How the source was read, for the reports (a refresh). Default: none. */
  sourceReads?: SourceReads;
}

/** What {@linkcode runTransforms} returns: the run's result, plus the plan of a dry run. */
export interface TransformResult extends RunResult {
  /** The plan (dry runs only). */
  plan: Plan | undefined;
}

/** A new run id: UTC time and a random suffix, e.g. `20250301T120000Z-4f9a1c`. */
export function newRunId(): string {
  const time = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const random = crypto.getRandomValues(new Uint8Array(3));
  return `${time}-${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function checkRunId(runId: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/.test(runId)) {
    throw new UsageError(
      `invalid run id "${runId}": use letters, digits, _, . and - (it names a reports folder)`,
    );
  }
  return runId;
}

/**
 * Runs the transforms of the selected collections and their checks in one transaction.
 *
 * Resolves with status "succeeded", or "failed" with `error` set: a RunError naming the failed
 * error checks (`failedChecks`), a SqlFileError (`sql/<schema>/<file>.sql:LINE:COL: message`),
 * a LockTimeoutError, or any other error that happened during the run. Either way everything
 * was rolled back, the ledger (runs, run_files, check_results) and the reports are written
 * before it resolves. It rejects only when the run cannot start (ConfigError for bad check
 * files, UsageError for an unknown selection, connection errors) or the ledger cannot be
 * written. A dry run resolves with status "planned" and `plan`, touching nothing.
 * The pool needs two connections (one for the transaction, one for the ledger and lock
 * diagnostics).
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
    const now = new Date().toISOString();
    return {
      ...emptyResult(runId, command, selected, graph, options.extract ?? []),
      status: "planned",
      startedAt: now,
      finishedAt: now,
      plan,
    };
  }
  const layout = await discoverFiles(config, { collections });
  for (const warning of layout.warnings) logger.warn(warning);
  await ensureMeta(sql, config.metaSchema);
  const started = new Date();
  const clock = performance.now();
  await startRun(sql, config.metaSchema, { runId, command, selected });
  logger.info(`${command} ${runId}: rebuilding ${selected.join(", ")}`);

  const files: FileResult[] = [];
  let checks: CheckResult[] = [];
  let tables: TableCount[] = [];
  let failedChecks: string[] = [];
  let error: Error | undefined;
  const retries = options.retryLog ?? new RetryLog(logger);
  const engine = new StatementRunner(sql, logger, {
    lockTimeoutMs: options.lockTimeoutMs ?? 10_000,
    lockRetries: options.lockRetries ?? 3,
    lockRetryDelayMs: options.lockRetryDelayMs ?? 1000,
    watchedSchemas: [config.rawSchema, config.utilSchema, ...selected],
    retries,
  });
  try {
    await retryTransaction(sql, async (tx) => {
      // A rerun starts from scratch.
      files.length = 0;
      checks = [];
      tables = [];
      failedChecks = [];
      await engine.begin(tx, runId, started);
      if (options.prepare) await options.prepare(tx);
      const runFile = async (file: SqlFile, kind: FileResult["kind"], schema: string | null) => {
        const elapsed = Math.round((performance.now() - clock) / 1000);
        logger.info(`running ${file.relativePath}`, { elapsed_s: elapsed });
        const fileStarted = performance.now();
        const before = await writtenRows(tx);
        {
          using _beat = heartbeat(logger, `running ${file.relativePath}`, {
            seconds: options.heartbeatSeconds ?? 30,
          });
          await engine.runFile(file);
        }
        const rows = Math.max(0, (await writtenRows(tx)) - before);
        files.push({
          path: file.relativePath,
          kind,
          schema,
          sha256: file.sha256,
          seconds: (performance.now() - fileStarted) / 1000,
          rows,
        });
      };
      for (const file of layout.shared) await runFile(file, "shared", null);
      for (const entry of layout.schemas) {
        const q = quoteIdent(entry.schema);
        await engine.run(`drop schema if exists ${q} cascade`, `schema ${entry.schema} (drop)`);
        await engine.run(`create schema ${q}`, `schema ${entry.schema} (create)`);
        for (const file of entry.files) await runFile(file, "transform", entry.schema);
      }
      logger.info("running checks", { elapsed_s: Math.round((performance.now() - clock) / 1000) });
      const list: Check[] = [
        ...(await derivedChecks(tx, config, { collections })),
        ...fileChecks(layout.checks),
      ];
      checks = await runCheckList(tx, list, { logger });
      tables = await countTables(tx, selected);
      failedChecks = checks
        .filter((c) => c.severity === "error" && c.status !== "passed")
        .map((c) => c.name);
      if (failedChecks.length > 0) {
        throw new RunError(
          `${failedChecks.length} error ${failedChecks.length === 1 ? "check" : "checks"} failed: ${
            failedChecks.join(", ")
          }; nothing was changed (rolled back)`,
          { hint: "the report lists the offending rows of each check" },
        );
      }
    }, {
      policy: options.retry ?? config.retry,
      log: retries,
      explain: (lost) => sessionLost(lost, engine.lastFailure)?.message,
    });
  } catch (caught) {
    error = sessionLost(caught, engine.lastFailure) ??
      (caught instanceof Error ? caught : new RunError(String(caught), { cause: caught }));
    logger.error(error.message.split("\n")[0]!);
  }
  for (const c of checks.filter((c) => c.source !== "derived")) {
    const file = layout.checks.find((f) => f.name === c.name);
    if (file) {
      files.push({
        path: file.relativePath,
        kind: "check",
        schema: file.schema ?? null,
        sha256: file.sha256,
        seconds: c.seconds,
        rows: 0,
      });
    }
  }
  const result: TransformResult = {
    runId,
    command,
    status: error ? "failed" : "succeeded",
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (performance.now() - clock) / 1000,
    selected,
    files,
    checks,
    failedChecks,
    tables,
    extract: options.extract ?? [],
    peakRssBytes: peakRssBytes(),
    graph,
    error,
    reports: undefined,
    plan: undefined,
    retries: retries.events,
    ...(options.sourceReads ? { sourceReads: options.sourceReads } : {}),
  };
  await finishRun(sql, config.metaSchema, result, logger, options.reportsDir);
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
  /** Reports folder, or false for none. Default: "reports". */
  reportsDir?: string | false;
}

/**
 * Runs the checks (derived and from files) alone against the current data, in a read-only
 * transaction; the run is recorded in the ledger with command "assert" and reported. Resolves
 * with status "failed" (and `failedChecks`) when an error check does not pass.
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
  await ensureMeta(sql, config.metaSchema);
  const started = new Date();
  const clock = performance.now();
  await startRun(sql, config.metaSchema, { runId, command: "assert", selected });
  let checks: CheckResult[] = [];
  let tables: TableCount[] = [];
  let error: Error | undefined;
  try {
    await sql.begin("read only", async (tx) => {
      await tx`
        select set_config('lml.run_id', ${runId}, true),
               set_config('lml.run_started_at', ${started.toISOString()}, true)
      `;
      const list: Check[] = [
        ...(await derivedChecks(tx, config, { collections })),
        ...fileChecks(layout.checks),
      ];
      checks = await runCheckList(tx, list, { logger });
      tables = await countTables(tx, selected);
    });
  } catch (caught) {
    error = caught instanceof Error ? caught : new RunError(String(caught), { cause: caught });
  }
  const failedChecks = checks
    .filter((c) => c.severity === "error" && c.status !== "passed")
    .map((c) => c.name);
  if (!error && failedChecks.length > 0) {
    error = new RunError(
      `${failedChecks.length} error ${failedChecks.length === 1 ? "check" : "checks"} failed: ${
        failedChecks.join(", ")
      }`,
      { hint: "the report lists the offending rows of each check" },
    );
  }
  const result: RunResult = {
    ...emptyResult(runId, "assert", selected, graphMermaid(config, selected), []),
    status: error ? "failed" : "succeeded",
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (performance.now() - clock) / 1000,
    files: layout.checks.map((f) => ({
      path: f.relativePath,
      kind: "check" as const,
      schema: f.schema ?? null,
      sha256: f.sha256,
      seconds: checks.find((c) => c.name === f.name)?.seconds ?? 0,
      rows: 0,
    })),
    checks,
    failedChecks,
    tables,
    error,
  };
  await finishRun(sql, config.metaSchema, result, logger, options.reportsDir);
  return result;
}

/** A result with nothing run yet (status "planned"), to be filled in by the caller. */
export function emptyResult(
  runId: string,
  command: RunResult["command"],
  selected: string[],
  graph: string,
  extract: ExtractResult[],
): TransformResult {
  return {
    runId,
    command,
    status: "planned",
    startedAt: "",
    finishedAt: "",
    seconds: 0,
    selected,
    files: [],
    checks: [],
    failedChecks: [],
    tables: [],
    extract,
    peakRssBytes: peakRssBytes(),
    graph,
    error: undefined,
    reports: undefined,
    plan: undefined,
  };
}

/**
 * Records a run as running in the ledger, outside any transaction (a run started earlier under
 * the same id, e.g. by the refresh before its extraction, is taken over).
 */
export async function startRun(
  sql: Sql,
  metaSchema: string,
  run: { runId: string; command: string; selected: string[] },
): Promise<void> {
  await sql`
    insert into ${sql(metaSchema)}.runs (run_id, command, status, selected)
    values (${run.runId}, ${run.command}, 'running', ${run.selected}::text[])
    on conflict (run_id) do update set status = 'running', selected = excluded.selected
  `;
}

/** Records the end of a run (outside its transaction), then writes the reports. */
export async function finishRun(
  sql: Sql,
  metaSchema: string,
  result: RunResult,
  logger: Logger,
  reportsDir: string | false | undefined,
): Promise<void> {
  try {
    await sql.begin(async (tx) => {
      await tx`
        update ${sql(metaSchema)}.runs
        set status = ${result.status}, finished_at = clock_timestamp(), seconds = ${result.seconds},
            error = ${result.error?.message ?? null}, peak_rss_bytes = ${result.peakRssBytes}
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
        await tx`insert into ${sql(metaSchema)}.run_files ${sql(rows)}`;
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
          insert into ${sql(metaSchema)}.check_results
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
  } finally {
    if (reportsDir !== false) {
      const paths: ReportPaths = await writeReports(result, { dir: reportsDir ?? "reports" });
      result.reports = paths;
      logger.info(`report: ${paths.markdown}`);
    }
  }
}

/** Sum of rows inserted, updated and deleted so far by this transaction, over all tables. */
async function writtenRows(tx: postgres.TransactionSql): Promise<number> {
  const [row] = await tx<{ n: string }[]>`
    select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint as n
    from pg_stat_xact_user_tables
  `;
  return Number(row?.n ?? 0);
}

/** Exact row counts of every table of `schemas`. */
async function countTables(
  tx: postgres.TransactionSql,
  schemas: readonly string[],
): Promise<TableCount[]> {
  if (schemas.length === 0) return [];
  const tables = await tx<{ schema_name: string; table_name: string }[]>`
    select n.nspname as schema_name, c.relname as table_name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemas as string[]}::text[]) and c.relkind in ('r', 'p')
    order by array_position(${schemas as string[]}::text[], n.nspname::text), c.relname
  `;
  const counted: TableCount[] = [];
  for (const t of tables) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(t.table_name)) continue;
    const [row] = await tx.unsafe<{ n: string }[]>(
      `select count(*)::bigint as n from ${quoteIdent(t.schema_name)}.${quoteIdent(t.table_name)}`,
    );
    counted.push({ schema: t.schema_name, table: t.table_name, rows: Number(row?.n ?? 0) });
  }
  return counted;
}

/**
 * When the server ended the run's session (pg_terminate_backend, a restart, a network cut),
 * postgres.js rejects the transaction with a bare CONNECTION_CLOSED: this names the statement
 * that was cut off and what the server said. Undefined for any other error.
 */
function sessionLost(
  caught: unknown,
  last: { where: string; error: unknown } | undefined,
): RunError | undefined {
  const code = (caught as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^CONNECTION_(CLOSED|DESTROYED|ENDED)$/.test(code)) {
    return undefined;
  }
  const said = last && isPgError(last.error) ? ` (the server said: ${last.error.message})` : "";
  return new RunError(
    `${last?.where ?? "the transaction"}: lost the PostgreSQL session${said}; ` +
      "nothing was changed (rolled back)",
    {
      hint: "something ended the session (pg_terminate_backend, a server restart, the network): " +
        "see the server log, then run again",
      cause: caught,
    },
  );
}

interface StatementRunnerOptions {
  lockTimeoutMs: number;
  lockRetries: number;
  lockRetryDelayMs: number;
  watchedSchemas: string[];
  retries: RetryLog;
}

/**
 * Runs statements in a transaction, each in a savepoint, retrying lock timeouts, deadlocks and
 * serialization failures (the savepoint undoes the failed attempt, nothing else).
 */
class StatementRunner {
  #sql: Sql;
  #logger: Logger;
  #options: StatementRunnerOptions;
  #tx: postgres.TransactionSql | undefined;
  #pid = 0;
  /** The last statement that failed and its error, as the server sent it. */
  lastFailure: { where: string; error: unknown } | undefined;

  constructor(sql: Sql, logger: Logger, options: StatementRunnerOptions) {
    this.#sql = sql;
    this.#logger = logger;
    this.#options = options;
  }

  /** Sets the run settings and the lock timeout on `tx`. */
  async begin(tx: postgres.TransactionSql, runId: string, started: Date): Promise<void> {
    this.#tx = tx;
    const [row] = await tx<{ pid: number }[]>`
      select pg_backend_pid() as pid,
             set_config('lml.run_id', ${runId}, true),
             set_config('lml.run_started_at', ${started.toISOString()}, true),
             set_config('lock_timeout', ${`${this.#options.lockTimeoutMs}ms`}, true)
    `;
    this.#pid = row!.pid;
  }

  /** Runs every statement of `file`; errors become SqlFileError or LockTimeoutError. */
  async runFile(file: SqlFile): Promise<void> {
    for (const statement of splitStatements(file.text)) {
      await this.run(
        statement.text,
        `${file.relativePath}:${statement.line}`,
        (error) => locateError(file, statement.offset, error, { sent: statement.text }),
      );
    }
  }

  /** Runs one statement; `where` names it in lock errors. */
  async run(
    text: string,
    where: string,
    locate?: (error: Error & { message: string }) => Error,
  ): Promise<void> {
    const tx = this.#tx!;
    const { lockRetries, lockTimeoutMs, lockRetryDelayMs } = this.#options;
    for (let attempt = 0;; attempt++) {
      const watch = this.#watchBlockers();
      try {
        await tx.savepoint((sp) =>
          sp.unsafe(text).catch((error) => {
            this.lastFailure = { where, error };
            throw error;
          })
        );
        return;
      } catch (error) {
        const lockTimeout = isPgError(error) && error.code === "55P03";
        if ((lockTimeout || isRaceLost(error)) && attempt < lockRetries) {
          const pause = Math.min(lockRetryDelayMs * 2 ** attempt, 30_000);
          this.#options.retries.record({
            stage: "statement",
            what: where,
            why: lockTimeout
              ? `lock timeout (55P03) after ${lockTimeoutMs} ms`
              : describePgFault(error),
            attempt: attempt + 1,
            waitedMs: pause,
          }, { blockers: (await watch.result()).map((b) => b.pid) });
          await new Promise((resolve) => setTimeout(resolve, pause));
          continue;
        }
        if (lockTimeout) {
          let blockers = await watch.result();
          if (blockers.length === 0) blockers = await this.#lockHolders();
          throw new LockTimeoutError(where, blockers, {
            timeoutMs: lockTimeoutMs,
            attempts: attempt + 1,
            cause: error,
          });
        }
        if (isPgError(error)) {
          throw locate
            ? locate(error)
            : new RunError(`${where}: ${error.message}`, { cause: error });
        }
        throw error;
      } finally {
        watch.stop();
      }
    }
  }

  /** Polls pg_blocking_pids of the run's backend while a statement waits. */
  #watchBlockers(): { stop(): void; result(): Promise<BlockingSession[]> } {
    const interval = Math.max(25, Math.min(5000, Math.floor(this.#options.lockTimeoutMs / 4)));
    let seen: BlockingSession[] = [];
    let pending: Promise<void> | undefined;
    const poll = () => {
      if (pending) return;
      pending = this.#sql<BlockingSession[]>`
        select pid, usename as user, application_name as application, state,
               left(query, 300) as query
        from pg_stat_activity
        where pid = any(pg_blocking_pids(${this.#pid}::int))
        order by pid
      `.then((rows) => {
        if (rows.length > 0) seen = [...rows];
      }, () => {}).finally(() => {
        pending = undefined;
      });
    };
    const timer = setInterval(poll, interval);
    return {
      stop: () => clearInterval(timer),
      result: async () => {
        clearInterval(timer);
        if (pending) {
          await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, 2000))]);
        }
        return seen;
      },
    };
  }

  /** Other sessions holding locks on the run's schemas (when polling saw no blocker). */
  async #lockHolders(): Promise<BlockingSession[]> {
    try {
      return [
        ...(await this.#sql<BlockingSession[]>`
        select a.pid, a.usename as user, a.application_name as application, a.state,
               left(a.query, 300) as query
        from pg_stat_activity a
        where a.pid <> ${this.#pid}::int and a.pid in (
          select l.pid from pg_locks l
          join pg_class c on c.oid = l.relation
          join pg_namespace n on n.oid = c.relnamespace
          where l.granted and n.nspname = any(${this.#options.watchedSchemas}::text[])
        )
        order by a.pid
      `),
      ];
    } catch {
      return [];
    }
  }
}
