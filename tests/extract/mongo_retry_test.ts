/**
 * MongoDB reads that survive transient faults, through the official driver and the in-process
 * test server: a read resumes after the last document staged, exactly, whatever mix of `_id`
 * types a collection holds; one point in time where the server takes snapshot reads; the
 * URL's readPreference honoured.
 */
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
import type { RetryPolicy } from "../../lib/core/retry.ts";
import { extractCollections } from "../../extract/extract.ts";
import { openMongoSource } from "../../extract/mongo_source.ts";
import { afterFilter } from "../../extract/mongo_resume.ts";
import type { Source } from "../../extract/source.ts";
import { freshDatabase } from "../support/db.ts";
import { MONGO_TEST_URL, withDatabase } from "../support/mongo.ts";
import { type InjectedError, startMongoTestServer } from "../support/mongo_server.ts";

const USERS = "lml_users_mesa4core";
const PEOPLE = "lml_people_mesa4core";
const DATABASE = "lml_test";
const config: PipelineConfig = await loadConfig();
/** Quick retries: the faults injected here last well under a second. */
const RETRY: RetryPolicy = { attempts: 5, maxSeconds: 20, firstDelayMs: 50 };
/** Fault injection needs the in-process server. */
const inProcess = { ignore: MONGO_TEST_URL !== undefined };

/** `n` values made by `make`, for each index. */
function times<T>(n: number, make: (k: number) => T): T[] {
  return Array.from({ length: n }, (_, k) => make(k));
}

/**
 * 2,701 documents whose `_id`s span every bracket an `_id` can be in; sorted by `_id`, the
 * brackets end at multiples of 100 (MinKey + null + 298 numbers = 300, then strings to 800,
 * objects to 1000), so faults land both inside a bracket and right at its end.
 */
function mixedIds(): unknown[] {
  return [
    new MinKey(),
    null,
    // Numbers compare by value, whatever their type.
    new Double(-Infinity),
    ...times(100, (k) => new Int32(k - 50)),
    ...times(96, (k) => new Double(k + 49.5)),
    ...times(100, (k) => Long.fromString(`${9007199254740993n + BigInt(k)}`)),
    Decimal128.fromString("1e400"),
    ...times(500, (k) => `id-${String(k).padStart(4, "0")}`),
    ...times(200, (k) => k % 2 ? { a: k } : { a: k, b: "x" }),
    // Binary sorts by length, then subtype, then bytes.
    ...times(100, (k) => new Binary(new Uint8Array([k, k]), k < 50 ? 0 : 4)),
    ...times(1500, (k) => new ObjectId(k.toString(16).padStart(24, "0"))),
    false,
    true,
    ...times(97, (k) => new Date(Date.UTC(2020, 0, 1) + k * 86_400_000)),
    new Timestamp({ t: 1, i: 2 }),
    new MaxKey(),
  ];
}

/** One small document per `_id`, shuffled (the server returns them in `_id` order). */
function documentsWith(ids: unknown[]): Uint8Array[] {
  const docs = ids.map((_id, k) => BSON.serialize({ _id, k, name: `document ${k}` }));
  for (let k = docs.length - 1; k > 0; k--) {
    const j = (k * 7919) % (k + 1);
    [docs[k], docs[j]] = [docs[j]!, docs[k]!];
  }
  return docs;
}

async function rawRows(sql: Sql, collection: string): Promise<string[]> {
  const rows = await sql.unsafe<{ row: string }[]>(
    `select _id || ' ' || doc::text as row from lml_raw.${collection} order by _id collate "C"`,
  );
  return rows.map((r) => r.row);
}

async function retryRows(sql: Sql): Promise<{ stage: string; what: string; why: string }[]> {
  return [
    ...(await sql<{ stage: string; what: string; why: string }[]>`
    select stage, what, why from lml_meta.retries order by at, ordinal`),
  ];
}

/** Extracts `collections` through a source of batches of 100 (so 27 batches for the mixed ids). */
async function extractFrom(
  sql: Sql,
  url: string,
  collections: string[],
  options: { concurrency?: number } = {},
) {
  await using source = await openMongoSource(url, { batchSize: 100 });
  const results = await extractCollections(sql, config, {
    source,
    select: collections,
    retry: RETRY,
    concurrency: options.concurrency ?? 2,
  });
  return { results, reads: source.reads };
}

Deno.test({
  name: "afterFilter() resumes exactly after any _id, across every BSON type bracket",
  ...inProcess,
}, async () => {
  await using server = await startMongoTestServer();
  server.insert(DATABASE, USERS, documentsWith(mixedIds()));
  const client = new (await import("mongodb")).MongoClient(server.url);
  try {
    const collection = client.db(DATABASE).collection(USERS);
    const sorted = await collection.find({}, { raw: true, sort: { _id: 1 } }).toArray();
    const order = sorted.map((doc) => BSON.deserialize(doc as unknown as Uint8Array).k as number);
    // The server sorts by type bracket, then value: the order the ids were listed in.
    assert.deepEqual(order, times(order.length, (k) => k));
    for (const k of [0, 1, 2, 51, 101, 150, 299, 300, 799, 800, 999, 1000, 1099, 1100, 2599]) {
      const rest = await collection.find(afterFilter(sorted[k] as unknown as Uint8Array), {
        projection: { k: 1 },
        sort: { _id: 1 },
      }).toArray();
      assert.deepEqual(rest.map((d) => d.k), order.slice(k + 1), `after document ${k}`);
    }
    const last = sorted[sorted.length - 1] as unknown as Uint8Array;
    assert.deepEqual(await collection.find(afterFilter(last)).toArray(), []);
  } finally {
    await client.close();
  }
});

Deno.test("afterFilter() refuses an _id the driver cannot send back byte for byte", () => {
  const doc = new Uint8Array(BSON.serialize({ _id: "ab", k: 1 }));
  doc.set([0xff], doc.indexOf(0x61)); // "ab" becomes invalid UTF-8
  assert.throws(() => afterFilter(doc), /does not survive a round trip/);
});

for (
  const [name, after, error] of [
    ["a dropped connection (the server back within a second)", 3, undefined],
    ["a dropped connection inside a bracket", 17, undefined],
    ["CursorNotFound mid-stream", 8, { code: 43, codeName: "CursorNotFound" }],
    ["NotWritablePrimary (an election)", 10, { code: 10107, codeName: "NotWritablePrimary" }],
  ] as [string, number, InjectedError | undefined][]
) {
  Deno.test({
    name: `${name} after ${after * 100} documents: the read resumes after the last one staged`,
    ...inProcess,
  }, async () => {
    await using server = await startMongoTestServer();
    await using db = await freshDatabase();
    const docs = documentsWith(mixedIds());
    server.insert(DATABASE, USERS, docs);
    const url = withDatabase(server.url, DATABASE);
    const clean = await extractFrom(db.sql, url, [USERS]);
    assert.equal(clean.results[0]?.status, "succeeded", clean.results[0]?.error);
    const expected = await rawRows(db.sql, USERS);
    assert.equal(expected.length, docs.length);
    const requestsBefore = server.cursorRequests.length;
    const sentBefore = server.sentDocuments(DATABASE, USERS);

    if (error) server.errorAfterBatches(after, error);
    else server.failAfterBatches(after, { forMs: 300 });
    const { results: [result] } = await extractFrom(db.sql, url, [USERS]);
    assert.equal(result?.status, "succeeded", result?.error);
    assert.equal(result.documents, docs.length);
    assert.deepEqual(await rawRows(db.sql, USERS), expected);
    // Nothing read twice: the server sent each document once.
    assert.equal(server.sentDocuments(DATABASE, USERS) - sentBefore, docs.length);
    const finds = server.cursorRequests.slice(requestsBefore).filter((r) => r.command === "find");
    assert.deepEqual(finds[0]?.filter, {});
    const resumed = finds.filter((r) => r.documents > 0).at(-1)!;
    assert.ok("$or" in resumed.filter! || "_id" in resumed.filter!, JSON.stringify(resumed));
    assert.deepEqual(resumed.sort, { _id: 1 });
    const retries = await retryRows(db.sql);
    assert.ok(retries.length >= 1, "no retry recorded");
    for (const r of retries) {
      assert.equal(r.stage, "read");
      assert.equal(r.what, USERS);
      assert.match(r.why, error ? new RegExp(`^${error.codeName} \\(${error.code}\\)`) : /Network/);
    }
  });
}

Deno.test({
  name: "a fault that outlasts the retry bound fails the read naming it; raw data intact",
  ...inProcess,
}, async () => {
  await using server = await startMongoTestServer();
  await using db = await freshDatabase();
  server.insert(DATABASE, USERS, documentsWith(mixedIds()));
  const url = withDatabase(server.url, DATABASE);
  assert.equal((await extractFrom(db.sql, url, [USERS])).results[0]?.status, "succeeded");
  const before = await rawRows(db.sql, USERS);

  server.failAfterBatches(4); // for good
  await using source = await openMongoSource(url, { batchSize: 100 });
  const started = performance.now();
  const [result] = await extractCollections(db.sql, config, {
    source,
    select: [USERS],
    retry: { attempts: 10, maxSeconds: 2, firstDelayMs: 100 },
  });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(result?.status, "failed");
  assert.match(result.error!, /^lml_users_mesa4core: document 401 of lml_test\./);
  const gaveUp = result.error!.match(
    /failed after 400 documents: .*\(gave up after (\d+) retries over (\d+\.\d) s\)$/,
  );
  assert.ok(gaveUp, result.error);
  assert.ok(
    Number(gaveUp[2]) >= 2 && seconds < 15,
    `gave up after ${gaveUp[2]} s, took ${seconds}`,
  );
  assert.deepEqual(await rawRows(db.sql, USERS), before);
  assert.equal((await retryRows(db.sql)).length, Number(gaveUp[1]));
});

/**
 * Reads USERS (the larger, so first with concurrency 1) and PEOPLE, inserting documents into
 * both while USERS is being read; returns what was staged and how the source was read.
 */
async function extractWhileWriting(server: Awaited<ReturnType<typeof startMongoTestServer>>) {
  await using db = await freshDatabase();
  server.insert(DATABASE, USERS, times(1000, (k) => ({ _id: k, name: `user ${k}` })));
  server.insert(DATABASE, PEOPLE, times(300, (k) => ({ _id: k, owner: k })));
  const paused = server.pauseAfterBatches(2, { collection: USERS });
  const running = extractFrom(db.sql, withDatabase(server.url, DATABASE), [USERS, PEOPLE], {
    concurrency: 1,
  });
  await paused;
  // Written during the extraction: a person and the user it points to.
  server.insert(DATABASE, USERS, [{ _id: 5000, name: "new user" }]);
  server.insert(DATABASE, PEOPLE, [{ _id: 5000, owner: 5000 }]);
  server.errorAfterBatches(1, { code: 43, codeName: "CursorNotFound", collection: PEOPLE });
  server.resume();
  const { results, reads } = await running;
  assert.deepEqual(results.map((r) => r.status), ["succeeded", "succeeded"], results[0]?.error);
  return { documents: results.map((r) => r.documents), reads };
}

Deno.test({
  name: "a replica set is read at one point in time (snapshot), resumed reads included",
  ...inProcess,
}, async () => {
  await using server = await startMongoTestServer({ replicaSet: "rs0" });
  const { documents, reads } = await extractWhileWriting(server);
  assert.deepEqual(documents, [1000, 300], "documents written during the extraction were read");
  assert.equal(reads.atClusterTime, "1700000000.1300");
  assert.equal(reads.notAtOnePoint, undefined);
  const finds = server.cursorRequests.filter((r) => r.command === "find");
  assert.ok(finds.length >= 4, "probe, USERS, PEOPLE and its resumed read");
  for (const find of finds.slice(1)) {
    assert.equal(find.readConcern?.level, "snapshot");
    assert.equal(find.readConcern?.atClusterTime?.i, 1300, JSON.stringify(find));
  }
});

Deno.test({
  name: "a snapshot the server no longer holds: the rest is read as of then, and the reads say so",
  ...inProcess,
}, async () => {
  await using server = await startMongoTestServer({ replicaSet: "rs0" });
  await using db = await freshDatabase();
  server.insert(DATABASE, USERS, times(1000, (k) => ({ _id: k })));
  server.errorAfterBatches(3, { code: 239, codeName: "SnapshotTooOld", collection: USERS });
  const { results: [result], reads } = await extractFrom(
    db.sql,
    withDatabase(server.url, DATABASE),
    [USERS],
  );
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.documents, 1000);
  assert.equal(reads.atClusterTime, undefined);
  assert.match(
    reads.notAtOnePoint ?? "",
    /^the server no longer held the snapshot while lml_users_mesa4core was read \(SnapshotTooOld \(239\)/,
  );
  const finds = server.cursorRequests.filter((r) => r.command === "find");
  assert.equal(finds.at(-1)?.readConcern, undefined, "the resumed read has no snapshot");
  assert.ok("$or" in finds.at(-1)!.filter!, "it resumed after the last document staged");
  assert.deepEqual((await retryRows(db.sql)).map((r) => r.stage), ["read"]);
});

Deno.test({
  name: "a standalone server is read without a snapshot, and the reads say why",
  ...inProcess,
}, async () => {
  await using server = await startMongoTestServer();
  const { documents, reads } = await extractWhileWriting(server);
  assert.deepEqual(documents, [1000, 301], "the person written meanwhile is read");
  assert.equal(reads.atClusterTime, undefined);
  assert.match(reads.notAtOnePoint ?? "", /standalone; snapshot reads need a replica set/);
  for (const find of server.cursorRequests.filter((r) => r.command === "find")) {
    assert.equal(find.readConcern, undefined);
  }
});

Deno.test({
  name: "readPreference in the URL is honoured: a secondary-only set is read from its secondary",
  ...inProcess,
}, async () => {
  await using server = await startMongoTestServer({ replicaSet: "rs0", secondary: true });
  await using db = await freshDatabase();
  server.insert(DATABASE, USERS, times(250, (k) => ({ _id: k })));
  let source: Source | undefined;
  const [result] = await extractCollections(db.sql, config, {
    source: `${withDatabase(server.url, DATABASE)}?readPreference=secondary`,
    select: [USERS],
    retry: RETRY,
    onSource: (opened) => source = opened,
  });
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.documents, 250);
  assert.equal(source?.reads.readPreference, "secondary");
  for (const find of server.cursorRequests.filter((r) => r.command === "find")) {
    assert.equal(find.readPreference?.mode, "secondary");
  }
});
