/**
 * How a run read its source, for the reports: from which members (read preference) and whether
 * every collection was read at one point in time.
 * @module
 */

/** How the collections of a run were read. */
export interface SourceReads {
  /** "mongodb" or "dump". */
  kind: "mongodb" | "dump";
  /** The read preference the driver used (from the URL's `readPreference`), MongoDB only. */
  readPreference?: string;
  /**
   * The cluster time every collection was read at (snapshot read concern with `atClusterTime`),
   * as `<seconds>.<increment>`; undefined when they were not read at one point in time.
   */
  atClusterTime?: string;
  /** Why the collections were not read at one point in time (MongoDB only), when they were not. */
  notAtOnePoint?: string;
}

/** One sentence for people about `reads`. */
export function describeSourceReads(reads: SourceReads): string {
  if (reads.kind === "dump") {
    return "Read from dump files: as consistent as the dump itself (mongodump --oplog makes one point in time).";
  }
  const preference = reads.readPreference ? ` Read preference: ${reads.readPreference}.` : "";
  if (reads.atClusterTime !== undefined) {
    return `Every collection was read at one point in time: cluster time ${reads.atClusterTime} ` +
      `(snapshot read concern).${preference}`;
  }
  return `The collections were NOT read at one point in time: ${
    reads.notAtOnePoint ?? "unknown reason"
  }. Each collection is read as of its own extraction, so references between collections ` +
    `may dangle because of writes made meanwhile.${preference}`;
}
