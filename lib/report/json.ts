/**
 * report.json: the run for programs (format "lml-report/1", see write.ts for its shape).
 * @module
 */
import type { RunResult } from "../core/mod.ts";
import { retriesJson } from "./retries.ts";
import { driftJson } from "./drift.ts";
import { syncJson } from "./sync.ts";

/** The report.json object (format "lml-report/1"). */
export function renderJson(result: RunResult): Record<string, unknown> {
  return {
    format: "lml-report/1",
    run_id: result.runId,
    command: result.command,
    status: result.status,
    started_at: result.startedAt,
    finished_at: result.finishedAt,
    seconds: round(result.seconds),
    peak_rss_bytes: result.peakRssBytes,
    selected: result.selected,
    failed_checks: result.failedChecks,
    error: result.error ? errorJson(result.error) : null,
    files: result.files.map((f) => ({ ...f, seconds: round(f.seconds) })),
    checks: result.checks.map((c) => ({ ...c, seconds: round(c.seconds) })),
    tables: result.tables,
    extract: result.extract.map((e) => ({ ...e, seconds: round(e.seconds) })),
    ...retriesJson(result),
    ...driftJson(result),
    ...syncJson(result),
    graph: result.graph,
  };
}

function errorJson(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  for (const key of ["file", "line", "column", "code", "hint"]) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (typeof value === "string" || typeof value === "number") out[key] = value;
  }
  return out;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
