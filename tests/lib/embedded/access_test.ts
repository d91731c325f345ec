import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { connect } from "../../../lib/core/db.ts";
import { createLogger } from "../../../lib/core/log.ts";
import {
  resolveDatabase,
  runningEmbeddedUrl,
  startEmbedded,
} from "../../../lib/embedded/database.ts";
import { NASTY } from "../../support/nasty.ts";

const encoder = new TextEncoder();

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "lml_access_" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function withCredentials(url: string, user: string, password: string | undefined): string {
  const u = new URL(url);
  u.username = user;
  u.password = password ?? "";
  return u.toString();
}

/** Connects with `url` and returns the error postgres.js gives, or undefined when it got in. */
async function loginError(url: string): Promise<postgres.PostgresError | undefined> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql`select 1`;
    return undefined;
  } catch (error) {
    return error as postgres.PostgresError;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** A StartupMessage (protocol 3.0) for `params`. */
function startup(params: Record<string, string>): Uint8Array {
  const body = encoder.encode(
    Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join("") + "\0",
  );
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setInt32(0, out.length);
  new DataView(out.buffer).setInt32(4, 196608);
  out.set(body, 8);
  return out;
}

function typed(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/** Sends `bytes` on a raw connection and returns everything the server sent until it closed. */
async function rawExchange(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    const parts: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    const deadline = setTimeout(() => conn.close(), 10_000);
    try {
      for (;;) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        parts.push(buffer.slice(0, n));
      }
    } finally {
      clearTimeout(deadline);
    }
    return new TextDecoder().decode(
      parts.reduce((all, p) => {
        const out = new Uint8Array(all.length + p.length);
        out.set(all);
        out.set(p, all.length);
        return out;
      }, new Uint8Array(0)),
    );
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

Deno.test("the embedded server refuses a wrong or missing password and other user names", async () => {
  const lines: string[] = [];
  await using server = await startEmbedded({
    dataDir: "memory://",
    logger: createLogger({ write: (line) => lines.push(line) }),
  });
  assert.equal(await loginError(server.url), undefined, "the right password gets in");
  for (
    const [user, password] of [
      ["postgres", "wrong"],
      ["postgres", undefined],
      ["postgres", server.password.toUpperCase()],
      ["alice", server.password],
      [NASTY.newline, server.password],
    ] as const
  ) {
    const error = await loginError(withCredentials(server.url, user, password));
    assert.ok(error, `${user} / ${password} got in`);
    assert.equal(error.code, "28P01", `${user} / ${password}: ${error.message}`);
    assert.match(error.message, /password authentication failed for user/);
  }
  // The server logs a refusal as it closes the connection, which may be after the client saw it.
  const refusals = () => lines.filter((l) => /refused a connection/.test(l)).length;
  for (const deadline = Date.now() + 5000; refusals() < 5 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(refusals(), 5);
  assert.ok(lines.every((l) => !l.includes(server.password)), "the password reached the log");
  assert.ok(lines.every((l) => !l.includes("\n")), "a user name broke a log line");
});

Deno.test("nothing reaches the engine before the password is proven", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  // A client that skips authentication and sends SQL right after its StartupMessage.
  const pwned = "create table public.pwned as select 1 as x";
  const reply = await rawExchange(
    server.port,
    concat([startup({ user: "postgres" }), typed("Q", encoder.encode(pwned + "\0"))]),
  );
  assert.match(reply, /SCRAM-SHA-256/, "the server asks for SCRAM-SHA-256 first");
  assert.match(reply, /08P01/);
  assert.match(reply, /expected a password response/);
  // A long message before authentication is refused from its header, not buffered.
  const long = new Uint8Array(5);
  long[0] = "p".charCodeAt(0);
  new DataView(long.buffer).setInt32(1, 64 * 1024 * 1024);
  const refused = await rawExchange(server.port, concat([startup({ user: "postgres" }), long]));
  assert.match(refused, /exceeds the limit of 10000 bytes/);
  const sql = connect(server.url, { max: 1 });
  try {
    const [row] = await sql`select to_regclass('public.pwned') is null as absent`;
    assert.equal(row?.absent, true, "SQL sent before authentication ran");
  } finally {
    await sql.end();
  }
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("psql logs in with the password over SCRAM-SHA-256 and is refused without it", async () => {
  const psql = await new Deno.Command("psql", { args: ["--version"], stdout: "null" }).output()
    .catch(() => undefined);
  if (!psql?.success) {
    console.error("skipped the psql part: psql is not installed");
    return;
  }
  await using server = await startEmbedded({ dataDir: "memory://" });
  const run = async (url: string) => {
    const out = await new Deno.Command("psql", {
      args: [url, "-X", "-A", "-t", "-w", "-c", "select current_user"],
      stdout: "piped",
      stderr: "piped",
      env: { PGCONNECT_TIMEOUT: "10", PGPASSWORD: "" },
    }).output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  };
  assert.deepEqual(await run(server.url), { code: 0, stdout: "postgres", stderr: "" });
  const wrong = await run(withCredentials(server.url, "postgres", "nope"));
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /password authentication failed for user "postgres"/);
  const none = await run(withCredentials(server.url, "postgres", undefined));
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no password supplied/);
});

Deno.test("a data directory's password is random, owner-only, kept across restarts and used by the toolkit", async () => {
  await using dir = await tempDir();
  const dataDir = join(dir.path, "pgdata");
  const file = `${dataDir}.password`;
  let first: string;
  {
    await using server = await startEmbedded({ dataDir });
    first = server.password;
    assert.match(first, /^[0-9a-f]{32}$/);
    assert.equal(server.passwordFile, file);
    assert.equal((await Deno.readTextFile(file)).trim(), first);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.ok(server.url.includes(`:${first}@`));
    // The lock file beside it is not private: it names the server, not the password.
    assert.ok(!(await Deno.readTextFile(`${dataDir}.lock`)).includes(first));

    // Another command finds the running server and logs in with the password file.
    const lines: string[] = [];
    await using resolved = await resolveDatabase({
      dataDir,
      logger: createLogger({ write: (line) => lines.push(line) }),
    });
    assert.equal(resolved.url, server.url);
    assert.equal(await runningEmbeddedUrl(dataDir), server.url);
    assert.match(lines.join("\n"), /served at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+/);
    assert.ok(!lines.join("\n").includes(first), "the password reached the log");
    const sql = connect(resolved.url, { max: 1 });
    const [row] = await sql`select current_user as who`;
    await sql.end();
    assert.equal(row?.who, "postgres");
  }
  await Deno.chmod(file, 0o644);
  {
    await using server = await startEmbedded({ dataDir });
    assert.equal(server.password, first, "the password changed across a restart");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, "the file was not made private");
  }
  await Deno.remove(file);
  {
    await using server = await startEmbedded({ dataDir });
    assert.notEqual(server.password, first, "a deleted password file gives a new password");
    assert.equal(
      await loginError(withCredentials(server.url, "postgres", first)).then((e) => e?.code),
      "28P01",
    );
  }
  const other = join(dir.path, "other");
  await using server = await startEmbedded({ dataDir: other });
  assert.notEqual(server.password, first, "two data directories share a password");
});

Deno.test("settings, roles, temp tables and prepared statements do not leak to the next client", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  const a = postgres(server.url, { max: 1, onnotice: () => {} });
  const b = postgres(server.url, { max: 1, onnotice: () => {} });
  const state = async (sql: postgres.Sql) => {
    const [row] = await sql`
      select current_user as who, current_setting('search_path') as search_path,
             current_setting('work_mem') as work_mem,
             to_regclass('pg_temp.a_secret') is not null as has_temp,
             (select count(*)::int from pg_prepared_statements where from_sql) as sql_prepared,
             (select count(*)::int from pg_listening_channels()) as listening,
             (select count(*)::int from pg_cursors where name = 'a_cursor') as cursors`;
    return { ...row };
  };
  try {
    await a`create schema a_private`;
    await a`create role lml_reader`;
    // The state of a fresh session.
    const clean = await state(a);
    assert.deepEqual({ ...clean, search_path: "" }, {
      who: "postgres",
      search_path: "",
      work_mem: "4MB",
      has_temp: false,
      sql_prepared: 0,
      listening: 0,
      cursors: 0,
    });
    await a`set search_path = a_private`;
    await a`set work_mem = '77MB'`;
    await a`create temp table a_secret (x int)`;
    await a`prepare a_statement as select 1`;
    await a`listen a_channel`;
    await a.unsafe("begin; declare a_cursor cursor with hold for select 1; commit").simple();
    await a`set role lml_reader`;
    assert.deepEqual(await state(a), {
      who: "lml_reader",
      search_path: "a_private",
      work_mem: "77MB",
      has_temp: true,
      sql_prepared: 1,
      listening: 1,
      cursors: 1,
    });
    // The next client, while the first is still connected.
    assert.deepEqual(await state(b), clean);
    // The first client's settings went with the handover too (a session setting lasts until
    // another connection takes over), but its protocol-level prepared statements stay: both
    // clients' statements of the state query exist.
    assert.deepEqual(await state(a), clean);
    const [statements] = await a`
      select count(*)::int as n from pg_prepared_statements
      where not from_sql and statement like '%' || 'pg_listening_' || 'channels%'`;
    assert.equal(statements?.n, 2);
    await a`set search_path = a_private`;
    await a.end();
    // The next client after the first has gone.
    const c = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      assert.deepEqual(await state(c), clean);
    } finally {
      await c.end();
    }
  } finally {
    await a.end();
    await b.end();
  }
});

Deno.test("a client idle in a transaction while others wait is rolled back, closed and logged", async () => {
  const lines: string[] = [];
  await using server = await startEmbedded({
    dataDir: "memory://",
    idleInTransactionTimeoutMs: 400,
    logger: createLogger({ write: (line) => lines.push(line) }),
  });
  const setup = connect(server.url, { max: 1 });
  await setup`create table t (n int)`;
  await setup.end();

  const holder = postgres(server.url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "forgotten editor" },
  });
  const idle = deferred();
  const resume = deferred();
  const transaction = holder.begin(async (tx) => {
    await tx`insert into t values (1)`;
    // Nobody waits: an open transaction is left alone, however long it idles.
    await new Promise((resolve) => setTimeout(resolve, 900));
    await tx`insert into t values (2)`;
    idle.resolve();
    // Then it idles again, until after the test is done with it.
    await resume.promise;
  }).then(() => undefined, (error: postgres.PostgresError) => error);
  await idle.promise;
  assert.equal(lines.length, 0, "an idle transaction nobody waited for was evicted");

  // Someone waits: the idle holder is evicted after the timeout and the waiter gets in.
  const next = connect(server.url, { max: 1 });
  try {
    const [row] = await next`select count(*)::int as n from t`;
    assert.equal(row?.n, 0, "the evicted transaction was not rolled back");
    assert.equal((await transaction)?.code, "CONNECTION_CLOSED", "the evicted client went on");
    await next`insert into t values (3)`;
    const [again] = await next`select array_agg(n) as ns from t`;
    assert.deepEqual(again?.ns, [3]);
  } finally {
    resume.resolve();
    await holder.end({ timeout: 1 });
    await next.end();
  }
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0]!,
    /WARN embedded PostgreSQL: closed connection \d+ \(application "forgotten editor"\): idle in a transaction for [\d.]+ s while 1 other connection\(s\) waited; its transaction was rolled back/,
  );
});
