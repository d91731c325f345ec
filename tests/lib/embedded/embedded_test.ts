import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { connect } from "../../../lib/core/db.ts";
import {
  resolveDatabase,
  runningEmbeddedUrl,
  serveEmbedded,
  startEmbedded,
} from "../../../lib/embedded/database.ts";
import { RunError } from "../../../lib/core/errors.ts";
import { createLogger } from "../../../lib/core/log.ts";
import { freshDatabase, probeServer } from "../../support/db.ts";

const NOWHERE = "postgres://postgres@127.0.0.1:1/postgres";

async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "lml_embedded_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("startEmbedded() serves queries, transactions and savepoints to postgres.js", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  assert.match(server.url, /^postgres:\/\/postgres:[0-9a-f]{32}@127\.0\.0\.1:\d+\/postgres$/);
  const sql = connect(server.url, { max: 2 });
  try {
    const [row] = await sql`select ${41}::int + 1 as answer, ${"é"}::text as text`;
    assert.deepEqual({ ...row }, { answer: 42, text: "é" });
    await sql`create table items (item_id int primary key, doc jsonb not null)`;
    await sql.begin(async (tx) => {
      await tx`insert into items values (1, ${tx.json({ a: 1 })})`;
      await tx.savepoint(async (sp) => {
        await sp`insert into items values (2, '{}')`;
        throw new Error("undo the savepoint");
      }).catch(() => {});
      await tx`insert into items values (3, '{"b": [1, 2]}')`;
    });
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx`insert into items values (4, '{}')`;
        await tx`insert into items values (1, '{}')`;
      }),
      (error: postgres.PostgresError) => error.code === "23505",
    );
    const rows = await sql`select item_id, doc from items order by item_id`;
    assert.deepEqual(rows.map((r) => [r.item_id, r.doc]), [[1, { a: 1 }], [3, { b: [1, 2] }]]);
  } finally {
    await sql.end();
  }
});

Deno.test("the embedded PostgreSQL supports what the toolkit's SQL relies on", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  const sql = connect(server.url, { max: 1 });
  try {
    const [lock] = await sql`
      select pg_try_advisory_lock(hashtext('lml')) as locked,
             pg_advisory_unlock(hashtext('lml')) as unlocked`;
    assert.deepEqual({ ...lock }, { locked: true, unlocked: true });
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('lml ensure meta'))`;
      await tx`select set_config('lml.run_id', ${"run-1"}, true)`;
      const [setting] = await tx`select current_setting('lml.run_id', true) as run_id`;
      assert.equal(setting?.run_id, "run-1");
      await tx`create schema s`;
      await tx`create table s.main (user_id text primary key)`;
      await tx`comment on table s.main is 'one row per user'`;
      await tx`insert into s.main values ('a'), ('b')`;
      const [stat] = await tx`
        select n_tup_ins from pg_stat_xact_user_tables where schemaname = 's' and relname = 'main'`;
      assert.equal(Number(stat?.n_tup_ins), 2);
    });
    const [after] = await sql`select current_setting('lml.run_id', true) as run_id`;
    assert.ok(after?.run_id === null || after?.run_id === "", "a local setting must not leak");
    const [comment] = await sql`select obj_description('s.main'::regclass, 'pg_class') as text`;
    assert.equal(comment?.text, "one row per user");
    const columns = await sql`
      select column_name from information_schema.columns
      where table_schema = 's' and table_name = 'main'`;
    assert.deepEqual(columns.map((c) => c.column_name), ["user_id"]);
    await sql`create view s.v as select * from s.main`;
    await sql`drop schema s cascade`;
    const [left] = await sql`select count(*)::int as n from pg_namespace where nspname = 's'`;
    assert.equal(left?.n, 0);
  } finally {
    await sql.end();
  }
});

Deno.test("two connections of one pool never interleave inside a transaction", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  const sql = connect(server.url, { max: 4 });
  try {
    await sql`create table events (name text not null)`;
    const inserted = deferred();
    let outside: Promise<number> | undefined;
    await sql.begin(async (tx) => {
      await tx`insert into events values ('uncommitted')`;
      // Another connection of the pool writes and reads while this transaction is open.
      outside = (async () => {
        await inserted.promise;
        await sql`insert into events values ('outside')`;
        const [row] = await sql`select count(*)::int as n from events where name = 'uncommitted'`;
        return row!.n as number;
      })();
      inserted.resolve();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await tx`insert into events values ('uncommitted')`;
      throw new Error("roll back");
    }).catch((error) => assert.equal(error.message, "roll back"));
    assert.equal(await outside, 0, "the other connection saw uncommitted rows");
    const names = await sql`select name from events`;
    assert.deepEqual(
      names.map((r) => r.name),
      ["outside"],
      "the other connection's insert was rolled back with the transaction",
    );
  } finally {
    await sql.end();
  }
});

Deno.test("a connection that disconnects inside a transaction leaves the session usable", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  const first = postgres(server.url, { max: 1, onnotice: () => {} });
  await first`create table t (n int)`;
  const reserved = await first.reserve();
  await reserved`begin`;
  await reserved`insert into t values (1)`;
  reserved.release();
  await first.end({ timeout: 0 });
  const second = connect(server.url, { max: 1 });
  try {
    const [row] = await second`select count(*)::int as n from t`;
    assert.equal(row?.n, 0);
    await second`insert into t values (2)`;
    const [again] = await second`select count(*)::int as n from t`;
    assert.equal(again?.n, 1);
  } finally {
    await second.end();
  }
});

Deno.test("COPY FROM STDIN loads rows, and fails cleanly when unsupported or too large", async () => {
  await using server = await startEmbedded({ dataDir: "memory://", copyLimitBytes: 4096 });
  const sql = connect(server.url, { max: 1 });
  try {
    await sql`create table raw (_id text primary key, doc jsonb not null)`;
    const writable = await sql`copy raw (_id, doc) from stdin`.writable();
    await new Promise<void>((resolve, reject) => {
      writable.on("error", reject);
      writable.write('a\t{"x": 1}\n');
      writable.write('b\t{"y": "tab\\\\t"}\n');
      writable.end(resolve);
    });
    const rows = await sql`select _id, doc from raw order by _id`;
    assert.deepEqual(rows.map((r) => [r._id, r.doc]), [["a", { x: 1 }], ["b", { y: "tab\t" }]]);

    const big = await sql`copy raw (_id, doc) from stdin`.writable();
    let failure: Error | undefined;
    big.on("error", (e) => (failure = e));
    // Stream as a loader does (not all at once), so the error reaches a writer still open.
    for (let i = 0; i < 1000 && !failure; i++) {
      big.write(`big${i}\t{"pad": "${"x".repeat(100)}"}\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const error = failure as postgres.PostgresError | undefined;
    assert.ok(error, "the oversized COPY did not fail");
    assert.equal(error.code, "57014");
    assert.match(error.message, /limited to 4096 bytes/);

    await assert.rejects(
      sql.unsafe("select 1; copy raw from stdin").simple(),
      (e: postgres.PostgresError) => e.code === "0A000",
    );
    const [count] = await sql`select count(*)::int as n from raw`;
    assert.equal(count?.n, 2);
  } finally {
    await sql.end();
  }
});

Deno.test("startEmbedded() keeps data in its directory across restarts and locks it", async () => {
  await using dir = await tempDir();
  const dataDir = join(dir.path, "pgdata");
  {
    await using server = await startEmbedded({ dataDir });
    assert.equal(await runningEmbeddedUrl(dataDir), server.url);
    await assert.rejects(startEmbedded({ dataDir }), (error: Error) => {
      assert.ok(error instanceof RunError);
      assert.match(error.message, /is in use \(pid \d+ serving postgres:\/\//);
      return true;
    });
    await using resolved = await resolveDatabase({ dataDir });
    assert.equal(resolved.url, server.url);
    assert.equal(resolved.embedded, undefined);
    const sql = connect(resolved.url, { max: 1 });
    await sql`create table kept (note text)`;
    await sql`insert into kept values ('still here')`;
    await sql.end();
  }
  assert.equal(await runningEmbeddedUrl(dataDir), undefined);
  await using server = await startEmbedded({ dataDir });
  const sql = connect(server.url, { max: 1 });
  try {
    const rows = await sql`select note from kept`;
    assert.deepEqual(rows.map((r) => r.note), ["still here"]);
  } finally {
    await sql.end();
  }
});

Deno.test("resolveDatabase() uses the given URL, else starts the embedded PostgreSQL", async () => {
  await using given = await resolveDatabase({ databaseUrl: NOWHERE });
  assert.equal(given.url, NOWHERE);
  assert.equal(given.isEmbedded, false);

  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  await using resolved = await resolveDatabase({ dataDir: "memory://", logger });
  assert.equal(resolved.isEmbedded, true);
  assert.ok(resolved.embedded);
  assert.match(lines.join("\n"), /using the embedded PostgreSQL in memory:\/\//);
  const sql = connect(resolved.url, { max: 1 });
  try {
    const [row] = await sql`select 1 as one`;
    assert.equal(row?.one, 1);
  } finally {
    await sql.end();
  }
});

Deno.test("serveEmbedded() prints how to connect and serves until stopped", async () => {
  await using dir = await tempDir();
  const lines: string[] = [];
  const stop = new AbortController();
  const served = serveEmbedded({
    dataDir: join(dir.path, "pgdata"),
    port: 0,
    signal: stop.signal,
    print: (line) => lines.push(line),
  });
  while (!lines.some((line) => line.includes("psql "))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = /psql (\S+)/.exec(lines.join("\n"))![1]!;
  const sql = connect(url, { max: 1 });
  const [row] = await sql`select current_user as who`;
  await sql.end();
  stop.abort();
  await served;
  assert.equal(row?.who, "postgres");
  assert.match(lines.join("\n"), /DBeaver/);
  // The password is shown for psql and DBeaver, and where it is kept; the headline hides it.
  const password = new URL(url).password;
  assert.match(password, /^[0-9a-f]{32}$/);
  assert.match(lines.join("\n"), new RegExp(`Password: ${password}\n`));
  assert.match(lines.join("\n"), /kept in .*pgdata\.password, readable by you only/);
  assert.match(lines[0]!, /at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres$/);
});

Deno.test("freshDatabase() falls back to an embedded PostgreSQL when no server answers", async () => {
  assert.equal(await probeServer(NOWHERE), false);
  await using db = await freshDatabase({ serverUrl: NOWHERE });
  assert.equal(db.embedded, true);
  assert.doesNotMatch(db.url, /:1\//);
  await db.sql`create table t (n int)`;
  await db.sql`insert into t values (1), (2)`;
  const [row] = await db.sql`select sum(n)::int as total from t`;
  assert.equal(row?.total, 3);
});
