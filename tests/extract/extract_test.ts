import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  Binary,
  BSON,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  EJSON,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
} from "bson";
import { loadConfig, type PipelineConfig } from "../../lib/core/config.ts";
import { connect, type Sql } from "../../lib/core/db.ts";
import { extractCollections, stageCollections } from "../../extract/extract.ts";
import { copySupported, dropStagingTables, swapStagingTables } from "../../extract/load.ts";
import { freshDatabase } from "../support/db.ts";

const USERS = "lml_users_mesa4core";
const GROUPS = "lml_usersgroups_mesa4core";
const config: PipelineConfig = await loadConfig();

/** A temporary dump directory `<dir>/mesa4core/`, removed on dispose. */
async function tempDump(): Promise<{ dir: string; db: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "lml_extract_test_" });
  const db = `${dir}/mesa4core`;
  await Deno.mkdir(db);
  return {
    dir,
    db,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
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

function bsonFile(docs: (Record<string, unknown> | Uint8Array)[]): Uint8Array {
  return concat(docs.map((d) => d instanceof Uint8Array ? d : BSON.serialize(d)));
}

interface RawRow {
  _id: string;
  doc: string;
  original: string | null;
}

async function rawRows(sql: Sql, collection: string): Promise<RawRow[]> {
  return await sql.unsafe(
    `select _id, doc::text as doc, encode(original, 'hex') as original
     from lml_raw.${collection} order by _id`,
  ) as unknown as RawRow[];
}

async function tableExists(sql: Sql, name: string): Promise<boolean> {
  const [row] = await sql`select to_regclass(${name}) is not null as found`;
  return row!.found as boolean;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const ALL_TYPES = {
  _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f6"),
  double: new Double(85.5),
  wholeDouble: new Double(3),
  negZero: new Double(-0),
  nan: new Double(NaN),
  inf: new Double(Infinity),
  ninf: new Double(-Infinity),
  string: 'Pérez "x" \\ \n\t',
  sub: { theme: "dark", notifications: { email: true } },
  array: [1, "two", [3], {}],
  binary: new Binary(new Uint8Array([1, 2, 3]), 0),
  uuid: new Binary(new Uint8Array(16).fill(0xab), 4),
  ref: new ObjectId("000000000000000000000001"),
  yes: true,
  date: new Date("2022-03-01T12:00:00Z"),
  dateMs: new Date("2022-03-01T12:00:00.123Z"),
  oldDate: new Date("1969-07-20T20:17:00Z"),
  nil: null,
  regex: new BSONRegExp("^a", "i"),
  code: new Code("f()"),
  scoped: new Code("x", { x: 1 }),
  symbol: new BSONSymbol("s"),
  int32: new Int32(7),
  timestamp: new Timestamp({ t: 1650000000, i: 3 }),
  long: Long.fromString("42"),
  bigLong: Long.fromString("9007199254740993"),
  decimal: Decimal128.fromString("1.10"),
  min: new MinKey(),
  max: new MaxKey(),
};

// Written by hand from the relaxed Extended JSON v2 specification.
const ALL_TYPES_EXPECTED = {
  _id: { $oid: "62a0f1c2e4b0a1b2c3d4e5f6" },
  double: 85.5,
  wholeDouble: 3,
  negZero: { $numberDouble: "-0.0" },
  nan: { $numberDouble: "NaN" },
  inf: { $numberDouble: "Infinity" },
  ninf: { $numberDouble: "-Infinity" },
  string: 'Pérez "x" \\ \n\t',
  sub: { theme: "dark", notifications: { email: true } },
  array: [1, "two", [3], {}],
  binary: { $binary: { base64: "AQID", subType: "00" } },
  uuid: { $binary: { base64: "q6urq6urq6urq6urq6urqw==", subType: "04" } },
  ref: { $oid: "000000000000000000000001" },
  yes: true,
  date: { $date: "2022-03-01T12:00:00Z" },
  dateMs: { $date: "2022-03-01T12:00:00.123Z" },
  oldDate: { $date: { $numberLong: "-14182980000" } },
  nil: null,
  regex: { $regularExpression: { pattern: "^a", options: "i" } },
  code: { $code: "f()" },
  scoped: { $code: "x", $scope: { x: 1 } },
  symbol: { $symbol: "s" },
  int32: 7,
  timestamp: { $timestamp: { t: 1650000000, i: 3 } },
  long: 42,
  bigLong: { $numberLong: "9007199254740993" },
  decimal: { $numberDecimal: "1.10" },
  min: { $minKey: 1 },
  max: { $maxKey: 1 },
};

Deno.test("extractCollections() loads every BSON type as the exact JSONB expected", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile([ALL_TYPES]));
  const [result] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
  });
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.documents, 1);
  assert.equal(result.anomalies, 0);
  const [row] = await db.sql`
    select _id, doc = ${JSON.stringify(ALL_TYPES_EXPECTED)}::text::jsonb as same, doc::text as doc,
           original is null as no_original, extracted_at is not null as stamped
    from lml_raw.lml_users_mesa4core`;
  assert.equal(row!._id, "62a0f1c2e4b0a1b2c3d4e5f6");
  assert.equal(row!.same, true, row!.doc);
  assert.equal(row!.no_original, true);
  assert.equal(row!.stamped, true);
  const [pk] = await db.sql`
    select conname from pg_constraint
    where conrelid = 'lml_raw.lml_users_mesa4core'::regclass and contype = 'p'`;
  assert.equal(pk!.conname, "lml_users_mesa4core_pkey");
  const columns = await db.sql`
    select column_name from information_schema.columns
    where table_schema = 'lml_raw' and table_name = ${USERS} order by ordinal_position`;
  assert.deepEqual(columns.map((c) => c.column_name), ["_id", "doc", "original", "extracted_at"]);
});

/** A document with `s` as a raw string value (bytes given), built by hand. */
function docWithRawString(id: string, bytes: number[]): Uint8Array {
  const idBytes = BSON.serialize({ _id: new ObjectId(id) }).subarray(4, -1);
  const value = [...new Uint8Array(new Int32Array([bytes.length + 1]).buffer), ...bytes, 0];
  const body = [...idBytes, 0x02, 0x73, 0, ...value];
  const length = body.length + 5;
  return new Uint8Array([...new Uint8Array(new Int32Array([length]).buffer), ...body, 0]);
}

Deno.test("U+0000 and invalid UTF-8 become U+FFFD and keep the original BSON as an anomaly", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const withNul = BSON.serialize({ _id: new ObjectId("000000000000000000000001"), s: "a\u0000b" });
  const invalid = docWithRawString("000000000000000000000002", [0x61, 0xff, 0x62]);
  const clean = BSON.serialize({ _id: new ObjectId("000000000000000000000003"), s: "ok" });
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile([withNul, invalid, clean]));
  const [result] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
  });
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.anomalies, 2);
  const rows = await db.sql`
    select _id, doc->>'s' as s, encode(original, 'hex') as original
    from lml_raw.lml_users_mesa4core order by _id`;
  assert.deepEqual(rows.map((r) => ({ ...r })), [
    { _id: "000000000000000000000001", s: "a\ufffdb", original: hex(withNul) },
    { _id: "000000000000000000000002", s: "a\ufffdb", original: hex(invalid) },
    { _id: "000000000000000000000003", s: "ok", original: null },
  ]);
  const [log] = await db.sql`
    select status, documents, anomalies, bytes, source from lml_meta.extract_log`;
  assert.deepEqual({ ...log }, {
    status: "succeeded",
    documents: "3",
    anomalies: "2",
    bytes: String(withNul.length + invalid.length + clean.length),
    source: `${dump.db}/${USERS}.bson`,
  });
});

Deno.test("repeated field names and Extended JSON keywords keep the original BSON; alike _ids do not collide", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const hexId = "62a0f1c2e4b0a1b2c3d4e5f6";
  const asObjectId = BSON.serialize({ _id: new ObjectId(hexId), n: 1 });
  const asString = BSON.serialize({ _id: hexId, n: 2, at: { $date: "2024-01-01" } });
  // { _id: "dup", n: 3, x: 1, x: 2 } written by hand: the BSON library refuses repeated names.
  const body = [
    ...[
      0x02,
      ...new TextEncoder().encode("_id"),
      0,
      4,
      0,
      0,
      0,
      ...new TextEncoder().encode("dup"),
      0,
    ],
    ...[0x10, 0x6e, 0, 3, 0, 0, 0],
    ...[0x10, 0x78, 0, 1, 0, 0, 0],
    ...[0x10, 0x78, 0, 2, 0, 0, 0],
  ];
  const repeated = new Uint8Array([body.length + 5, 0, 0, 0, ...body, 0]);
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile([asObjectId, asString, repeated]));
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.anomalies, 2);
  const rows = await db.sql`
    select _id, doc, original is not null as kept from lml_raw.lml_users_mesa4core
    order by (doc->>'n')::int`;
  assert.deepEqual(rows.map((r) => [r._id, r.kept]), [
    [hexId, false],
    [`"${hexId}"`, true],
    ["dup", true],
  ]);
  assert.equal(rows[2]!.doc.x, 2);
});

Deno.test("the _id column holds hex for ObjectIds, the string itself, canonical EJSON otherwise", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(
    `${dump.db}/${USERS}.bson`,
    bsonFile([
      { _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f6"), n: 1 },
      { _id: "jperez\tx\\y", n: 2 },
      { _id: new Int32(12), n: 3 },
      { _id: Long.fromString("9007199254740993"), n: 4 },
      { _id: { a: 1 }, n: 5 },
    ]),
  );
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(result?.status, "succeeded", result?.error);
  const rows = await db.sql`
    select _id, doc->'_id' as id from lml_raw.lml_users_mesa4core order by (doc->>'n')::int`;
  assert.deepEqual(rows.map((r) => r._id), [
    "62a0f1c2e4b0a1b2c3d4e5f6",
    "jperez\tx\\y",
    '{"$numberInt":"12"}',
    '{"$numberLong":"9007199254740993"}',
    '{"a":{"$numberInt":"1"}}',
  ]);
  assert.deepEqual(rows[1]!.id, "jperez\tx\\y");
});

Deno.test("an empty collection gives an empty raw table", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, new Uint8Array(0));
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.documents, 0);
  const [row] = await db.sql`select count(*)::int as n from lml_raw.lml_users_mesa4core`;
  assert.equal(row!.n, 0);
});

function manyDocs(n: number, tag: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => ({
    _id: new ObjectId(k.toString(16).padStart(24, "0")),
    k,
    tag,
    text: "x".repeat(k % 300),
    at: new Date(1650000000000 + k * 1000),
  }));
}

Deno.test("a collection larger than many batches and several COPY statements loads completely", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const docs = manyDocs(6000, "big");
  const file = bsonFile(docs);
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, file);
  const [result] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
    batchBytes: 8 * 1024,
    copyBytes: 64 * 1024,
  });
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.documents, 6000);
  assert.equal(result.bytes, file.length);
  const [row] = await db.sql`
    select count(*)::int as n, count(distinct _id)::int as ids, sum((doc->>'k')::int)::int as ks,
           sum(length(doc->>'text'))::int as chars
    from lml_raw.lml_users_mesa4core`;
  assert.deepEqual({ ...row }, {
    n: 6000,
    ids: 6000,
    ks: (5999 * 6000) / 2,
    chars: docs.reduce((n, d) => n + (d.text as string).length, 0),
  });
  const columns = await db.sql`
    select attname as column, attcompression as compression from pg_attribute
    where attrelid = 'lml_raw.lml_users_mesa4core'::regclass and attname in ('doc', 'original')
    order by attname`;
  // lz4 where the engine has it (our servers); the embedded engine is built without it.
  const lz4 = db.embedded ? "" : "l";
  assert.deepEqual(columns.map((c) => ({ ...c })), [
    { column: "doc", compression: lz4 },
    { column: "original", compression: lz4 },
  ], "documents and kept BSON are stored with lz4");
});

Deno.test("a truncated dump leaves the previous raw data intact and names document and byte", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const docs = manyDocs(5, "old");
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(docs));
  const [first] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(first?.status, "succeeded", first?.error);
  const before = await rawRows(db.sql, USERS);

  const fresh = manyDocs(4, "new").map((d) => BSON.serialize(d));
  const offset = fresh[0]!.length + fresh[1]!.length + fresh[2]!.length;
  const file = concat(fresh);
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, file.subarray(0, file.length - 10));
  const [second] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(second?.status, "failed");
  assert.match(second.error!, /lml_users_mesa4core/);
  assert.match(second.error!, new RegExp(`document 4 at byte ${offset} `));
  assert.match(second.error!, /truncated/);
  assert.deepEqual(await rawRows(db.sql, USERS), before);
  assert.equal(await tableExists(db.sql, "lml_staging.lml_users_mesa4core__next"), false);
  const logs = await db.sql`select status, error from lml_meta.extract_log order by started_at`;
  assert.deepEqual(logs.map((l) => l.status), ["succeeded", "failed"]);
  assert.equal(logs[1]!.error, second.error);
});

Deno.test("a load over two connections that fails midway keeps the previous data and its connections", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const small = { batchBytes: 8 * 1024, copyBytes: 64 * 1024 }; // several COPY statements
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(3000, "old")));
  const [first] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
    ...small,
  });
  assert.equal(first?.status, "succeeded", first?.error);
  const before = await rawRows(db.sql, USERS);

  const fresh = bsonFile(manyDocs(6000, "new"));
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, fresh.subarray(0, fresh.length - 10));
  const [second] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
    ...small,
  });
  assert.equal(second?.status, "failed");
  assert.match(second.error!, /document 6000 at byte \d+ .*truncated/);
  assert.deepEqual(await rawRows(db.sql, USERS), before);
  assert.equal(await tableExists(db.sql, "lml_staging.lml_users_mesa4core__next"), false);

  // Every connection went back to the pool usable: the next load (over two again) succeeds.
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, fresh);
  const [third] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
    ...small,
  });
  assert.equal(third?.status, "succeeded", third?.error);
  const [row] = await db.sql`
    select count(*)::int as n, count(*) filter (where doc->>'tag' = 'new')::int as new
    from lml_raw.lml_users_mesa4core`;
  assert.deepEqual({ ...row }, { n: 6000, new: 6000 });
});

Deno.test("a document that cannot be decoded fails with its position and byte offset", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const good = BSON.serialize({ _id: new ObjectId(), a: 1 });
  const bad = BSON.serialize({ _id: new ObjectId(), a: 1 });
  const typeAt = bad.length - 1 - 4 - 2 - 1; // the int32 element "a": type, key, NUL, value
  bad[typeAt] = 0x42;
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, concat([good, bad]));
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(result?.status, "failed");
  assert.match(
    result.error!,
    new RegExp(`document 2 at byte ${good.length + typeAt} .*unknown element type 0x42`),
  );
  assert.equal(await tableExists(db.sql, "lml_raw.lml_users_mesa4core"), false);
});

Deno.test("a duplicate _id fails cleanly and names both documents", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(2, "old")));
  await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  const before = await rawRows(db.sql, USERS);
  const a = BSON.serialize({ _id: "dup", n: 1 });
  const b = BSON.serialize({ _id: "other", n: 2 });
  const c = BSON.serialize({ _id: "dup", n: 3 });
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, concat([a, b, c]));
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(result?.status, "failed");
  assert.match(
    result.error!,
    new RegExp(
      `duplicate _id "dup": document 1 \\(byte 0\\) and document 3 \\(byte ${
        a.length + b.length
      }\\)`,
    ),
  );
  assert.deepEqual(await rawRows(db.sql, USERS), before);
  assert.equal(await tableExists(db.sql, "lml_staging.lml_users_mesa4core__next"), false);
});

const MIXED = [
  ALL_TYPES,
  { _id: "s1", nested: { deep: [{ a: new Date(0) }, -1.25e-10, 1e300] }, nul: "a\u0000" },
  { _id: new Int32(5), x: Long.fromString("-9223372036854775808"), y: new Double(-0) },
  ...manyDocs(50, "mixed"),
];

Deno.test(".bson.gz and JSON lines (canonical and relaxed) give the same rows as .bson", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const load = async (file: string, data: Uint8Array | string) => {
    for await (const entry of Deno.readDir(dump.db)) await Deno.remove(`${dump.db}/${entry.name}`);
    if (typeof data === "string") await Deno.writeTextFile(`${dump.db}/${file}`, data);
    else await Deno.writeFile(`${dump.db}/${file}`, data);
    const [result] = await extractCollections(db.sql, config, {
      source: dump.dir,
      select: [USERS],
    });
    assert.equal(result?.status, "succeeded", `${file}: ${result?.error}`);
    return await rawRows(db.sql, USERS);
  };
  const bson = bsonFile(MIXED);
  const expected = await load(`${USERS}.bson`, bson);
  assert.equal(expected.length, MIXED.length);
  assert.deepEqual(await load(`${USERS}.bson.gz`, gzipSync(bson)), expected);
  const canonical = MIXED.map((d) => EJSON.stringify(d, { relaxed: false })).join("\n") + "\n";
  assert.deepEqual(await load(`${USERS}.json`, canonical), expected);
  // npm:bson's relaxed form turns Int64 into JS numbers (lossy beyond 2^53) and Symbol into a
  // string: mongoexport keeps them, so its relaxed output is written here the way it prints.
  const relaxed = MIXED.map((d) =>
    EJSON.stringify(d, { relaxed: true })
      .replace('"x":-9223372036854776000', '"x":{"$numberLong":"-9223372036854775808"}')
      .replace('"bigLong":9007199254740992', '"bigLong":{"$numberLong":"9007199254740993"}')
      .replace('"y":0', '"y":{"$numberDouble":"-0.0"}')
      .replace('"negZero":0', '"negZero":{"$numberDouble":"-0.0"}')
  ).join("\r\n");
  assert.match(relaxed, /"\$numberDouble":"NaN"/);
  assert.deepEqual(await load(`${USERS}.jsonl`, relaxed), expected);
});

Deno.test("select extracts only the named collections from a mongodump layout", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(3, "u")));
  await Deno.writeTextFile(`${dump.db}/${USERS}.metadata.json`, '{"indexes":[]}');
  await Deno.writeFile(`${dump.db}/${GROUPS}.bson`, bsonFile(manyDocs(2, "g")));
  const results = await extractCollections(db.sql, config, { source: dump.dir, select: [GROUPS] });
  assert.deepEqual(results.map((r) => [r.collection, r.status, r.documents]), [
    [GROUPS, "succeeded", 2],
  ]);
  assert.equal(await tableExists(db.sql, `lml_raw.${USERS}`), false);
  assert.equal(await tableExists(db.sql, `lml_raw.${GROUPS}`), true);
});

Deno.test("a missing dump file fails that collection and the others still load", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${GROUPS}.bson`, bsonFile(manyDocs(2, "g")));
  const results = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS, GROUPS],
  });
  assert.deepEqual(results.map((r) => r.status), ["failed", "succeeded"]);
  assert.match(results[0]!.error!, /no dump file for collection lml_users_mesa4core/);
});

Deno.test("the INSERT fallback produces rows identical to COPY", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(MIXED));
  const [copy] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
    method: "copy",
  });
  assert.equal(copy?.status, "succeeded", copy?.error);
  const viaCopy = await rawRows(db.sql, USERS);
  const [insert] = await extractCollections(db.sql, config, {
    source: dump.dir,
    select: [USERS],
    method: "insert",
    batchBytes: 4096,
  });
  assert.equal(insert?.status, "succeeded", insert?.error);
  assert.deepEqual({ ...insert, seconds: 0 }, { ...copy, seconds: 0 });
  assert.equal(insert.anomalies, 1);
  assert.deepEqual(await rawRows(db.sql, USERS), viaCopy);
});

Deno.test("stageCollections() + swapStagingTables() in the caller's transaction swap all at once", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(3, "u")));
  await Deno.writeFile(`${dump.db}/${GROUPS}.bson`, bsonFile(manyDocs(2, "g")));
  const names = [USERS, GROUPS];
  const results = await stageCollections(db.sql, config, { source: dump.dir, select: names });
  assert.deepEqual(results.map((r) => r.status), ["succeeded", "succeeded"]);
  assert.equal(await tableExists(db.sql, `lml_raw.${USERS}`), false);
  await db.sql.begin((tx) =>
    swapStagingTables(tx, { rawSchema: config.rawSchema, collections: names })
  );
  const [row] = await db.sql`
    select (select count(*) from lml_raw.lml_users_mesa4core)::int as users,
           (select count(*) from lml_raw.lml_usersgroups_mesa4core)::int as groups`;
  assert.deepEqual({ ...row }, { users: 3, groups: 2 });
  assert.equal(await tableExists(db.sql, `lml_staging.${USERS}__next`), false);

  await stageCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  await dropStagingTables(db.sql, { collections: [USERS] });
  assert.equal(await tableExists(db.sql, `lml_staging.${USERS}__next`), false);
  await assert.rejects(
    db.sql.begin((tx) =>
      swapStagingTables(tx, { rawSchema: config.rawSchema, collections: [USERS] })
    ),
    /no staged table lml_staging.lml_users_mesa4core__next/,
  );
});

Deno.test("a named pipe works as a dump file", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  const fifo = `${dump.db}/${USERS}.bson`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, "mkfifo failed");
  const data = bsonFile(manyDocs(300, "pipe"));
  const writer = (async () => {
    const file = await Deno.open(fifo, { write: true });
    try {
      await file.write(data).then(async (n) => {
        let at = n;
        while (at < data.length) at += await file.write(data.subarray(at));
      });
    } finally {
      file.close();
    }
  })();
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  await writer;
  assert.equal(result?.status, "succeeded", result?.error);
  assert.equal(result.documents, 300);
});

Deno.test("copySupported() finds COPY FROM STDIN available on PostgreSQL", async () => {
  await using db = await freshDatabase();
  assert.equal(await copySupported(db.sql), true);
  const [row] = await db.sql`select count(*)::int as n from pg_stat_activity
    where datname = current_database() and state = 'active' and query ilike 'copy%'`;
  assert.equal(row!.n, 0);
});

Deno.test("extractCollections() works on a pool of a single connection", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(30, "u")));
  await Deno.writeFile(`${dump.db}/${GROUPS}.bson`, bsonFile(manyDocs(20, "g")));
  const single = connect(db.url, { max: 1 });
  try {
    const results = await extractCollections(single, config, {
      source: dump.dir,
      select: [USERS, GROUPS],
      concurrency: 2,
    });
    assert.deepEqual(results.map((r) => [r.status, r.documents]), [
      ["succeeded", 30],
      ["succeeded", 20],
    ]);
  } finally {
    await single.end();
  }
});

Deno.test("extractCollections() keeps others' views and grants on a raw table it replaces", async () => {
  await using dump = await tempDump();
  await using db = await freshDatabase();
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(3, "u")));
  await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  await db.sql.unsafe(`
    create schema reporting;
    create view reporting.user_ids as select _id from lml_raw.${USERS};
    comment on table lml_raw.${USERS} is 'kept by the analysts';
    grant select on lml_raw.${USERS} to public;`);
  await Deno.writeFile(`${dump.db}/${USERS}.bson`, bsonFile(manyDocs(5, "v")));
  const [result] = await extractCollections(db.sql, config, { source: dump.dir, select: [USERS] });
  assert.equal(result?.status, "succeeded", result?.error);
  const [row] = await db.sql`
    select (select count(*)::int from reporting.user_ids) as n,
           has_table_privilege('public', ${`lml_raw.${USERS}`}, 'select') as granted,
           (select count(*)::int from pg_namespace where nspname like 'lml\\_retired\\_%') as retired`;
  assert.deepEqual({ ...row }, { n: 5, granted: true, retired: 0 });
});
