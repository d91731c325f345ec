/**
 * SQL unit tests: YAML files beside the SQL (`sql/<schema>/tests/*.yaml`) giving raw documents
 * and the rows (and check outcomes) the transforms must produce from them, each run in a
 * transaction that always rolls back; and writing a new test from a real raw document.
 * @module
 */
export { type ActualRow, type RowDiff } from "./compare.ts";
export { formatResult, formatTotals, renderTestJunit } from "./format.ts";
export {
  type CheckOutcome,
  findTests,
  runSqlTests,
  type TableOutcome,
  type TestResult,
  testsDir,
} from "./run.ts";
export { parseTestFile, type SqlTest, TestFileError } from "./spec.ts";
export { type CreatedTest, createTest, type CreateTestOptions } from "./create.ts";
