/**
 * The change stream of a live MongoDB database, for incremental sync: its present position
 * (taken before a full refresh reads anything), and every change since a stored position up
 * to the present, as the `_id`s written per collection. The documents after those changes are
 * then read by `_id` with `raw: true`, byte for byte as the full extraction reads them
 * (the same as `fullDocument: "updateLookup"` gives, the document as it is now, but keeping
 * every BSON type, and never hitting the 16 MiB limit of one change event: the stream's
 * events leave the document out).
 *
 * A position that cannot be resumed is reported as lost, never silently replaced by "now":
 * the oplog no longer holds it (ChangeStreamHistoryLost, 286), the token is unknown (260,
 * 280), or an event breaks the stream's meaning (a watched collection dropped or renamed,
 * the database dropped, an invalidate event).
 * See https://www.mongodb.com/docs/manual/changeStreams/ and
 * https://www.mongodb.com/docs/manual/reference/change-events/.
 * @module
 */
import * as BSON from "bson";
import { type Db, MongoServerError } from "mongodb";
import { redactText, within } from "../lib/core/mod.ts";
import { findId, idText } from "./ejson.ts";
import { connectMongo } from "./mongo_source.ts";

/** A resume token as canonical Extended JSON (what the ledger stores). */
export type ResumePosition = Record<string, unknown>;

/** Operation types applied to raw tables. */
export type DocumentOperation = "insert" | "update" | "replace" | "delete";

/** The `_id`s of one collection written since the position, with event counts. */
export interface CollectionChanges {
  /** Collection. */
  collection: string;
  /** Raw BSON `{_id}` of each document written, by `_id` text (the raw table key). */
  keys: Map<string, Uint8Array>;
  /** Events per operation type. */
  events: Partial<Record<DocumentOperation, number>>;
}

/** What {@linkcode ChangeSource.changesSince} read. */
export type ChangesRead =
  | {
    lost?: undefined;
    /** Per configured collection with events. */
    changes: CollectionChanges[];
    /** The position after every event read (post-batch resume token when quiet). */
    position: ResumePosition;
    /** Events read in all, those on collections outside the config included. */
    events: number;
    /** Events skipped: collections outside the config. */
    skipped: number;
  }
  | {
    /** Why the position cannot be resumed (the caller refreshes in full or fails). */
    lost: string;
  };

/** Options of {@linkcode openChangeSource}. */
export interface ChangeSourceOptions {
  /** Database used when the URL names none. Default: "mesa4core". */
  database?: string;
  /** Server selection / connect timeout in ms. Default: 15000. */
  timeoutMs?: number;
  /** How long one getMore waits for events before the stream counts as caught up, in ms. Default: 500. */
  maxAwaitMs?: number;
}

/** The change stream of one source database. */
export interface ChangeSource extends AsyncDisposable {
  /** The source database. */
  readonly database: string;
  /**
   * The present position of the database's change stream, or why there is none (a standalone
   * server has no oplog).
   */
  position(): Promise<{ position: ResumePosition } | { unavailable: string }>;
  /**
   * Every change after `position` on `collections` up to the present: the events read until
   * an empty batch, or until one written after this call started (left for the next run).
   * `maxEvents` bounds one call (its position is then the last event read).
   */
  changesSince(
    position: ResumePosition,
    options: { collections: readonly string[]; maxEvents?: number },
  ): Promise<ChangesRead>;
  /**
   * Reads the documents with raw `{_id}` `keys` of `collection` as raw BSON (those deleted
   * since are simply absent), in batches.
   */
  documents(collection: string, keys: Iterable<Uint8Array>): AsyncIterable<Uint8Array[]>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Error codes that mean the stored position cannot be resumed. */
const LOST_CODES = new Map([
  [286, "ChangeStreamHistoryLost: the oplog no longer holds the stored position"],
  [280, "ChangeStreamFatalError: the stored position is not in this deployment's oplog"],
  [260, "InvalidResumeToken: the stored position is not a valid resume token here"],
]);

/** Error codes of a deployment without change streams (standalone server). */
const UNAVAILABLE_CODES = new Set([40573, 40602]);

/** Stages after $changeStream: leave the documents out (they are read by `_id`). */
const PIPELINE = [{ $project: { fullDocument: 0, updateDescription: 0 } }];

/** How long closing the client may take, in ms. */
const CLOSE_TIMEOUT_MS = 10_000;

/** Keys read per find. */
const KEYS_PER_FIND = 1000;

/** Connects to the MongoDB at `url` for its change stream. */
export async function openChangeSource(
  url: string,
  options: ChangeSourceOptions = {},
): Promise<ChangeSource> {
  const maxAwaitTimeMS = options.maxAwaitMs ?? 500;
  const { client, database } = await connectMongo(url, {
    ...options,
    appName: "lml sync",
  });
  const db = client.db(database);
  // Closing is bounded: by then the run's data is committed or rolled back, and a connection
  // the driver cannot end cleanly must not keep the run (and its lock) waiting.
  const close = () => within(client.close(), CLOSE_TIMEOUT_MS).catch(() => {});
  return {
    database,
    position: () => presentPosition(db, maxAwaitTimeMS),
    changesSince: (position, readOptions) =>
      readChanges(db, position, { ...readOptions, maxAwaitTimeMS }),
    documents: (collection, keys) => readDocuments(db, collection, keys),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Opens a stream at the present and returns its post-batch resume token. */
async function presentPosition(
  db: Db,
  maxAwaitTimeMS: number,
): Promise<{ position: ResumePosition } | { unavailable: string }> {
  const stream = db.watch(PIPELINE, { maxAwaitTimeMS, batchSize: 1 });
  try {
    await stream.tryNext(); // runs the aggregate; an event already there is before the reads
    return { position: toPosition(stream.resumeToken) };
  } catch (error) {
    const code = Number((error as { code?: unknown }).code);
    if (error instanceof MongoServerError && UNAVAILABLE_CODES.has(code)) {
      return { unavailable: `the source has no change stream (${error.message})` };
    }
    throw error;
  } finally {
    await stream.close().catch(() => {});
  }
}

/** Reads the changes after `position` (see ChangeSource.changesSince). */
async function readChanges(
  db: Db,
  position: ResumePosition,
  options: { collections: readonly string[]; maxEvents?: number; maxAwaitTimeMS: number },
): Promise<ChangesRead> {
  const watched = new Set(options.collections);
  const started = Date.now();
  const maxEvents = options.maxEvents ?? Infinity;
  const byCollection = new Map<string, CollectionChanges>();
  let last = position;
  let events = 0;
  let skipped = 0;
  const stream = db.watch(PIPELINE, {
    resumeAfter: BSON.EJSON.deserialize(position),
    maxAwaitTimeMS: options.maxAwaitTimeMS,
    batchSize: 1000,
    // _id values keep their BSON type (an Int32 `_id` stays Int32), as the raw key needs.
    promoteValues: false,
    promoteLongs: false,
  });
  try {
    for (;;) {
      if (events >= maxEvents) break;
      const event = await stream.tryNext() as BSON.Document | null;
      if (!event) {
        // An empty batch: caught up; its post-batch token moves a quiet stream forward.
        last = toPosition(stream.resumeToken);
        break;
      }
      const wallTime = event.wallTime instanceof Date ? event.wallTime.getTime() : undefined;
      if (wallTime !== undefined && wallTime > started) break; // written after we started
      events++;
      const type = String(event.operationType);
      const coll = event.ns?.coll as string | undefined;
      if (type === "invalidate") return { lost: "the change stream was invalidated" };
      if (type === "dropDatabase") return { lost: "the source database was dropped" };
      if (type === "drop" || type === "rename") {
        const to = event.to?.coll as string | undefined;
        if (watched.has(coll!) || (to !== undefined && watched.has(to))) {
          return {
            lost: type === "drop"
              ? `collection ${coll} was dropped in the source`
              : `collection ${coll} was renamed to ${to} in the source`,
          };
        }
      } else if (
        type === "insert" || type === "update" || type === "replace" || type === "delete"
      ) {
        if (coll === undefined || !watched.has(coll)) skipped++;
        else {
          let changes = byCollection.get(coll);
          if (!changes) {
            byCollection.set(coll, changes = { collection: coll, keys: new Map(), events: {} });
          }
          const key = BSON.serialize({ _id: event.documentKey._id });
          changes.keys.set(idText(key, findId(key)!), key);
          changes.events[type] = (changes.events[type] ?? 0) + 1;
        }
      } else skipped++; // create, createIndexes, ... change no document
      last = toPosition(event._id);
    }
    return { changes: [...byCollection.values()], position: last, events, skipped };
  } catch (error) {
    const code = Number((error as { code?: unknown }).code);
    const lost = error instanceof MongoServerError ? LOST_CODES.get(code) : undefined;
    if (lost) {
      return { lost: `${lost} (${redactText(error instanceof Error ? error.message : "")})` };
    }
    throw error;
  } finally {
    await stream.close().catch(() => {});
  }
}

/** Reads documents by `_id`, raw, KEYS_PER_FIND at a time. */
async function* readDocuments(
  db: Db,
  collection: string,
  keys: Iterable<Uint8Array>,
): AsyncIterable<Uint8Array[]> {
  const all = [...keys].map((key) => BSON.deserialize(key, { promoteValues: false })._id);
  for (let at = 0; at < all.length; at += KEYS_PER_FIND) {
    const ids = all.slice(at, at + KEYS_PER_FIND);
    const docs = await db.collection(collection)
      .find({ _id: { $in: ids } }, { raw: true, batchSize: KEYS_PER_FIND })
      .toArray() as unknown as Uint8Array[];
    yield docs.map((doc) => new Uint8Array(doc.buffer, doc.byteOffset, doc.byteLength));
  }
}

/** A driver resume token as canonical Extended JSON. */
function toPosition(token: unknown): ResumePosition {
  return BSON.EJSON.serialize(token as BSON.Document, { relaxed: false }) as ResumePosition;
}
