/**
 * Incremental sync against a replica set's change stream (the in-process test server posing as
 * one, or the real one at MONGO_TEST_URL): equivalence with a full refresh of the same final
 * source after seeded random inserts, updates, replaces and deletes (some made while a sync
 * runs), the fallback when the position is lost, SIGKILL mid-sync, one sync at a time, and
 * --follow.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as BSON from "bson";
import { type Db, MongoClient } from "mongodb";
import { loadConfig } from "../../../lib/core/config.ts";
import { connect, type Sql } from "../../../lib/core/db.ts";
import { createLogger } from "../../../lib/core/log.ts";
import { acquireRunLock } from "../../../lib/core/run_lock.ts";
import { VolumeGuardError } from "../../../lib/core/volume_guard.ts";
import { refresh, RefreshBusyError, type RefreshOptions } from "../../../lib/commands/refresh.ts";
import type { RefreshResult } from "../../../lib/commands/refresh.ts";
import { PositionLostError } from "../../../lib/commands/sync.ts";
import { insertSample } from "../../../lib/sample/mod.ts";
import { Rng } from "../../../lib/sample/prng.ts";
import { schemaChecksums } from "../../support/checksum.ts";
import { freshDatabase, needsRealServer, type TestDatabase } from "../../support/db.ts";
import { httpSink } from "../../support/http_sink.ts";
import { cli } from "../../support/monitoring.ts";
import { holdSchema } from "../../support/locks.ts";
import { MONGO_TEST_URL, withDatabase } from "../../support/mongo.ts";
import { type MongoTestServer, startMongoTestServer } from "../../support/mongo_server.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const config = await loadConfig(`${ROOT}sql/pipeline.yaml`);
const APPLICATION = "lml refresh";
const COLLECTIONS = config.collections.map((c) => c.name);
const SCALE = 0.01;

if (MONGO_TEST_URL) {
  console.error("sync tests: against the replica set at MONGO_TEST_URL");
} else {
  console.error(
    "sync tests: against the in-process test server posing as a replica set " +
      "(set MONGO_TEST_URL to a replica set to run them against a real one)",
  );
}

/**
 * A replica set for one test holding the sample (scale SCALE, seed 1): the in-process server as
 * one, or MONGO_TEST_URL.
 */
async function openReplicaSet(): Promise<
  { url: string; db: Db; server: MongoTestServer | undefined } & AsyncDisposable
> {
  const database = `lml_sync_${Deno.pid}_${Date.now().toString(36)}`;
  const server = MONGO_TEST_URL ? undefined : await startMongoTestServer({ replicaSet: "rs0" });
  const base = MONGO_TEST_URL ?? `${server!.url}/?replicaSet=rs0`;
  const url = withDatabase(base, database);
  const client = new MongoClient(url);
  await client.connect();
  await insertSample(url, { scale: SCALE, seed: 1, database }).catch(async (error) => {
    await client.close();
    await server?.close();
    throw error;
  });
  return {
    url,
    db: client.db(database),
    server,
    async [Symbol.asyncDispose]() {
      if (MONGO_TEST_URL) await client.db(database).dropDatabase().catch(() => {});
      await client.close();
      await server?.close();
    },
  };
}

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "lml_sync_test_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Runs refresh() on its own pool, as the CLI would; short change stream waits. */
async function refreshOn(url: string, options: RefreshOptions): Promise<RefreshResult> {
  const sql = connect(url, { application: APPLICATION, max: 4 });
  try {
    return await refresh(sql, config, { maxAwaitMs: 100, ...options });
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function succeeded(result: Promise<RefreshResult>): Promise<RefreshResult> {
  const done = await result;
  assert.equal(done.status, "succeeded", done.error?.message);
  return done;
}

/** Every lml_ schema but the ledger: raw, helpers, normalized. */
async function dataSchemas(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select nspname as name from pg_namespace
    where nspname like 'lml\\_%' and nspname <> ${config.metaSchema} order by 1`;
  return rows.map((r) => r.name);
}

/** Row-for-row fingerprints of every data table (extracted_at left out: it is load time). */
async function tables(sql: Sql): Promise<Record<string, string>> {
  return await schemaChecksums(sql, await dataSchemas(sql), { ignoreColumns: ["extracted_at"] });
}

async function storedPosition(sql: Sql): Promise<{ token: unknown; mode: string } | undefined> {
  const [row] = await sql<{ token: unknown; mode: string }[]>`
    select resume_token as token, mode from lml_meta.sync_positions`;
  return row ? { ...row } : undefined;
}

/**
 * Seeded random writes across every collection: string edits ($set), replacements, deletes
 * and re-inserts of deleted documents (with edits). Values that checks depend on (status,
 * ids) are left alone, and edits keep unique values unique.
 */
class Mutator {
  #rng: Rng;
  #deleted = new Map<string, BSON.Document[]>();
  #serial = 0;
  counts = { update: 0, replace: 0, delete: 0, insert: 0 };
  constructor(readonly db: Db, seed: number) {
    this.#rng = Rng.for(seed, "sync test writes");
  }

  /** `n` writes per collection. */
  async run(n: number): Promise<void> {
    for (const name of COLLECTIONS) {
      const collection = this.db.collection(name);
      const ids: unknown[] = (await collection.find({}, { projection: { _id: 1 } }).toArray())
        .map((d) => d._id);
      for (let k = 0; k < n; k++) {
        const roll = this.#rng.float();
        const id = ids[Math.floor(this.#rng.float() * ids.length)] as BSON.ObjectId;
        const pool = this.#deleted.get(name) ?? [];
        if (roll < 0.4) {
          const doc = await collection.findOne({ _id: id });
          if (!doc) continue;
          const field = this.#editable(doc);
          await collection.updateOne({ _id: id }, { $set: { [field]: this.#edit(doc[field]) } });
          this.counts.update++;
        } else if (roll < 0.6) {
          const doc = await collection.findOne({ _id: id });
          if (!doc) continue;
          const field = this.#editable(doc);
          doc[field] = this.#edit(doc[field]);
          await collection.replaceOne({ _id: id }, doc);
          this.counts.replace++;
        } else if (roll < 0.85 || pool.length === 0) {
          const doc = await collection.findOne({ _id: id });
          if (!doc) continue;
          await collection.deleteOne({ _id: id });
          pool.push(doc);
          this.#deleted.set(name, pool);
          this.counts.delete++;
        } else {
          const doc = pool.splice(Math.floor(this.#rng.float() * pool.length), 1)[0]!;
          const field = this.#editable(doc);
          doc[field] = this.#edit(doc[field]);
          await collection.insertOne(doc);
          this.counts.insert++;
        }
      }
    }
  }

  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  /**
   * A top-level field safe to edit: free text (names, titles, descriptions), else a field of
   * our own the transforms ignore (the raw tables still differ).
   */
  #editable(doc: BSON.Document): string {
    const fields = Object.keys(doc).filter((k) =>
      /name|title|description|comment|note/i.test(k) && typeof doc[k] === "string"
    ).sort();
    return fields[Math.floor(this.#rng.float() * fields.length)] ?? "lml_test_note";
  }

  #edit(value: unknown): string {
    return `${value ?? ""} (edit ${++this.#serial})`;
  }
}

Deno.test({
  name:
    "sync after hundreds of random writes equals a full refresh of the same source, table by table",
  ...needsRealServer,
  async fn() {
    await using mongo = await openReplicaSet();
    await using synced = await freshDatabase();
    await using fresh = await freshDatabase();
    await using tmp = await tempDir();
    const sourceDocuments = async () => {
      let n = 0;
      for (const name of COLLECTIONS) n += await mongo.db.collection(name).countDocuments();
      return n;
    };

    const first = await succeeded(
      refreshOn(synced.url, { source: mongo.url, reportsDir: tmp.path }),
    );
    assert.deepEqual(first.sync, { mode: "full", positionStored: true, events: [], skipped: 0 });
    assert.equal(first.fallback, undefined);
    assert.equal((await storedPosition(synced.sql))?.mode, "full");

    const writes = new Mutator(mongo.db, 20);
    await writes.run(30);
    // Some writes land while a sync runs: they are either in it or in the next one.
    const during = new Mutator(mongo.db, 21);
    const [second] = await Promise.all([
      succeeded(refreshOn(synced.url, { source: mongo.url, reportsDir: tmp.path })),
      during.run(15),
    ]);
    assert.equal(second.sync?.mode, "incremental");
    await writes.run(30);
    const third = await succeeded(
      refreshOn(synced.url, { source: mongo.url, reportsDir: tmp.path, mode: "incremental" }),
    );
    assert.equal(third.sync?.mode, "incremental");
    assert.ok(writes.total + during.total >= 300, `only ${writes.total + during.total} writes`);

    // Documents read: only those written since the position.
    const read = third.extract.reduce((n, e) => n + e.documents, 0);
    assert.ok(read > 0 && read < (await sourceDocuments()) / 2, `read ${read} documents`);
    const ledger = await synced.sql<{ operation: string; events: number }[]>`
      select operation, sum(events)::int as events from lml_meta.sync_events
      where run_id = ${third.runId} group by operation order by operation`;
    assert.deepEqual(
      ledger.map((r) => r.operation).filter((o) => o !== "insert"),
      ["delete", "replace", "update"],
    );
    assert.equal(
      ledger.reduce((n, r) => n + r.events, 0),
      third.sync!.events.reduce((n, e) => n + e.events, 0),
    );
    assert.match(await Deno.readTextFile(third.reports.markdown), /incremental/i);

    const full = await succeeded(
      refreshOn(fresh.url, { source: mongo.url, reportsDir: tmp.path, mode: "full" }),
    );
    assert.deepEqual(full.sync, { mode: "full", positionStored: true, events: [], skipped: 0 });
    const [mine, theirs] = [await tables(synced.sql), await tables(fresh.sql)];
    assert.ok(Object.keys(mine).length > 20, "too few tables compared");
    assert.deepEqual(mine, theirs);
  },
});

Deno.test({
  name:
    "a lost position: incremental fails and changes nothing; auto refreshes in full, says so, loses nothing",
  ...needsRealServer,
  ignore: needsRealServer.ignore || MONGO_TEST_URL !== undefined, // expiring needs the test server
  async fn() {
    await using mongo = await openReplicaSet();
    await using db = await freshDatabase();
    await using fresh = await freshDatabase();
    await using tmp = await tempDir();
    await succeeded(refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }));
    const stored = await storedPosition(db.sql);
    await new Mutator(mongo.db, 30).run(10);
    mongo.server!.expireHistory(); // the oplog rolled over past the stored position
    await new Mutator(mongo.db, 31).run(10);
    const before = await tables(db.sql);

    await assert.rejects(
      () => refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path, mode: "incremental" }),
      (error: Error) =>
        error instanceof PositionLostError && /ChangeStreamHistoryLost/.test(error.message),
    );
    assert.deepEqual(await tables(db.sql), before);
    assert.deepEqual(await storedPosition(db.sql), stored);

    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    const fallback = await succeeded(
      refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path, logger }),
    );
    assert.match(fallback.fallback ?? "", /position is lost: ChangeStreamHistoryLost/);
    assert.equal(fallback.sync?.mode, "full");
    assert.ok(lines.some((l) => /FALLING BACK TO A FULL REFRESH/.test(l)), lines.join("\n"));
    assert.match(
      await Deno.readTextFile(fallback.reports.markdown),
      /fell back to a full refresh/i,
    );
    assert.notDeepEqual(await storedPosition(db.sql), stored);

    await succeeded(
      refreshOn(fresh.url, { source: mongo.url, reportsDir: tmp.path, mode: "full" }),
    );
    assert.deepEqual(await tables(db.sql), await tables(fresh.sql));

    // A watched collection dropped and recreated (a reload) also loses the position.
    await insertSample(mongo.url, { scale: SCALE, seed: 2, database: mongo.db.databaseName });
    const reload = await succeeded(refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }));
    assert.match(reload.fallback ?? "", /was dropped in the source/);
  },
});

Deno.test({
  name: "a dump folder has no change stream: auto refreshes in full, incremental fails",
  ...needsRealServer,
  async fn() {
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const { generateSample } = await import("../../../lib/sample/mod.ts");
    await generateSample(`${tmp.path}/dump`, { scale: SCALE, seed: 1 });
    const result = await succeeded(
      refreshOn(db.url, { source: `${tmp.path}/dump`, reportsDir: tmp.path }),
    );
    assert.deepEqual(result.sync, { mode: "full", positionStored: false, events: [], skipped: 0 });
    assert.equal(result.fallback, undefined);
    await assert.rejects(
      () =>
        refreshOn(db.url, {
          source: `${tmp.path}/dump`,
          reportsDir: tmp.path,
          mode: "incremental",
        }),
      PositionLostError,
    );
  },
});

/** Polls `probe` every 50 ms until truthy; fails after 60 s. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The pid of a session of `db` waiting for a lock, from application `application`. */
async function waitingSession(db: TestDatabase, application: string): Promise<number | undefined> {
  const [row] = await db.sql<{ pid: number }[]>`
    select pid from pg_stat_activity
    where datname = current_database() and application_name = ${application}
      and wait_event_type = 'Lock'`;
  return row?.pid;
}

Deno.test({
  name:
    "sync killed (SIGKILL) in its transaction leaves the previous data and position; the next sync applies all",
  ...needsRealServer,
  async fn() {
    await using mongo = await openReplicaSet();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await succeeded(refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }));
    await new Mutator(mongo.db, 40).run(10);
    const before = await tables(db.sql);
    const position = await storedPosition(db.sql);

    {
      await using _held = await holdSchema(db.url, "lml_processes");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "main.ts",
          "sync",
          "--source",
          mongo.url,
          "--database-url",
          db.url,
          "--reports",
          tmp.path,
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      await waitFor(
        "the sync to wait inside its transaction",
        () => waitingSession(db, APPLICATION),
      );
      child.kill("SIGKILL");
      assert.equal((await output).signal, "SIGKILL");
    }
    await waitFor("the killed sync's sessions to end", async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = ${APPLICATION}`;
      return row!.n === 0;
    });
    assert.deepEqual(await tables(db.sql), before);
    assert.deepEqual(await storedPosition(db.sql), position);

    const next = await succeeded(refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }));
    assert.equal(next.sync?.mode, "incremental");
    await using fresh = await freshDatabase();
    await succeeded(
      refreshOn(fresh.url, { source: mongo.url, reportsDir: tmp.path, mode: "full" }),
    );
    assert.deepEqual(await tables(db.sql), await tables(fresh.sql));
  },
});

Deno.test({
  name: "two syncs never run at once: the second exits naming the first",
  ...needsRealServer,
  async fn() {
    await using mongo = await openReplicaSet();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await succeeded(refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }));
    await new Mutator(mongo.db, 50).run(5);
    let first: Promise<RefreshResult>;
    {
      await using _held = await holdSchema(db.url, "lml_processes");
      first = refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path, lockTimeoutMs: 60_000 });
      await waitFor(
        "the first sync to wait inside its transaction",
        () => waitingSession(db, APPLICATION),
      );
      await assert.rejects(
        () => refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }),
        (error: Error) =>
          error instanceof RefreshBusyError && /another refresh/.test(error.message),
      );
    }
    assert.equal((await succeeded(first)).sync?.mode, "incremental");
  },
});

Deno.test({
  name:
    "sync --follow keeps lml_raw current in small transactions, each with its position, and gives way to a transform",
  ...needsRealServer,
  async fn() {
    await using mongo = await openReplicaSet();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const stop = new AbortController();
    let applied = 0;
    const following = refreshOn(db.url, {
      source: mongo.url,
      reportsDir: tmp.path,
      follow: stop.signal,
    });
    await waitFor(
      "the first run to store a position",
      () => storedPosition(db.sql).catch(() => undefined),
    );
    const users = mongo.db.collection(COLLECTIONS[0]!);
    const one = await users.findOne({});
    await users.updateOne({ _id: one!._id }, { $set: { followed: "yes" } });
    await users.deleteOne({ _id: (await users.find({}).skip(1).limit(1).toArray())[0]!._id });
    const raw = db.sql(config.rawSchema);
    const table = db.sql(COLLECTIONS[0]!);
    const followedValue = async () => {
      const [row] = await db.sql<{ value: string | null }[]>`
        select doc ->> 'followed' as value from ${raw}.${table}
        where doc ->> 'followed' is not null`;
      return row?.value;
    };
    await waitFor("the update to reach lml_raw", async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from ${raw}.${table} where doc ->> 'followed' = 'yes'`;
      return row!.n === 1;
    });
    assert.equal((await storedPosition(db.sql))?.mode, "follow");

    // A second follower exits at once; a writing command (a scheduled transform) may run beside
    // the follower, which leaves its changes for later and applies them once the lock is free.
    await assert.rejects(
      refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path, follow: stop.signal }),
      RefreshBusyError,
    );
    {
      await using _transform = await acquireRunLock(db.sql, {
        command: "transform",
        metaSchema: config.metaSchema,
      });
      await users.updateOne({ _id: one!._id }, { $set: { followed: "later" } });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(await followedValue(), "yes");
    }
    await waitFor("the follower to catch up", async () => (await followedValue()) === "later");
    stop.abort();
    const result = await succeeded(following);
    assert.equal(result.sync?.mode, "full");
    const [events] = await db.sql<{ n: number }[]>`
      select coalesce(sum(events), 0)::int as n from lml_meta.sync_events e
      join lml_meta.runs r using (run_id) where r.command = 'follow'`;
    assert.ok(events!.n >= 2, `follow recorded ${events!.n} events`);
    applied = events!.n;
    const [run] = await db.sql<{ status: string }[]>`
      select status from lml_meta.runs where command = 'follow'`;
    assert.equal(run?.status, "succeeded");
    assert.ok(applied > 0);
  },
});

Deno.test({
  name: "an incremental sync that empties a collection stops on the volume guard, unless allowed",
  ...needsRealServer,
  async fn() {
    await using mongo = await openReplicaSet();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await succeeded(refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path }));
    const groups = COLLECTIONS.find((c) => c.includes("usersgroups"))!;
    const documents = await mongo.db.collection(groups).countDocuments();
    await mongo.db.collection(groups).deleteMany({});
    const before = await tables(db.sql);
    const position = await storedPosition(db.sql);

    const stopped = await refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path });
    assert.equal(stopped.status, "failed");
    assert.ok(stopped.error instanceof VolumeGuardError, String(stopped.error));
    assert.match(
      stopped.error.message,
      new RegExp(`${groups}: ${documents} documents published, 0 now`),
    );
    assert.deepEqual(await tables(db.sql), before);
    assert.deepEqual(await storedPosition(db.sql), position);

    const allowed = await succeeded(
      refreshOn(db.url, { source: mongo.url, reportsDir: tmp.path, allowShrink: true }),
    );
    assert.equal(allowed.sync?.mode, "incremental");
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from ${db.sql(config.rawSchema)}.${db.sql(groups)}`;
    assert.equal(row!.n, 0);
  },
});

Deno.test({
  name:
    "deno task sync whose position is lost falls back loudly: log, report.json and the fallback alert",
  ...needsRealServer,
  ignore: needsRealServer.ignore || MONGO_TEST_URL !== undefined, // expiring needs the test server
  async fn() {
    await using mongo = await openReplicaSet();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await using sink = httpSink();
    const copied = await new Deno.Command("cp", { args: ["-r", `${ROOT}sql`, tmp.path] }).output();
    assert.ok(copied.success, "cp -r sql");
    const pipeline = `${tmp.path}/sql/pipeline.yaml`;
    await Deno.writeTextFile(
      pipeline,
      `${await Deno.readTextFile(
        pipeline,
      )}\nnotify:\n  on: [failure, fallback]\n  webhook: ${sink.url}/hook\n`,
    );
    const sync = () =>
      cli([
        "sync",
        "--config",
        pipeline,
        "--source",
        mongo.url,
        "--database-url",
        db.url,
        "--reports",
        `${tmp.path}/reports`,
      ]);
    const first = await sync();
    assert.equal(first.code, 0, first.stderr);
    assert.equal(sink.received.length, 0, "a first full refresh is no fallback");

    await new Mutator(mongo.db, 60).run(5);
    mongo.server!.expireHistory();
    const second = await sync();
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /WARN FALLING BACK TO A FULL REFRESH: .*ChangeStreamHistoryLost/);
    assert.equal(sink.received.length, 1);
    const payload = JSON.parse(sink.received[0]!.body);
    assert.ok(payload.outcomes.includes("fallback"), payload.outcomes.join(", "));
    assert.match(payload.fallback, /position is lost: ChangeStreamHistoryLost/);
    const report = JSON.parse(await Deno.readTextFile(`${tmp.path}/reports/report.json`));
    assert.match(report.fallback, /ChangeStreamHistoryLost/);
    assert.equal(report.sync.mode, "full");
    const [alert] = await db.sql`select status from lml_meta.alerts`;
    assert.equal(alert?.status, "sent");
  },
});
