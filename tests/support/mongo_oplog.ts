/**
 * TEST FIXTURE: the oplog and change streams of the in-process MongoDB test server
 * (./mongo_server.ts). Every write the server takes (insert, update, replace, delete, drop,
 * rename, dropDatabase) is appended here at the next cluster time; a `$changeStream` aggregate
 * reads it back as change events, as the MongoDB manual describes them:
 *
 * - Change events (fields, one shape per operation type):
 *   https://www.mongodb.com/docs/manual/reference/change-events/
 * - Resuming (`resumeAfter`, `startAfter`, `startAtOperationTime`; a token no longer in the
 *   oplog fails with ChangeStreamHistoryLost, code 286; only `startAfter` resumes past an
 *   invalidate): https://www.mongodb.com/docs/manual/changeStreams/#resume-a-change-stream
 * - `fullDocument: "updateLookup"` (the document as it is when the event is read, or null when
 *   it was deleted since): https://www.mongodb.com/docs/manual/changeStreams/#lookup-full-document-for-update-operations
 * - Post-batch resume tokens (every batch, empty or not, carries `postBatchResumeToken`, the
 *   position after it, so a stream on a quiet collection still advances):
 *   https://www.mongodb.com/docs/manual/changeStreams/#resume-tokens-from-aggregate-and-getmore-commands
 * - A stream on a collection is invalidated by the collection's drop or rename; a stream on a
 *   database by the database's drop: https://www.mongodb.com/docs/manual/reference/change-events/invalidate/
 * - An event over 16 MiB fails the stream with BSONObjectTooLarge (code 10334) unless the
 *   pipeline makes it smaller: https://www.mongodb.com/docs/manual/reference/operator/aggregation/changeStreamSplitLargeEvent/
 *
 * Resume tokens are `{_data: "82" + 8 hex seconds + 8 hex increment + 2 hex kind}` (kind 01
 * for an invalidate event), comparable as strings like mongod's. Never import this from
 * product code.
 * @module
 */
import * as BSON from "bson";
import { Query } from "mingo";

/** Seconds part of every cluster time (the increment counts writes). */
export const CLUSTER_SECONDS = 1_700_000_000;

/** The cluster time of write number `clock`. */
export function clusterTime(clock: number): BSON.Timestamp {
  return new BSON.Timestamp({ t: CLUSTER_SECONDS, i: clock });
}

/** Operation types written to the oplog. */
export type OplogOperation =
  | "insert"
  | "update"
  | "replace"
  | "delete"
  | "drop"
  | "rename"
  | "dropDatabase";

/** One write, as the oplog keeps it. */
export interface OplogEntry {
  /** Cluster time increment of the write. */
  clock: number;
  operationType: OplogOperation;
  db: string;
  /** Collection (absent for dropDatabase). */
  coll?: string;
  /** `{_id}` of the document written, as raw BSON. */
  documentKey?: Uint8Array;
  /** The document after an insert or a replace, as raw BSON. */
  document?: Uint8Array;
  /** What an update changed. */
  updateDescription?: BSON.Document;
  /** The new namespace of a rename. */
  to?: { db: string; coll: string };
  /** Wall clock time of the write (set by {@linkcode Oplog.append}). */
  wallTime?: Date;
}

/** A command failure the server sends back as `{ok: 0, code, codeName}`. */
export class StreamFailure extends Error {
  override name = "StreamFailure";
  constructor(message: string, readonly code: number, readonly codeName: string) {
    super(message);
  }
}

/** The resume token of the position after write `clock` (`invalidate`: its invalidate event). */
export function resumeToken(clock: number, invalidate = false): BSON.Document {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  return { _data: `82${hex(CLUSTER_SECONDS)}${hex(clock)}${invalidate ? "01" : "00"}` };
}

/** The write and kind a resume token names; throws InvalidResumeToken (260) when malformed. */
export function parseResumeToken(token: unknown): { clock: number; invalidate: boolean } {
  const data = (token as { _data?: unknown } | null)?._data;
  if (typeof data !== "string" || !/^82[0-9a-f]{18}$/.test(data)) {
    throw new StreamFailure(
      `invalid resume token: ${JSON.stringify(token)}`,
      260,
      "InvalidResumeToken",
    );
  }
  return { clock: parseInt(data.slice(10, 18), 16), invalidate: data.endsWith("01") };
}

/** The oplog: writes in cluster time order, the oldest ones possibly expired. */
export class Oplog {
  #entries: OplogEntry[] = [];
  /** Positions at or after this clock can be resumed from (history before it is lost). */
  #start = 0;
  #waiters = new Set<() => void>();

  /** Appends a write and wakes the streams waiting for one. */
  append(entry: OplogEntry): void {
    entry.wallTime ??= new Date();
    this.#entries.push(entry);
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Forgets every write up to `clock`: positions before it fail with code 286. */
  expire(clock: number): void {
    this.#entries = this.#entries.filter((e) => e.clock > clock);
    this.#start = Math.max(this.#start, clock);
  }

  /** Throws ChangeStreamHistoryLost (286) when the position after `clock` is no longer held. */
  checkHeld(clock: number): void {
    if (clock < this.#start) {
      throw new StreamFailure(
        "Resume of change stream was not possible, as the resume point may no longer be in " +
          "the oplog.",
        286,
        "ChangeStreamHistoryLost",
      );
    }
  }

  /** The writes after `clock`, in order. */
  after(clock: number): OplogEntry[] {
    return this.#entries.filter((e) => e.clock > clock);
  }

  /** Resolves at the next write or after `ms`, whichever comes first. */
  async wait(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake: () => void = () => {};
    await new Promise<void>((resolve) => {
      wake = resolve;
      this.#waiters.add(wake);
      timer = setTimeout(resolve, ms);
    });
    this.#waiters.delete(wake);
    clearTimeout(timer);
  }

  /** Wakes every waiting stream (server shutdown). */
  wakeAll(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }
}

/** An open change stream: where it is and what it sends. */
export interface ChangeStreamState {
  db: string;
  /** Watched collection; undefined for a whole-database stream. */
  coll: string | undefined;
  /** Events after this clock are still to send. */
  after: number;
  /** True after the invalidate event was sent (the cursor is closed then). */
  invalidated: boolean;
  fullDocument: "default" | "updateLookup" | "whenAvailable" | "required";
  /** Stages after $changeStream: $match, $project (exclusion) and $unset are supported. */
  pipeline: BSON.Document[];
}

/**
 * Opens a stream from the `$changeStream` stage of an `aggregate` on `db` (`coll` undefined
 * for `aggregate: 1`), at the position the stage names or at the present (`now`).
 */
export function openChangeStream(
  oplog: Oplog,
  options: { db: string; coll: string | undefined; pipeline: BSON.Document[]; now: number },
): ChangeStreamState {
  const [first, ...rest] = options.pipeline;
  const spec = (first?.$changeStream ?? {}) as BSON.Document;
  const given = ["resumeAfter", "startAfter", "startAtOperationTime"].filter((k) =>
    spec[k] !== undefined
  );
  if (given.length > 1) {
    throw new StreamFailure(
      `only one of ${given.join(", ")} may be given`,
      40674,
      "ChangeStreamFatalError",
    );
  }
  let after = options.now;
  if (spec.resumeAfter !== undefined || spec.startAfter !== undefined) {
    const { clock, invalidate } = parseResumeToken(spec.resumeAfter ?? spec.startAfter);
    if (invalidate && spec.resumeAfter !== undefined) {
      throw new StreamFailure(
        "cannot resume a stream after an invalidate event; use startAfter",
        260,
        "InvalidResumeToken",
      );
    }
    oplog.checkHeld(clock);
    after = clock;
  } else if (spec.startAtOperationTime !== undefined) {
    const time = spec.startAtOperationTime as BSON.Timestamp;
    after = Math.max(0, Number(time.i) - 1); // at the time: that write included
    oplog.checkHeld(after);
  }
  for (const stage of rest) {
    const name = Object.keys(stage)[0];
    if (name !== "$match" && name !== "$project" && name !== "$unset") {
      throw new StreamFailure(
        `stage ${name} is not supported by the test server`,
        40324,
        "Location40324",
      );
    }
  }
  return {
    db: options.db,
    coll: options.coll,
    after,
    invalidated: false,
    fullDocument: spec.fullDocument ?? "default",
    pipeline: rest,
  };
}

/** Bytes a batch of events may carry, and the largest event. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * The next batch of events of `stream` (advancing it), at most `batchSize`, and the
 * post-batch resume token. `lookup` returns a document's current raw BSON by collection and
 * raw `{_id}` (for `updateLookup`), or undefined when it is gone.
 */
export function nextEvents(
  oplog: Oplog,
  stream: ChangeStreamState,
  options: {
    batchSize: number;
    lookup: (db: string, coll: string, documentKey: Uint8Array) => Uint8Array | undefined;
    now: number;
  },
): { events: Uint8Array[]; postBatchResumeToken: BSON.Document } {
  oplog.checkHeld(stream.after);
  const events: Uint8Array[] = [];
  let bytes = 0;
  let token = resumeToken(stream.after);
  for (const entry of oplog.after(stream.after)) {
    if (events.length >= options.batchSize) break;
    if (!watches(stream, entry)) {
      stream.after = entry.clock;
      token = resumeToken(entry.clock);
      continue;
    }
    const event = changeEvent(entry, stream, options.lookup);
    if (event) {
      if (event.byteLength > MAX_EVENT_BYTES) {
        throw new StreamFailure(
          `BSONObj size: ${event.byteLength} is invalid. Size must be between 0 and 16793600` +
            `(16MB) First element: _id: ${JSON.stringify(resumeToken(entry.clock))}`,
          10334,
          "BSONObjectTooLarge",
        );
      }
      if (events.length > 0 && bytes + event.byteLength > MAX_EVENT_BYTES) break;
      bytes += event.byteLength;
      events.push(event);
    }
    stream.after = entry.clock;
    token = resumeToken(entry.clock);
    if (invalidates(stream, entry)) {
      stream.invalidated = true;
      const invalidate = BSON.serialize({
        _id: resumeToken(entry.clock, true),
        operationType: "invalidate",
        clusterTime: clusterTime(entry.clock),
        wallTime: entry.wallTime ?? new Date(),
      });
      events.push(invalidate);
      token = resumeToken(entry.clock, true);
      break;
    }
  }
  // A quiet stream's position is the present: every write so far is behind it.
  if (!stream.invalidated && oplog.after(stream.after).length === 0) {
    stream.after = Math.max(stream.after, options.now);
    token = resumeToken(stream.after);
  }
  return { events, postBatchResumeToken: token };
}

function watches(stream: ChangeStreamState, entry: OplogEntry): boolean {
  if (entry.db !== stream.db) return false;
  return stream.coll === undefined || entry.coll === stream.coll ||
    entry.operationType === "dropDatabase";
}

function invalidates(stream: ChangeStreamState, entry: OplogEntry): boolean {
  if (stream.coll === undefined) return entry.operationType === "dropDatabase";
  return entry.operationType === "drop" || entry.operationType === "rename" ||
    entry.operationType === "dropDatabase";
}

/** The change event of `entry` as raw BSON (documents kept byte for byte), or undefined when filtered out. */
function changeEvent(
  entry: OplogEntry,
  stream: ChangeStreamState,
  lookup: (db: string, coll: string, documentKey: Uint8Array) => Uint8Array | undefined,
): Uint8Array | undefined {
  // A collection stream sees a database drop as the drop of its collection.
  const operationType = stream.coll !== undefined && entry.operationType === "dropDatabase"
    ? "drop"
    : entry.operationType;
  const fields: BSON.Document = {
    _id: resumeToken(entry.clock),
    operationType,
    clusterTime: clusterTime(entry.clock),
    wallTime: entry.wallTime ?? new Date(),
    ns: operationType === "dropDatabase"
      ? { db: entry.db }
      : { db: entry.db, coll: entry.coll ?? stream.coll },
  };
  if (entry.to) fields.to = entry.to;
  if (entry.updateDescription) fields.updateDescription = entry.updateDescription;
  const raw: [string, Uint8Array | null][] = [];
  if (entry.documentKey) raw.push(["documentKey", entry.documentKey]);
  if (entry.document) raw.push(["fullDocument", entry.document]);
  else if (entry.operationType === "update" && stream.fullDocument !== "default") {
    raw.push(["fullDocument", lookup(entry.db, entry.coll!, entry.documentKey!) ?? null]);
  }
  let event = appendRaw(BSON.serialize(fields), raw);
  for (const stage of stream.pipeline) {
    const [name, spec] = Object.entries(stage)[0]!;
    if (name === "$match") {
      const decoded = BSON.deserialize(event, { validation: { utf8: false } });
      if (!new Query(spec as BSON.Document).test(decoded)) return undefined;
    } else {
      const drop = name === "$unset"
        ? new Set([spec].flat() as string[])
        : new Set(Object.entries(spec as BSON.Document).filter(([, v]) => !v).map(([k]) => k));
      if (drop.has("_id")) {
        throw new StreamFailure(
          "Encountered an event whose _id field, which contains the resume token, was " +
            "modified by the pipeline.",
          280,
          "ChangeStreamFatalError",
        );
      }
      event = withoutFields(event, drop);
    }
  }
  return event;
}

/** `doc` with elements appended: raw documents (or null) by name. */
function appendRaw(doc: Uint8Array, elements: [string, Uint8Array | null][]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [doc.subarray(4, doc.byteLength - 1)];
  for (const [name, value] of elements) {
    parts.push(
      new Uint8Array([value === null ? 0x0a : 0x03]),
      encoder.encode(name),
      new Uint8Array([0]),
    );
    if (value) parts.push(value);
  }
  return document(parts);
}

/** `doc` without its top-level elements named in `names`. */
function withoutFields(doc: Uint8Array, names: Set<string>): Uint8Array {
  const parts: Uint8Array[] = [];
  const view = new DataView(doc.buffer, doc.byteOffset, doc.byteLength);
  let at = 4;
  while (doc[at] !== 0) {
    const start = at;
    const type = doc[at]!;
    const nameEnd = doc.indexOf(0, at + 1);
    const name = new TextDecoder().decode(doc.subarray(at + 1, nameEnd));
    at = nameEnd + 1 + valueLength(view, type, nameEnd + 1);
    if (!names.has(name)) parts.push(doc.subarray(start, at));
  }
  return document(parts);
}

/** Value lengths of the types change events carry. */
function valueLength(view: DataView, type: number, at: number): number {
  switch (type) {
    case 0x01:
    case 0x09:
    case 0x11:
    case 0x12:
      return 8;
    case 0x02:
      return 4 + view.getInt32(at, true);
    case 0x03:
    case 0x04:
      return view.getInt32(at, true);
    case 0x08:
      return 1;
    case 0x0a:
      return 0;
    default:
      throw new RangeError(`unexpected BSON type ${type} at the top of a change event`);
  }
}

function document(parts: Uint8Array[]): Uint8Array {
  const length = 4 + parts.reduce((n, p) => n + p.byteLength, 0) + 1;
  const out = new Uint8Array(length);
  new DataView(out.buffer).setInt32(0, length, true);
  let at = 4;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
