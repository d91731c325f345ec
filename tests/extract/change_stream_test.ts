/**
 * The change stream reader (extract/change_stream.ts) against the test server posing as a
 * replica set: positions, changes per collection and operation, collections outside the
 * config skipped, a document too large for one change event read by `_id`, and every way a
 * position is lost.
 */
import assert from "node:assert/strict";
import * as BSON from "bson";
import { MongoClient } from "mongodb";
import { openChangeSource } from "../../extract/open_change_source.ts";
import { findId, idText } from "../../extract/ejson.ts";
import { startMongoTestServer } from "../support/mongo_server.ts";

/** Any document with a number or string `_id`. */
type Doc = { _id: number | string; [key: string]: unknown };

async function replicaSet() {
  const server = await startMongoTestServer({ replicaSet: "rs0" });
  const url = `${server.url}/shop?replicaSet=rs0`;
  const client = new MongoClient(url);
  await client.connect();
  const source = await openChangeSource(url, { maxAwaitMs: 50 });
  return {
    server,
    source,
    db: client.db("shop"),
    async [Symbol.asyncDispose]() {
      await source.close();
      await client.close();
      await server.close();
    },
  };
}

function idOf(doc: BSON.Document): string {
  const bson = BSON.serialize({ _id: doc._id });
  return idText(bson, findId(bson)!);
}

Deno.test("changesSince() names every document written, counts events, skips other collections", async () => {
  await using mongo = await replicaSet();
  const items = mongo.db.collection<{ _id: number | string; n?: number }>("items");
  await items.insertMany([{ _id: 1 }, { _id: 2 }, { _id: "three" }]);
  const taken = await mongo.source.position();
  assert.ok("position" in taken);
  await items.updateOne({ _id: 1 }, { $set: { n: 1 } });
  await items.deleteOne({ _id: 2 });
  await items.insertOne({ _id: 4 });
  await mongo.db.collection<Doc>("elsewhere").insertOne({ _id: 1 });
  const read = await mongo.source.changesSince(taken.position, { collections: ["items"] });
  assert.ok(read.lost === undefined, read.lost);
  assert.equal(read.events, 4);
  assert.equal(read.skipped, 1);
  const [changes] = read.changes;
  assert.deepEqual([...changes!.keys.keys()].sort(), [1, 2, 4].map((_id) => idOf({ _id })).sort());
  assert.deepEqual(changes!.events, { update: 1, delete: 1, insert: 1 });
  const docs = [];
  for await (const batch of mongo.source.documents("items", changes!.keys.values())) {
    docs.push(...batch.map((raw) => BSON.deserialize(raw)));
  }
  assert.deepEqual(docs.map((d) => d._id).sort(), [1, 4]); // 2 is gone: deleted
  // The position read is the present: nothing new after it.
  const again = await mongo.source.changesSince(read.position, { collections: ["items"] });
  assert.ok(again.lost === undefined && again.events === 0);
});

Deno.test("a document too large for one change event is read by _id, not fatal", async () => {
  await using mongo = await replicaSet();
  const taken = await mongo.source.position();
  assert.ok("position" in taken);
  const big = BSON.serialize({ _id: "big", text: "x".repeat(16 * 1024 * 1024 - 100) });
  mongo.server.insert("shop", "items", [big]);
  const read = await mongo.source.changesSince(taken.position, { collections: ["items"] });
  assert.ok(read.lost === undefined, read.lost);
  const docs: Uint8Array[] = [];
  for await (const batch of mongo.source.documents("items", read.changes[0]!.keys.values())) {
    docs.push(...batch);
  }
  assert.equal(docs.length, 1);
  assert.ok(
    docs[0]!.length === big.length && docs[0]!.every((b, i) => b === big[i]),
    "not as sent",
  );
});

Deno.test("a position is lost, never skipped: history gone, collection dropped or renamed, database dropped", async () => {
  const cases: [string, (m: Awaited<ReturnType<typeof replicaSet>>) => Promise<void>, RegExp][] = [
    ["expired", (m) => Promise.resolve(m.server.expireHistory()), /ChangeStreamHistoryLost/],
    ["dropped", async (m) => void await m.db.collection<Doc>("items").drop(), /items was dropped/],
    [
      "renamed",
      async (m) => void await m.db.collection<Doc>("items").rename("old"),
      /renamed to old/,
    ],
    ["renamed onto", async (m) => {
      await m.db.collection<Doc>("other").insertOne({ _id: 1 });
      await m.db.collection<Doc>("other").rename("items", { dropTarget: true });
    }, /other was renamed to items/],
    ["database dropped", async (m) => void await m.db.dropDatabase(), /dropped/],
  ];
  for (const [name, act, expected] of cases) {
    await using mongo = await replicaSet();
    await mongo.db.collection<Doc>("items").insertOne({ _id: 1 });
    const taken = await mongo.source.position();
    assert.ok("position" in taken);
    await mongo.db.collection<Doc>("items").insertOne({ _id: 2 });
    await act(mongo);
    const read = await mongo.source.changesSince(taken.position, { collections: ["items"] });
    assert.match(read.lost ?? "(not lost)", expected, name);
  }
});

Deno.test("a standalone server has no change stream: position() says so", async () => {
  await using server = await startMongoTestServer();
  await using source = await openChangeSource(`${server.url}/shop`);
  const taken = await source.position();
  assert.ok("unavailable" in taken && /no change stream/.test(taken.unavailable));
});
