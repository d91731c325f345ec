/**
 * The core every other folder stands on: the pipeline config, PostgreSQL connections, errors,
 * logging, the run ledger and the run result types. Imports nothing of the toolkit above it.
 * @module
 */
export {
  type CollectionConfig,
  DEFAULT_CONFIG_PATH,
  DEFAULT_REPORTS,
  displayPath,
  loadConfig,
  parseConfig,
  type PipelineConfig,
  type ReportSettings,
  selectCollections,
  STAGING_SUFFIX,
} from "./config.ts";
export { listTables, type Queryable, type TableName } from "./catalog.ts";
export {
  checkVolumes,
  compareVolumes,
  rawCounts,
  type Shrinkage,
  VolumeGuardError,
} from "./volume_guard.ts";
export {
  type CheckControl,
  DERIVED_CHECK_SUFFIXES,
  meetsThreshold,
  parseThreshold,
  type Threshold,
  validateCheckNames,
} from "./config_checks.ts";
export {
  DEFAULT_RETENTION_DAYS,
  type NotifyConfig,
  type NotifyOutcome,
  type NotifyTarget,
} from "./config_monitoring.ts";
export { connect, isIdentifier, quoteIdent, redactText, redactUrl, type Sql } from "./db.ts";
export { DEFAULTS } from "./defaults.ts";
export { escapeControl } from "./escape.ts";
export { DEFAULT_MASKED_COLUMNS, isMasked, MASK, maskSamples } from "./mask.ts";
export { setting } from "./env.ts";
export {
  ConfigError,
  didYouMean,
  type ErrorDetails,
  LmlError,
  LmlSyntaxError,
  RunError,
  UsageError,
} from "./errors.ts";
export { hex, sha256Hex } from "./hash.ts";
export { truncate } from "./text.ts";
export { checkRunId, ensureMeta, newRunId, recordRun, startRun } from "./ledger.ts";
export { createLogger, heartbeat, type Logger, silentLogger, withLogFile } from "./log.ts";
export { peakRssBytes } from "./metrics.ts";
export {
  type CheckResult,
  type ExtractResult,
  type FileResult,
  newRunResult,
  type RunResult,
  type Severity,
  type SyncSummary,
  type TableCount,
} from "./result.ts";
export {
  describePgFault,
  isRaceLost,
  isSessionLost,
  isTransientPgError,
  settleLostSessions,
} from "./pg_faults.ts";
export {
  Backoff,
  DEFAULT_RETRY_POLICY,
  pause,
  recordRetries,
  type RetryEvent,
  RetryLog,
  type RetryPolicy,
  retryPolicy,
  within,
} from "./retry.ts";
export { describeSourceReads, type SourceReads } from "./source_reads.ts";
export {
  acquireRunLock,
  describeHolder,
  RunBusyError,
  type RunLock,
  RunLockLostError,
  tryRunLockInTransaction,
  type WritingCommand,
} from "./run_lock.ts";
export {
  captureDependents,
  captureSchema,
  type Dependents,
  dropRetired,
  guardSchemas,
  markSchemas,
  replaceSchema,
  reservedSchema,
  restoreDependents,
  restoreRelations,
  RETIRED_PREFIX,
  retiredName,
  type SchemaState,
  STAGING_SCHEMA,
  type StatementRun,
} from "./publish.ts";
export {
  forgetPositions,
  loadPosition,
  recordSyncEvents,
  savePosition,
  type SyncEventCount,
  type SyncPosition,
} from "./sync_ledger.ts";
