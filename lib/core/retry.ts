/**
 * Transient faults: the retry policy (how many attempts, for how long), the backoff of one
 * fault, and the log of every retry a run made, which goes to the log lines, the ledger
 * (`<meta>.retries`) and the reports.
 * @module
 */
import type postgres from "postgres";
import type { Sql } from "./db.ts";
import { type Fields, type Logger, silentLogger } from "./log.ts";

/** How a transient fault is retried. */
export interface RetryPolicy {
  /** Retries of one fault before giving up (0: none). Default: 5. */
  attempts: number;
  /** Seconds one fault may last, from its first failure, before giving up. Default: 60. */
  maxSeconds: number;
  /** Pause before the first retry, in ms; doubled each time, at most 10 s. Default: 500. */
  firstDelayMs: number;
}

/** The policy used when neither sql/pipeline.yaml nor the caller sets one. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  maxSeconds: 60,
  firstDelayMs: 500,
});

/** Longest single pause between two attempts. */
const MAX_PAUSE_MS = 10_000;

/** `base` (default: {@linkcode DEFAULT_RETRY_POLICY}) with the fields of `overrides` that are set. */
export function retryPolicy(
  overrides: Partial<RetryPolicy> | undefined,
  base: Readonly<RetryPolicy> = DEFAULT_RETRY_POLICY,
): RetryPolicy {
  return {
    attempts: overrides?.attempts ?? base.attempts,
    maxSeconds: overrides?.maxSeconds ?? base.maxSeconds,
    firstDelayMs: overrides?.firstDelayMs ?? base.firstDelayMs,
  };
}

/**
 * The backoff of one fault: each failure asks {@linkcode Backoff.next} how long to pause before
 * trying again; it answers undefined once the attempts or the time bound are spent. Progress
 * ({@linkcode Backoff.reset}) ends the fault: the next failure starts a new one.
 */
export class Backoff {
  #policy: RetryPolicy;
  #failures = 0;
  #since: number | undefined;

  constructor(policy: RetryPolicy) {
    this.#policy = policy;
  }

  /** Retries granted so far in this fault. */
  get failures(): number {
    return this.#failures;
  }

  /** Milliseconds since the fault's first failure (0 when there is none). */
  get elapsedMs(): number {
    return this.#since === undefined ? 0 : performance.now() - this.#since;
  }

  /** The pause before the next attempt, in ms, or undefined when the fault outlasted the policy. */
  next(): number | undefined {
    this.#since ??= performance.now();
    const remaining = this.#policy.maxSeconds * 1000 - this.elapsedMs;
    if (this.#failures >= this.#policy.attempts || remaining <= 0) return undefined;
    const pause = Math.min(this.#policy.firstDelayMs * 2 ** this.#failures, MAX_PAUSE_MS);
    this.#failures++;
    return Math.max(0, Math.round(Math.min(pause, remaining)));
  }

  /** Ends the fault (the work made progress). */
  reset(): void {
    this.#failures = 0;
    this.#since = undefined;
  }

  /** "3 retries over 4.2 s", for error messages. */
  describe(): string {
    const n = this.#failures;
    return `${n} ${n === 1 ? "retry" : "retries"} over ${(this.elapsedMs / 1000).toFixed(1)} s`;
  }
}

/** Resolves after `ms` milliseconds. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles as `promise` does, or rejects after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where a retry happened. */
export type RetryStage =
  /** A MongoDB read resumed after the last document staged. */
  | "read"
  /** A collection's staging restarted from its start (its PostgreSQL session was lost). */
  | "stage"
  /** A transform statement run again (lock timeout, deadlock, serialization failure). */
  | "statement"
  /** The publishing transaction run again from its start. */
  | "transaction";

/** One retry. */
export interface RetryEvent {
  /** Where it happened. */
  stage: RetryStage;
  /** What was retried: a collection, `sql/<schema>/<file>.sql:LINE`, or the transaction. */
  what: string;
  /** Why: the fault, as the server or the driver named it (credentials redacted by the logger). */
  why: string;
  /** 1 for the first retry of this fault, 2 for the second, ... */
  attempt: number;
  /** Milliseconds paused before it. */
  waitedMs: number;
  /** When it was decided (ISO-8601). */
  at: string;
}

/** The retries of one run, each logged as a warning as it is recorded. */
export class RetryLog {
  /** Every retry, in order. */
  readonly events: RetryEvent[] = [];
  #logger: Logger;

  constructor(logger: Logger = silentLogger) {
    this.#logger = logger;
  }

  /** Records a retry about to happen and logs it (what, why, attempt, waited); `fields` add to the line. */
  record(event: Omit<RetryEvent, "at">, fields: Fields = {}): RetryEvent {
    const full: RetryEvent = { ...event, at: new Date().toISOString() };
    this.events.push(full);
    this.#logger.warn(`${event.what}: ${event.why}; retrying (${event.stage})`, {
      retry: event.stage,
      attempt: event.attempt,
      waited_ms: event.waitedMs,
      ...fields,
    });
    return full;
  }
}

/**
 * Writes `events` to `<metaSchema>.retries` under `runId` (null: a run without a ledger row,
 * e.g. an extract).
 */
export async function recordRetries(
  sql: Sql | postgres.TransactionSql,
  events: readonly RetryEvent[],
  options: { metaSchema: string; runId: string | null },
): Promise<void> {
  const { metaSchema, runId } = options;
  if (events.length === 0) return;
  const rows = events.map((e, i) => ({
    run_id: runId,
    ordinal: i + 1,
    at: e.at,
    stage: e.stage,
    what: e.what,
    why: e.why,
    attempt: e.attempt,
    waited_ms: e.waitedMs,
  }));
  await sql`insert into ${sql(metaSchema)}.retries ${sql(rows)}`;
}
