/**
 * The statement runner: runs SQL statements inside the run's transaction, each in a savepoint
 * so a failure is located, retrying lock timeouts and naming the sessions that held the lock
 * (by pid, user, application and state: other sessions' query text is never quoted, it may
 * hold anything, passwords included).
 * @module
 */
import type postgres from "postgres";
import {
  describePgFault,
  isRaceLost,
  type Logger,
  type RetryLog,
  RunError,
  type Sql,
} from "../core/mod.ts";
import { isPgError } from "./checks.ts";
import { locateError, splitStatements, type SqlFile } from "./sql_files.ts";
import { type ConstraintErrorFields, describeConstraintRows } from "./constraint_rows.ts";

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
  /** When it started its transaction (null outside one). */
  since: Date | null;
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
        `pid ${b.pid} (user ${b.user ?? "?"}, application ${
          JSON.stringify(b.application ?? "")
        }, state ${b.state ?? "?"}${
          b.since ? `, in a transaction since ${b.since.toISOString()}` : ""
        })`
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

/**
 * When the server ended the run's session (pg_terminate_backend, a restart, a network cut),
 * postgres.js rejects the transaction with a bare CONNECTION_CLOSED: this names the statement
 * that was cut off and what the server said. Undefined for any other error.
 */
export function sessionLost(
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

/**
 * Sets the run's settings for the rest of transaction `tx` (`lml.run_id`,
 * `lml.run_started_at`, read by the SQL files) and, when given, its lock timeout; returns the
 * session's backend pid.
 */
export async function applyRunSettings(
  tx: postgres.TransactionSql,
  run: { runId: string; started: Date },
  options: { lockTimeoutMs?: number } = {},
): Promise<number> {
  const [row] = await tx<{ pid: number }[]>`
    select pg_backend_pid() as pid,
           set_config('lml.run_id', ${run.runId}, true),
           set_config('lml.run_started_at', ${run.started.toISOString()}, true)
  `;
  if (options.lockTimeoutMs !== undefined) {
    await tx`select set_config('lock_timeout', ${`${options.lockTimeoutMs}ms`}, true)`;
  }
  return row!.pid;
}

/** Options of {@linkcode StatementRunner}. */
export interface StatementRunnerOptions {
  /** lock_timeout of each statement, in ms. */
  lockTimeoutMs: number;
  /** Retries of a statement that hit the lock timeout. */
  lockRetries: number;
  /** First pause before a retry, doubled each time, in ms. */
  lockRetryDelayMs: number;
  /** Schemas whose lock holders are named when no blocker was seen while waiting. */
  watchedSchemas: string[];
  /** Where retries are recorded. */
  retries: RetryLog;
}

/**
 * Runs statements in a transaction, each in a savepoint, retrying lock timeouts, deadlocks and
 * serialization failures (the savepoint undoes the failed attempt, nothing else).
 */
export class StatementRunner {
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
    this.#pid = await applyRunSettings(tx, { runId, started }, {
      lockTimeoutMs: this.#options.lockTimeoutMs,
    });
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

  /**
   * Runs one statement, SQL text or a postgres.js query built on the savepoint; `where` names
   * it in errors.
   */
  async run(
    statement: string | ((sp: postgres.TransactionSql) => postgres.PendingQuery<postgres.Row[]>),
    where: string,
    locate?: (error: Error & { message: string }) => Error,
  ): Promise<void> {
    const tx = this.#tx!;
    const { lockRetries, lockTimeoutMs, lockRetryDelayMs } = this.#options;
    for (let attempt = 0;; attempt++) {
      const watch = this.#watchBlockers();
      try {
        await tx.savepoint((sp) =>
          (typeof statement === "string" ? sp.unsafe(statement) : statement(sp)).catch((error) => {
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
          const rows = await describeConstraintRows(tx, error as ConstraintErrorFields);
          if (rows) error.detail = error.detail ? `${error.detail}\n${rows}` : rows;
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
               xact_start as since
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
               a.xact_start as since
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
