/**
 * The freshness probe behind `deno task status`: the last successful refresh and its age, the
 * last refresh's status and the refresh lock's holder, read from the ledger (nothing is
 * written). One line for cron or a Nagios/Icinga check, or JSON; exit 1 when the data is older
 * than the limit, the last refresh failed, or none ever succeeded.
 * @module
 */
import { type PipelineConfig, redactText, type Sql, UsageError } from "../core/mod.ts";

/** ok, stale (older than the limit), failed (the last refresh failed), never (no success). */
export type FreshnessState = "ok" | "stale" | "failed" | "never";

/** A session holding the run lock (a refresh, transform, extract or reset running). */
export interface LockHolder {
  /** Backend pid. */
  pid: number;
  /** The refresh it runs, when recorded. */
  runId: string | null;
  /** application_name. */
  application: string | null;
  /** Since when its transaction or session runs. */
  since: string | null;
}

/** What the probe found. */
export interface Freshness {
  /** The verdict. */
  state: FreshnessState;
  /** Exit code: 0 when ok, else 1. */
  exitCode: 0 | 1;
  /** When the probe ran (ISO). */
  checkedAt: string;
  /** The age limit. */
  maxAgeSeconds: number;
  /** The last successful refresh. */
  lastSuccess: { runId: string; finishedAt: string; ageSeconds: number } | null;
  /** The last refresh, whatever its status. */
  lastRun:
    | {
      runId: string;
      status: string;
      startedAt: string;
      finishedAt: string | null;
      error: string | null;
    }
    | null;
  /** Sessions holding the refresh lock (a refresh running now). */
  locks: LockHolder[];
}

/** Parses `26h`, `90m`, `2d`, `3600s` (decimals allowed) into seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (!match) {
    throw new UsageError(`--max-age must be a duration like 26h, 90m, 2d or 3600s, not "${text}"`);
  }
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  if (seconds <= 0) throw new UsageError(`--max-age must be above zero, not "${text}"`);
  return seconds;
}

/** `45s`, `12m30s`, `27h5m` (hours up to two days, as `--max-age` is usually given), `3d4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 2 * 86_400) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)}h${m ? `${m}m` : ""}`;
  }
  const h = Math.floor((s % 86_400) / 3600);
  return `${Math.floor(s / 86_400)}d${h ? `${h}h` : ""}`;
}

/** Reads the ledger and the lock table; writes nothing. */
export async function checkFreshness(
  sql: Sql,
  config: PipelineConfig,
  options: { maxAgeSeconds: number },
): Promise<Freshness> {
  const [now] = await sql<[{ at: Date; ledger: string | null }]>`
    select clock_timestamp() as at,
           to_regclass(${`${config.metaSchema}.runs`})::text as ledger`;
  const checkedAt = now.at;
  let lastSuccess: Freshness["lastSuccess"] = null;
  let lastRun: Freshness["lastRun"] = null;
  if (now.ledger !== null) {
    const runs = sql(config.metaSchema);
    const [success] = await sql<{ run_id: string; finished_at: Date }[]>`
      select run_id, finished_at from ${runs}.runs
      where command = 'refresh' and status = 'succeeded'
      order by finished_at desc limit 1`;
    if (success) {
      lastSuccess = {
        runId: success.run_id,
        finishedAt: success.finished_at.toISOString(),
        ageSeconds: (checkedAt.getTime() - success.finished_at.getTime()) / 1000,
      };
    }
    const [last] = await sql<
      {
        run_id: string;
        status: string;
        started_at: Date;
        finished_at: Date | null;
        error: string | null;
      }[]
    >`
      select run_id, status, started_at, finished_at, error from ${runs}.runs
      where command = 'refresh'
      order by started_at desc, run_id desc limit 1`;
    if (last) {
      lastRun = {
        runId: last.run_id,
        status: last.status,
        startedAt: last.started_at.toISOString(),
        finishedAt: last.finished_at?.toISOString() ?? null,
        error: last.error === null ? null : redactText(last.error.split("\n")[0]!),
      };
    }
  }
  const runs = sql(config.metaSchema);
  const holders = await sql<{ pid: number; application: string | null; since: Date | null }[]>`
    select l.pid, a.application_name as application,
           coalesce(a.xact_start, a.backend_start) as since
    from pg_locks l
    left join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted
      and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = hashtext('lml')::oid and l.objid = hashtext('refresh')::oid
      and l.objsubid = 2
    order by l.pid`;
  const running = now.ledger === null || holders.length === 0 ? [] : await sql<
    { pid: number; run_id: string }[]
  >`
    select pid, run_id from ${runs}.runs
    where command in ('refresh', 'transform') and status = 'running' and pid = any(${
    holders.map((h) => h.pid)
  }::int[])`;
  const locks: LockHolder[] = holders.map((h) => ({
    pid: h.pid,
    runId: running.find((r) => r.pid === h.pid)?.run_id ?? null,
    application: h.application,
    since: h.since?.toISOString() ?? null,
  }));
  const failed = lastRun !== null &&
    (lastRun.status === "failed" || lastRun.status === "abandoned");
  const state: FreshnessState = failed
    ? "failed"
    : lastSuccess === null
    ? "never"
    : lastSuccess.ageSeconds > options.maxAgeSeconds
    ? "stale"
    : "ok";
  return {
    state,
    exitCode: state === "ok" ? 0 : 1,
    checkedAt: checkedAt.toISOString(),
    maxAgeSeconds: options.maxAgeSeconds,
    lastSuccess,
    lastRun,
    locks,
  };
}

/** One line: verdict, last success and age, last run, locks, then `| age_seconds=...` perfdata. */
export function formatFreshness(f: Freshness): string {
  const parts: string[] = [];
  const limit = formatDuration(f.maxAgeSeconds);
  if (f.lastSuccess) {
    parts.push(
      `last successful refresh ${f.lastSuccess.runId} ${
        formatDuration(f.lastSuccess.ageSeconds)
      } ago (max ${limit})`,
    );
  } else {
    parts.push("no successful refresh recorded");
  }
  if (f.lastRun && f.lastRun.runId !== f.lastSuccess?.runId) {
    parts.push(
      `last refresh ${f.lastRun.runId} ${f.lastRun.status}` +
        (f.lastRun.error ? `: ${f.lastRun.error}` : ""),
    );
  }
  parts.push(
    f.locks.length === 0
      ? "no refresh running"
      : `refresh lock held by ${
        f.locks.map((l) => `pid ${l.pid}${l.runId ? ` (${l.runId})` : ""}`).join(", ")
      }`,
  );
  const perf = f.lastSuccess
    ? ` | age_seconds=${Math.round(f.lastSuccess.ageSeconds)};${Math.round(f.maxAgeSeconds)}`
    : "";
  return `lml ${f.state.toUpperCase()}: ${parts.join("; ")}${perf}`;
}

/** The JSON form (`--format json`), snake_case keys. */
export function freshnessJson(f: Freshness): Record<string, unknown> {
  return {
    state: f.state,
    exit_code: f.exitCode,
    checked_at: f.checkedAt,
    max_age_seconds: f.maxAgeSeconds,
    last_success: f.lastSuccess && {
      run_id: f.lastSuccess.runId,
      finished_at: f.lastSuccess.finishedAt,
      age_seconds: Math.round(f.lastSuccess.ageSeconds),
    },
    last_run: f.lastRun && {
      run_id: f.lastRun.runId,
      status: f.lastRun.status,
      started_at: f.lastRun.startedAt,
      finished_at: f.lastRun.finishedAt,
      error: f.lastRun.error,
    },
    locks: f.locks.map((l) => ({
      pid: l.pid,
      run_id: l.runId,
      application: l.application,
      since: l.since,
    })),
  };
}
