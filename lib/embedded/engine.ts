/**
 * Opens PGlite (PostgreSQL compiled to WebAssembly) on a data directory, as a protocol engine
 * for the embedded server.
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import type { ProtocolEngine } from "./server.ts";

/** A PGlite instance seen as a protocol engine; close() shuts it down (flushing to disk). */
export interface PgliteEngine extends ProtocolEngine {
  /** Shuts PGlite down. */
  close(): Promise<void>;
}

/** In-memory data directory (nothing persists). */
export const MEMORY = "memory://";

/**
 * Opens PGlite on `dataDir` (an existing PGlite directory, an empty or missing one to
 * initialize, or "memory://").
 */
export async function openEngine(dataDir: string): Promise<PgliteEngine> {
  if (dataDir !== MEMORY) await Deno.mkdir(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir });
  return {
    exec: (input) => db.execProtocolRaw(input),
    close: () => db.close(),
  };
}
