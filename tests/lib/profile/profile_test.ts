import assert from "node:assert/strict";
import { createRawTables } from "../../support/pipeline.ts";
import { freshDatabase } from "../../support/db.ts";
import type { Sql } from "../../../lib/core/db.ts";
import { RunError } from "../../../lib/core/errors.ts";
import { profileCollection } from "../../../lib/profile/profile.ts";
import type { FieldProfile } from "../../../lib/profile/types.ts";
import { formatProfile, writeProfileReports } from "../../../lib/profile/format.ts";

const COLLECTION = "lml_notifications_mesa4core";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A tiny deterministic generator (mulberry32), so the documents are varied but repeatable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex24(n: number): string {
  return n.toString(16).padStart(24, "0");
}

/** The timestamp variants of `sentAt`, by the format name the profile should give them. */
const SENT_AT: Record<string, Json> = {
  ejson_date: { $date: "2022-03-01T12:00:00.000Z" },
  iso_z: "2021-05-04T10:20:30Z",
  iso_offset: "2021-05-04T07:20:30.123-03:00",
  naive: "2021-05-04 10:20:30",
  epoch_ms: 1620123630000,
  garbage: "N/A",
};

/** Notification-like documents in relaxed Extended JSON, with every variant the profile sees. */
function notifications(count: number, seed = 7): { id: string; doc: Record<string, Json> }[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const users = Array.from({ length: 12 }, (_, i) => ({ id: hex24(0xa000 + i), name: `user${i}` }));
  const areas = ["Mesa de Entradas", "Comercio", "Obras"];
  const payloadKeys = ["title", "body", "link", "count", "level", "tags", "extra", "ref"];
  return Array.from({ length: count }, (_, i) => {
    const id = hex24(0x62a0f1c2e4b0 + i);
    const user = pick(users);
    const doc: Record<string, Json> = {
      _id: { $oid: id },
      recipient: random() < 0.05 ? { username: user.name } : {
        _id: random() < 0.5 ? { $oid: user.id } : user.id,
        username: user.name,
        ...(random() < 0.7 ? { email: `${user.name}@mesa.gob.ar` } : {}),
      },
      channels: Array.from({ length: Math.floor(random() * 4) }, () => ({
        type: pick(["email", "sms", "push"]),
        status: pick(["sent", "failed"]),
        at: { $date: "2022-03-01T12:00:00.000Z" },
      })),
      payload: Object.fromEntries(
        payloadKeys.filter(() => random() < 0.25).map((k) => [k, Math.floor(random() * 100)]),
      ),
      area: { _id: { $oid: hex24(0xb000 + (i % areas.length)) }, name: areas[i % areas.length]! },
      read: pick([true, false, "true", 0, 1] as Json[]),
      createdAt: { $date: new Date(Date.UTC(2022, 0, 1) + i * 3_600_000).toISOString() },
      counter: { $numberLong: String(9007199254740993n + BigInt(i)) },
    };
    if (random() < 0.9) doc.sentAt = random() < 0.1 ? null : SENT_AT[pick(Object.keys(SENT_AT))]!;
    if (random() < 0.5) doc.price = { $numberDecimal: (i / 4).toFixed(2) };
    return { id, doc };
  });
}

async function loadRaw(sql: Sql, docs: { id: string; doc: Record<string, Json> }[]) {
  await createRawTables(sql, "lml_raw", [COLLECTION]);
  for (let i = 0; i < docs.length; i += 500) {
    const rows = docs.slice(i, i + 500).map((d) => ({ _id: d.id, doc: d.doc }));
    await sql`
      insert into lml_raw.${sql(COLLECTION)} (_id, doc, extracted_at)
      select r._id, r.doc, now() from jsonb_to_recordset(${
      sql.json(rows as never)
    }) as r(_id text, doc jsonb)`;
  }
}

/** The BSON type of a relaxed EJSON value, computed here independently of the SQL. */
function bsonType(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return "number";
  if (typeof value === "string") return "string";
  const keys = Object.keys(value);
  const wrappers: Record<string, string> = {
    $oid: "objectId",
    $date: "date",
    $numberLong: "long",
    $numberDecimal: "decimal",
  };
  return keys.length === 1 && wrappers[keys[0]!] ? wrappers[keys[0]!]! : "object";
}

interface Expected {
  occurrences: number;
  documents: Set<string>;
  types: Map<string, number>;
  values: Set<string>;
}

/** Walks every document in TypeScript and tallies each path. */
function expectedPaths(docs: { id: string; doc: Record<string, Json> }[]): Map<string, Expected> {
  const paths = new Map<string, Expected>();
  const visit = (id: string, path: string, value: Json) => {
    let e = paths.get(path);
    if (!e) {
      e = { occurrences: 0, documents: new Set(), types: new Map(), values: new Set() };
      paths.set(path, e);
    }
    const type = bsonType(value);
    e.occurrences++;
    e.documents.add(id);
    e.types.set(type, (e.types.get(type) ?? 0) + 1);
    e.values.add(JSON.stringify(normalize(value)));
    if (type === "object") {
      for (const [k, v] of Object.entries(value as Record<string, Json>)) {
        visit(id, `${path}.${k}`, v);
      }
    }
    if (type === "array") { for (const v of value as Json[]) visit(id, `${path}[]`, v); }
  };
  for (const { id, doc } of docs) {
    for (const [k, v] of Object.entries(doc)) visit(id, k, v);
  }
  return paths;
}

/** Sorts object keys, so two equal JSON values have equal text. */
function normalize(value: Json): Json {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, normalize((value as Record<string, Json>)[k]!)]),
    );
  }
  return value;
}

function field(fields: FieldProfile[], path: string): FieldProfile {
  const found = fields.find((f) => f.path === path);
  assert.ok(found, `path ${path} is in the profile`);
  return found;
}

Deno.test("profileCollection() reports every path with the types, presence and nulls of the documents", async () => {
  await using db = await freshDatabase();
  const docs = notifications(400);
  await loadRaw(db.sql, docs);
  const profile = await profileCollection(db.sql, COLLECTION);

  assert.equal(profile.totalDocuments, 400);
  assert.equal(profile.sampledDocuments, 400);
  assert.equal(profile.sampling.method, "full");
  const expected = expectedPaths(docs);
  assert.deepEqual(profile.fields.map((f) => f.path).sort(), [...expected.keys()].sort());
  for (const [path, e] of expected) {
    const f = field(profile.fields, path);
    assert.equal(f.occurrences, e.occurrences, `${path} occurrences`);
    assert.equal(f.documents, e.documents.size, `${path} documents`);
    assert.equal(f.presencePct, Math.round((e.documents.size / 400) * 10000) / 100, path);
    assert.deepEqual(
      Object.fromEntries(f.types.map((t) => [t.type, t.count])),
      Object.fromEntries(e.types),
      `${path} types`,
    );
    assert.equal(f.distinct, e.values.size, `${path} distinct`);
    const nulls = e.types.get("null") ?? 0;
    assert.equal(f.nullPct, Math.round((nulls / e.occurrences) * 10000) / 100, `${path} nulls`);
  }
  assert.equal(profile.fields[0]!.path, "_id");
  assert.deepEqual(field(profile.fields, "_id").types.map((t) => t.type), ["objectId"]);
});

Deno.test("profileCollection() computes number, date and array length ranges", async () => {
  await using db = await freshDatabase();
  const docs = notifications(150);
  await loadRaw(db.sql, docs);
  const profile = await profileCollection(db.sql, COLLECTION);

  const lengths = docs.map((d) => (d.doc.channels as Json[]).length);
  const channels = field(profile.fields, "channels");
  assert.equal(channels.arrayLength?.min, Math.min(...lengths));
  assert.equal(channels.arrayLength?.max, Math.max(...lengths));
  const avg = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  assert.ok(Math.abs(channels.arrayLength!.avg - avg) < 0.01, `avg ${avg}`);

  const counters = docs.map((d) => BigInt((d.doc.counter as { $numberLong: string }).$numberLong));
  const counter = field(profile.fields, "counter");
  assert.equal(counter.minNumber, counters.reduce((a, b) => (a < b ? a : b)).toString());
  assert.equal(counter.maxNumber, counters.reduce((a, b) => (a > b ? a : b)).toString());

  const created = docs.map((d) => (d.doc.createdAt as { $date: string }).$date).sort();
  const createdAt = field(profile.fields, "createdAt");
  assert.equal(createdAt.minDate, created[0]);
  assert.equal(createdAt.maxDate, created.at(-1));
  assert.equal(createdAt.minNumber, null);

  const prices = docs.flatMap((d) =>
    d.doc.price ? [Number((d.doc.price as never)["$numberDecimal"])] : []
  );
  const price = field(profile.fields, "price");
  assert.equal(Number(price.minNumber), Math.min(...prices));
  assert.equal(Number(price.maxNumber), Math.max(...prices));
  assert.equal(price.examples.length, 3);
  assert.equal(counter.integral, true);
  assert.equal(price.integral, prices.every(Number.isInteger));
  assert.equal(createdAt.integral, null);

  // read: true/false, "true", 0 and 1 all read as booleans.
  const reads = docs.filter((d) => d.doc.read !== null && d.doc.read !== undefined).length;
  assert.equal(field(profile.fields, "read").booleanLike, reads);
});

Deno.test("profileCollection() hints at user snapshots, catalogs, mixed timestamps and variable objects", async () => {
  await using db = await freshDatabase();
  const docs = notifications(300);
  await loadRaw(db.sql, docs);
  const profile = await profileCollection(db.sql, COLLECTION);
  const kinds = (path: string) => field(profile.fields, path).hints.map((h) => h.kind).sort();

  assert.deepEqual(kinds("recipient"), ["user_snapshot"]);
  assert.deepEqual(kinds("area"), ["embedded_catalog"]);
  assert.deepEqual(kinds("payload"), ["variable_structure"]);
  assert.deepEqual(kinds("sentAt"), ["timestamp"]);
  for (const path of ["createdAt", "read", "channels", "channels[]", "recipient._id", "counter"]) {
    assert.deepEqual(kinds(path), [], `${path} has no hint`);
  }

  // Format counts, tallied from the documents themselves.
  const formatOf = new Map(Object.entries(SENT_AT).map(([k, v]) => [JSON.stringify(v), k]));
  const tally: Record<string, number> = {};
  for (const { doc } of docs) {
    if (doc.sentAt === undefined || doc.sentAt === null) continue;
    const format = formatOf.get(JSON.stringify(doc.sentAt))!;
    tally[format] = (tally[format] ?? 0) + 1;
  }
  const sentAt = field(profile.fields, "sentAt");
  assert.deepEqual(sentAt.timestampFormats, tally);
  const n = Object.keys(tally).length;
  assert.match(sentAt.hints[0]!.message, new RegExp(`timestamp in ${n} formats`));

  const recipients = docs.map((d) => d.doc.recipient as Record<string, Json>);
  const withoutId = recipients.filter((r) => !("_id" in r)).length;
  assert.ok(withoutId > 0);
  assert.equal(field(profile.fields, "recipient").objectStats?.withId, 300 - withoutId);
  assert.match(
    field(profile.fields, "recipient").hints[0]!.message,
    new RegExp(`${withoutId} without _id`),
  );
  assert.equal(field(profile.fields, "area").objectStats?.distinctIds, 3);
});

Deno.test("profileCollection() samples large tables and states the sampling", async () => {
  await using db = await freshDatabase();
  await loadRaw(db.sql, notifications(3000));

  const limited = await profileCollection(db.sql, COLLECTION, {
    sampleSize: 500,
    sampling: "limit",
  });
  assert.equal(limited.totalDocuments, 3000);
  assert.equal(limited.sampledDocuments, 500);
  assert.equal(limited.sampling.method, "limit");
  assert.equal(field(limited.fields, "_id").occurrences, 500);
  assert.match(limited.sampling.description, /500 of 3,000 documents/);

  const system = await profileCollection(db.sql, COLLECTION, { sampleSize: 500 });
  assert.equal(system.sampling.method, "system");
  assert.ok(system.sampledDocuments > 0 && system.sampledDocuments <= 500);
  assert.equal(field(system.fields, "_id").documents, system.sampledDocuments);
  assert.match(system.sampling.description, /tablesample system/);
  assert.match(formatProfile(system), /tablesample system/);
  const again = await profileCollection(db.sql, COLLECTION, { sampleSize: 500 });
  assert.equal(again.sampledDocuments, system.sampledDocuments, "repeatable with the same seed");
});

Deno.test("profileCollection() names the missing raw table and suggests the closest one", async () => {
  await using db = await freshDatabase();
  await loadRaw(db.sql, notifications(3));
  await assert.rejects(
    profileCollection(db.sql, "lml_notification_mesa4core"),
    (error: Error) => {
      assert.ok(error instanceof RunError);
      assert.match(error.message, /lml_raw\.lml_notification_mesa4core does not exist/);
      assert.match(error.message, /did you mean "lml_notifications_mesa4core"/);
      return true;
    },
  );
});

Deno.test("writeProfileReports() writes the Markdown and JSON reports; formatProfile() lists hints", async () => {
  await using db = await freshDatabase();
  await loadRaw(db.sql, notifications(60));
  const profile = await profileCollection(db.sql, COLLECTION);
  const dir = await Deno.makeTempDir({ prefix: "lml_profile_" });
  try {
    const paths = await writeProfileReports(profile, { reportsDir: `${dir}/reports` });
    assert.equal(paths.json, `${dir}/reports/profile_${COLLECTION}.json`);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(paths.json)), profile);
    const markdown = await Deno.readTextFile(paths.markdown);
    assert.match(markdown, /^# Profile of lml_notifications_mesa4core/);
    assert.match(markdown, /all 60 documents/);
    assert.match(markdown, /\| `channels\[\]\.type` \| string \|/);
    assert.match(markdown, /`payload\.\*`/);
    assert.doesNotMatch(markdown, /`payload\.title`/);

    const text = formatProfile(profile);
    assert.match(text, /^lml_raw\.lml_notifications_mesa4core: profiled all 60 documents/);
    assert.match(text, /\n {2}recipient: looks like a user snapshot/);
    assert.match(text, /\n {2}payload: variable structure: keep as JSONB/);
    assert.match(text, /\n {2}sentAt: looks like a timestamp in \d formats/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
