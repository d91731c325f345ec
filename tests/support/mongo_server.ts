/**
 * TEST FIXTURE: an in-process MongoDB wire-protocol server so tests can talk to
 * the official driver without a mongod. It keeps documents in memory as their
 * original BSON bytes and sends those bytes back unchanged in query replies, so
 * Int64, Decimal128, invalid UTF-8 and embedded U+0000 round-trip exactly.
 *
 * It speaks OP_MSG (kind 0 and kind 1 sections) and the legacy OP_QUERY
 * handshake, and implements the small command set the driver needs for
 * handshakes, inserts, finds with cursors, counts, listings and drops. Filters,
 * sorts, projections and aggregation pipelines go through mingo. It is not a
 * database: no indexes, no updates, no transactions, no authentication.
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
import { aggregate as mingoAggregate, find as mingoFind } from "mingo";

/** Options for {@link startMongoTestServer}. */
export interface MongoTestServerOptions {
  /** Address to listen on. Default "127.0.0.1". */
  hostname?: string;
  /** TCP port; 0 picks a free ephemeral port. Default 0. */
  port?: number;
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
   */
  failAfterBatches(batches: number): void;
  /** Lifts a failure injected with failAfterBatches(); stored documents are kept. */
  revive(): void;
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
// In-memory store

interface StoredDocument {
  raw: Uint8Array;
  /** Decoded copy for filtering and sorting. */
  value: BSON.Document;
  /** Type byte and value bytes of `_id`, as hex, for uniqueness. */
  idKey: string;
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
function withId(raw: Uint8Array): { raw: Uint8Array; idKey: string } {
  if (raw.byteLength < 5 || readInt32(raw, 0) !== raw.byteLength || raw.at(-1) !== 0) {
    throw new CommandFailure("document is not a valid BSON object", 2, "BadValue");
  }
  for (const el of rawElements(raw)) {
    if (el.name !== "_id") continue;
    const idKey = hex(new Uint8Array([el.type])) + hex(raw.subarray(el.valueStart, el.end));
    if (el.start === 4) return { raw, idKey };
    // Like mongod, move _id to the front, keeping every byte of every element.
    const moved = rawDocument([
      raw.subarray(el.start, el.end),
      raw.subarray(4, el.start),
      raw.subarray(el.end, raw.byteLength - 1),
    ]);
    return { raw: moved, idKey };
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
  const impl = new TestServer(listener, hostname, port);
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
  #closed = false;
  #accepting: Promise<void>;
  #handlers = new Set<Promise<void>>();

  constructor(listener: Deno.Listener, hostname: string, port: number) {
    this.#listener = listener;
    this.port = port;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.url = `mongodb://${host}:${port}`;
    this.#accepting = this.#acceptLoop();
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
    stored.push(...prepared);
  }

  documents(database: string, collection: string): Uint8Array[] {
    return (this.#collection(database, collection, false) ?? []).map((doc) => doc.raw.slice());
  }

  failAfterBatches(batches: number): void {
    if (!(batches >= 0)) {
      throw new RangeError(`failAfterBatches() needs a count >= 0, got ${batches}`);
    }
    this.#batchesLeft = batches;
  }

  revive(): void {
    this.#dead = false;
    this.#batchesLeft = Infinity;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
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
    const { raw: full, idKey } = withId(new Uint8Array(raw));
    return { raw: full, value: decodeStored(full), idKey };
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

  /** Counts a find/getMore batch; kills every connection when the injected budget is spent. */
  #takeBatch(): void {
    if (this.#batchesLeft <= 0) {
      this.#dieNow();
      throw new CommandFailure("server killed by failAfterBatches()", 6, "HostUnreachable");
    }
    this.#batchesLeft -= 1;
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
        this.#databases.delete(db);
        return ok({ dropped: db });
      case "insert":
        return this.#insert(db, request);
      case "delete":
        return this.#delete(db, request);
      case "find":
        return this.#find(db, body);
      case "getMore":
        return this.#getMore(body);
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
    return ok({
      helloOk: true,
      ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
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
      stored.push(doc);
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
      n += stored.length - kept.length;
      stored.splice(0, stored.length, ...kept);
    }
    return ok({ n });
  }

  #find(db: string, body: BSON.Document): Uint8Array {
    const name = collectionName(body, "find");
    this.#takeBatch();
    const stored = this.#collection(db, name, false) ?? [];
    const byValue = new Map(stored.map((doc) => [doc.value, doc.raw]));
    const hasProjection = body.projection && Object.keys(body.projection).length > 0;
    let cursor = mingoFind(
      stored.map((doc) => doc.value),
      body.filter ?? {},
      hasProjection ? body.projection : undefined,
    );
    if (body.sort && Object.keys(body.sort).length > 0) cursor = cursor.sort(body.sort);
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
    });
  }

  #getMore(body: BSON.Document): Uint8Array {
    const id = Number(body.getMore);
    const cursor = this.#cursors.get(id);
    if (!cursor) throw new CommandFailure(`cursor id ${id} not found`, 43, "CursorNotFound");
    this.#takeBatch();
    const batch = takeBatch(cursor.remaining, body.batchSize);
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
    const name = collectionName(body, "aggregate");
    const stored = this.#collection(db, name, false) ?? [];
    const byValue = new Map(stored.map((doc) => [doc.value, doc.raw]));
    const pipeline = (body.pipeline ?? []) as BSON.Document[];
    const results = mingoAggregate(stored.map((doc) => doc.value), pipeline) as BSON.Document[];
    const raws = results.map((value) => byValue.get(value) ?? BSON.serialize(value));
    return this.#cursorReply(`${db}.${name}`, raws, { batchSize: body.cursor?.batchSize });
  }

  /** Builds a {cursor: {firstBatch, id, ns}} reply and keeps the rest for getMore. */
  #cursorReply(
    ns: string,
    raws: Uint8Array[],
    options: { batchSize?: unknown; singleBatch?: boolean },
  ): Uint8Array {
    const remaining = [...raws];
    const batch = takeBatch(remaining, options.batchSize ?? DEFAULT_FIRST_BATCH);
    let id = 0;
    if (remaining.length > 0 && !options.singleBatch) {
      id = this.#nextCursorId++;
      this.#cursors.set(id, { ns, remaining });
    }
    return cursorDocument("firstBatch", batch, id, ns);
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
): Uint8Array {
  const cursor = rawDocument([
    rawArrayElement(field, batch),
    element("id", BSON.Long.fromNumber(id)),
    element("ns", ns),
  ]);
  return rawDocument([rawElement(0x03, "cursor", cursor), element("ok", 1)]);
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
