/**
 * Which PostgreSQL failures are transient, so worth running again: a lost session (terminated,
 * server restart or failover, network cut), a deadlock, a serialization failure. Everything
 * else (bad SQL, constraint violations, failed checks) fails the run as it is.
 * @module
 */
import { redactText, type Sql } from "./db.ts";

/** postgres.js codes of a connection that broke (not one the program ended itself). */
const CLIENT_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
]);

/** SQLSTATEs of a server ending the session: admin_shutdown, crash_shutdown, cannot_connect_now. */
const SHUTDOWN_STATES = new Set(["57P01", "57P02", "57P03"]);

/** SQLSTATEs of a transaction that lost a race and may simply run again. */
const RACE_STATES: Record<string, string> = {
  "40001": "serialization failure",
  "40P01": "deadlock detected",
};

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when `error` says the PostgreSQL session is gone (SQLSTATE class 08, 57P01-03, socket errors). */
export function isSessionLost(error: unknown): boolean {
  const code = codeOf(error);
  if (code === undefined) return false;
  return CLIENT_CODES.has(code) || SHUTDOWN_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}

/** True when `error` is a deadlock (40P01) or a serialization failure (40001). */
export function isRaceLost(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && code in RACE_STATES;
}

/** True when running the same work again may succeed: a lost session or a lost race. */
export function isTransientPgError(error: unknown): boolean {
  return isSessionLost(error) || isRaceLost(error);
}

/** One line naming the fault, e.g. `deadlock detected (40P01): ...`; credentials redacted. */
export function describePgFault(error: unknown): string {
  const code = codeOf(error);
  const message = redactText(error instanceof Error ? error.message : String(error));
  if (code !== undefined && code in RACE_STATES) {
    return `${RACE_STATES[code]} (${code}): ${message}`;
  }
  if (isSessionLost(error)) return `lost the PostgreSQL session (${code}): ${message}`;
  return code === undefined ? message : `${message} (${code})`;
}

/**
 * Lets the pool reconnect the sessions it lost before work starts again. postgres.js 3.4 hands
 * a lost session's last server error to the first query of its reconnection
 * (porsager/postgres#1223): throwaway queries, one per pool connection, take it instead of the
 * next query of the run. Waits at most `waitMs` (the queries finish in the background).
 */
export async function settleLostSessions(
  sql: Sql,
  options: { waitMs?: number } = {},
): Promise<void> {
  const size = Math.max(1, Number(sql.options?.max) || 1);
  const settled = Promise.allSettled(Array.from({ length: size }, () => sql`select 1`));
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    settled,
    new Promise((resolve) => timer = setTimeout(resolve, options.waitMs ?? 2000)),
  ]);
  clearTimeout(timer);
}
