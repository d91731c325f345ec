/**
 * The shapes of a collection profile: per-path type counts, object statistics and hints.
 * @module
 */
/** How the documents to profile are chosen when the table holds more than `sampleSize`. */
export type SamplingMethod = "system" | "bernoulli" | "limit";

/** Options of {@linkcode profileCollection}. */
export interface ProfileOptions {
  /** Schema of the raw tables. Default: "lml_raw". */
  rawSchema?: string;
  /** Most documents profiled; the whole table when it holds no more. Default: 10000. */
  sampleSize?: number;
  /**
   * Sampling of larger tables: "system" (`tablesample system`, block-level, cheapest),
   * "bernoulli" (`tablesample bernoulli`, row-level, reads the whole table) or "limit"
   * (the first `sampleSize` rows in physical order). Default: "system".
   */
  sampling?: SamplingMethod;
  /** Seed of `tablesample ... repeatable`, so a profile can be reproduced. Default: 1. */
  seed?: number;
  /** Example values kept per path (most frequent first). Default: 3. */
  examples?: number;
  /** Deepest nesting walked (1 = top-level fields only). Default: 12. */
  maxDepth?: number;
}

/** How the profiled documents were chosen. */
export interface SamplingInfo {
  /** "full" when every document was profiled, else the method used. */
  method: "full" | SamplingMethod;
  /** The requested `sampleSize`. */
  sampleSize: number;
  /** Percentage passed to `tablesample`, when used. */
  percent: number | null;
  /** Seed passed to `repeatable`, when used. */
  seed: number | null;
  /** One sentence for people, e.g. "10,000 of 1,200,000 documents (tablesample system 1.25%...)". */
  description: string;
}

/** Count and share of one type at a path. */
export interface TypeCount {
  /** objectId, date, long, decimal, double, int, binData, regex, timestamp, javascript, symbol,
   * minKey, maxKey, undefined, dbPointer, string, number, bool, null, object, array. */
  type: string;
  /** Occurrences of this type. */
  count: number;
  /** Share of the path's occurrences, in percent. */
  pct: number;
}

/** Key statistics of the objects found at a path (EJSON wrappers excluded). */
export interface ObjectStats {
  /** Occurrences that are objects. */
  objects: number;
  /** Distinct keys over all of them. */
  distinctKeys: number;
  /** Mean number of keys per object. */
  avgKeys: number;
  /** Distinct key sets. */
  keySets: number;
  /** Objects with an `_id` key. */
  withId: number;
  /** Objects with a `username` key. */
  withUsername: number;
  /** Objects with a `name` key. */
  withName: number;
  /** Distinct `_id` values. */
  distinctIds: number;
  /** Distinct (`_id`, `name`) pairs (more than `distinctIds` when copies disagree on the name). */
  distinctIdNames: number;
  /** Objects having at least one key starting with `$` (query operators, not EJSON). */
  withDollarKeys: number;
  /** The most frequent keys (at most 12), most frequent first. */
  topKeys: string[];
}

/** The profile of one field path. */
export interface FieldProfile {
  /** Dotted path; `[]` marks array elements, e.g. `createdBy._id`, `channels[].type`. */
  path: string;
  /** Nesting level: 1 for top-level fields. */
  depth: number;
  /** Values found at the path (array element paths count every element). */
  occurrences: number;
  /** Documents with the path at least once. */
  documents: number;
  /** Share of the profiled documents having the path, in percent. */
  presencePct: number;
  /** Share of the occurrences that are JSON null, in percent. */
  nullPct: number;
  /** Values that read as booleans: true/false, 0/1, "true"/"false", "yes"/"no", "si"/"no"... */
  booleanLike: number;
  /** Types seen, most frequent first. */
  types: TypeCount[];
  /** Distinct values (exact over the profiled documents). */
  distinct: number;
  /** Smallest number (number, int, long, decimal), as exact decimal text. */
  minNumber: string | null;
  /** Largest number, as exact decimal text. */
  maxNumber: string | null;
  /** Whether every number found (number, int, long, decimal) is whole; null when none. */
  integral: boolean | null;
  /** Earliest BSON date, ISO-8601 UTC. */
  minDate: string | null;
  /** Latest BSON date, ISO-8601 UTC. */
  maxDate: string | null;
  /** Length statistics of the arrays found at the path. */
  arrayLength: { min: number; avg: number; max: number } | null;
  /** Timestamp formats of the non-null scalar values (ejson_date, iso_z, iso_offset, naive,
   * date_only, epoch_ms, garbage), when at least one value looks like a timestamp. */
  timestampFormats: Record<string, number> | null;
  /** Key statistics when objects occur at the path. */
  objectStats: ObjectStats | null;
  /** A few frequent scalar values, most frequent first, as compact JSON text cut at 80
   * characters (`"email"`, `42`, `{"$oid": "62a0..."}`). */
  examples: string[];
  /** What the values look like. */
  hints: Hint[];
}

/** The profile of a collection. */
export interface CollectionProfile {
  /** MongoDB collection name (the raw table's name). */
  collection: string;
  /** Qualified raw table, e.g. lml_raw.lml_users_mesa4core. */
  rawTable: string;
  /** When the profile was computed (ISO-8601). */
  generatedAt: string;
  /** Documents in the raw table. */
  totalDocuments: number;
  /** Documents profiled. */
  sampledDocuments: number;
  /** How they were chosen. */
  sampling: SamplingInfo;
  /** Every path found, parents before children. */
  fields: FieldProfile[];
}

/** The kinds of hint a field can get. */
export type HintKind = "user_snapshot" | "embedded_catalog" | "timestamp" | "variable_structure";

/** One hint: what a field looks like, for people and for the scaffold. */
export interface Hint {
  /** Machine-readable kind. */
  kind: HintKind;
  /** One line for people, e.g. "looks like a timestamp in 4 formats (...)". */
  message: string;
}
