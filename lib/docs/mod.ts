/**
 * The catalog site (`deno task docs`): every schema, table and column with its MongoDB path,
 * lineage one hop at a time, foreign keys as ER diagrams, checks and run history, as plain files.
 * @module
 */
export { buildDocs, type DocsOptions, type DocsResult, serveDocs } from "./build.ts";
export { lineageGraph, mongoPathOf } from "./lineage.ts";
