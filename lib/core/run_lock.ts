/**
 * The one lock every writing command takes (extract, transform, refresh, reset): a session
 * advisory lock on a connection of its own that sends a heartbeat query every few seconds, so it
 * is never idle (no idle_session_timeout, no pooler reusing it). A run checks, right before its
 * COMMIT, that the lock is still held by that session's backend, and fails otherwise: a lock
 * lost unnoticed cannot let two writers publish at once.
 * @module
 */
import type postgres from "postgres";
import { ownConnection, type Sql } from "./db.ts";
import { RunError } from "./errors.ts";
import { pause, within } from "./retry.ts";

/** Commands that take the lock ("follow" takes a lock of its own: see {@linkcode RunLockOptions}). */
export type WritingCommand = "extract" | "transform" | "refresh" | "reset" | "follow";

/** Raised when another writing command holds the database (exit code 1). */
export class RunBusyError extends RunError {
  constructor(message: string) {
    super(message, { hint: "wait for it to finish; a run that died frees the lock by itself" });
    this.name = "RunBusyError";
  }
}

/** Raised when the lock's session was lost during a run (the run is rolled back). */
export class RunLockLostError extends RunError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, {
      cause: options.cause,
      hint: "the connection holding the run lock ended (network, idle_session_timeout, a " +
        "pooler, pg_terminate_backend); run again",
    });
    this.name = "RunLockLostError";
  }
}

/** Options of {@linkcode acquireRunLock}. */
export interface RunLockOptions {
  /** The command taking the lock, named to a second writer. */
  command: WritingCommand;
  /** The meta schema (runs are read from it to name the holder). Default: "lml_meta". */
  metaSchema?: string;
  /** Take it (off only where one session exists anyway: the embedded engine). Default: true. */
  enabled?: boolean;
  /** Milliseconds between heartbeat queries. Default: 5000. */
  heartbeatMs?: number;
  /**
   * Which lock: "run", the one of every writing command, or "follow", held by `sync --follow`
   * for its lifetime (it takes the run lock only inside each of its short transactions, see
   * {@linkcode tryRunLockInTransaction}). Default: "run".
   */
  lock?: "run" | "follow";
}

/** A held run lock; dispose it to release it. */
export interface RunLock extends AsyncDisposable {
  /**
   * The session holding the lock, a connection of its own outside the pool (undefined when
   * disabled). Only the heartbeat uses it.
   */
  session: Sql | undefined;
  /** Backend pid of that session (undefined when disabled). */
  pid: number | undefined;
  /** Rejects unless the lock is still held by its session; call it inside the run's transaction. */
  verify(tx: Sql | postgres.TransactionSql): Promise<void>;
}

/** The advisory lock keys: the run lock (the refresh lock of earlier versions) and the follower's. */
const LOCK_KEYS = { run: "refresh", follow: "follow" } as const;

/** How long a writer retries a busy lock before giving up: a follower's transactions are short. */
const BUSY_GRACE_MS = 1000;

/**
 * Takes the run lock for the rest of transaction `tx` if it is free (a follower applying one
 * batch of changes); resolves false when a writing command holds it.
 */
export async function tryRunLockInTransaction(tx: Sql | postgres.TransactionSql): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`
    select pg_try_advisory_xact_lock(hashtext('lml'), hashtext(${LOCK_KEYS.run})) as ok`;
  return row?.ok === true;
}

/**
 * Takes the run lock, or rejects with {@linkcode RunBusyError} naming the run holding it.
 * Once held, runs left 'running' by writers that died are marked abandoned.
 */
export async function acquireRunLock(sql: Sql, options: RunLockOptions): Promise<RunLock> {
  const metaSchema = options.metaSchema ?? "lml_meta";
  if (options.enabled === false) {
    return {
      session: undefined,
      pid: undefined,
      verify: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const key = LOCK_KEYS[options.lock ?? "run"];
  // Not a connection of the pool: one the server ends would be reconnected and could serve
  // another caller while the heartbeat still uses it (postgres.js 3.4).
  const session = ownConnection(sql);
  let pid: number;
  try {
    let got: { ok: boolean; pid: number } | undefined;
    for (const deadline = Date.now() + BUSY_GRACE_MS;;) {
      [got] = await session<{ ok: boolean; pid: number }[]>`
        select pg_try_advisory_lock(hashtext('lml'), hashtext(${key})) as ok,
          pg_backend_pid() as pid`;
      if (got!.ok || Date.now() > deadline) break;
      await pause(100);
    }
    if (!got!.ok) throw new RunBusyError(await describeHolder(session, metaSchema, key));
    pid = got!.pid;
    await within(markAbandoned(session, metaSchema), 2 * (options.heartbeatMs ?? 5000));
  } catch (error) {
    await session.end({ timeout: 1 });
    throw error;
  }
  let lost: unknown;
  let released = false;
  const heartbeatMs = options.heartbeatMs ?? 5000;
  // A query on a connection that died while reserved may never settle (postgres.js 3.4): each
  // is bounded, and one that does not answer in time counts as the lock lost.
  const bounded = (query: Promise<unknown>) =>
    within(query, heartbeatMs * 2).catch((error) => lost ??= error);
  let beating: Promise<unknown> = Promise.resolve();
  // A session the server ended comes back as a new one (postgres.js reconnects): another pid.
  const beat = async () => {
    const [row] = await session<{ pid: number }[]>`select pg_backend_pid() as pid`;
    if (row?.pid !== pid) throw new Error(`session ${pid} ended`);
  };
  const timer = setInterval(() => {
    if (lost === undefined) beating = bounded(beat());
  }, heartbeatMs);
  Deno.unrefTimer(timer);
  return {
    session,
    pid,
    async verify(tx) {
      const [row] = await tx<{ held: boolean }[]>`
        select exists (
          select from pg_locks
          where locktype = 'advisory' and granted and pid = ${pid}::int
            and database = (select oid from pg_database where datname = current_database())
            and classid = hashtext('lml')::oid and objid = hashtext(${key})::oid
            and objsubid = 2
        ) as held`;
      if (!row?.held || lost) {
        lost ??= new Error(`session ${pid} no longer holds the lock`);
        throw new RunLockLostError(
          `the run lock was lost (its session, pid ${pid}, ended); nothing was changed`,
          { cause: lost },
        );
      }
    },
    async [Symbol.asyncDispose]() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await beating;
      if (lost === undefined) {
        await bounded(session`select pg_advisory_unlock(hashtext('lml'), hashtext(${key}))`);
      }
      // Ending the session releases the lock in any case.
      await session.end({ timeout: 1 });
    },
  };
}

/** Marks runs of writing commands left 'running' as abandoned (only the lock holder may). */
async function markAbandoned(session: Sql, metaSchema: string): Promise<void> {
  const exists = await session`select to_regclass(${`${metaSchema}.runs`}) is not null as ok`;
  if (!exists[0]?.ok) return;
  await session`
    update ${session(metaSchema)}.runs
    set status = 'abandoned', finished_at = clock_timestamp(),
        error = 'the process ended before finishing the run (killed or lost its connection)'
    where command in ('extract', 'transform', 'refresh') and status = 'running'
      and pid is distinct from pg_backend_pid()`;
}

/**
 * Names the run holding the lock: its run (recorded right after it took the lock, on the same
 * session, so it is waited for a few seconds at most), else its session.
 */
export async function describeHolder(
  sql: Sql,
  metaSchema = "lml_meta",
  key: string = LOCK_KEYS.run,
): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const [holder] = await sql<{ pid: number; application: string | null }[]>`
      select l.pid, a.application_name as application
      from pg_locks l
      left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = hashtext('lml')::oid and l.objid = hashtext(${key})::oid
        and l.objsubid = 2
      limit 1`;
    if (!holder) return "another run held this database a moment ago; this one exits";
    const [ledger] = await sql`select to_regclass(${`${metaSchema}.runs`}) is not null as ok`;
    const [run] = ledger?.ok
      ? await sql<{ command: string; run_id: string; started_at: Date }[]>`
        select command, run_id, started_at from ${sql(metaSchema)}.runs
        where pid = ${holder.pid}::int and status = 'running'
        order by started_at desc limit 1`
      : [];
    if (run) {
      return `another ${run.command} (${run.run_id}) has been running since ${run.started_at.toISOString()}; this one exits`;
    }
    // An extract or reset records no run: its session's application names it.
    if (Date.now() > deadline || !/refresh|transform/.test(holder.application ?? "refresh")) {
      return `another run (${
        holder.application ? `${holder.application}, ` : ""
      }session pid ${holder.pid}) holds this database; this one exits`;
    }
    await pause(50);
  }
}
