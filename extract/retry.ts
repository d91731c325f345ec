/**
 * Restarting a collection's staging when its PostgreSQL session is lost (terminated, server
 * restart or failover, network cut): the staging table is built again from the start, the
 * collection read again from the source, within the retry policy. Source faults are not
 * handled here: a live source resumes its own reads (mongo_read.ts).
 * @module
 */
import {
  Backoff,
  describePgFault,
  isSessionLost,
  pause,
  type RetryLog,
  type RetryPolicy,
  settleLostSessions,
  type Sql,
} from "../lib/core/mod.ts";
import { SourceError } from "./source.ts";

/** Options of {@linkcode restageOnLostSession}. */
export interface RestageOptions {
  /** The pool the staging runs on (its lost sessions are settled before a restart). */
  sql: Sql;
  /** The collection (named in the retry log). */
  collection: string;
  /** How many restarts, for how long. */
  policy: RetryPolicy;
  /** Where restarts are recorded. */
  log: RetryLog;
}

/**
 * Runs `stage` and, each time it fails on a lost PostgreSQL session, again from its start after
 * a pause, until it succeeds or the policy is spent. `stage` gets `restartable`: it should
 * rethrow an error for which `restartable(error)` is true (a restart follows) and handle any
 * other error itself (e.g. report the collection as failed).
 */
export async function restageOnLostSession<T>(
  stage: (restartable: (error: unknown) => boolean) => Promise<T>,
  options: RestageOptions,
): Promise<T> {
  const backoff = new Backoff(options.policy);
  let granted: number | undefined;
  let started = 0;
  const restartable = (error: unknown): boolean => {
    if (error instanceof SourceError || !isSessionLost(error)) return false;
    // An attempt that worked longer than a fault may last failed on a new fault.
    if (performance.now() - started > options.policy.maxSeconds * 1000) backoff.reset();
    granted = backoff.next();
    return granted !== undefined;
  };
  for (;;) {
    started = performance.now();
    try {
      return await stage(restartable);
    } catch (error) {
      // A session lost before `stage` could look at it (e.g. while reserving a connection).
      const wait = granted ?? (restartable(error) ? granted : undefined);
      granted = undefined;
      if (wait === undefined) throw error;
      options.log.record({
        stage: "stage",
        what: options.collection,
        why: describePgFault(error),
        attempt: backoff.failures,
        waitedMs: wait,
      });
      await pause(wait);
      await settleLostSessions(options.sql);
    }
  }
}
