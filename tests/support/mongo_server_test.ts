/**
 * Tests for the in-process MongoDB test server, through the official driver
 * (and, for framing details, through hand-built wire messages).
 * @module
 */
import assert from "node:assert/strict";
import * as BSON from "bson";
import { MongoClient, MongoNetworkError } from "mongodb";
import { startMongoTestServer } from "./mongo_server.ts";
import { insertDocuments, openTestMongo, withDatabase } from "./mongo.ts";

/** Documents with the BSON types that JSON cannot carry, `_id` first as mongod stores it. */
function richDocuments(): BSON.Document[] {
  return [
    {
      _id: new BSON.ObjectId("62a0f1c2b3d4e5f601234567"),
      big: BSON.Long.fromString("9007199254740993"),
      negative: BSON.Long.fromString("-9223372036854775808"),
      price: BSON.Decimal128.fromString("1.10"),
      blob: new BSON.Binary(new Uint8Array([0, 1, 2, 255]), 0),
      uuid: new BSON.Binary(new Uint8Array(16).fill(7), 4),
      createdAt: new Date("2022-03-01T12:00:00.123Z"),
      ancient: new Date(-62198755200000),
      nested: [[1, [2, [3]]], { deep: [{ x: new BSON.Int32(5) }] }],
      half: new BSON.Double(0.5),
      nan: new BSON.Double(NaN),
      nul: null,
    },
    { _id: "string-id", text: "naïve \u{1F600}", empty: {}, list: [] },
  ];
}

interface BulkDocument {
  _id: number;
  label: string;
  pad: string;
}

/** A document the driver returned with `raw: true`, as plain bytes. */
function asBytes(doc: unknown): Uint8Array {
  assert.ok(doc instanceof Uint8Array, "raw: true yields Buffers");
  return new Uint8Array(doc);
}

/** BSON bytes as a plain Uint8Array (npm:bson returns a Buffer under Deno). */
function serialize(doc: BSON.Document): Uint8Array {
  return new Uint8Array(BSON.serialize(doc));
}

function canonical(doc: BSON.Document): string {
  return BSON.EJSON.stringify(doc, { relaxed: false });
}

/** Raw BSON {_id: <id>, s: <string>} with the string's bytes replaced by `bytes`. */
function documentWithStringBytes(id: number, bytes: number[]): Uint8Array {
  const placeholder = "x".repeat(bytes.length);
  const raw = serialize({ _id: id, s: placeholder });
  const at = raw.length - 2 - bytes.length; // value bytes, then the string's NUL, then the document's
  raw.set(bytes, at);
  return raw;
}

async function readReply(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let expected = Infinity;
  const buffer = new Uint8Array(64 * 1024);
  while (size < expected) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`connection closed after ${size} bytes of a reply`);
    chunks.push(buffer.slice(0, n));
    size += n;
    if (expected === Infinity && size >= 4) {
      const all = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        all.set(chunk, at);
        at += chunk.length;
      }
      expected = new DataView(all.buffer).getInt32(0, true);
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  assert.equal(size, expected, "one reply at a time");
  return out;
}

function int32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value, true);
  return out;
}

function message(requestId: number, opCode: number, parts: Uint8Array[]): Uint8Array {
  const body = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  return new Uint8Array([
    ...int32(16 + body.length),
    ...int32(requestId),
    ...int32(0),
    ...int32(opCode),
    ...body,
  ]);
}

Deno.test("startMongoTestServer() answers the driver handshake, hello and ping", async () => {
  await using server = await startMongoTestServer();
  assert.match(server.url, /^mongodb:\/\/127\.0\.0\.1:\d+$/);
  const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 20_000 });
  try {
    await client.connect();
    assert.deepEqual(await client.db("admin").command({ ping: 1 }), { ok: 1 });
    const hello = await client.db("admin").command({ hello: 1 });
    assert.equal(hello.isWritablePrimary, true);
    assert.equal(hello.maxWireVersion, 21);
    const unknown = await client.db("admin").command({ frobnicate: 1 }).catch((error) => error);
    assert.equal(unknown.code, 59);
    assert.equal(unknown.codeName, "CommandNotFound");
  } finally {
    await client.close();
  }
});

Deno.test("find returns inserted documents exactly, and raw: true returns their exact bytes", async () => {
  await using mongo = await openTestMongo();
  const docs = richDocuments();
  const collection = mongo.db.collection("rich");
  await collection.insertMany(docs.map((doc) => ({ ...doc })));

  const found = await collection.find({}, { promoteLongs: false, promoteValues: false }).toArray();
  assert.deepEqual(found.map(canonical), docs.map(canonical));

  const raw = await collection.find({}, { raw: true }).toArray();
  assert.deepEqual(
    raw.map(asBytes),
    docs.map(serialize),
  );
});

Deno.test("raw BSON with invalid UTF-8 and U+0000 round-trips byte for byte", async () => {
  await using mongo = await openTestMongo();
  const docs = [
    documentWithStringBytes(1, [0x61, 0xff, 0xfe, 0x62]),
    documentWithStringBytes(2, [0x61, 0x00, 0x62]),
    documentWithStringBytes(3, [0xc3]),
  ];
  await insertDocuments(mongo, "odd", docs);
  const raw = await mongo.db.collection("odd").find({}, { raw: true, batchSize: 2 }).toArray();
  assert.deepEqual(raw.map(asBytes), docs);
  assert.deepEqual(mongo.server?.documents(mongo.database, "odd"), docs);
});

Deno.test("the server moves _id to the front and adds a missing one, like mongod", async () => {
  await using server = await startMongoTestServer();
  server.insert("db", "c", [BSON.serialize({ a: 1, _id: 7 }), { b: 2 }]);
  const [moved, added] = server.documents("db", "c").map((raw) => BSON.deserialize(raw));
  assert.deepEqual(Object.keys(moved!), ["_id", "a"]);
  assert.equal(moved!._id, 7);
  assert.deepEqual(Object.keys(added!), ["_id", "b"]);
  assert.ok(added!._id instanceof BSON.ObjectId);
  assert.throws(() => server.insert("db", "c", [{ _id: 7 }]), /duplicate _id in db\.c/);
});

Deno.test("find with a small batchSize iterates through several getMore batches", async () => {
  await using server = await startMongoTestServer();
  server.insert("db", "many", Array.from({ length: 25 }, (_, i) => ({ _id: i, i })));
  const client = new MongoClient(server.url, { monitorCommands: true });
  const getMores: number[] = [];
  client.on("commandSucceeded", (event) => {
    if (event.commandName === "getMore") {
      getMores.push((event.reply as BSON.Document).cursor.nextBatch.length);
    }
  });
  try {
    const docs = await client.db("db").collection("many").find({}, { batchSize: 4 }).toArray();
    assert.deepEqual(docs.map((doc) => doc._id), Array.from({ length: 25 }, (_, i) => i));
    assert.deepEqual(getMores, [4, 4, 4, 4, 4, 1]);

    const filtered = await client.db("db").collection("many")
      .find({ i: { $gte: 10 } }, { sort: { i: -1 }, skip: 2, limit: 5, projection: { _id: 0 } })
      .toArray();
    assert.deepEqual(filtered, [{ i: 22 }, { i: 21 }, { i: 20 }, { i: 19 }, { i: 18 }]);
  } finally {
    await client.close();
  }
});

Deno.test("listCollections, counts and drop behave like mongod", async () => {
  await using mongo = await openTestMongo();
  await insertDocuments(mongo, "alpha", [{ n: 1 }, { n: 2 }, { n: 3 }]);
  await insertDocuments(mongo, "beta", [{ n: 1 }]);
  await mongo.db.createCollection("gamma");

  const names = await mongo.db.listCollections({}, { nameOnly: true }).toArray();
  assert.deepEqual(names.map((info) => info.name).sort(), ["alpha", "beta", "gamma"]);
  const only = await mongo.db.listCollections({ name: "beta" }).toArray();
  assert.deepEqual(only.map((info) => [info.name, info.type]), [["beta", "collection"]]);

  const alpha = mongo.db.collection("alpha");
  assert.equal(await alpha.estimatedDocumentCount(), 3);
  assert.equal(await alpha.countDocuments(), 3);
  assert.equal(await alpha.countDocuments({ n: { $gt: 1 } }), 2);
  assert.equal(await mongo.db.collection("absent").countDocuments(), 0);

  assert.equal((await alpha.deleteOne({ n: 1 })).deletedCount, 1);
  assert.equal(await alpha.countDocuments(), 2);

  assert.equal(await alpha.drop(), true);
  const after = await mongo.db.listCollections({}, { nameOnly: true }).toArray();
  assert.deepEqual(after.map((info) => info.name).sort(), ["beta", "gamma"]);
  assert.deepEqual(await alpha.find({}).toArray(), []);

  const databases = await mongo.client.db("admin").admin().listDatabases();
  assert.ok(databases.databases.some((db) => db.name === mongo.database));
});

Deno.test("failAfterBatches() makes a cursor iteration fail with a driver network error", async () => {
  await using mongo = await openTestMongo();
  await insertDocuments(mongo, "doomed", Array.from({ length: 10 }, (_, i) => ({ _id: i })));
  mongo.server!.failAfterBatches(2); // the find reply and one getMore reply get through
  const cursor = mongo.db.collection("doomed").find({}, { batchSize: 3 });
  const seen: unknown[] = [];
  await assert.rejects(async () => {
    for await (const doc of cursor) seen.push(doc._id);
  }, MongoNetworkError);
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
});

Deno.test("insertMany sends many documents as OP_MSG document sequences", async () => {
  await using mongo = await openTestMongo();
  const docs = Array.from(
    { length: 20_000 },
    (_, i) => ({ _id: i, label: `doc ${i}`, pad: "x".repeat(100) }),
  );
  const result = await mongo.db.collection<BulkDocument>("bulk").insertMany(docs);
  assert.equal(result.insertedCount, docs.length);
  const stored = mongo.server!.documents(mongo.database, "bulk");
  assert.equal(stored.length, docs.length);
  assert.deepEqual(stored[12_345], serialize(docs[12_345]!));
  assert.equal(await mongo.db.collection("bulk").estimatedDocumentCount(), docs.length);

  const duplicate = await mongo.db.collection<BulkDocument>("bulk").insertOne({
    _id: 5,
    label: "again",
    pad: "",
  }).catch((error) => error);
  assert.equal(duplicate.code, 11000);
});

Deno.test("OP_MSG kind-1 sequences, checksum flag and moreToCome are handled on the wire", async () => {
  await using server = await startMongoTestServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const docs = [serialize({ _id: 1 }), serialize({ _id: 2 })];
    const sequenceBody = new Uint8Array([
      ...new TextEncoder().encode("documents"),
      0,
      ...docs[0]!,
      ...docs[1]!,
    ]);
    const insert = BSON.serialize({ insert: "wire", $db: "db" });
    // moreToCome: the insert gets no reply; the ping after it does.
    await conn.write(message(41, 2013, [
      int32(1 << 1),
      new Uint8Array([0]),
      insert,
      new Uint8Array([1]),
      int32(4 + sequenceBody.length),
      sequenceBody,
    ]));
    // checksumPresent: the last 4 bytes are a CRC-32C the server must skip.
    await conn.write(message(42, 2013, [
      int32(1 << 0),
      new Uint8Array([0]),
      BSON.serialize({ ping: 1, $db: "admin" }),
      int32(0x12345678),
    ]));
    const reply = await readReply(conn);
    const view = new DataView(reply.buffer);
    assert.equal(view.getInt32(8, true), 42, "responseTo is the ping's request id");
    assert.equal(view.getInt32(12, true), 2013);
    assert.deepEqual(BSON.deserialize(reply.subarray(21)), { ok: 1 });
    assert.deepEqual(server.documents("db", "wire"), docs);

    // The legacy OP_QUERY handshake gets an OP_REPLY.
    await conn.write(message(43, 2004, [
      int32(0),
      new TextEncoder().encode("admin.$cmd\0"),
      int32(0),
      int32(-1),
      BSON.serialize({ isMaster: 1, helloOk: true }),
    ]));
    const legacy = await readReply(conn);
    const legacyView = new DataView(legacy.buffer);
    assert.equal(legacyView.getInt32(8, true), 43);
    assert.equal(legacyView.getInt32(12, true), 1);
    assert.equal(legacyView.getInt32(32, true), 1, "numberReturned");
    const hello = BSON.deserialize(legacy.subarray(36));
    assert.equal(hello.ismaster, true);
    assert.equal(hello.maxWriteBatchSize, 100_000);
  } finally {
    conn.close();
  }
});

Deno.test("reply batches stay within the 16 MiB BSON limit", async () => {
  await using server = await startMongoTestServer();
  const big = (i: number) =>
    serialize({ _id: i, blob: new BSON.Binary(new Uint8Array(5 << 20).fill(i)) });
  const docs = [0, 1, 2, 3, 4].map(big);
  server.insert("db", "big", docs);
  const client = new MongoClient(server.url, { monitorCommands: true });
  const batches: number[] = [];
  client.on("commandSucceeded", (event) => {
    const cursor = (event.reply as BSON.Document).cursor;
    if (cursor) batches.push((cursor.firstBatch ?? cursor.nextBatch).length);
  });
  try {
    const raw = await client.db("db").collection("big").find({}, { raw: true }).toArray();
    assert.deepEqual(raw.map(asBytes), docs);
    assert.deepEqual(batches, [3, 2]);
  } finally {
    await client.close();
  }
});

Deno.test("an awaitable hello is held back, then answered, and close() releases it", async () => {
  const server = await startMongoTestServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const awaitable = (requestId: number, maxAwaitTimeMS: number) =>
      message(requestId, 2013, [
        int32(0),
        new Uint8Array([0]),
        serialize({
          hello: 1,
          topologyVersion: { processId: new BSON.ObjectId(), counter: BSON.Long.fromNumber(0) },
          maxAwaitTimeMS,
          $db: "admin",
        }),
      ]);
    await conn.write(awaitable(7, 10));
    const reply = await readReply(conn);
    assert.equal(new DataView(reply.buffer).getInt32(8, true), 7);
    assert.equal(BSON.deserialize(reply.subarray(21)).isWritablePrimary, true);

    await conn.write(awaitable(8, 600_000));
    await server.close();
    assert.equal(await conn.read(new Uint8Array(16)), null, "close() ends held connections");
  } finally {
    conn.close();
    await server.close();
  }
});

Deno.test("withDatabase() puts the database in the URL path, keeping hosts and options", () => {
  assert.equal(withDatabase("mongodb://127.0.0.1:1234", "d"), "mongodb://127.0.0.1:1234/d");
  assert.equal(
    withDatabase("mongodb://u:p@a:1,b:2/old?replicaSet=rs", "new"),
    "mongodb://u:p@a:1,b:2/new?replicaSet=rs",
  );
});

Deno.test("failAfterBatches() with forMs comes back by itself; cursorRequests log what was sent", async () => {
  await using server = await startMongoTestServer();
  server.insert("db", "blip", Array.from({ length: 6 }, (_, i) => ({ _id: i })));
  const client = new MongoClient(server.url);
  try {
    const collection = client.db("db").collection("blip");
    server.failAfterBatches(1, { forMs: 200 });
    await assert.rejects(async () => {
      for await (const _ of collection.find({}, { batchSize: 2 })) { /* until it dies */ }
    }, MongoNetworkError);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual((await collection.find({}).toArray()).map((d) => d._id), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(
      server.cursorRequests.map((r) => [r.command, r.ns, r.documents]),
      [["find", "db.blip", 2], ["getMore", "db.blip", 0], ["find", "db.blip", 6]],
    );
    assert.equal(server.sentDocuments("db", "blip"), 8);
  } finally {
    await client.close();
  }
});

Deno.test("errorAfterBatches() fails one getMore of a collection; CursorNotFound forgets the cursor", async () => {
  await using server = await startMongoTestServer();
  server.insert("db", "a", Array.from({ length: 6 }, (_, i) => ({ _id: i })));
  server.insert("db", "b", Array.from({ length: 6 }, (_, i) => ({ _id: i })));
  const client = new MongoClient(server.url);
  try {
    server.errorAfterBatches(1, { code: 43, codeName: "CursorNotFound", collection: "b" });
    assert.equal(
      (await client.db("db").collection("a").find({}, { batchSize: 2 }).toArray()).length,
      6,
    );
    const cursor = client.db("db").collection("b").find({}, { batchSize: 2 });
    const seen: unknown[] = [];
    await assert.rejects(async () => {
      for await (const doc of cursor) seen.push(doc._id);
    }, (error: { code?: number; codeName?: string }) => error.code === 43);
    assert.deepEqual(seen, [0, 1]);
    assert.equal((await client.db("db").collection("b").find({}).toArray()).length, 6, "once only");
  } finally {
    await client.close();
  }
});

Deno.test("pauseAfterBatches() holds a reply until resume()", async () => {
  await using server = await startMongoTestServer();
  server.insert("db", "slow", Array.from({ length: 4 }, (_, i) => ({ _id: i })));
  const client = new MongoClient(server.url);
  try {
    const paused = server.pauseAfterBatches(1, { collection: "slow" });
    const reading = client.db("db").collection("slow").find({}, { batchSize: 2 }).toArray();
    await paused;
    assert.deepEqual(server.cursorRequests.map((r) => [r.command, r.documents]), [
      ["find", 2],
      ["getMore", 0],
    ]);
    server.resume();
    assert.equal((await reading).length, 4);
  } finally {
    await client.close();
  }
});

Deno.test("a replica-set member reads at the snapshot's cluster time, hiding later inserts", async () => {
  await using server = await startMongoTestServer({ replicaSet: "rs0" });
  server.insert("db", "c", [{ _id: 1 }, { _id: 2 }]);
  const client = new MongoClient(server.url);
  try {
    const hello = await client.db("admin").command({ hello: 1 });
    assert.equal(hello.setName, "rs0");
    assert.equal(hello.primary, hello.me);
    const session = client.startSession({ snapshot: true });
    const collection = client.db("db").collection("c");
    assert.equal((await collection.find({}, { session }).toArray()).length, 2);
    server.insert("db", "c", [{ _id: 3 }]);
    assert.equal((await collection.find({}, { session }).toArray()).length, 2, "same snapshot");
    assert.equal((await collection.find({}).toArray()).length, 3);
    await session.endSession();
    const [first, second] = server.cursorRequests;
    assert.equal(first?.readConcern?.level, "snapshot");
    assert.equal(second?.readConcern?.atClusterTime?.i, 2);
  } finally {
    await client.close();
  }
});

Deno.test("a standalone server refuses snapshot reads; _id sorts and filters follow BSON order", async () => {
  await using server = await startMongoTestServer();
  const ids = [new BSON.ObjectId("62a0f1c2b3d4e5f601234567"), "b", 2.5, "a", 1, { x: 1 }, true];
  server.insert("db", "mixed", ids.map((_id) => ({ _id })));
  const client = new MongoClient(server.url);
  try {
    const collection = client.db("db").collection<{ _id: BSON.ObjectId | string | number }>(
      "mixed",
    );
    const sorted = await collection.find({}, { sort: { _id: 1 } }).toArray();
    assert.deepEqual(
      sorted.map((d) => canonical({ v: d._id })),
      [1, 2.5, "a", "b", { x: 1 }, ids[0], true].map((v) => canonical({ v })),
    );
    const after = await collection.find({ _id: { $gt: "a" } }).toArray();
    assert.deepEqual(after.map((d) => d._id), ["b"], "$gt stays within the string bracket");
    const session = client.startSession({ snapshot: true });
    await assert.rejects(() => collection.find({}, { session }).toArray(), /snapshot reads/);
    await session.endSession();
  } finally {
    await client.close();
  }
});
