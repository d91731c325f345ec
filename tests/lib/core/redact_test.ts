import assert from "node:assert/strict";
import { connect, redactText, redactUrl } from "../../../lib/core/db.ts";
import { UsageError } from "../../../lib/core/errors.ts";
import { createLogger, withLogFile } from "../../../lib/core/log.ts";
import { reportFailure } from "../../../lib/commands/failure.ts";
import { refresh } from "../../../lib/commands/refresh.ts";
import { freshDatabase, TEST_DATABASE_URL } from "../../support/db.ts";
import { makeFixture } from "../../support/pipeline_fixture.ts";
import { hasControl, NASTY, NASTY_PASSWORD, NASTY_STRINGS } from "../../support/nasty.ts";

const PASSWORDS = [NASTY_PASSWORD, "ab cd", "p@ss@word", "a+b=c/d", "x:y", "tab\tpw/="];

/** Fails when any recognizable piece of `password` is in `text`. */
function assertNoPassword(text: string, password = NASTY_PASSWORD): void {
  for (const piece of [password, "ab/cd", "cd+ef", "ef==@x", encodeURIComponent(password)]) {
    assert.ok(!text.includes(piece), `"${piece}" of the password leaked in: ${text}`);
  }
}

Deno.test("redactUrl() blanks passwords with unencoded /, @, +, = and whitespace, keeping the user and host", () => {
  for (const password of PASSWORDS) {
    for (const scheme of ["postgres", "postgresql", "mongodb", "mongodb+srv"]) {
      const url = `${scheme}://etl:${password}@db.example:5432/mesa?sslmode=require`;
      const redacted = redactUrl(url);
      assert.equal(redacted, `${scheme}://etl:***@db.example:5432/mesa?sslmode=require`, url);
    }
  }
  assert.equal(
    redactUrl(`mongodb://u:${NASTY_PASSWORD}@h1:27017,h2:27017/x?replicaSet=rs`),
    "mongodb://u:***@h1:27017,h2:27017/x?replicaSet=rs",
  );
  assert.equal(redactUrl("postgres://etl@db/x"), "postgres://etl@db/x");
  assert.equal(redactUrl("postgres://db/x"), "postgres://db/x");
});

Deno.test("redactText() blanks URLs inside messages, `password=` pairs and SQL PASSWORD literals", () => {
  const text = [
    `TypeError: Invalid URL: 'postgres://postgres:${NASTY_PASSWORD}@127.0.0.1:5432/postgres'`,
    `source mongodb://u:${NASTY_PASSWORD}@m:1/x and target postgres://p:${NASTY_PASSWORD}@h/d`,
    `host=h password=${NASTY_PASSWORD} dbname=x`,
    `alter role bob password '${NASTY_PASSWORD}''s' valid until 'infinity'`,
    `create role amy login PASSWORD $pw$${NASTY_PASSWORD}$pw$`,
    `{"user":"u","password":"${NASTY_PASSWORD}"}`,
  ].join("\n");
  const redacted = redactText(text);
  assertNoPassword(redacted);
  assert.match(redacted, /Invalid URL: 'postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/postgres'/);
  assert.match(redacted, /valid until 'infinity'/);
  assert.equal(redactText(redacted), redacted);
  for (const nasty of NASTY_STRINGS) assert.equal(redactText(nasty), nasty, "no password here");
});

Deno.test("connect() refuses an unparseable URL without quoting it, and the printer shows no password", () => {
  const url = `postgres://postgres:${NASTY_PASSWORD}@127.0.0.1:5432/postgres`;
  let caught: unknown;
  try {
    connect(url);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof UsageError, String(caught));
  assertNoPassword(caught.message);
  assert.match(caught.message, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
  let printed = "";
  assert.equal(reportFailure(caught, { debug: true, write: (t) => (printed += t) }), 2);
  assertNoPassword(printed);
  let raw = "";
  reportFailure(new TypeError(`Invalid URL: '${url}'`), { debug: true, write: (t) => (raw += t) });
  assertNoPassword(raw);
});

Deno.test("the logger and the printer keep passwords and terminal escapes out of their lines", async () => {
  const lines: string[] = [];
  const text = createLogger({ format: "text", write: (l) => lines.push(l) });
  const json: string[] = [];
  const jsonLogger = createLogger({ format: "json", write: (l) => json.push(l) });
  const dir = await Deno.makeTempDir();
  try {
    {
      using file = withLogFile(text, `${dir}/run.log`);
      for (const nasty of NASTY_STRINGS) {
        file.warn(`value ${nasty} at postgres://u:${NASTY_PASSWORD}@h/d`, { field: nasty });
        jsonLogger.warn(nasty, { url: `mongodb://u:${NASTY_PASSWORD}@h/d`, field: nasty });
      }
    }
    const logged = await Deno.readTextFile(`${dir}/run.log`);
    for (const out of [...lines, ...json, logged]) assertNoPassword(out);
    for (const line of lines) {
      assert.ok(!hasControl(line.replace(/\n/g, "")), JSON.stringify(line));
      assert.ok(!line.includes("\x1b"), "no escape sequence reaches the terminal");
    }
    assert.ok(lines.some((l) => l.includes("\\x1b[31mred")), "escapes shown, not run");
    for (const line of [...json, ...logged.trim().split("\n")]) JSON.parse(line);
    let printed = "";
    reportFailure(new Error(`bad field ${NASTY.terminal}`), { write: (t) => (printed += t) });
    assert.ok(!printed.includes("\x1b") && !printed.includes("\x9b"), JSON.stringify(printed));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a refresh that fails with a password in the MongoDB URL leaves it out of the ledger, reports and log", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  const source = `mongodb://etl:${NASTY_PASSWORD}@127.0.0.1:1/mesa4core`;
  const logged: string[] = [];
  const result = await refresh(db.sql, fx.config, {
    source,
    reportsDir: fx.reports,
    runId: "leaky",
    logger: createLogger({ format: "json", write: (l) => logged.push(l) }),
  });
  assert.equal(result.status, "failed");
  assert.ok(result.error);
  const [run] = await db.sql`select status, error from lml_meta.runs where run_id = 'leaky'`;
  assert.equal(run!.status, "failed");
  assertNoPassword(String(run!.error));
  const extractLog = await db.sql`select source, error from lml_meta.extract_log`;
  assertNoPassword(JSON.stringify(extractLog));
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else files.push(path);
    }
  };
  await walk(fx.reports);
  assert.ok(files.some((f) => f.endsWith("refresh.log")) && files.length >= 7, files.join());
  for (const file of files) assertNoPassword(await Deno.readTextFile(file));
  assertNoPassword(logged.join("\n"));
  // The same source with a percent-encoded password and a PostgreSQL URL with one unencoded.
  const pg = TEST_DATABASE_URL.replace("//postgres@", `//postgres:${NASTY_PASSWORD}@`);
  const cli = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../../main.ts", import.meta.url).pathname, "refresh"],
    env: { NO_COLOR: "1", DATABASE_URL: pg, MONGO_URL: source },
    cwd: fx.dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(cli.stderr);
  assert.notEqual(cli.code, 0);
  assert.match(stderr, /\*\*\*/);
  assertNoPassword(stderr + new TextDecoder().decode(cli.stdout));
});
