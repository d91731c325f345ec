/**
 * Operations: what tells operators about runs — alerts (`notify:`), the OpenTelemetry trace,
 * retention of old runs, and the step after every run that ties them together with
 * `reports/metrics.prom`.
 * @module
 */
export {
  afterRun,
  type AfterRunOptions,
  type AfterRunReport,
  type MonitoredResult,
  type MonitorOptions,
  monitorRun,
} from "./monitor.ts";
export {
  type AlertResult,
  type AlertSummary,
  alertSummary,
  recordAlerts,
  runOutcomes,
  sendAlerts,
  slackPayload,
  wantsAlert,
} from "./notify.ts";
export { type PruneResult, pruneRetention, type RetentionOptions } from "./retention.ts";
export { type ExtractTiming, type TraceOptions, traceRun } from "./trace.ts";
