/**
 * What the loader reads from: a live MongoDB or a dump directory, both giving batches of BSON
 * documents; open_source.ts picks one from the `--source` string.
 * @module
 */

import { LmlError, type RetryLog, type RetryPolicy, type SourceReads } from "../lib/core/mod.ts";

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
export class SourceError extends LmlError {
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
