/**
 * Change streams of the in-process MongoDB test server, through the official driver: the
 * events the manual describes, resuming, updateLookup, post-batch resume tokens, invalidate
 * events and an expired position (ChangeStreamHistoryLost).
 * @module
 */
import assert from "node:assert/strict";
import * as BSON from "bson";
import { MongoClient, MongoServerError, type ResumeToken } from "mongodb";
import { startMongoTestServer } from "./mongo_server.ts";

/** Any document, `_id` of any type. */
type Doc = { _id?: number | string; [key: string]: unknown };

async function replicaSet() {
  const server = await startMongoTestServer({ replicaSet: "rs0" });
  const client = new MongoClient(`${server.url}/?replicaSet=rs0`, {
    serverSelectionTimeoutMS: 5000,
  });
  await client.connect();
  return {
    server,
    client,
    db: client.db("shop"),
    async [Symbol.asyncDispose]() {
      await client.close();
      await server.close();
    },
  };
}

/** Every event of `stream` up to the present (tryNext until an empty batch). */
async function drain(stream: { tryNext(): Promise<unknown> }): Promise<BSON.Document[]> {
  const events: BSON.Document[] = [];
  for (let event = await stream.tryNext(); event; event = await stream.tryNext()) {
    events.push(event as BSON.Document);
  }
  return events;
}

Deno.test("a database change stream sends inserts, updates, replaces and deletes in order", async () => {
  await using mongo = await replicaSet();
  const items = mongo.db.collection<Doc>("items");
  await using stream = mongo.db.watch([], { fullDocument: "updateLookup", maxAwaitTimeMS: 50 });
  assert.equal(await stream.tryNext(), null);
  const start = stream.resumeToken;
  assert.ok(start, "the first empty batch carries a post-batch resume token");

  await items.insertOne({ _id: 1, n: 1 });
  await items.updateOne({ _id: 1 }, { $set: { n: 2 }, $unset: { name: "" } });
  await items.replaceOne({ _id: 1 }, { name: "one" });
  await items.deleteOne({ _id: 1 });
  await mongo.db.collection<Doc>("other").insertOne({ _id: "x" });

  const events = await drain(stream);
  assert.deepEqual(
    events.map((e) => [e.operationType, e.ns?.coll]),
    [["insert", "items"], ["update", "items"], ["replace", "items"], ["delete", "items"], [
      "insert",
      "other",
    ]],
  );
  const [insert, update, replace, remove] = events as [
    BSON.Document,
    BSON.Document,
    BSON.Document,
    BSON.Document,
  ];
  assert.deepEqual(insert.fullDocument, { _id: 1, n: 1 });
  assert.deepEqual(insert.documentKey, { _id: 1 });
  assert.deepEqual(update.updateDescription, {
    updatedFields: { n: 2 },
    removedFields: ["name"],
    truncatedArrays: [],
  });
  // updateLookup: the document as it is now (deleted since: null).
  assert.equal(update.fullDocument, null);
  assert.deepEqual(replace.fullDocument, { _id: 1, name: "one" });
  assert.deepEqual(remove.documentKey, { _id: 1 });
  assert.notDeepEqual(stream.resumeToken, start);
});

Deno.test("a change stream resumes after a token, starts at an operation time, and skips nothing", async () => {
  await using mongo = await replicaSet();
  const items = mongo.db.collection<Doc>("items");
  await items.insertOne({ _id: 1 });
  const time = mongo.server.operationTime;
  await items.insertOne({ _id: 2 });
  {
    await using stream = mongo.db.watch([], { startAtOperationTime: time, maxAwaitTimeMS: 50 });
    const events = await drain(stream);
    assert.deepEqual(events.map((e) => e.documentKey?._id), [1, 2]);
  }
  let token: ResumeToken;
  {
    await using stream = mongo.db.watch([], { maxAwaitTimeMS: 50 });
    assert.equal(await stream.tryNext(), null);
    token = stream.resumeToken;
  }
  await items.insertOne({ _id: 3 });
  await items.insertOne({ _id: 4 });
  await using resumed = mongo.db.watch([], { resumeAfter: token, maxAwaitTimeMS: 50 });
  const first = await resumed.tryNext();
  assert.equal((first as BSON.Document | null)?.documentKey._id, 3);
  const after3 = resumed.resumeToken;
  await using again = mongo.db.watch([], { startAfter: after3, maxAwaitTimeMS: 50 });
  assert.deepEqual(
    (await drain(again)).map((e) => e.documentKey?._id),
    [4],
  );
});

Deno.test("a quiet stream's post-batch resume token advances past other databases' writes", async () => {
  await using mongo = await replicaSet();
  await using stream = mongo.db.watch([], { maxAwaitTimeMS: 50 });
  assert.equal(await stream.tryNext(), null);
  const before = stream.resumeToken as { _data: string };
  await mongo.client.db("elsewhere").collection<Doc>("c").insertMany([{ a: 1 }, { a: 2 }]);
  assert.equal(await stream.tryNext(), null);
  const after = stream.resumeToken as { _data: string };
  assert.ok(after._data > before._data, `${after._data} > ${before._data}`);
});

Deno.test("dropping the watched collection invalidates its stream; startAfter resumes past it", async () => {
  await using mongo = await replicaSet();
  const items = mongo.db.collection<Doc>("items");
  await items.insertOne({ _id: 1 });
  await using stream = items.watch([], { maxAwaitTimeMS: 50 });
  assert.equal(await stream.tryNext(), null);
  await items.drop();
  const drop = await stream.tryNext();
  const invalidate = await stream.tryNext();
  assert.equal(drop?.operationType, "drop");
  assert.equal(invalidate?.operationType, "invalidate");
  await assert.rejects(
    async () => {
      await using resumed = items.watch([], { resumeAfter: invalidate!._id, maxAwaitTimeMS: 50 });
      await resumed.tryNext();
    },
    (error: MongoServerError) => error.code === 260,
  );
  await using after = items.watch([], { startAfter: invalidate!._id, maxAwaitTimeMS: 50 });
  await items.insertOne({ _id: 2 });
  const next = await after.tryNext();
  assert.equal(next?.operationType, "insert");
});

Deno.test("a database stream reports drops and renames of its collections", async () => {
  await using mongo = await replicaSet();
  await mongo.db.collection<Doc>("a").insertOne({ _id: 1 });
  await mongo.db.collection<Doc>("b").insertOne({ _id: 1 });
  await using stream = mongo.db.watch([], { maxAwaitTimeMS: 50 });
  assert.equal(await stream.tryNext(), null);
  await mongo.db.collection<Doc>("a").drop();
  await mongo.db.collection<Doc>("b").rename("c");
  const events = await drain(stream);
  assert.deepEqual(events.map((e) => e.operationType), ["drop", "rename"]);
  assert.deepEqual((events[1] as { to: unknown }).to, { db: "shop", coll: "c" });
});

Deno.test("an expired position fails with ChangeStreamHistoryLost (286), resumed or open", async () => {
  await using mongo = await replicaSet();
  const items = mongo.db.collection<Doc>("items");
  await using open = mongo.db.watch([], { maxAwaitTimeMS: 50 });
  assert.equal(await open.tryNext(), null);
  const token = open.resumeToken;
  await items.insertOne({ _id: 1 });
  mongo.server.expireHistory();
  await assert.rejects(() => open.tryNext(), (error: MongoServerError) => error.code === 286);
  await assert.rejects(
    async () => {
      await using resumed = mongo.db.watch([], { resumeAfter: token, maxAwaitTimeMS: 50 });
      await resumed.tryNext();
    },
    (error: MongoServerError) => error.code === 286 && error.codeName === "ChangeStreamHistoryLost",
  );
});

Deno.test("an event over 16 MiB fails the stream unless the pipeline leaves the document out", async () => {
  await using mongo = await replicaSet();
  await using full = mongo.db.watch([], { maxAwaitTimeMS: 50 });
  await using lean = mongo.db.watch([{ $project: { fullDocument: 0 } }], { maxAwaitTimeMS: 50 });
  assert.equal(await full.tryNext(), null);
  assert.equal(await lean.tryNext(), null);
  const big = "x".repeat(16 * 1024 * 1024 - 200);
  mongo.server.insert("shop", "items", [BSON.serialize({ _id: 1, big })]);
  await assert.rejects(() => full.tryNext(), (error: MongoServerError) => error.code === 10334);
  const event = await lean.tryNext();
  assert.equal(event?.operationType, "insert");
  assert.equal((event as { fullDocument?: unknown }).fullDocument, undefined);
  assert.deepEqual((event as { documentKey: unknown }).documentKey, { _id: 1 });
});

Deno.test("a standalone server refuses change streams, as mongod does", async () => {
  await using server = await startMongoTestServer();
  const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 5000 });
  try {
    await using stream = client.db("shop").watch();
    await assert.rejects(() => stream.tryNext(), (error: MongoServerError) => error.code === 40573);
  } finally {
    await client.close();
  }
});
