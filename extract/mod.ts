/**
 * Extract/Load: MongoDB (server or dump) to raw JSONB tables, atomically per collection.
 * @module
 */
export { extractCollections, stageCollections } from "./extract.ts";
export { dropStagingTables, rawTableStatements, swapStagingTables } from "./load.ts";
export { requireSource } from "./open_source.ts";
export { JsonLineError } from "./json_lines.ts";
export { type RawRow, rawRowOfBson, rawRowOfJson } from "./raw_row.ts";
export type { Source } from "./source.ts";
export { applyRawChanges, type RawChanges } from "./apply_changes.ts";
export type {
  ChangeSource,
  ChangesRead,
  CollectionChanges,
  ResumePosition,
} from "./change_stream.ts";
export { hasChangeStream, openChangeSource } from "./open_change_source.ts";
