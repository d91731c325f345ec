/**
 * Run reports for people (report.md), CI (junit.xml) and programs (report.json).
 * @module
 */
export { writeMetrics } from "./metrics_prom.ts";
export { type ReportPaths, writeReports } from "./write.ts";
export { xmlEscape } from "./junit.ts";
