/**
 * What a run produced, as the ledger records it and the reports render it: files run, checks,
 * table counts, extraction figures.
 * @module
 */

import type { RetryEvent } from "./retry.ts";
import type { SourceReads } from "./source_reads.ts";
import type { SyncEventCount } from "./sync_ledger.ts";

/** Severity of a check: `error` fails the run, `warn` only reports. */
export type Severity = "error" | "warn";

/** The outcome of one check. */
export interface CheckResult {
  /** Check name. */
  name: string;
  /** Schema, or null for cross-schema checks. */
  schema: string | null;
  /** error or warn. */
  severity: Severity;
  /** passed (no rows), failed (rows), errored (the query failed). */
  status: "passed" | "failed" | "errored";
  /** Number of offending rows (0 when errored). */
  offending: number;
  /** Up to 10 (SAMPLE_ROWS) offending rows, as JSON objects (long strings shortened). */
  samples: Record<string, unknown>[];
  /** One line for people. */
  description: string;
  /** Time taken. */
  seconds: number;
  /** The check file (`sql/...`) or "derived". */
  source: string;
  /** The error message when errored. */
  error?: string | undefined;
}

/** The outcome for one collection. */
export interface ExtractResult {
  /** Collection name. */
  collection: string;
  /** Documents loaded (0 when failed). */
  documents: number;
  /** BSON bytes loaded. */
  bytes: number;
  /** Documents whose original BSON was kept (see the raw table contract). */
  anomalies: number;
  /** Seconds taken. */
  seconds: number;
  /** "succeeded" or "failed". */
  status: "succeeded" | "failed";
  /** Why it failed (collection, document position, byte offset, reason). */
  error?: string;
}

/** One SQL file a run executed. */
export interface FileResult {
  /** Path relative to the SQL folder's parent, e.g. `sql/lml_users/010_main.sql`. */
  path: string;
  /** Shared helper, collection transform, or check file. */
  kind: "shared" | "transform" | "check";
  /** The collection schema, or null for shared and cross-schema files. */
  schema: string | null;
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** Time taken. */
  seconds: number;
  /** Rows written (inserted + updated + deleted) by the file. */
  rows: number;
}

/** Row count of one table of a rebuilt schema. */
export interface TableCount {
  /** Schema. */
  schema: string;
  /** Table. */
  table: string;
  /** Rows. */
  rows: number;
}

/** Everything a run produced; what the reports are made of. */
export interface RunResult {
  /** The run's id (also the folder name under `runs/`). */
  runId: string;
  /** The command that ran. */
  command: "transform" | "refresh" | "assert";
  /** `planned` only for dry runs, which write no report. */
  status: "succeeded" | "failed" | "planned";
  /** ISO start time. */
  startedAt: string;
  /** ISO end time. */
  finishedAt: string;
  /** Total time. */
  seconds: number;
  /** Schemas rebuilt or checked, in run order. */
  selected: string[];
  /** Files executed, in order (up to the failing one, excluded). */
  files: FileResult[];
  /** Check results (empty when the transforms failed before the checks). */
  checks: CheckResult[];
  /** Names of the error-severity checks that failed or errored. */
  failedChecks: string[];
  /** Row counts of the rebuilt (or checked) schemas' tables; after a failed run, as they were before the rollback. */
  tables: TableCount[];
  /** Extraction metrics, when the caller gave some. */
  extract: ExtractResult[];
  /** Peak resident memory of this process. */
  peakRssBytes: number;
  /** The dependency graph (Mermaid), selected schemas highlighted. */
  graph: string;
  /** Why the run failed: SqlFileError, LockTimeoutError, RunError (failed checks), ... */
  error: Error | undefined;
  /** Every transient fault the run retried. Default: none. */
  retries?: RetryEvent[];
  /** How the source was read (refresh runs). */
  sourceReads?: SourceReads;
  /** Why a refresh fell back to a full one (its change stream position was lost), when it did. */
  fallback?: string;
  /** Full or incremental, and the change events applied (refresh runs). */
  sync?: SyncSummary;
}

/** How a refresh used the source's change stream. */
export interface SyncSummary {
  /** "full": every document read; "incremental": the changes since the stored position. */
  mode: "full" | "incremental";
  /** Whether a position was stored with the data (false: no change stream; the next run is full). */
  positionStored: boolean;
  /** Events applied per collection and operation type (incremental runs). */
  events: SyncEventCount[];
  /** Events skipped: collections outside the config, or no document change. */
  skipped: number;
}

/**
 * A result with nothing run yet, started now, to be completed by the caller: status
 * "planned", no files, checks or tables.
 */
export function newRunResult(
  run: Pick<RunResult, "runId" | "command" | "selected" | "graph">,
  options: { extract?: ExtractResult[]; started?: Date } = {},
): RunResult {
  const started = (options.started ?? new Date()).toISOString();
  return {
    ...run,
    status: "planned",
    startedAt: started,
    finishedAt: started,
    seconds: 0,
    files: [],
    checks: [],
    failedChecks: [],
    tables: [],
    extract: options.extract ?? [],
    peakRssBytes: 0,
    error: undefined,
  };
}
