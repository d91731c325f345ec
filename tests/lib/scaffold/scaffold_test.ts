import assert from "node:assert/strict";
import { EJSON, ObjectId } from "bson";
import { createRawTables } from "../../support/pipeline.ts";
import { freshDatabase } from "../../support/db.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import type { Sql } from "../../../lib/core/db.ts";
import { UsageError } from "../../../lib/core/errors.ts";
import { profileCollection } from "../../../lib/profile/profile.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { draftCollection, scaffoldCollection } from "../../../lib/scaffold/scaffold.ts";
import { sampleDocuments } from "../../../lib/sample/mod.ts";
import { findTests, formatResult, runSqlTests } from "../../../lib/sqltest/mod.ts";

const NOTIFICATIONS = "lml_notifications_mesa4core";
const USERS = "lml_users_mesa4core";
const REPO_SQL = new URL("../../../sql/", import.meta.url).pathname;

type Doc = Record<string, unknown>;

/** A temp copy of sql/ holding the shared helpers, lml_users and a config with users only. */
async function sqlCopy(): Promise<
  { dir: string; sqlDir: string; configPath: string } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "lml_scaffold_" });
  const sqlDir = `${dir}/sql`;
  for (const folder of ["_shared", "lml_users"]) {
    await copyDir(`${REPO_SQL}${folder}`, `${sqlDir}/${folder}`);
  }
  const real = await loadConfig(`${REPO_SQL}pipeline.yaml`);
  const users = real.collections.find((c) => c.name === USERS)!;
  const configPath = `${sqlDir}/pipeline.yaml`;
  await Deno.writeTextFile(
    configPath,
    [
      "# Test copy: the users collection only.",
      `source_database: ${real.sourceDatabase}`,
      `meta_schema: ${real.metaSchema}`,
      "",
      "collections:",
      `  ${users.name}:`,
      `    schema: ${users.schema}`,
      `    primary_key: ${users.primaryKey}`,
      "    depends_on: []",
      `    description: ${users.description}`,
      "",
    ].join("\n"),
  );
  return {
    dir,
    sqlDir,
    configPath,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyDir(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** The raw table's `_id` text of a document id (raw table contract). */
function idText(id: unknown): string {
  if (id instanceof ObjectId) return id.toHexString();
  if (typeof id === "string") return id;
  return EJSON.stringify(id as never, { relaxed: false });
}

/** Writes documents into lml_raw.<collection> as the extractor would (relaxed EJSON). */
async function loadRaw(sql: Sql, collection: string, docs: Iterable<Doc>): Promise<Doc[]> {
  await createRawTables(sql, "lml_raw", [collection]);
  const json: Doc[] = [];
  const rows: { _id: string; doc: string }[] = [];
  for (const doc of docs) {
    const text = EJSON.stringify(doc as never, { relaxed: true });
    json.push(JSON.parse(text));
    rows.push({ _id: idText(doc._id), doc: text });
  }
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500);
    await sql`
      insert into lml_raw.${sql(collection)} (_id, doc, extracted_at)
      select r._id, r.doc::jsonb, now()
      from jsonb_to_recordset(${sql.json(batch as never)}) as r(_id text, doc text)`;
  }
  return json;
}

/** The user id a snapshot resolves to (lower-case hex), or null without `_id`. */
function snapshotId(snapshot: unknown): string | null {
  if (!snapshot || typeof snapshot !== "object") return null;
  const id = (snapshot as Doc)._id;
  if (id && typeof id === "object" && "$oid" in id) return String((id as Doc).$oid).toLowerCase();
  if (typeof id === "string" && /^[0-9a-fA-F]{24}$/.test(id)) return id.toLowerCase();
  return null;
}

Deno.test("scaffoldCollection() drafts a schema for an unknown collection that runs, passes the checks and keeps every document", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  const users = await loadRaw(db.sql, USERS, sampleDocuments(USERS, { scale: 0.01, seed: 1 }));
  const notifications = await loadRaw(
    db.sql,
    NOTIFICATIONS,
    sampleDocuments(NOTIFICATIONS, { scale: 0.01, seed: 1 }),
  );

  const result = await scaffoldCollection(db.sql, NOTIFICATIONS, { configPath: copy.configPath });
  assert.equal(result.folder, `${copy.sqlDir}/lml_notifications`);
  assert.equal(result.draft.primaryKey, "notification_id");
  const config = await loadConfig(copy.configPath);
  const entry = config.collections.find((c) => c.name === NOTIFICATIONS);
  assert.deepEqual(
    entry &&
      { schema: entry.schema, pk: entry.primaryKey, deps: entry.dependsOn },
    { schema: "lml_notifications", pk: "notification_id", deps: [USERS] },
  );
  assert.match(entry!.description, /TODO/);

  // A first SQL unit test: the first document and the rows the draft makes of it, passing.
  assert.ok(result.written.some((p) => p.endsWith("lml_notifications/tests/first_document.yaml")));
  const firstTests = await findTests(config, { select: ["lml_notifications"] });
  assert.deepEqual(firstTests.map((t) => t.name), ["first_document"]);
  const [firstResult] = await runSqlTests(db.sql, config, { tests: firstTests });
  assert.equal(firstResult!.status, "passed", formatResult(firstResult!));

  const run = await runTransforms(db.sql, config, { lockRetryDelayMs: 200 });
  assert.equal(run.error, undefined, run.error?.message);
  assert.equal(run.status, "succeeded");
  const failed = run.checks.filter((c) => c.severity === "error" && c.status !== "passed");
  assert.deepEqual(failed, []);
  const passed = new Set(run.checks.filter((c) => c.status === "passed").map((c) => c.name));
  assert.ok(passed.has("lml_notifications_main_matches_raw"));
  assert.ok(passed.has("lml_notifications_channels_complete"), "the drafted file check ran");

  // Every document is one main row, with its raw _id as the key.
  const ids = await db.sql<{ notification_id: string }[]>`
    select notification_id from lml_notifications.main order by 1`;
  assert.deepEqual(
    ids.map((r) => r.notification_id),
    notifications.map((d) => (d._id as { $oid: string }).$oid).sort(),
  );

  // Every channel element is a row, in array order.
  const channels = notifications.reduce((n, d) => n + (d.channels as unknown[]).length, 0);
  const [{ count: channelRows }] = await db.sql<
    [{ count: number }]
  >`select count(*)::int as count from lml_notifications.channels`;
  assert.equal(channelRows, channels);

  // Recipients resolve to users; the missing ones became ghosts; those without _id are recorded.
  const userIds = new Set(users.map((u) => String((u._id as { $oid: string }).$oid)));
  const snapshots = notifications.flatMap((d) =>
    ["recipient", "createdBy", "updatedBy"].filter((k) => k in d).map((k) => ({ k, s: d[k] }))
  );
  const ghosts = new Set(
    snapshots.map((x) => snapshotId(x.s)).filter((id): id is string =>
      id !== null && !userIds.has(id)
    ),
  );
  assert.ok(ghosts.size > 0, "the sample references missing users");
  const ghostRows = await db.sql<{ user_id: string }[]>`
    select user_id from lml_users.main where is_ghost and user_id = any(${[...ghosts]})`;
  assert.equal(ghostRows.length, ghosts.size);
  const noId = snapshots.filter((x) => x.s && typeof x.s === "object" && snapshotId(x.s) === null);
  const [{ count: unresolvable }] = await db.sql<[{ count: number }]>`
    select count(*)::int as count from lml_notifications.unresolvable_snapshots`;
  assert.equal(unresolvable, noId.length);
  const [{ count: resolved }] = await db.sql<[{ count: number }]>`
    select count(*)::int as count from lml_notifications.main m
    join lml_users.main u on u.user_id = m.recipient_user_id`;
  const withId = notifications.filter((d) => snapshotId(d.recipient) !== null).length;
  assert.equal(resolved, withId);

  // Timestamps: created_at never null (ObjectId fallback); garbage recorded, not lost.
  const [{ count: missingCreated }] = await db.sql<[{ count: number }]>`
    select count(*)::int as count from lml_notifications.main where created_at is null`;
  assert.equal(missingCreated, 0);
  const garbage = await db.sql<{ path: string; n: number }[]>`
    select path, count(*)::int as n from lml_notifications.unmapped_values group by path`;
  const isGarbage = (v: unknown) => typeof v === "string" && ["", "N/A", "0000-00-00"].includes(v);
  const expected: Record<string, number> = {};
  const tally = (path: string, v: unknown) => {
    if (isGarbage(v)) expected[path] = (expected[path] ?? 0) + 1;
  };
  for (const d of notifications) {
    for (const k of ["sentAt", "createdAt", "updatedAt"]) tally(k, d[k]);
    for (const c of d.channels as Doc[]) tally("channels.at", c.at);
  }
  assert.ok((expected.sentAt ?? 0) > 0, "the sample has a garbage sentAt");
  assert.deepEqual(Object.fromEntries(garbage.map((g) => [g.path, g.n])), expected);
});

Deno.test("scaffoldCollection() types the columns from the profile and writes the conventions' tables", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  await loadRaw(db.sql, NOTIFICATIONS, sampleDocuments(NOTIFICATIONS, { scale: 0.01, seed: 1 }));
  const result = await scaffoldCollection(db.sql, NOTIFICATIONS, { configPath: copy.configPath });
  const main = result.draft.tables[0]!;
  const column = (name: string) => main.columns.find((c) => c.name === name);
  assert.equal(column("notification_id")?.type, "text");
  assert.equal(column("recipient_user_id")?.kind, "user");
  assert.equal(column("created_by_user_id")?.kind, "user");
  assert.equal(column("sent_at")?.type, "timestamptz");
  assert.equal(column("created_at")?.fallback, "oid_time");
  assert.equal(column("updated_at")?.fallback, "created_at");
  assert.equal(column("is_read")?.type, "boolean");
  assert.equal(column("is_deleted")?.type, "boolean");
  assert.equal(column("payload")?.type, "jsonb");
  const channels = result.draft.tables.find((t) => t.name === "channels");
  assert.deepEqual(channels?.columns.map((c) => [c.name, c.type]), [
    ["notification_id", "text"],
    ["position", "integer"],
    ["at", "timestamptz"],
    ["status", "text"],
    ["type", "text"],
  ]);

  const files = [];
  for await (const entry of Deno.readDir(result.folder)) files.push(entry.name);
  assert.deepEqual(files.sort(), [
    "010_tables.sql",
    "020_main.sql",
    "030_channels.sql",
    "080_ghosts.sql",
    "090_constraints.sql",
    "checks",
    "tests",
  ]);
  const tables = await Deno.readTextFile(`${result.folder}/010_tables.sql`);
  assert.match(tables, /^-- /);
  assert.match(tables, /create table lml_notifications\.unmapped_values \(/);
  assert.match(tables, /create table lml_notifications\.unresolvable_snapshots \(/);
  assert.match(
    tables,
    /comment on column lml_notifications\.channels\.type is 'channels\.type\. Mongo path: channels\[\]\.type\.';/,
  );
  assert.match(tables, /-- TODO: /);
  const main020 = await Deno.readTextFile(`${result.folder}/020_main.sql`);
  assert.match(main020, /coalesce\(lml_util\.ts\(d\.created_at\), lml_util\.oid_time\(r\._id\)\)/);
  const ghosts = await Deno.readTextFile(`${result.folder}/080_ghosts.sql`);
  assert.match(ghosts, /call lml_util\.add_ghost_users\(/);
});

Deno.test("scaffoldCollection() refuses an existing folder and writes nothing", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  await loadRaw(db.sql, NOTIFICATIONS, sampleDocuments(NOTIFICATIONS, { scale: 0.01, seed: 1 }));
  await Deno.mkdir(`${copy.sqlDir}/lml_notifications`);
  await Deno.writeTextFile(`${copy.sqlDir}/lml_notifications/010_mine.sql`, "-- mine\nselect 1;\n");
  const before = await Deno.readTextFile(copy.configPath);
  await assert.rejects(
    scaffoldCollection(db.sql, NOTIFICATIONS, { configPath: copy.configPath }),
    (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /lml_notifications already exists/);
      assert.match(error.hint ?? "", /--schema/);
      return true;
    },
  );
  assert.equal(await Deno.readTextFile(copy.configPath), before);
  const files = [];
  for await (const entry of Deno.readDir(`${copy.sqlDir}/lml_notifications`)) {
    files.push(entry.name);
  }
  assert.deepEqual(files, ["010_mine.sql"]);
});

Deno.test("scaffoldCollection() refuses a collection whose folder exists, and a taken schema", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  await loadRaw(db.sql, USERS, sampleDocuments(USERS, { scale: 0.01, seed: 1 }));
  await assert.rejects(
    scaffoldCollection(db.sql, USERS, { configPath: copy.configPath }),
    /lml_users already exists/,
  );
  await loadRaw(db.sql, NOTIFICATIONS, sampleDocuments(NOTIFICATIONS, { scale: 0.01, seed: 1 }));
  await assert.rejects(
    scaffoldCollection(db.sql, NOTIFICATIONS, { configPath: copy.configPath, schema: "lml_users" }),
    /schema "lml_users" is used by lml_users_mesa4core/,
  );
});

Deno.test("scaffoldCollection() drafts the folder of a collection already in the config, leaving the config alone", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  const entry = "  " + NOTIFICATIONS + ":\n    schema: lml_alerts\n    primary_key: alert_id\n" +
    "    depends_on: [lml_users_mesa4core]\n";
  await Deno.writeTextFile(copy.configPath, entry, { append: true });
  const before = await Deno.readTextFile(copy.configPath);
  await loadRaw(db.sql, NOTIFICATIONS, sampleDocuments(NOTIFICATIONS, { scale: 0.01, seed: 1 }));
  const result = await scaffoldCollection(db.sql, NOTIFICATIONS, { configPath: copy.configPath });
  assert.equal(result.folder, `${copy.sqlDir}/lml_alerts`);
  assert.equal(result.draft.primaryKey, "alert_id");
  assert.ok(!result.written.includes(copy.configPath));
  assert.equal(await Deno.readTextFile(copy.configPath), before);
});

Deno.test("scaffoldCollection() honours a schema and primary key override", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  await loadRaw(db.sql, NOTIFICATIONS, sampleDocuments(NOTIFICATIONS, { scale: 0.01, seed: 1 }));
  const result = await scaffoldCollection(db.sql, NOTIFICATIONS, {
    configPath: copy.configPath,
    schema: "lml_alerts",
    primaryKey: "alert_id",
  });
  assert.equal(result.folder, `${copy.sqlDir}/lml_alerts`);
  const config = await loadConfig(copy.configPath);
  const entry = config.collections.find((c) => c.name === NOTIFICATIONS)!;
  assert.equal(entry.schema, "lml_alerts");
  assert.equal(entry.primaryKey, "alert_id");
  assert.match(
    await Deno.readTextFile(`${result.folder}/010_tables.sql`),
    /create table lml_alerts\.main \(\n {2}alert_id text not null/,
  );
});

Deno.test("draftCollection() keeps variable objects whole and reads mixed booleans with the shared helper", async () => {
  await using db = await freshDatabase();
  await loadRaw(db.sql, NOTIFICATIONS, [
    { _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f1"), read: true, payload: { a: 1, b: 2 } },
    { _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f2"), read: "false", payload: { c: 1, d: 2 } },
    { _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f3"), read: 1, payload: { e: 1, f: 2 } },
    { _id: new ObjectId("62a0f1c2e4b0a1b2c3d4e5f4"), read: false, payload: { g: 1, h: 2 } },
  ]);
  const draft = draftCollection(await profileCollection(db.sql, NOTIFICATIONS));
  assert.equal(draft.schema, "lml_notifications");
  const main = draft.tables[0]!;
  assert.deepEqual(main.columns.map((c) => [c.name, c.type, c.kind]), [
    ["notification_id", "text", "key"],
    ["payload", "jsonb", "jsonb"],
    ["is_read", "boolean", "bool"],
  ]);
  assert.deepEqual(draft.userColumns, []);
});
