/**
 * The transform engine: SQL files in dependency order in one transaction, the checks, the plan.
 * @module
 */
export { buildPlan, formatPlan, graphMermaid } from "./plan.ts";
export { runChecks, runTransforms, type TransformResult } from "./run.ts";
