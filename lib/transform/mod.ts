/**
 * The transform engine: SQL files in dependency order in one transaction, the checks, the plan.
 * @module
 */
export { buildPlan, formatPlan, graphMermaid } from "./plan.ts";
export { type PausePoint, runChecks, runTransforms, type TransformResult } from "./run.ts";
export { type Check, derivedChecks, fileChecks, runCheckList } from "./checks.ts";
export {
  type CheckFile,
  discoverFiles,
  type SqlFile,
  SqlFileError,
  type SqlLayout,
} from "./sql_files.ts";
export { StatementRunner } from "./statements.ts";
