/**
 * TEST FIXTURE: an in-process MongoDB wire-protocol server so tests can talk to
 * the official driver without a mongod. It keeps documents in memory as their
 * original BSON bytes and sends those bytes back unchanged in query replies, so
 * Int64, Decimal128, invalid UTF-8 and embedded U+0000 round-trip exactly.
 *
 * It speaks OP_MSG (kind 0 and kind 1 sections) and the legacy OP_QUERY
 * handshake, and implements the small command set the driver needs for
 * handshakes, inserts, finds with cursors, counts, listings and drops. Filters,
 * sorts, projections and aggregation pipelines go through mingo, except that
 * `_id` conditions and a sort on `_id` follow MongoDB's BSON order (type
 * brackets first, then values), as a resumed read depends on it. It is not a
 * database: no indexes, no transactions, no authentication. Updates take a
 * replacement document or `$set`/`$unset`.
 *
 * It can pose as a one-member replica set (`replicaSet`), primary or secondary,
 * taking snapshot reads (`readConcern: {level: "snapshot", atClusterTime}`): the
 * cluster time counts writes, and a snapshot read sees the documents inserted
 * up to its time (updates and deletes are not versioned). As a replica set it
 * keeps an oplog of its writes and serves change streams from it (see
 * ./mongo_oplog.ts); {@link MongoTestServer.expireHistory} makes positions
 * expire. Faults can be injected: death of every connection (for good
 * or for a while), one error reply, a held reply.
 *
 * Never import this from product code.
 *
 * @example
 * ```ts
 * await using server = await startMongoTestServer();
 * server.insert("mesa4core", "lml_users_mesa4core", [{ _id: 1, name: "Ana" }]);
 * const client = new MongoClient(server.url);
 * ```
 * @module
 */
import * as BSON from "bson";
import { aggregate as mingoAggregate, find as mingoFind, Query } from "mingo";
import {
  type ChangeStreamState,
  clusterTime,
  nextEvents,
  openChangeStream,
  Oplog,
  type OplogEntry,
  StreamFailure,
} from "./mongo_oplog.ts";

/** Options for {@link startMongoTestServer}. */
export interface MongoTestServerOptions {
  /** Address to listen on. Default "127.0.0.1". */
  hostname?: string;
  /** TCP port; 0 picks a free ephemeral port. Default 0. */
  port?: number;
  /**
   * Pose as the only member of replica set `replicaSet` (hello says so), taking snapshot
   * reads. Default: a standalone server, which refuses them.
   */
  replicaSet?: string;
  /** With `replicaSet`: the member is a secondary (no primary in the set). Default: false. */
  secondary?: boolean;
}

/** One find or getMore the server answered (or failed), for assertions on what was read. */
export interface CursorRequest {
  /** "find" or "getMore". */
  command: "find" | "getMore";
  /** `<database>.<collection>`. */
  ns: string;
  /** Documents sent back (0 when it failed). */
  documents: number;
  /** The find's filter, sort, readConcern and $readPreference as sent (find only). */
  filter?: BSON.Document;
  sort?: BSON.Document;
  readConcern?: BSON.Document;
  readPreference?: BSON.Document;
}

/** An error injected with {@link MongoTestServer.errorAfterBatches}. */
export interface InjectedError {
  /** Server error code, e.g. 43 (CursorNotFound), 10107 (NotWritablePrimary). */
  code: number;
  /** Its name, e.g. "CursorNotFound". */
  codeName: string;
  /** Only count and fail the find/getMore of this collection. Default: any. */
  collection?: string;
}

/** A running in-process MongoDB test server. */
export interface MongoTestServer extends AsyncDisposable {
  /** Connection string, e.g. "mongodb://127.0.0.1:40123" (no database path). */
  readonly url: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /**
   * Stores documents directly (no wire round trip). A Uint8Array is kept as
   * its exact BSON bytes; an object is serialized with npm:bson. A document
   * without `_id` gets a new ObjectId prepended. Throws on a duplicate `_id`.
   */
  insert(database: string, collection: string, documents: (Uint8Array | BSON.Document)[]): void;
  /** The stored documents of a collection as raw BSON, in insertion order ([] if absent). */
  documents(database: string, collection: string): Uint8Array[];
  /**
   * Fault injection: after `batches` more find/getMore replies, the next
   * find/getMore destroys every client connection (the server "dies
   * mid-stream"), and from then on every request other than the hello/isMaster
   * handshake gets its connection closed without a reply, until
   * {@link MongoTestServer.revive} or close(). Answering handshakes keeps the
   * driver from waiting serverSelectionTimeoutMS (30 s) before it reports the
   * failure: a driver cursor fails with MongoNetworkError within milliseconds.
   * With `forMs`, the server comes back by itself that long after it died (a blip).
   */
  failAfterBatches(batches: number, options?: { forMs?: number }): void;
  /** Lifts a failure injected with failAfterBatches(); stored documents are kept. */
  revive(): void;
  /**
   * After `batches` more find/getMore replies (of `error.collection`, when given), the next
   * find/getMore (of it) is answered once with `error` (connections stay up). A
   * CursorNotFound also forgets the cursor, as a restarted server would; a not-primary
   * error also answers the pending monitor hellos at once, as a stepping-down member does.
   */
  errorAfterBatches(batches: number, error: InjectedError): void;
  /**
   * After `batches` more find/getMore replies (of `collection`, when given), holds the next
   * one (of it) until {@link MongoTestServer.resume}; resolves once a request is held.
   */
  pauseAfterBatches(batches: number, options?: { collection?: string }): Promise<void>;
  /** Answers the request held by pauseAfterBatches(). */
  resume(): void;
  /** Every find and getMore so far, in order. */
  readonly cursorRequests: readonly CursorRequest[];
  /** Documents sent by finds and getMores of `database.collection` so far. */
  sentDocuments(database: string, collection: string): number;
  /**
   * Forgets the oplog up to now, as a rolled-over oplog does: a change stream resumed from an
   * earlier position fails with ChangeStreamHistoryLost (286), and so does the next getMore of
   * an open stream that has not read past it.
   */
  expireHistory(): void;
  /** The cluster time of the last write. */
  readonly operationTime: BSON.Timestamp;
  /** Stops listening, closes every client connection and cancels timers. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Wire protocol constants and limits

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const OP_COMPRESSED = 2012;
const FLAG_CHECKSUM_PRESENT = 1 << 0;
const FLAG_MORE_TO_COME = 1 << 1;
const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
const MAX_MESSAGE_SIZE = 48_000_000;
const MAX_WRITE_BATCH_SIZE = 100_000;
/** Bytes of documents one cursor batch may carry (the reply must stay a valid BSON object). */
const BATCH_BYTE_BUDGET = MAX_BSON_OBJECT_SIZE - 64 * 1024;
const DEFAULT_FIRST_BATCH = 101;
/** Commands a server killed by failAfterBatches() still answers, so drivers fail fast instead of waiting for server selection. */
const HANDSHAKE_COMMANDS = new Set(["hello", "isMaster", "ismaster"]);
const UTF8 = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

/** Error codes of a member that is not (or no longer) primary. */
const NOT_PRIMARY_CODES = new Set([189, 10107, 11602, 13435, 13436]);
/** electionId of a replica-set primary. */
const ELECTION_ID = new BSON.ObjectId("7fffffff0000000000000001");

/** A fault waiting for its batch: an error reply, or a held reply. */
interface Injection {
  left: number;
  collection: string | undefined;
  error?: InjectedError;
  held?: () => void;
}

/** A command failure sent back as {ok: 0, errmsg, code, codeName}. */
class CommandFailure extends Error {
  override name = "CommandFailure";
  constructor(message: string, readonly code: number, readonly codeName: string) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// Raw BSON helpers

function readInt32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(offset, true);
}

function cstringEnd(bytes: Uint8Array, offset: number): number {
  const end = bytes.indexOf(0, offset);
  if (end < 0) throw new RangeError("unterminated cstring in BSON");
  return end;
}

/** One top-level element of a BSON document, as offsets into its bytes. */
interface RawElement {
  type: number;
  name: string;
  /** Offset of the type byte. */
  start: number;
  /** Offset of the value. */
  valueStart: number;
  /** Offset just past the value. */
  end: number;
}

function valueLength(bytes: Uint8Array, type: number, at: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return 4 + readInt32(bytes, at);
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope
      return readInt32(bytes, at);
    case 0x05: // binary
      return 5 + readInt32(bytes, at);
    case 0x06: // undefined
    case 0x0a: // null
    case 0xff: // min key
    case 0x7f: // max key
      return 0;
    case 0x07: // ObjectId
      return 12;
    case 0x08: // boolean
      return 1;
    case 0x0b: { // regex: two cstrings
      const first = cstringEnd(bytes, at);
      return cstringEnd(bytes, first + 1) + 1 - at;
    }
    case 0x0c: // DBPointer
      return 4 + readInt32(bytes, at) + 12;
    case 0x10: // int32
      return 4;
    case 0x13: // decimal128
      return 16;
    default:
      throw new RangeError(`unknown BSON element type 0x${type.toString(16)}`);
  }
}

/** Walks the top-level elements of a BSON document without decoding values. */
function* rawElements(doc: Uint8Array): Generator<RawElement> {
  const size = readInt32(doc, 0);
  let at = 4;
  while (at < size - 1) {
    const start = at;
    const type = doc[at]!;
    const nameEnd = cstringEnd(doc, at + 1);
    const name = UTF8_DECODER.decode(doc.subarray(at + 1, nameEnd));
    const valueStart = nameEnd + 1;
    const end = valueStart + valueLength(doc, type, valueStart);
    yield { type, name, start, valueStart, end };
    at = end;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function int32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value, true);
  return out;
}

/** A document made of already-encoded elements. */
function rawDocument(elements: Uint8Array[]): Uint8Array {
  const body = concat(elements);
  return concat([int32Bytes(body.byteLength + 5), body, new Uint8Array([0])]);
}

/** An element whose value is an embedded document or array given as raw bytes. */
function rawElement(type: 0x03 | 0x04, name: string, value: Uint8Array): Uint8Array {
  return concat([new Uint8Array([type]), UTF8.encode(name), new Uint8Array([0]), value]);
}

/** Encodes one ordinary value as an element, via npm:bson. */
function element(name: string, value: unknown): Uint8Array {
  const doc = BSON.serialize({ [name]: value });
  return doc.subarray(4, doc.byteLength - 1);
}

/** An array element of raw documents. */
function rawArrayElement(name: string, docs: Uint8Array[]): Uint8Array {
  return rawElement(
    0x04,
    name,
    rawDocument(docs.map((doc, i) => rawElement(0x03, String(i), doc))),
  );
}

// ---------------------------------------------------------------------------
// MongoDB's BSON order (for `_id` conditions and sorts)

/** A BSON value as its type byte and value bytes. */
interface RawValue {
  type: number;
  bytes: Uint8Array;
}

/** MongoDB's canonical type order (its "type brackets"), by type byte. */
function typeBracket(type: number): number {
  switch (type) {
    case 0xff:
      return -1; // MinKey
    case 0x06:
      return 0; // undefined
    case 0x0a:
      return 5; // null
    case 0x01:
    case 0x10:
    case 0x12:
    case 0x13:
      return 10; // numbers
    case 0x02:
    case 0x0e:
      return 15; // string, symbol
    case 0x03:
      return 20; // object
    case 0x04:
      return 25; // array
    case 0x05:
      return 30; // binary
    case 0x07:
      return 35; // ObjectId
    case 0x08:
      return 40; // boolean
    case 0x09:
      return 45; // date
    case 0x11:
      return 47; // timestamp
    case 0x0b:
      return 50; // regex
    case 0x0c:
      return 55; // DBPointer
    case 0x0d:
      return 60; // JavaScript
    case 0x0f:
      return 65; // code with scope
    case 0x7f:
      return 127; // MaxKey
    default:
      throw new RangeError(`unknown BSON element type 0x${type.toString(16)}`);
  }
}

/** `$type` names and numbers, by type byte. */
const TYPE_NAMES: Record<string, number[]> = {
  double: [0x01],
  string: [0x02],
  object: [0x03],
  array: [0x04],
  binData: [0x05],
  undefined: [0x06],
  objectId: [0x07],
  bool: [0x08],
  date: [0x09],
  null: [0x0a],
  regex: [0x0b],
  dbPointer: [0x0c],
  javascript: [0x0d],
  symbol: [0x0e],
  javascriptWithScope: [0x0f],
  int: [0x10],
  timestamp: [0x11],
  long: [0x12],
  decimal: [0x13],
  minKey: [0xff],
  maxKey: [0x7f],
  number: [0x01, 0x10, 0x12, 0x13],
};

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return a.length - b.length;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A number as a bigint when it is an integer type, else a double. */
function numberOf(value: RawValue): bigint | number {
  switch (value.type) {
    case 0x10:
      return BigInt(view(value.bytes).getInt32(0, true));
    case 0x12:
      return view(value.bytes).getBigInt64(0, true);
    case 0x01:
      return view(value.bytes).getFloat64(0, true);
    default: // decimal128: close enough for tests
      return Number(new BSON.Decimal128(value.bytes.slice()).toString());
  }
}

function compareNumbers(a: RawValue, b: RawValue): number {
  const x = numberOf(a);
  const y = numberOf(b);
  if (typeof x === "bigint" && typeof y === "bigint") return x < y ? -1 : x > y ? 1 : 0;
  const [p, q] = [Number(x), Number(y)];
  if (Number.isNaN(p) || Number.isNaN(q)) return Number.isNaN(p) ? (Number.isNaN(q) ? 0 : -1) : 1;
  return p < q ? -1 : p > q ? 1 : 0;
}

/** Compares two documents (or arrays) element by element: type bracket, name, value. */
function compareDocuments(a: Uint8Array, b: Uint8Array): number {
  const left = rawElements(a);
  const right = rawElements(b);
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const byType = typeBracket(x.value.type) - typeBracket(y.value.type);
    if (byType !== 0) return byType;
    const byName = compareBytes(UTF8.encode(x.value.name), UTF8.encode(y.value.name));
    if (byName !== 0) return byName;
    const byValue = compareValues(
      { type: x.value.type, bytes: a.subarray(x.value.valueStart, x.value.end) },
      { type: y.value.type, bytes: b.subarray(y.value.valueStart, y.value.end) },
    );
    if (byValue !== 0) return byValue;
  }
}

/** MongoDB's order of two BSON values: type bracket first, then value. */
function compareValues(a: RawValue, b: RawValue): number {
  const bracket = typeBracket(a.type);
  const byType = bracket - typeBracket(b.type);
  if (byType !== 0) return byType;
  switch (bracket) {
    case 10:
      return compareNumbers(a, b);
    case 15: // length-prefixed, NUL-terminated UTF-8, compared byte for byte
      return compareBytes(a.bytes.subarray(4, -1), b.bytes.subarray(4, -1));
    case 20:
    case 25:
      return compareDocuments(a.bytes, b.bytes);
    case 30: { // length, then subtype, then bytes
      const byLength = view(a.bytes).getInt32(0, true) - view(b.bytes).getInt32(0, true);
      return byLength || a.bytes[4]! - b.bytes[4]! ||
        compareBytes(a.bytes.subarray(5), b.bytes.subarray(5));
    }
    case 35:
    case 40:
    case 50:
      return compareBytes(a.bytes, b.bytes);
    case 45: {
      const [x, y] = [view(a.bytes).getBigInt64(0, true), view(b.bytes).getBigInt64(0, true)];
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 47: {
      const [x, y] = [view(a.bytes).getBigUint64(0, true), view(b.bytes).getBigUint64(0, true)];
      return x < y ? -1 : x > y ? 1 : 0;
    }
    default:
      return 0;
  }
}

/** A decoded value (from a command body) as a raw value. */
function rawValueOf(value: unknown): RawValue {
  const doc = BSON.serialize({ v: value });
  const [el] = [...rawElements(doc)];
  return { type: el!.type, bytes: doc.subarray(el!.valueStart, el!.end) };
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  if ((value as { _bsontype?: unknown })._bsontype !== undefined) return false;
  if (value instanceof Date || value instanceof RegExp) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith("$"));
}

/** Whether `id` meets `condition` (a value, or operators), in MongoDB's bracketed order. */
function idMeets(condition: unknown, id: RawValue): boolean {
  const equals = (value: unknown) => {
    const other = rawValueOf(value);
    return typeBracket(other.type) === typeBracket(id.type) && compareValues(id, other) === 0;
  };
  if (!isOperatorObject(condition)) return equals(condition);
  return Object.entries(condition).every(([op, operand]) => {
    const ordered = (test: (order: number) => boolean) => {
      const other = rawValueOf(operand);
      return typeBracket(other.type) === typeBracket(id.type) && test(compareValues(id, other));
    };
    switch (op) {
      case "$eq":
        return equals(operand);
      case "$ne":
        return !equals(operand);
      case "$gt":
        return ordered((o) => o > 0);
      case "$gte":
        return ordered((o) => o >= 0);
      case "$lt":
        return ordered((o) => o < 0);
      case "$lte":
        return ordered((o) => o <= 0);
      case "$in":
        return (operand as unknown[]).some(equals);
      case "$nin":
        return !(operand as unknown[]).some(equals);
      case "$type": {
        const wanted = (Array.isArray(operand) ? operand : [operand]).flatMap((t) =>
          typeof t === "number" ? [t === -1 ? 0xff : t] : TYPE_NAMES[String(t)] ?? []
        );
        return wanted.includes(id.type);
      }
      default:
        throw new CommandFailure(`unsupported operator on _id: ${op}`, 2, "BadValue");
    }
  });
}

/** True when `filter` has an `_id` condition at its top level or inside $or/$and/$nor. */
function mentionsId(filter: BSON.Document): boolean {
  return Object.entries(filter).some(([key, value]) =>
    key === "_id" ||
    (["$or", "$and", "$nor"].includes(key) && (value as BSON.Document[]).some(mentionsId))
  );
}

/** Matches `doc` against `filter`: `_id` in MongoDB's order, every other field through mingo. */
/**
 * The documents a filter on `_id` alone selects (`{_id: v}` or `{_id: {$in: [...]}}`, values
 * other than numbers), by key lookup instead of a comparison per document; undefined for any
 * other filter.
 */
function selectById(filter: BSON.Document, stored: StoredDocument[]): StoredDocument[] | undefined {
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== "_id") return undefined;
  const condition = filter._id;
  const values: unknown[] = isOperatorObject(condition)
    ? (Object.keys(condition).length === 1 && Array.isArray(condition.$in) ? condition.$in : [])
    : [condition];
  if (values.length === 0) return undefined;
  const wanted = new Set<string>();
  for (const value of values) {
    const raw = rawValueOf(value);
    if (typeBracket(raw.type) === 10) return undefined; // numbers match across types
    wanted.add(hex(new Uint8Array([raw.type])) + hex(raw.bytes));
  }
  return stored.filter((doc) => wanted.has(doc.idKey));
}

function matchesFilter(filter: BSON.Document, doc: StoredDocument): boolean {
  return Object.entries(filter).every(([key, value]) => {
    switch (key) {
      case "$or":
        return (value as BSON.Document[]).some((f) => matchesFilter(f, doc));
      case "$and":
        return (value as BSON.Document[]).every((f) => matchesFilter(f, doc));
      case "$nor":
        return !(value as BSON.Document[]).some((f) => matchesFilter(f, doc));
      case "_id":
        return idMeets(value, doc.id);
      default:
        return new Query({ [key]: value }).test(doc.value);
    }
  });
}

// ---------------------------------------------------------------------------
// In-memory store

interface StoredDocument {
  raw: Uint8Array;
  /** Decoded copy for filtering and sorting. */
  value: BSON.Document;
  /** Type byte and value bytes of `_id`, as hex, for uniqueness. */
  idKey: string;
  /** `_id` as a raw value, for MongoDB's BSON order. */
  id: RawValue;
  /** Cluster time of its insert (snapshot reads see documents inserted up to their time). */
  insertedAt: number;
}

type Collection = StoredDocument[];

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/**
 * Validates raw BSON and returns it with `_id` as its first element, as mongod
 * stores it: moved to the front when elsewhere, a new ObjectId when missing.
 */
function withId(raw: Uint8Array): { raw: Uint8Array; idKey: string; id: RawValue } {
  if (raw.byteLength < 5 || readInt32(raw, 0) !== raw.byteLength || raw.at(-1) !== 0) {
    throw new CommandFailure("document is not a valid BSON object", 2, "BadValue");
  }
  for (const el of rawElements(raw)) {
    if (el.name !== "_id") continue;
    const idKey = hex(new Uint8Array([el.type])) + hex(raw.subarray(el.valueStart, el.end));
    if (el.start === 4) {
      return { raw, idKey, id: { type: el.type, bytes: raw.subarray(el.valueStart, el.end) } };
    }
    // Like mongod, move _id to the front, keeping every byte of every element.
    const moved = rawDocument([
      raw.subarray(el.start, el.end),
      raw.subarray(4, el.start),
      raw.subarray(el.end, raw.byteLength - 1),
    ]);
    return withId(moved);
  }
  const id = element("_id", new BSON.ObjectId());
  const full = rawDocument([id, raw.subarray(4, raw.byteLength - 1)]);
  return withId(full);
}

function decodeStored(raw: Uint8Array): BSON.Document {
  return BSON.deserialize(raw, { validation: { utf8: false } });
}

// ---------------------------------------------------------------------------
// Message framing

interface Request {
  requestId: number;
  opCode: number;
  /** Database the command targets. */
  db: string;
  /** The command body, decoded. */
  body: BSON.Document;
  /** The command body, raw. */
  rawBody: Uint8Array;
  /** Kind-1 document sequences by identifier. */
  sequences: Map<string, Uint8Array[]>;
  /** OP_MSG flag bits (0 for OP_QUERY). */
  flags: number;
}

function parseOpMsg(message: Uint8Array, requestId: number): Request {
  const flags = readInt32(message, 16) >>> 0;
  const end = message.byteLength - ((flags & FLAG_CHECKSUM_PRESENT) ? 4 : 0);
  let at = 20;
  let rawBody: Uint8Array | undefined;
  const sequences = new Map<string, Uint8Array[]>();
  while (at < end) {
    const kind = message[at]!;
    at += 1;
    if (kind === 0) {
      const size = readInt32(message, at);
      rawBody = message.subarray(at, at + size);
      at += size;
    } else if (kind === 1) {
      const size = readInt32(message, at);
      const sectionEnd = at + size;
      const idEnd = cstringEnd(message, at + 4);
      const identifier = UTF8_DECODER.decode(message.subarray(at + 4, idEnd));
      const docs: Uint8Array[] = [];
      let docAt = idEnd + 1;
      while (docAt < sectionEnd) {
        const docSize = readInt32(message, docAt);
        docs.push(message.subarray(docAt, docAt + docSize));
        docAt += docSize;
      }
      sequences.set(identifier, [...(sequences.get(identifier) ?? []), ...docs]);
      at = sectionEnd;
    } else {
      throw new RangeError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!rawBody) throw new RangeError("OP_MSG without a body section");
  const body = BSON.deserialize(rawBody);
  const db = typeof body.$db === "string" ? body.$db : "admin";
  return { requestId, opCode: OP_MSG, db, body, rawBody, sequences, flags };
}

function parseOpQuery(message: Uint8Array, requestId: number): Request {
  const nameEnd = cstringEnd(message, 20);
  const fullName = UTF8_DECODER.decode(message.subarray(20, nameEnd));
  const queryAt = nameEnd + 1 + 8; // numberToSkip, numberToReturn
  const size = readInt32(message, queryAt);
  let rawBody = message.subarray(queryAt, queryAt + size);
  let body = BSON.deserialize(rawBody);
  if (body.$query && typeof body.$query === "object") {
    body = body.$query as BSON.Document;
    rawBody = BSON.serialize(body);
  }
  const db = fullName.endsWith(".$cmd") ? fullName.slice(0, -5) : fullName.split(".")[0] ?? "admin";
  return { requestId, opCode: OP_QUERY, db, body, rawBody, sequences: new Map(), flags: 0 };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setInt32(0, length, true);
  view.setInt32(4, requestId, true);
  view.setInt32(8, responseTo, true);
  view.setInt32(12, opCode, true);
  return out;
}

function frameReply(request: Request, requestId: number, body: Uint8Array): Uint8Array {
  if (request.opCode === OP_QUERY) {
    const prefix = new Uint8Array(20);
    new DataView(prefix.buffer).setInt32(16, 1, true); // numberReturned
    const length = 16 + prefix.byteLength + body.byteLength;
    return concat([header(length, requestId, request.requestId, OP_REPLY), prefix, body]);
  }
  const length = 16 + 4 + 1 + body.byteLength;
  return concat([
    header(length, requestId, request.requestId, OP_MSG),
    new Uint8Array(5), // flagBits 0, section kind 0
    body,
  ]);
}

/** Accumulates socket chunks and yields whole messages. */
class MessageReader {
  #chunks: Uint8Array[] = [];
  #size = 0;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
  }

  next(): Uint8Array | undefined {
    if (this.#size < 4) return undefined;
    if (this.#chunks[0]!.byteLength < 4) this.#merge();
    const length = readInt32(this.#chunks[0]!, 0);
    if (length < 16 || length > MAX_MESSAGE_SIZE) {
      throw new RangeError(`invalid message length ${length}`);
    }
    if (this.#size < length) return undefined;
    this.#merge();
    const all = this.#chunks[0]!;
    const message = all.slice(0, length);
    const rest = all.subarray(length);
    this.#chunks = rest.byteLength > 0 ? [rest] : [];
    this.#size = rest.byteLength;
    return message;
  }

  #merge(): void {
    if (this.#chunks.length > 1) this.#chunks = [concat(this.#chunks)];
  }
}

// ---------------------------------------------------------------------------
// The server

interface ServerCursor {
  ns: string;
  remaining: Uint8Array[];
  /** Set for a change stream cursor (tailable: it stays open until invalidated). */
  stream?: ChangeStreamState;
}

interface Connection {
  conn: Deno.Conn;
  id: number;
  /** Pending delayed (awaitable hello) reply timer. */
  timer: ReturnType<typeof setTimeout> | undefined;
  wake: (() => void) | undefined;
}

/**
 * Starts an in-process MongoDB wire-protocol test server on `hostname:port`.
 * Use it with `await using`, or call close().
 */
export function startMongoTestServer(
  options: MongoTestServerOptions = {},
): Promise<MongoTestServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const listener = Deno.listen({ hostname, port: options.port ?? 0, transport: "tcp" });
  const port = (listener.addr as Deno.NetAddr).port;
  const impl = new TestServer(listener, hostname, port, options);
  return Promise.resolve(impl);
}

class TestServer implements MongoTestServer {
  readonly url: string;
  readonly port: number;
  #listener: Deno.Listener;
  #databases = new Map<string, Map<string, Collection>>();
  #connections = new Set<Connection>();
  #cursors = new Map<number, ServerCursor>();
  #nextCursorId = 1;
  #nextRequestId = 1;
  #nextConnectionId = 1;
  #batchesLeft = Infinity;
  #dead = false;
  #reviveTimer: ReturnType<typeof setTimeout> | undefined;
  #downForMs: number | undefined;
  #closed = false;
  #accepting: Promise<void>;
  #handlers = new Set<Promise<void>>();
  #replicaSet: string | undefined;
  #secondary: boolean;
  #me: string;
  /** Cluster time: the number of writes so far. */
  #clock = 0;
  #oplog = new Oplog();
  #injections: Injection[] = [];
  #release: (() => void) | undefined;
  #cursorRequests: CursorRequest[] = [];

  constructor(
    listener: Deno.Listener,
    hostname: string,
    port: number,
    options: MongoTestServerOptions,
  ) {
    this.#listener = listener;
    this.port = port;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.url = `mongodb://${host}:${port}`;
    this.#me = `${host}:${port}`;
    this.#replicaSet = options.replicaSet;
    this.#secondary = options.secondary ?? false;
    this.#accepting = this.#acceptLoop();
  }

  get cursorRequests(): readonly CursorRequest[] {
    return this.#cursorRequests;
  }

  sentDocuments(database: string, collection: string): number {
    const ns = `${database}.${collection}`;
    return this.#cursorRequests.filter((r) => r.ns === ns)
      .reduce((sum, r) => sum + r.documents, 0);
  }

  insert(database: string, collection: string, documents: (Uint8Array | BSON.Document)[]): void {
    const stored = this.#collection(database, collection, true)!;
    const prepared = documents.map((doc) =>
      this.#prepare(doc instanceof Uint8Array ? doc : BSON.serialize(doc))
    );
    const seen = new Set(stored.map((doc) => doc.idKey));
    for (const doc of prepared) {
      if (seen.has(doc.idKey)) {
        throw new RangeError(
          `duplicate _id in ${database}.${collection}: ${
            JSON.stringify(BSON.EJSON.serialize(doc.value._id))
          }`,
        );
      }
      seen.add(doc.idKey);
    }
    for (const doc of prepared) {
      doc.insertedAt = ++this.#clock;
      this.#log("insert", database, collection, doc);
    }
    stored.push(...prepared);
  }

  expireHistory(): void {
    this.#oplog.expire(this.#clock);
  }

  get operationTime(): BSON.Timestamp {
    return clusterTime(this.#clock);
  }

  /** Appends a document write to the oplog at the current clock. */
  #log(
    operationType: "insert" | "update" | "replace" | "delete",
    db: string,
    coll: string,
    doc: StoredDocument,
    updateDescription?: BSON.Document,
  ): void {
    const entry: OplogEntry = {
      clock: this.#clock,
      operationType,
      db,
      coll,
      documentKey: rawDocument([concat([
        new Uint8Array([doc.id.type]),
        UTF8.encode("_id\0"),
        doc.id.bytes,
      ])]),
    };
    if (operationType === "insert" || operationType === "replace") entry.document = doc.raw;
    if (updateDescription) entry.updateDescription = updateDescription;
    this.#oplog.append(entry);
  }

  documents(database: string, collection: string): Uint8Array[] {
    return (this.#collection(database, collection, false) ?? []).map((doc) => doc.raw.slice());
  }

  failAfterBatches(batches: number, options: { forMs?: number } = {}): void {
    if (!(batches >= 0)) {
      throw new RangeError(`failAfterBatches() needs a count >= 0, got ${batches}`);
    }
    this.#batchesLeft = batches;
    this.#downForMs = options.forMs;
  }

  revive(): void {
    clearTimeout(this.#reviveTimer);
    this.#reviveTimer = undefined;
    this.#dead = false;
    this.#batchesLeft = Infinity;
  }

  errorAfterBatches(batches: number, error: InjectedError): void {
    this.#injections.push({ left: batches, collection: error.collection, error });
  }

  pauseAfterBatches(batches: number, options: { collection?: string } = {}): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#injections.push({ left: batches, collection: options.collection, held: resolve });
    return promise;
  }

  resume(): void {
    this.#release?.();
    this.#release = undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    this.#oplog.wakeAll();
    clearTimeout(this.#reviveTimer);
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const connection of this.#connections) this.#disconnect(connection);
    await this.#accepting;
    await Promise.allSettled([...this.#handlers]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #prepare(raw: Uint8Array): StoredDocument {
    const { raw: full, idKey, id } = withId(new Uint8Array(raw));
    return { raw: full, value: decodeStored(full), idKey, id, insertedAt: 0 };
  }

  #collection(database: string, name: string, create: boolean): Collection | undefined {
    let db = this.#databases.get(database);
    if (!db) {
      if (!create) return undefined;
      db = new Map();
      this.#databases.set(database, db);
    }
    let collection = db.get(name);
    if (!collection && create) {
      collection = [];
      db.set(name, collection);
    }
    return collection;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      if (this.#closed) {
        conn.close();
        continue;
      }
      const connection: Connection = {
        conn,
        id: this.#nextConnectionId++,
        timer: undefined,
        wake: undefined,
      };
      this.#connections.add(connection);
      const handler = this.#serve(connection).finally(() => {
        this.#handlers.delete(handler);
      });
      this.#handlers.add(handler);
    }
  }

  #disconnect(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    if (connection.timer !== undefined) clearTimeout(connection.timer);
    connection.wake?.();
    try {
      connection.conn.close();
    } catch {
      // already closed
    }
  }

  #dieNow(): void {
    this.#dead = true;
    for (const connection of [...this.#connections]) this.#disconnect(connection);
    if (this.#downForMs !== undefined) {
      this.#reviveTimer = setTimeout(() => this.revive(), this.#downForMs);
      this.#downForMs = undefined;
    }
  }

  async #serve(connection: Connection): Promise<void> {
    const reader = new MessageReader();
    const buffer = new Uint8Array(256 * 1024);
    try {
      while (this.#connections.has(connection)) {
        const n = await connection.conn.read(buffer);
        if (n === null) break;
        reader.push(buffer.slice(0, n));
        for (let message = reader.next(); message; message = reader.next()) {
          if (!this.#connections.has(connection)) return;
          await this.#handleMessage(connection, message);
        }
      }
    } catch {
      // connection reset, closed by close()/fault injection, or a framing error
    } finally {
      this.#disconnect(connection);
    }
  }

  async #handleMessage(connection: Connection, message: Uint8Array): Promise<void> {
    const requestId = readInt32(message, 4);
    const opCode = readInt32(message, 12);
    let request: Request;
    if (opCode === OP_MSG) request = parseOpMsg(message, requestId);
    else if (opCode === OP_QUERY) request = parseOpQuery(message, requestId);
    else if (opCode === OP_COMPRESSED) throw new RangeError("OP_COMPRESSED is not supported");
    else throw new RangeError(`unsupported opcode ${opCode}`);
    if (this.#dead && !HANDSHAKE_COMMANDS.has(Object.keys(request.body)[0] ?? "")) {
      this.#disconnect(connection);
      return;
    }

    let reply: Uint8Array;
    try {
      reply = await this.#runCommand(connection, request);
    } catch (error) {
      const failure = error instanceof CommandFailure ? error : new CommandFailure(
        error instanceof Error ? error.message : String(error),
        1,
        "InternalError",
      );
      reply = BSON.serialize({
        ok: 0,
        errmsg: failure.message,
        code: failure.code,
        codeName: failure.codeName,
      });
    }
    if (!this.#connections.has(connection)) return;
    if (request.flags & FLAG_MORE_TO_COME) return; // the client expects no reply
    await writeAll(connection.conn, frameReply(request, this.#nextRequestId++, reply));
  }

  /**
   * Counts a find/getMore batch of `ns`: kills every connection when the budget of
   * failAfterBatches() is spent, fails or holds it as errorAfterBatches() and
   * pauseAfterBatches() asked.
   */
  async #takeBatch(ns: string, cursorId?: number): Promise<void> {
    if (this.#batchesLeft <= 0) {
      this.#dieNow();
      throw new CommandFailure("server killed by failAfterBatches()", 6, "HostUnreachable");
    }
    this.#batchesLeft -= 1;
    const collection = ns.slice(ns.indexOf(".") + 1);
    for (const injection of [...this.#injections]) {
      if (injection.collection !== undefined && injection.collection !== collection) continue;
      if (injection.left-- > 0) continue;
      this.#injections.splice(this.#injections.indexOf(injection), 1);
      if (injection.held) {
        const { promise, resolve } = Promise.withResolvers<void>();
        this.#release = resolve;
        injection.held();
        await promise;
        continue;
      }
      const { code, codeName } = injection.error!;
      if (code === 43 && cursorId !== undefined) this.#cursors.delete(cursorId);
      if (NOT_PRIMARY_CODES.has(code)) {
        for (const connection of this.#connections) connection.wake?.();
      }
      throw new CommandFailure(`${codeName} injected by errorAfterBatches()`, code, codeName);
    }
  }

  async #runCommand(connection: Connection, request: Request): Promise<Uint8Array> {
    const { body, db } = request;
    const name = Object.keys(body)[0] ?? "";
    switch (name) {
      case "hello":
      case "isMaster":
      case "ismaster":
        return await this.#hello(connection, body, name !== "hello");
      case "ping":
      case "endSessions":
      case "killAllSessions":
      case "getParameter":
      case "setParameter":
      case "getLog":
        return ok({});
      case "buildInfo":
      case "buildinfo":
        return ok({
          version: "7.0.0",
          versionArray: [7, 0, 0, 0],
          gitVersion: "mongo-test-server",
          bits: 64,
          maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
        });
      case "listDatabases":
        return this.#listDatabases(body);
      case "listCollections":
        return this.#listCollections(db, body);
      case "create":
        return this.#create(db, body);
      case "drop":
        return this.#dropCollection(db, body);
      case "dropDatabase":
        for (const coll of this.#databases.get(db)?.keys() ?? []) {
          this.#oplog.append({ clock: ++this.#clock, operationType: "drop", db, coll });
        }
        this.#oplog.append({ clock: ++this.#clock, operationType: "dropDatabase", db });
        this.#databases.delete(db);
        return ok({ dropped: db });
      case "renameCollection":
        return this.#rename(body);
      case "insert":
        return this.#insert(db, request);
      case "update":
        return this.#update(db, request);
      case "delete":
        return this.#delete(db, request);
      case "find":
        return await this.#find(db, body);
      case "getMore":
        return await this.#getMore(body);
      case "killCursors":
        return this.#killCursors(body);
      case "count":
        return this.#count(db, body);
      case "aggregate":
        return this.#aggregate(db, body);
      default:
        throw new CommandFailure(`no such command: '${name}'`, 59, "CommandNotFound");
    }
  }

  async #hello(connection: Connection, body: BSON.Document, legacy: boolean): Promise<Uint8Array> {
    // An awaitable hello (streaming monitor) is held for maxAwaitTimeMS, as by mongod when the
    // topology does not change; close() and fault injection cut the wait short.
    if (body.topologyVersion !== undefined && body.maxAwaitTimeMS !== undefined) {
      const wait = Number(body.maxAwaitTimeMS);
      await new Promise<void>((resolve) => {
        connection.wake = resolve;
        connection.timer = setTimeout(resolve, wait);
      });
      connection.timer = undefined;
      connection.wake = undefined;
    }
    const primary = !this.#secondary;
    return ok({
      helloOk: true,
      ...(legacy ? { ismaster: primary } : { isWritablePrimary: primary }),
      ...(this.#replicaSet === undefined ? {} : {
        setName: this.#replicaSet,
        setVersion: 1,
        hosts: [this.#me],
        me: this.#me,
        secondary: !primary,
        ...(primary ? { primary: this.#me, electionId: ELECTION_ID } : {}),
      }),
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      maxMessageSizeBytes: MAX_MESSAGE_SIZE,
      maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId: connection.id,
      minWireVersion: 0,
      maxWireVersion: 21,
      readOnly: false,
    });
  }

  #listDatabases(body: BSON.Document): Uint8Array {
    let databases = [...this.#databases.entries()].map(([name, collections]) => ({
      name,
      sizeOnDisk: [...collections.values()].flat().reduce(
        (sum, doc) => sum + doc.raw.byteLength,
        0,
      ),
      empty: [...collections.values()].every((docs) => docs.length === 0),
    }));
    if (body.filter) databases = mingoFind(databases, body.filter).all() as typeof databases;
    if (body.nameOnly) return ok({ databases: databases.map(({ name }) => ({ name })) });
    const totalSize = databases.reduce((sum, db) => sum + db.sizeOnDisk, 0);
    return ok({ databases, totalSize });
  }

  #listCollections(db: string, body: BSON.Document): Uint8Array {
    const names = [...(this.#databases.get(db)?.keys() ?? [])];
    let infos: BSON.Document[] = names.map((name) => ({
      name,
      type: "collection",
      options: {},
      info: { readOnly: false },
      idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
    }));
    if (body.filter) infos = mingoFind(infos, body.filter).all() as BSON.Document[];
    if (body.nameOnly) infos = infos.map(({ name, type }) => ({ name, type }));
    return this.#cursorReply(
      `${db}.$cmd.listCollections`,
      infos.map((info) => BSON.serialize(info)),
      {
        batchSize: body.cursor?.batchSize,
      },
    );
  }

  #create(db: string, body: BSON.Document): Uint8Array {
    const name = collectionName(body, "create");
    if (this.#collection(db, name, false)) {
      throw new CommandFailure(`Collection ${db}.${name} already exists.`, 48, "NamespaceExists");
    }
    this.#collection(db, name, true);
    return ok({});
  }

  #dropCollection(db: string, body: BSON.Document): Uint8Array {
    const name = collectionName(body, "drop");
    const collections = this.#databases.get(db);
    const existed = collections?.delete(name) ?? false;
    if (collections && collections.size === 0) this.#databases.delete(db);
    if (existed) {
      this.#oplog.append({ clock: ++this.#clock, operationType: "drop", db, coll: name });
    }
    return ok(existed ? { nIndexesWas: 1, ns: `${db}.${name}` } : {});
  }

  #insert(db: string, request: Request): Uint8Array {
    const name = collectionName(request.body, "insert");
    let raws = request.sequences.get("documents");
    if (!raws) {
      raws = [];
      for (const el of rawElements(request.rawBody)) {
        if (el.name !== "documents" || el.type !== 0x04) continue;
        const array = request.rawBody.subarray(el.valueStart, el.end);
        for (const item of rawElements(array)) {
          raws.push(array.subarray(item.valueStart, item.end));
        }
      }
    }
    const ordered = request.body.ordered !== false;
    const stored = this.#collection(db, name, true)!;
    const seen = new Set(stored.map((doc) => doc.idKey));
    const writeErrors: BSON.Document[] = [];
    let n = 0;
    for (const [index, raw] of raws.entries()) {
      const doc = this.#prepare(raw);
      if (seen.has(doc.idKey)) {
        writeErrors.push({
          index,
          code: 11000,
          errmsg: `E11000 duplicate key error collection: ${db}.${name} index: _id_ dup key: ${
            JSON.stringify(BSON.EJSON.serialize({ _id: doc.value._id }))
          }`,
        });
        if (ordered) break;
        continue;
      }
      seen.add(doc.idKey);
      doc.insertedAt = ++this.#clock;
      stored.push(doc);
      this.#log("insert", db, name, doc);
      n += 1;
    }
    return ok(writeErrors.length > 0 ? { n, writeErrors } : { n });
  }

  #delete(db: string, request: Request): Uint8Array {
    const name = collectionName(request.body, "delete");
    const deletes: BSON.Document[] =
      request.sequences.get("deletes")?.map((raw) => BSON.deserialize(raw)) ??
        request.body.deletes ?? [];
    const stored = this.#collection(db, name, false);
    let n = 0;
    for (const spec of deletes) {
      if (!stored) break;
      const matches = mingoFind(stored.map((doc) => doc.value), spec.q ?? {}).all();
      const doomed = new Set(Number(spec.limit ?? 0) === 1 ? matches.slice(0, 1) : matches);
      const kept = stored.filter((doc) => !doomed.has(doc.value));
      for (const doc of stored) {
        if (!doomed.has(doc.value)) continue;
        this.#clock += 1;
        this.#log("delete", db, name, doc);
      }
      n += stored.length - kept.length;
      stored.splice(0, stored.length, ...kept);
    }
    return ok({ n });
  }

  async #find(db: string, body: BSON.Document): Promise<Uint8Array> {
    const name = collectionName(body, "find");
    const request: CursorRequest = {
      command: "find",
      ns: `${db}.${name}`,
      documents: 0,
      filter: body.filter ?? {},
      ...(body.sort ? { sort: body.sort } : {}),
      ...(body.readConcern ? { readConcern: body.readConcern } : {}),
      ...(body.$readPreference ? { readPreference: body.$readPreference } : {}),
    };
    this.#cursorRequests.push(request);
    await this.#takeBatch(request.ns);
    const snapshot = this.#snapshotTime(body.readConcern);
    let stored = this.#collection(db, name, false) ?? [];
    if (snapshot !== undefined) stored = stored.filter((doc) => doc.insertedAt <= snapshot);
    const filter: BSON.Document = body.filter ?? {};
    if (mentionsId(filter)) {
      stored = selectById(filter, stored) ?? stored.filter((doc) => matchesFilter(filter, doc));
    }
    const sortKeys = Object.keys(body.sort ?? {});
    const byId = sortKeys.length === 1 && sortKeys[0] === "_id";
    if (byId) {
      const direction = Number(body.sort._id) < 0 ? -1 : 1;
      stored = [...stored].sort((a, b) => direction * compareValues(a.id, b.id));
    }
    const byValue = new Map(stored.map((doc) => [doc.value, doc.raw]));
    const hasProjection = body.projection && Object.keys(body.projection).length > 0;
    let cursor = mingoFind(
      stored.map((doc) => doc.value),
      mentionsId(filter) ? {} : filter,
      hasProjection ? body.projection : undefined,
    );
    if (sortKeys.length > 0 && !byId) cursor = cursor.sort(body.sort);
    if (body.skip) cursor = cursor.skip(Number(body.skip));
    let limit = Number(body.limit ?? 0);
    let singleBatch = body.singleBatch === true;
    if (limit < 0) {
      limit = -limit;
      singleBatch = true;
    }
    if (limit > 0) cursor = cursor.limit(limit);
    const raws = (cursor.all() as BSON.Document[]).map((value) =>
      byValue.get(value) ?? BSON.serialize(value)
    );
    return this.#cursorReply(`${db}.${name}`, raws, {
      batchSize: body.batchSize,
      singleBatch,
      request,
      ...(snapshot === undefined ? {} : { atClusterTime: clusterTime(snapshot) }),
    });
  }

  /** The cluster time a find reads at: undefined unless it asks for a snapshot. */
  #snapshotTime(readConcern: BSON.Document | undefined): number | undefined {
    if (readConcern?.level !== "snapshot") return undefined;
    if (this.#replicaSet === undefined) {
      throw new CommandFailure(
        "snapshot reads are only supported on replica sets and sharded clusters",
        72,
        "InvalidOptions",
      );
    }
    const at = readConcern.atClusterTime;
    return at instanceof BSON.Timestamp ? at.i : this.#clock;
  }

  async #getMore(body: BSON.Document): Promise<Uint8Array> {
    const id = Number(body.getMore);
    const stream = this.#cursors.get(id)?.stream;
    if (stream) return await this.#streamMore(id, stream, body);
    const request: CursorRequest = { command: "getMore", ns: "", documents: 0 };
    this.#cursorRequests.push(request);
    let cursor = this.#cursors.get(id);
    if (!cursor) throw new CommandFailure(`cursor id ${id} not found`, 43, "CursorNotFound");
    request.ns = cursor.ns;
    await this.#takeBatch(cursor.ns, id);
    cursor = this.#cursors.get(id);
    if (!cursor) throw new CommandFailure(`cursor id ${id} not found`, 43, "CursorNotFound");
    const batch = takeBatch(cursor.remaining, body.batchSize);
    request.documents = batch.length;
    if (cursor.remaining.length === 0) this.#cursors.delete(id);
    const cursorId = cursor.remaining.length === 0 ? 0 : id;
    return cursorDocument("nextBatch", batch, cursorId, cursor.ns);
  }

  #killCursors(body: BSON.Document): Uint8Array {
    const ids = ((body.cursors ?? []) as unknown[]).map(Number);
    const killed = ids.filter((id) => this.#cursors.delete(id));
    const notFound = ids.filter((id) => !killed.includes(id));
    return ok({
      cursorsKilled: killed.map((id) => BSON.Long.fromNumber(id)),
      cursorsNotFound: notFound.map((id) => BSON.Long.fromNumber(id)),
      cursorsAlive: [],
      cursorsUnknown: [],
    });
  }

  #count(db: string, body: BSON.Document): Uint8Array {
    const stored = this.#collection(db, collectionName(body, "count"), false) ?? [];
    let cursor = mingoFind(stored.map((doc) => doc.value), body.query ?? {});
    if (body.skip) cursor = cursor.skip(Number(body.skip));
    if (body.limit) cursor = cursor.limit(Math.abs(Number(body.limit)));
    return ok({ n: cursor.all().length });
  }

  #aggregate(db: string, body: BSON.Document): Uint8Array {
    const stages = (body.pipeline ?? []) as BSON.Document[];
    if (stages[0]?.$changeStream !== undefined) return this.#watch(db, body);
    const name = collectionName(body, "aggregate");
    const stored = this.#collection(db, name, false) ?? [];
    const byValue = new Map(stored.map((doc) => [doc.value, doc.raw]));
    const pipeline = (body.pipeline ?? []) as BSON.Document[];
    const results = mingoAggregate(stored.map((doc) => doc.value), pipeline) as BSON.Document[];
    const raws = results.map((value) => byValue.get(value) ?? BSON.serialize(value));
    return this.#cursorReply(`${db}.${name}`, raws, { batchSize: body.cursor?.batchSize });
  }

  /**
   * Opens a change stream (`aggregate: 1` watches the database, `aggregate: <name>` one
   * collection); only a replica set has an oplog to serve it from, as with mongod.
   */
  #watch(db: string, body: BSON.Document): Uint8Array {
    if (this.#replicaSet === undefined) {
      throw new CommandFailure(
        "The $changeStream stage is only supported on replica sets",
        40573,
        "Location40573",
      );
    }
    const coll = body.aggregate === 1 ? undefined : collectionName(body, "aggregate");
    const stream = this.#streamCall(() =>
      openChangeStream(this.#oplog, {
        db,
        coll,
        pipeline: body.pipeline as BSON.Document[],
        now: this.#clock,
      })
    );
    const ns = `${db}.${coll ?? "$cmd.aggregate"}`;
    const batch = this.#streamCall(() =>
      nextEvents(this.#oplog, stream, {
        batchSize: Number(body.cursor?.batchSize ?? DEFAULT_FIRST_BATCH),
        lookup: (d, c, key) => this.#lookup(d, c, key),
        now: this.#clock,
      })
    );
    const id = stream.invalidated ? 0 : this.#nextCursorId++;
    if (id) this.#cursors.set(id, { ns, remaining: [], stream });
    return streamReply("firstBatch", batch.events, id, ns, batch.postBatchResumeToken);
  }

  /** A getMore of a change stream: waits up to maxTimeMS (awaitData, at most 1 s) for an event. */
  async #streamMore(id: number, stream: ChangeStreamState, body: BSON.Document) {
    const cursor = this.#cursors.get(id)!;
    const read = () =>
      this.#streamCall(() =>
        nextEvents(this.#oplog, stream, {
          batchSize: Number(body.batchSize ?? 0) || Infinity,
          lookup: (d, c, key) => this.#lookup(d, c, key),
          now: this.#clock,
        })
      );
    let batch = read();
    if (batch.events.length === 0 && !this.#closed) {
      await this.#oplog.wait(Math.min(Number(body.maxTimeMS ?? 1000), 1000));
      batch = read();
    }
    if (stream.invalidated) this.#cursors.delete(id);
    const cursorId = stream.invalidated ? 0 : id;
    return streamReply("nextBatch", batch.events, cursorId, cursor.ns, batch.postBatchResumeToken);
  }

  /** Runs `fn`, turning a StreamFailure into the command failure it stands for. */
  #streamCall<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof StreamFailure) {
        throw new CommandFailure(error.message, error.code, error.codeName);
      }
      throw error;
    }
  }

  /** The current raw BSON of the document with raw `{_id}` `key`, for updateLookup. */
  #lookup(db: string, coll: string, key: Uint8Array): Uint8Array | undefined {
    const idKey =
      [...rawElements(key)].map((el) =>
        hex(new Uint8Array([el.type])) + hex(key.subarray(el.valueStart, el.end))
      )[0];
    return this.#collection(db, coll, false)?.find((doc) => doc.idKey === idKey)?.raw;
  }

  /** `renameCollection: "<db>.<from>", to: "<db>.<to>"` (admin command). */
  #rename(body: BSON.Document): Uint8Array {
    const [fromDb, ...fromRest] = String(body.renameCollection).split(".");
    const [toDb, ...toRest] = String(body.to).split(".");
    const from = fromRest.join(".");
    const to = toRest.join(".");
    const source = this.#databases.get(fromDb!)?.get(from);
    if (!source) {
      throw new CommandFailure(
        `Source collection ${body.renameCollection} does not exist`,
        26,
        "NamespaceNotFound",
      );
    }
    if (this.#collection(toDb!, to, false) && !body.dropTarget) {
      throw new CommandFailure("target namespace exists", 48, "NamespaceExists");
    }
    this.#databases.get(fromDb!)!.delete(from);
    this.#collection(toDb!, to, true)!.splice(0, Infinity, ...source);
    this.#oplog.append({
      clock: ++this.#clock,
      operationType: "rename",
      db: fromDb!,
      coll: from,
      to: { db: toDb!, coll: to },
    });
    return ok({});
  }

  /**
   * `update`: each statement's `u` is a replacement document or `$set`/`$unset` operators
   * (dotted paths), `multi` and `upsert` as mongod takes them; values keep their BSON types.
   */
  #update(db: string, request: Request): Uint8Array {
    const name = collectionName(request.body, "update");
    const exact = { promoteValues: false, validation: { utf8: false } } as const;
    const specs: BSON.Document[] =
      request.sequences.get("updates")?.map((raw) => BSON.deserialize(raw, exact)) ??
        BSON.deserialize(request.rawBody, exact).updates ?? [];
    const stored = this.#collection(db, name, true)!;
    let n = 0;
    let nModified = 0;
    const upserted: BSON.Document[] = [];
    for (const [index, spec] of specs.entries()) {
      const q = BSON.deserialize(BSON.serialize(spec.q ?? {})) as BSON.Document;
      const u = spec.u as BSON.Document;
      if (Array.isArray(u)) {
        throw new CommandFailure("update pipelines are not supported", 2, "BadValue");
      }
      const isReplacement = !Object.keys(u).some((k) => k.startsWith("$"));
      let matches = selectById(q, stored) ?? stored.filter((doc) => matchesFilter(q, doc));
      if (!spec.multi) matches = matches.slice(0, 1);
      for (const doc of matches) {
        const before = BSON.deserialize(doc.raw, exact);
        const after = isReplacement
          ? { _id: before._id, ...withoutId(u) }
          : applyOperators(before, u);
        const raw = BSON.serialize(after);
        n += 1;
        if (compareBytes(raw, doc.raw) === 0) continue;
        nModified += 1;
        Object.assign(doc, this.#prepare(raw), { insertedAt: doc.insertedAt });
        this.#clock += 1;
        this.#log(
          isReplacement ? "replace" : "update",
          db,
          name,
          doc,
          isReplacement ? undefined : {
            updatedFields: u.$set ?? {},
            removedFields: Object.keys(u.$unset ?? {}),
            truncatedArrays: [],
          },
        );
      }
      if (matches.length === 0 && spec.upsert) {
        const base: BSON.Document = q._id === undefined ? {} : { _id: spec.q._id };
        const doc = this.#prepare(BSON.serialize(
          isReplacement ? { ...base, ...u } : applyOperators(base, u),
        ));
        doc.insertedAt = ++this.#clock;
        stored.push(doc);
        this.#log("insert", db, name, doc);
        upserted.push({ index, _id: doc.value._id });
        n += 1;
      }
    }
    return ok(upserted.length > 0 ? { n, nModified, upserted } : { n, nModified });
  }

  /** Builds a {cursor: {firstBatch, id, ns}} reply and keeps the rest for getMore. */
  #cursorReply(
    ns: string,
    raws: Uint8Array[],
    options: {
      batchSize?: unknown;
      singleBatch?: boolean;
      request?: CursorRequest;
      atClusterTime?: BSON.Timestamp;
    },
  ): Uint8Array {
    const remaining = [...raws];
    const batch = takeBatch(remaining, options.batchSize ?? DEFAULT_FIRST_BATCH);
    if (options.request) options.request.documents = batch.length;
    let id = 0;
    if (remaining.length > 0 && !options.singleBatch) {
      id = this.#nextCursorId++;
      this.#cursors.set(id, { ns, remaining });
    }
    const extra = options.atClusterTime ? [element("atClusterTime", options.atClusterTime)] : [];
    return cursorDocument("firstBatch", batch, id, ns, extra);
  }
}

/** Removes and returns the next batch: at most `batchSize` documents (0/absent = no count limit) within the byte budget, at least one. */
function takeBatch(remaining: Uint8Array[], batchSize: unknown): Uint8Array[] {
  const wanted = Number(batchSize ?? 0);
  const max = wanted > 0 ? wanted : Infinity;
  let bytes = 0;
  let count = 0;
  while (count < remaining.length && count < max) {
    const size = remaining[count]!.byteLength;
    if (count > 0 && bytes + size > BATCH_BYTE_BUDGET) break;
    bytes += size;
    count += 1;
  }
  return remaining.splice(0, count);
}

function cursorDocument(
  field: "firstBatch" | "nextBatch",
  batch: Uint8Array[],
  id: number,
  ns: string,
  extra: Uint8Array[] = [],
): Uint8Array {
  const cursor = rawDocument([
    rawArrayElement(field, batch),
    element("id", BSON.Long.fromNumber(id)),
    element("ns", ns),
    ...extra,
  ]);
  return rawDocument([rawElement(0x03, "cursor", cursor), element("ok", 1)]);
}

/** A change stream batch: events, cursor id, ns and the post-batch resume token. */
function streamReply(
  field: "firstBatch" | "nextBatch",
  events: Uint8Array[],
  id: number,
  ns: string,
  postBatchResumeToken: BSON.Document,
): Uint8Array {
  return cursorDocument(field, events, id, ns, [
    element("postBatchResumeToken", postBatchResumeToken),
  ]);
}

/** `doc` without `_id`. */
function withoutId(doc: BSON.Document): BSON.Document {
  const { _id: _, ...rest } = doc;
  return rest;
}

/** `doc` after `$set` and `$unset` (dotted paths into sub-documents). */
function applyOperators(doc: BSON.Document, update: BSON.Document): BSON.Document {
  for (const op of Object.keys(update)) {
    if (op !== "$set" && op !== "$unset") {
      throw new CommandFailure(`update operator ${op} is not supported`, 9, "FailedToParse");
    }
  }
  const walk = (path: string, create: boolean): [BSON.Document, string] | undefined => {
    const keys = path.split(".");
    let at = doc;
    for (const key of keys.slice(0, -1)) {
      if (at[key] === undefined || at[key] === null) {
        if (!create) return undefined;
        at[key] = {};
      }
      at = at[key] as BSON.Document;
    }
    return [at, keys.at(-1)!];
  };
  for (const [path, value] of Object.entries(update.$set ?? {})) {
    const [at, key] = walk(path, true)!;
    at[key] = value;
  }
  for (const path of Object.keys(update.$unset ?? {})) {
    const found = walk(path, false);
    if (found) delete found[0][found[1]];
  }
  return doc;
}

function ok(fields: BSON.Document): Uint8Array {
  return BSON.serialize({ ...fields, ok: 1 });
}

function collectionName(body: BSON.Document, command: string): string {
  const name = body[command];
  if (typeof name !== "string" || name === "") {
    throw new CommandFailure(
      `${command} needs a collection name, got ${String(name)}`,
      73,
      "InvalidNamespace",
    );
  }
  return name;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await conn.write(bytes.subarray(at));
}
