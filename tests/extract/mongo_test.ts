import assert from "node:assert/strict";
import {
  Binary,
  BSON,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
} from "bson";
import { loadConfig, type PipelineConfig } from "../../lib/core/config.ts";
import type { Sql } from "../../lib/core/db.ts";
import { extractCollections } from "../../extract/extract.ts";
import { databaseOfUrl, openMongoSource } from "../../extract/mongo_source.ts";
import { freshDatabase } from "../support/db.ts";
import { insertDocuments, MONGO_TEST_URL, openTestMongo } from "../support/mongo.ts";

const USERS = "lml_users_mesa4core";
const config: PipelineConfig = await loadConfig();

async function rawRows(sql: Sql): Promise<Record<string, unknown>[]> {
  const rows = await sql`
    select _id, doc::text as doc, encode(original, 'hex') as original
    from lml_raw.lml_users_mesa4core order by _id`;
  return rows.map((r) => ({ ...r }));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function documents(n: number): Uint8Array[] {
  const special = [
    {
      _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f6"),
      long: Long.fromString("9007199254740993"),
      decimal: Decimal128.fromString("1.10"),
      nan: new Double(NaN),
      negZero: new Double(-0),
      int: new Int32(3),
      bin: new Binary(new Uint8Array([1, 2]), 4),
      ts: new Timestamp({ t: 1, i: 2 }),
      keys: [new MinKey(), new MaxKey()],
      old: new Date(-1000),
      nul: "a\u0000b",
    },
    { _id: "string-id", when: new Date("2022-03-01T12:00:00Z") },
  ].map((d) => BSON.serialize(d));
  const plain = Array.from({ length: n }, (_, k) =>
    BSON.serialize({
      _id: new ObjectId(k.toString(16).padStart(24, "0")),
      k,
      name: `user ${k}`,
      at: new Date(1650000000000 + k),
    }));
  return [...special, ...plain];
}

Deno.test("extracting through the driver gives the same rows as the dump path, over many batches", async () => {
  await using mongo = await openTestMongo();
  await using db = await freshDatabase();
  const docs = documents(2500);
  await insertDocuments(mongo, USERS, docs);
  const [viaDriver] = await extractCollections(db.sql, config, {
    source: mongo.url,
    select: [USERS],
  });
  assert.equal(viaDriver?.status, "succeeded", viaDriver?.error);
  assert.equal(viaDriver.documents, docs.length);
  assert.equal(viaDriver.anomalies, 1);
  const driverRows = await rawRows(db.sql);

  const dir = await Deno.makeTempDir({ prefix: "lml_extract_mongo_test_" });
  try {
    await Deno.writeFile(`${dir}/${USERS}.bson`, concat(docs));
    const [viaDump] = await extractCollections(db.sql, config, { source: dir, select: [USERS] });
    assert.equal(viaDump?.status, "succeeded", viaDump?.error);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(driverRows, await rawRows(db.sql));
  const [log] = await db.sql`select source from lml_meta.extract_log order by started_at limit 1`;
  assert.equal(log!.source, mongo.url);
});

Deno.test({
  name: "a server dying mid-stream leaves the previous raw data intact with a clear error",
  // Fault injection needs the in-process server.
  ignore: MONGO_TEST_URL !== undefined,
}, async () => {
  await using mongo = await openTestMongo();
  assert.ok(mongo.server);
  await using db = await freshDatabase();
  await insertDocuments(mongo, USERS, documents(3000));
  const [first] = await extractCollections(db.sql, config, { source: mongo.url, select: [USERS] });
  assert.equal(first?.status, "succeeded", first?.error);
  const before = await rawRows(db.sql);

  mongo.server.failAfterBatches(2); // for good: retried, then given up
  const [second] = await extractCollections(db.sql, config, {
    source: mongo.url,
    select: [USERS],
    retry: { attempts: 2, maxSeconds: 5, firstDelayMs: 50 },
  });
  assert.equal(second?.status, "failed");
  assert.match(
    second.error!,
    /^lml_users_mesa4core: document \d+ of lml_test\.lml_users_mesa4core: /,
  );
  assert.match(second.error!, /failed after \d+ documents: .*\(gave up after 2 retries over/);
  assert.deepEqual(await rawRows(db.sql), before);
  const [staging] = await db.sql`
    select to_regclass('lml_staging.lml_users_mesa4core__next') is null as gone`;
  assert.equal(staging!.gone, true);
});

Deno.test("databaseOfUrl() reads the database from the URL path, ignoring options", () => {
  assert.equal(databaseOfUrl("mongodb://u:p@h:27017/mesa4core?authSource=admin"), "mesa4core");
  assert.equal(databaseOfUrl("mongodb+srv://h1,h2/other"), "other");
  assert.equal(databaseOfUrl("mongodb://h:27017/?replicaSet=rs"), undefined);
  assert.equal(databaseOfUrl("mongodb://h:27017"), undefined);
});

Deno.test("openMongoSource() uses the URL's database over the default", async () => {
  await using mongo = await openTestMongo();
  await using source = await openMongoSource(mongo.url, { database: "ignored" });
  assert.equal(await source.locate(USERS), `${mongo.database}.${USERS}`);
  assert.equal(source.description, mongo.url);
});
