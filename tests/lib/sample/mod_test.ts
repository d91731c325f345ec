import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { deserialize, type Document, EJSON, Long, ObjectId } from "bson";
import {
  generateSample,
  insertSample,
  type Manifest,
  PIPELINE_COLLECTIONS,
  sampleDocuments,
} from "../../../lib/sample/mod.ts";
import { openTestMongo } from "../../support/mongo.ts";
import { readBson, recount } from "../../support/recount.ts";

const NOTIFICATIONS = "lml_notifications_mesa4core";
const ALL = [...PIPELINE_COLLECTIONS, NOTIFICATIONS];

async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "lml_sample_test_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

async function digests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string, prefix: string) => {
    for await (const entry of Deno.readDir(path)) {
      if (entry.isDirectory) await walk(`${path}/${entry.name}`, `${prefix}${entry.name}/`);
      else {
        const hash = createHash("sha256").update(await Deno.readFile(`${path}/${entry.name}`));
        out.set(`${prefix}${entry.name}`, hash.digest("hex"));
      }
    }
  };
  await walk(dir, "");
  return out;
}

async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
}

Deno.test("generateSample() writes identical bytes for the same seed and different bytes for another", async () => {
  await using a = await tempDir();
  await using b = await tempDir();
  await using c = await tempDir();
  await generateSample(a.path, { scale: 0.01, seed: 7 });
  await generateSample(b.path, { scale: 0.01, seed: 7 });
  await generateSample(c.path, { scale: 0.01, seed: 8 });
  const [first, second, other] = await Promise.all([
    digests(a.path),
    digests(b.path),
    digests(c.path),
  ]);
  assert.equal(first.size, 1 + PIPELINE_COLLECTIONS.length * 2);
  assert.deepEqual(second, first);
  for (const name of PIPELINE_COLLECTIONS) {
    const file = `mesa4core/${name}.bson`;
    assert.ok(first.has(file), file);
    assert.notEqual(other.get(file), first.get(file), `${file} should change with the seed`);
  }
});

Deno.test("generateSample() manifest matches an independent recount of the BSON files", async () => {
  await using out = await tempDir();
  const returned = await generateSample(out.path, {
    scale: 0.01,
    seed: 3,
    extraCollections: [NOTIFICATIONS],
  });
  const manifest = await readManifest(out.path);
  assert.deepEqual(manifest, JSON.parse(JSON.stringify(returned)));
  assert.equal(manifest.format, "lml-sample/1");
  assert.equal(manifest.seed, 3);
  assert.equal(manifest.scale, 0.01);
  assert.equal(manifest.database, "mesa4core");

  const { figures, seen } = await recount(`${out.path}/mesa4core`, ALL);
  assert.deepEqual(manifest.collections, figures.collections);
  assert.equal(manifest.ghost_users, figures.ghost_users);
  assert.deepEqual(manifest.snapshots_without_id, figures.snapshots_without_id);
  assert.deepEqual(manifest.garbage_timestamps, figures.garbage_timestamps);
  assert.deepEqual(manifest.dangling, figures.dangling);
  assert.equal(manifest.duplicate_members, figures.duplicate_members);
  assert.deepEqual(manifest.rows, figures.rows);
  assert.deepEqual(manifest.catalog, figures.catalog);
  const byKey = (h: { collection: string; _id: string; what: string }) =>
    `${h.collection}/${h._id}/${h.what}`;
  assert.deepEqual(
    manifest.hostile.map(byKey).sort(),
    (figures.hostile as typeof manifest.hostile).map(byKey).sort(),
  );

  // Every promised anomaly occurs, even at scale 0.01.
  assert.ok(manifest.ghost_users >= 1);
  assert.ok(manifest.duplicate_members >= 1);
  for (const [key, count] of Object.entries(manifest.snapshots_without_id)) {
    assert.ok(count >= 1, key);
  }
  for (const [key, count] of Object.entries(manifest.garbage_timestamps)) {
    assert.ok(count >= 1, key);
  }
  for (const [key, count] of Object.entries(manifest.dangling)) assert.ok(count >= 1, key);
  for (const [key, count] of Object.entries(manifest.rows)) assert.ok(count >= 1, key);
  assert.ok(manifest.collections["lml_listbuilder_mesa4core"]!.string_ids >= 1);
  assert.deepEqual(
    [...new Set(manifest.hostile.map((h) => h.what))].sort(),
    ["2mb-document", "decimal128", "infinity", "int64-beyond-2^53", "nan", "nul-in-string"],
  );
  for (const name of ALL) {
    assert.ok(manifest.collections[name]!.soft_deleted >= 1, name);
    for (const spelling of ["true", '"true"', "1", "false", '"false"', "0", "missing"]) {
      assert.ok(seen.has(`${name}:deleted=${spelling}`), `${name} deleted=${spelling}`);
    }
  }
  for (const garbage of ['""', '"N/A"', '"0000-00-00"']) {
    assert.ok(seen.has(`garbage:${garbage}`), garbage);
  }
  for (
    const kind of [
      "date",
      "iso-ms",
      "iso",
      "offset",
      "naive",
      "Long",
      "Double",
      "Int32",
      "ejson-string",
      "ejson-long",
      "null",
      "missing",
    ]
  ) {
    assert.ok(seen.has(`createdAt:${kind}`), `createdAt variant ${kind}`);
  }
  for (const form of ["oid", "lower", "upper"]) assert.ok(seen.has(`snapshot-id:${form}`), form);
  assert.ok(seen.has("snapshot:id-only"));
  assert.ok(seen.has("form:null"));
  for (
    const kind of [
      "physical:separators",
      "physical:digits",
      "juridical:separators",
      "juridical:digits",
    ]
  ) {
    assert.ok(seen.has(`person:${kind}`), kind);
  }
  assert.ok(seen.has("emails:string") && seen.has("emails:object"));
});

Deno.test("generateSample() keeps the closed value sets and the uniqueness rules", async () => {
  await using out = await tempDir();
  await generateSample(out.path, { scale: 0.01, seed: 5 });
  const dir = `${out.path}/mesa4core`;
  const usernames = new Set<string>();
  for await (const { doc } of readBson(`${dir}/lml_users_mesa4core.bson`)) {
    if (doc.deleted === true || doc.deleted === "true" || doc.deleted === 1) continue;
    assert.ok(!usernames.has(doc.username), `duplicate username ${doc.username}`);
    usernames.add(doc.username);
  }
  const codes = new Set<string>();
  for await (const { doc } of readBson(`${dir}/lml_processtypes_mesa4core.bson`)) {
    assert.ok(!codes.has(doc.code), `duplicate code ${doc.code}`);
    codes.add(doc.code);
  }
  const types = new Set<string>();
  for await (const { doc } of readBson(`${dir}/lml_formbuilder_mesa4core.bson`)) {
    assert.ok(["draft", "published", "archived"].includes(doc.status), doc.status);
    for (const field of doc.fields) {
      types.add(field.type);
      assert.equal(
        "options" in field,
        field.type === "select" || field.type === "multiselect",
        field.key,
      );
    }
  }
  for (const type of types) {
    assert.ok(
      ["text", "textarea", "number", "date", "select", "multiselect", "checkbox", "file"].includes(
        type,
      ),
    );
  }
  let movements = 0, processes = 0, accents = 0;
  for await (const { doc } of readBson(`${dir}/lml_processes_mesa4core.bson`)) {
    processes++;
    assert.ok(["iniciado", "en_tramite", "finalizado", "archivado"].includes(doc.status));
    assert.ok(doc.movements.length >= 2 && doc.movements.length <= 20);
    assert.ok(doc.attachments.length <= 10);
    movements += doc.movements.length;
    if (/[áéíóúñÁÉÍÓÚÑ°]/.test(JSON.stringify(doc))) accents++;
  }
  assert.ok(movements > processes * 2, "movement counts vary");
  assert.equal(accents, processes, "every process carries non-ASCII Spanish text");
  for await (const { doc } of readBson(`${dir}/lml_people_mesa4core.bson`)) {
    assert.ok(["physical", "juridical"].includes(doc.personType));
  }
});

/** A comparable form of a document: typed values spelled out, numbers by value. */
function normalize(value: unknown): unknown {
  if (value === null || typeof value !== "object") {
    return typeof value === "number" ? `number:${Object.is(value, -0) ? 0 : value}` : value;
  }
  if (value instanceof Date) return `date:${value.getTime()}`;
  // Checked by _bsontype: the driver may hand back its own copy of the bson classes.
  const typed = value as { _bsontype?: string; valueOf(): unknown; toString(): string };
  if (typed._bsontype === "ObjectId") return `oid:${(value as ObjectId).toHexString()}`;
  if (typed._bsontype === "Long") return `number:${(value as Long).toString()}`;
  if (typed._bsontype === "Int32" || typed._bsontype === "Double") {
    return normalize(Number(typed.valueOf()));
  }
  if (typed._bsontype === "Decimal128") return `decimal:${typed.toString()}`;
  if (Array.isArray(value)) return value.map(normalize);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === "$date") {
    // A legacy literal {"$date": ...} sub-document reads back from Extended JSON as a date.
    const inner = record.$date;
    return `date:${
      typeof inner === "string"
        ? Date.parse(inner)
        : Number((inner as { $numberLong: string }).$numberLong)
    }`;
  }
  return Object.fromEntries(keys.map((key) => [key, normalize(record[key])]));
}

Deno.test("generateSample() JSON lines parse to the same documents as the BSON dump", async () => {
  await using bson = await tempDir();
  await using json = await tempDir();
  const fromBson = await generateSample(bson.path, { scale: 0.01, seed: 11 });
  const fromJson = await generateSample(json.path, { scale: 0.01, seed: 11, format: "json" });
  assert.deepEqual(fromJson, fromBson);
  for (const name of PIPELINE_COLLECTIONS) {
    const lines = (await Deno.readTextFile(`${json.path}/mesa4core/${name}.json`)).split("\n");
    assert.equal(lines.pop(), "");
    let i = 0;
    for await (const { doc } of readBson(`${bson.path}/mesa4core/${name}.bson`)) {
      const parsed = EJSON.parse(lines[i]!, { relaxed: false }) as Document;
      assert.deepEqual(normalize(parsed), normalize(doc), `${name} document ${i}`);
      i++;
    }
    assert.equal(i, lines.length, name);
  }
  const unsafe = (await Deno.readTextFile(`${json.path}/mesa4core/lml_users_mesa4core.json`))
    .includes('{"$numberLong":"9007199254740993"}');
  assert.ok(unsafe, "an Int64 beyond 2^53 stays exact in the JSON lines");
});

Deno.test("generateSample() adds the notifications collection only on request", async () => {
  await using plain = await tempDir();
  await using extra = await tempDir();
  const without = await generateSample(plain.path, { scale: 0.01, seed: 2 });
  const withExtra = await generateSample(extra.path, {
    scale: 0.01,
    seed: 2,
    extraCollections: [NOTIFICATIONS],
  });
  await assert.rejects(
    Deno.stat(`${plain.path}/mesa4core/${NOTIFICATIONS}.bson`),
    Deno.errors.NotFound,
  );
  assert.equal(without.collections[NOTIFICATIONS], undefined);
  assert.equal(
    withExtra.ghost_users,
    without.ghost_users,
    "notifications only reference known ghosts",
  );
  for (const name of PIPELINE_COLLECTIONS) {
    const a = await Deno.readFile(`${plain.path}/mesa4core/${name}.bson`);
    const b = await Deno.readFile(`${extra.path}/mesa4core/${name}.bson`);
    assert.deepEqual(a, b, `${name} is unaffected by extra collections`);
  }
  const channelTypes = new Set<string>(),
    readSpellings = new Set<string>(),
    payloadShapes = new Set<string>();
  const sentAt = new Set<string>();
  let documents = 0, withRecipient = 0;
  for await (const { doc } of readBson(`${extra.path}/mesa4core/${NOTIFICATIONS}.bson`)) {
    documents++;
    if (doc.recipient && typeof doc.recipient === "object") withRecipient++;
    for (const channel of doc.channels) {
      channelTypes.add(channel.type);
      assert.ok(["email", "sms", "push"].includes(channel.type));
    }
    readSpellings.add(doc.read === undefined ? "missing" : JSON.stringify(doc.read));
    payloadShapes.add(Object.keys(doc.payload).sort().join(","));
    sentAt.add(doc.sentAt instanceof Date ? "date" : typeof doc.sentAt);
    assert.ok("createdBy" in doc);
  }
  assert.equal(documents, withExtra.collections[NOTIFICATIONS]!.documents);
  assert.equal(withRecipient, documents);
  assert.ok(channelTypes.size === 3);
  assert.ok(readSpellings.size >= 4, [...readSpellings].join(" "));
  assert.ok(payloadShapes.size >= 3);
  assert.ok(sentAt.has("date") && sentAt.has("string"));
  assert.ok(withExtra.snapshots_without_id[`${NOTIFICATIONS}:recipient`]! >= 1);
  assert.ok(withExtra.garbage_timestamps[`${NOTIFICATIONS}:sentAt`]! >= 1);
});

Deno.test("sampleDocuments() yields the documents generateSample() writes", async () => {
  await using out = await tempDir();
  await generateSample(out.path, { scale: 0.01, seed: 4 });
  const fromFile: Uint8Array[] = [];
  for await (const { bytes } of readBson(`${out.path}/mesa4core/lml_people_mesa4core.bson`)) {
    fromFile.push(bytes);
  }
  const fromIterator = [...sampleDocuments("lml_people_mesa4core", { scale: 0.01, seed: 4 })];
  assert.equal(fromIterator.length, fromFile.length);
  assert.deepEqual(normalize(fromIterator[5]), normalize(deserialize(fromFile[5]!)));
  assert.throws(
    () => sampleDocuments("lml_peoples_mesa4core"),
    /did you mean "lml_people_mesa4core"/,
  );
});

Deno.test("insertSample() puts every document through the driver", async () => {
  await using mongo = await openTestMongo();
  const manifest = await insertSample(mongo.url, {
    scale: 0.01,
    seed: 9,
    database: mongo.database,
    extraCollections: [NOTIFICATIONS],
    batchSize: 250,
  });
  for (const name of ALL) {
    const count = await mongo.db.collection(name).countDocuments();
    assert.equal(count, manifest.collections[name]!.documents, name);
  }
  await using out = await tempDir();
  assert.deepEqual(
    await generateSample(out.path, {
      scale: 0.01,
      seed: 9,
      database: mongo.database,
      extraCollections: [NOTIFICATIONS],
    }),
    manifest,
  );
  const users = await mongo.db.collection("lml_users_mesa4core").find({}).toArray();
  const expected = [...sampleDocuments("lml_users_mesa4core", { scale: 0.01, seed: 9 })];
  assert.deepEqual(normalize(users), normalize(expected));
});
