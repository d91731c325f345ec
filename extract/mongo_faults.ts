/**
 * Which MongoDB failures are transient, so a read resumes after them: a dropped connection, a
 * server that cannot be selected for a while, a replica-set election (NotWritablePrimary,
 * PrimarySteppedDown, InterruptedDueToReplStateChange, ...), a cursor the server forgot
 * (CursorNotFound, after a restart or a failover). The codes are the driver's resumable ones.
 * @module
 */
import { MongoError, MongoNetworkError, MongoServerSelectionError } from "mongodb";
import { redactText } from "../lib/core/mod.ts";

/** Server error codes after which a read may resume on another connection or member. */
const RESUMABLE_CODES: ReadonlyMap<number, string> = new Map([
  [6, "HostUnreachable"],
  [7, "HostNotFound"],
  [43, "CursorNotFound"],
  [63, "StaleShardVersion"],
  [89, "NetworkTimeout"],
  [91, "ShutdownInProgress"],
  [133, "FailedToSatisfyReadPreference"],
  [134, "ReadConcernMajorityNotAvailableYet"],
  [150, "StaleEpoch"],
  [189, "PrimarySteppedDown"],
  [262, "ExceededTimeLimit"],
  [9001, "SocketException"],
  [10058, "LegacyNotPrimary"],
  [10107, "NotWritablePrimary"],
  [11600, "InterruptedAtShutdown"],
  [11602, "InterruptedDueToReplStateChange"],
  [13388, "StaleConfig"],
  [13435, "NotPrimaryNoSecondaryOk"],
  [13436, "NotPrimaryOrSecondary"],
]);

/** Codes of a snapshot the server no longer holds (older than its history window). */
const SNAPSHOT_LOST = new Set([239, /* SnapshotTooOld */ 246 /* SnapshotUnavailable */]);

/** Error classes of the driver's that mean "the server could not be reached for a while". */
const TRANSIENT_NAMES = new Set(["MongoPoolClearedError", "MongoServerClosedError"]);

function codeOf(error: unknown): number | undefined {
  const code = Number((error as { code?: unknown } | null)?.code);
  return Number.isInteger(code) ? code : undefined;
}

/** True when a read that failed with `error` may resume after a pause. */
export function isTransientMongoError(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  if (error instanceof MongoError && TRANSIENT_NAMES.has(error.name)) return true;
  const code = codeOf(error);
  return code !== undefined && RESUMABLE_CODES.has(code);
}

/** True when `error` says the snapshot of a snapshot read is gone (SnapshotTooOld). */
export function isSnapshotLost(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && SNAPSHOT_LOST.has(code);
}

/** One line naming the fault, e.g. `CursorNotFound (43): cursor id 7 not found`. */
export function describeMongoFault(error: unknown): string {
  const message = redactText(error instanceof Error ? error.message : String(error));
  const code = codeOf(error);
  const name = code === undefined ? undefined : RESUMABLE_CODES.get(code) ??
    (error as { codeName?: string }).codeName;
  if (code !== undefined) return `${name ?? "error"} (${code}): ${message}`;
  return `${error instanceof Error ? error.name : "error"}: ${message}`;
}
