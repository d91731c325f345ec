/**
 * Picks the source named by `--source`: a live MongoDB or a dump directory.
 * @module
 */
import { DEFAULTS, UsageError } from "../lib/core/mod.ts";
import type { Source } from "./source.ts";

/** True when `source` is a MongoDB connection string. */
function isMongoUrl(source: string): boolean {
  return /^mongodb(\+srv)?:\/\//i.test(source);
}

/** Returns `source` when one is given, else throws the one "no source given" UsageError. */
export function requireSource(source: string | undefined): string {
  if (source === undefined || source.trim() === "") {
    throw new UsageError("no source given", {
      hint: "pass --source <mongodb-url | dump-dir> or set MONGO_URL (environment or .env)",
    });
  }
  return source;
}

/** Options of {@linkcode openSource}. */
export interface OpenSourceOptions {
  /** Database used when the URL (or dump directory) names none. Default: "mesa4core". */
  database?: string;
}

/**
 * Opens `source`: a `mongodb://` URL (through the official driver) or a dump directory
 * (`.bson`, `.bson.gz`, `.json`, `.jsonl`), given as a path or `file:` URL.
 */
export async function openSource(
  source: string,
  options: OpenSourceOptions = {},
): Promise<Source> {
  const database = options.database ?? DEFAULTS.sourceDatabase;
  requireSource(source);
  if (isMongoUrl(source)) {
    // Loaded on demand: the driver is large and dumps do not need it.
    const { openMongoSource } = await import("./mongo_source.ts");
    return await openMongoSource(source, { database });
  }
  const { openDumpSource } = await import("./dump_source.ts");
  return await openDumpSource(source, { database });
}
