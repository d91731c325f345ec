/**
 * Retrying the publishing transaction (swap, transforms, checks: all or nothing). A failure
 * inside it is never retried piecemeal: when its cause was transient (a lost session, a
 * deadlock or a serialization failure the statement retries could not absorb), the whole
 * transaction runs once more from its start; any other failure, or a second transient one,
 * fails the run. A failure before the transaction began (connecting, BEGIN) changed nothing and
 * is retried within the retry policy.
 * @module
 */
import type postgres from "postgres";
import {
  Backoff,
  describePgFault,
  isTransientPgError,
  pause,
  type RetryLog,
  type RetryPolicy,
  settleLostSessions,
  type Sql,
} from "../core/mod.ts";

/** Options of {@linkcode retryTransaction}. */
export interface TransactionRetryOptions {
  /** Bounds the retries of a failure to begin; its first delay is also the pause before the rerun. */
  policy: RetryPolicy;
  /** Where retries are recorded. */
  log: RetryLog;
  /** Names the transaction in the retry log. Default: "the publishing transaction". */
  what?: string;
  /** Says why it failed, when the caller knows better than the error. Default: the error. */
  explain?: (error: unknown) => string | undefined;
}

/** True when `error` (or the error it wraps) is a transient PostgreSQL failure. */
function transient(error: unknown): boolean {
  return isTransientPgError(error) || isTransientPgError((error as { cause?: unknown })?.cause);
}

/**
 * Runs `body` in a transaction on `sql` (`sql.begin`), and again as described in the module
 * doc. Resolves or rejects as its last attempt did.
 */
export async function retryTransaction<T>(
  sql: Sql,
  body: (tx: postgres.TransactionSql) => Promise<T>,
  options: TransactionRetryOptions,
): Promise<T> {
  const what = options.what ?? "the publishing transaction";
  const connecting = new Backoff(options.policy);
  let rerun = false;
  for (;;) {
    let inside = false;
    try {
      return await sql.begin((tx) => {
        inside = true;
        return body(tx);
      }) as T;
    } catch (error) {
      if (!transient(error)) throw error;
      let wait: number | undefined;
      if (!inside) wait = connecting.next();
      else if (!rerun) [rerun, wait] = [true, options.policy.firstDelayMs];
      if (wait === undefined) throw error;
      const cause = isTransientPgError(error) ? error : (error as { cause?: unknown }).cause;
      options.log.record({
        stage: "transaction",
        what: inside ? `${what} (from its start)` : `${what} (connecting)`,
        why: options.explain?.(error) ?? describePgFault(cause),
        attempt: inside ? 1 : connecting.failures,
        waitedMs: wait,
      });
      await pause(wait);
      await settleLostSessions(sql);
    }
  }
}
