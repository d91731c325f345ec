/**
 * What the loader reads from: a live MongoDB or a dump directory, both giving batches of BSON
 * documents. `openSource` picks one from the `--source` string.
 * @module
 */
import { UsageError } from "../lib/core/errors.ts";
import type { RetryLog, RetryPolicy } from "../lib/core/retry.ts";
import type { SourceReads } from "../lib/core/source_reads.ts";

/** A batch of BSON documents read from a source, in source order. */
export interface DocumentBatch {
  /** One BSON document each (views into the source's buffers; consume before the next batch). */
  docs: Uint8Array[];
  /** Byte offset of each document in its dump file; undefined for a live server. */
  offsets: number[] | undefined;
  /** Source bytes consumed so far (file bytes for dumps), for progress. */
  consumed: number;
}

/** Size of a collection in the source, for progress; either may be unknown. */
export interface SourceEstimate {
  /** Approximate number of documents. */
  documents?: number;
  /** Bytes to read (dump file size). */
  bytes?: number;
}

/** A source of raw documents, one collection at a time. */
export interface Source extends AsyncDisposable {
  /** "mongodb" or "dump". */
  readonly kind: "mongodb" | "dump";
  /** Where the documents come from, with credentials redacted. */
  readonly description: string;
  /** Describes where one collection is read from (a file path or a namespace). */
  locate(collection: string): Promise<string>;
  /** Size estimate for progress. */
  estimate(collection: string): Promise<SourceEstimate>;
  /**
   * Streams the collection's documents; errors are {@linkcode SourceError}s. With `retry`, a
   * live server's transient faults are retried and the read resumed where it stopped.
   */
  read(
    collection: string,
    options?: { batchSize?: number; retry?: { policy: RetryPolicy; log: RetryLog } },
  ): AsyncIterable<DocumentBatch>;
  /** How the collections were read (read preference, point in time), for the reports. */
  readonly reads: SourceReads;
  /** Releases connections. */
  close(): Promise<void>;
}

/** A source that could not be read, at a document position when known. */
export class SourceError extends Error {
  /** 1-based position of the failing document in the collection, when known. */
  ordinal: number | undefined;
  /** Byte offset of the failing document in its dump file, when known. */
  offset: number | undefined;
  /** The file or namespace read. */
  location: string | undefined;
  constructor(
    message: string,
    options: { ordinal?: number; offset?: number; location?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "SourceError";
    this.ordinal = options.ordinal;
    this.offset = options.offset;
    this.location = options.location;
  }
}

/** True when `source` is a MongoDB connection string. */
export function isMongoUrl(source: string): boolean {
  return /^mongodb(\+srv)?:\/\//i.test(source);
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
  const database = options.database ?? "mesa4core";
  if (source.trim() === "") {
    throw new UsageError("no source given", { hint: "pass --source or set MONGO_URL" });
  }
  if (isMongoUrl(source)) {
    const { openMongoSource } = await import("./mongo_source.ts");
    return await openMongoSource(source, { database });
  }
  const { openDumpSource } = await import("./dump_source.ts");
  return await openDumpSource(source, { database });
}
