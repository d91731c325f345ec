/**
 * Run reports for people (report.md), CI (junit.xml) and programs (report.json).
 * @module
 */
export { type ReportPaths, writeReports } from "./write.ts";
