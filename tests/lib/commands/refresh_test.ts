/**
 * Fault injection on the nightly refresh: whatever stops it (SIGKILL during extraction or
 * during the transforms, MongoDB gone mid-stream, its PostgreSQL session terminated, a failing
 * error check, a second refresh started at the same time), the previous data stays exactly as
 * it was, row for row, and the next refresh succeeds.
 *
 * Each test loads a first sample (seed 1) with a good refresh: the previous data. The second
 * sample (seed 2) is the new data that must not land partially.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfig, type PipelineConfig } from "../../../lib/core/config.ts";
import { connect, type Sql } from "../../../lib/core/db.ts";
import { STAGING_SCHEMA } from "../../../lib/core/publish.ts";
import { refresh, RefreshBusyError, type RefreshOptions } from "../../../lib/commands/refresh.ts";
import type { RefreshResult as RunResult } from "../../../lib/commands/refresh.ts";
import { generateSample, insertSample, type Manifest } from "../../../lib/sample/mod.ts";
import { schemaChecksums } from "../../support/checksum.ts";
import { freshDatabase, needsRealServer, type TestDatabase } from "../../support/db.ts";
import { assertManifestFigures } from "../../support/manifest_figures.ts";
import { holdSchema } from "../../support/locks.ts";
import { MONGO_TEST_URL, openTestMongo } from "../../support/mongo.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const config = await loadConfig(`${ROOT}sql/pipeline.yaml`);
const APPLICATION = "lml refresh";
const PROCESSES = "lml_processes_mesa4core";
/** Tables of the previous data: raw, helpers and every normalized schema (not the ledger). */
const SCHEMAS = [
  config.rawSchema,
  config.utilSchema,
  ...config.collections.map((c) => c.schema),
  STAGING_SCHEMA,
];
/** Generous: the machine may be loaded. */
const TIMEOUT_MS = 60_000;

interface Dumps {
  first: string;
  second: string;
  secondManifest: Manifest;
}

let dumps: Promise<Dumps> | undefined;

/** The two samples, generated once per file into a temp dir removed when the file ends. */
function sampleDumps(): Promise<Dumps> {
  dumps ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "lml_refresh_samples_" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    await generateSample(`${dir}/first`, { scale: 0.01, seed: 1 });
    const secondManifest = await generateSample(`${dir}/second`, { scale: 0.01, seed: 2 });
    return { first: `${dir}/first`, second: `${dir}/second`, secondManifest };
  })();
  return dumps;
}

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "lml_refresh_test_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Runs refresh() on its own pool, as the CLI would. */
async function refreshOn(
  url: string,
  options: RefreshOptions & { config?: PipelineConfig },
): Promise<RunResult> {
  const sql = connect(url, { application: APPLICATION, max: 4 });
  try {
    return await refresh(sql, options.config ?? config, options);
  } finally {
    // A session the server ended leaves postgres.js waiting on its rollback: don't wait long.
    await sql.end({ timeout: 1 });
  }
}

/** The refresh that follows a fault, into `<reportsDir>/next`; it must succeed. */
async function nextRefresh(
  db: TestDatabase,
  source: string,
  reportsDir: string,
): Promise<RunResult> {
  const next = await refreshOn(db.url, { source, reportsDir: `${reportsDir}/next` });
  assert.equal(next.status, "succeeded", next.error?.message);
  return next;
}

/** The first good refresh (seed 1); returns the checksums of the previous data. */
async function previousData(
  db: TestDatabase,
  source: string,
  reportsDir: string,
): Promise<Record<string, string>> {
  const result = await refreshOn(db.url, { source, reportsDir: `${reportsDir}/previous` });
  assert.equal(result.status, "succeeded", result.error?.message);
  return await schemaChecksums(db.sql, SCHEMAS);
}

function withoutStaging(sums: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(sums).filter(([table]) => !table.endsWith("__next")));
}

function stagingTables(sums: Record<string, string>): string[] {
  return Object.keys(sums).filter((table) => table.endsWith("__next"));
}

/** Documents per collection in raw and in `<schema>.main` (ghost users left out). */
async function documentCounts(sql: Sql): Promise<Record<string, { raw: number; main: number }>> {
  const counts: Record<string, { raw: number; main: number }> = {};
  for (const c of config.collections) {
    const [row] = await sql<{ raw: number; main: number }[]>`
      select (select count(*)::int from ${sql(config.rawSchema)}.${sql(c.name)}) as raw,
             (select count(*)::int from ${sql(c.schema)}.main m
              where not coalesce((to_jsonb(m) ->> 'is_ghost')::boolean, false)) as main
    `;
    counts[c.name] = { ...row! };
  }
  return counts;
}

function manifestCounts(manifest: Manifest): Record<string, { raw: number; main: number }> {
  return Object.fromEntries(
    config.collections.map((c) => {
      const documents = manifest.collections[c.name]!.documents;
      return [c.name, { raw: documents, main: documents }];
    }),
  );
}

async function refreshRuns(sql: Sql): Promise<{ run_id: string; status: string }[]> {
  return await sql<{ run_id: string; status: string }[]>`
    select run_id, status from lml_meta.runs where command = 'refresh' order by started_at, run_id
  `;
}

/** Polls `probe` every 50 ms until it returns a truthy value; fails after `timeoutMs`. */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false | null>,
  timeoutMs = TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until no session of a refresh is left on the test database (a killed one's included). */
async function refreshSessionsGone(db: TestDatabase): Promise<void> {
  await waitFor("the refresh's sessions to end", async () => {
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity
      where datname = current_database() and application_name = ${APPLICATION}`;
    return row!.n === 0;
  });
}

/**
 * A child process running `deno run -A main.ts refresh`, its output collected as it goes;
 * disposing it kills it (SIGKILL) if still running and waits for it.
 */
function spawnRefresh(url: string, source: string, reportsDir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "refresh",
      "--source",
      source,
      "--database-url",
      url,
      "--reports",
      reportsDir,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const output = child.output().finally(() => {
    exited = true;
  });
  return {
    output,
    /** Kills the process with SIGKILL; resolves with its output. */
    async kill(): Promise<Deno.CommandOutput> {
      if (!exited) child.kill("SIGKILL");
      return await output;
    },
    async [Symbol.asyncDispose](): Promise<void> {
      await this.kill();
    },
    /** Throws when the process ended already (it was meant to be killed while running). */
    async assertRunning(): Promise<void> {
      if (!exited) return;
      const { code, stderr } = await output;
      throw new Error(
        `the refresh exited (code ${code}) before the fault:\n${new TextDecoder().decode(stderr)}`,
      );
    },
  };
}

/** The pid and statement of the session waiting for `blockerPid`'s lock. */
async function blockedBy(
  sql: Sql,
  blockerPid: number,
): Promise<{ pid: number; query: string; application: string } | undefined> {
  const [row] = await sql<{ pid: number; query: string; application: string }[]>`
    select pid, query, application_name as application from pg_stat_activity
    where datname = current_database() and ${blockerPid}::int = any(pg_blocking_pids(pid))`;
  return row;
}

/**
 * Raw tables `pid`'s transaction has swapped (it holds ACCESS EXCLUSIVE on the staged tables it
 * moved into the raw schema; others still see them in the staging schema): the new data is in
 * place, uncommitted.
 */
async function swappedRawTables(sql: Sql, pid: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(distinct c.relname)::int as n
    from pg_locks l
    join pg_class c on c.oid = l.relation
    join pg_namespace n on n.oid = c.relnamespace
    where l.pid = ${pid}::int and l.granted and l.mode = 'AccessExclusiveLock'
      and n.nspname = ${STAGING_SCHEMA} and c.relkind = 'r'
      and c.relname = any(${config.collections.map((c) => `${c.name}__next`)}::text[])`;
  return row!.n;
}

function never(): never {
  throw new Error("unreachable");
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await file.write(data.subarray(at));
}

Deno.test({
  name: "refresh killed (SIGKILL) during extraction: previous data intact, next refresh takes over",
  ...needsRealServer,
  async fn() {
    const samples = await sampleDumps();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const before = await previousData(db, samples.first, tmp.path);

    // The new dump, its biggest collection behind a named pipe fed by hand: the refresh is
    // killed while it reads that pipe, with the other collections already staged.
    const dump = `${tmp.path}/piped/mesa4core`;
    await Deno.mkdir(dump, { recursive: true });
    for await (const entry of Deno.readDir(`${samples.second}/mesa4core`)) {
      if (entry.name === `${PROCESSES}.bson`) continue;
      await Deno.copyFile(`${samples.second}/mesa4core/${entry.name}`, `${dump}/${entry.name}`);
    }
    const fifo = `${dump}/${PROCESSES}.bson`;
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success, "mkfifo");
    const data = await Deno.readFile(`${samples.second}/mesa4core/${PROCESSES}.bson`);

    await using run = spawnRefresh(db.url, `${tmp.path}/piped`, `${tmp.path}/killed`);
    const opened = Deno.open(fifo, { write: true }); // resolves once the refresh opens it
    let pipe: Deno.FsFile;
    try {
      pipe = await Promise.race([opened, run.output.then(() => run.assertRunning()).then(never)]);
    } catch (error) {
      // The refresh ended without opening the pipe: open it here so the pending open returns.
      using _reader = await Deno.open(fifo, { read: true });
      (await opened).close();
      throw error;
    }
    try {
      await writeAll(pipe, data.subarray(0, data.length >> 1));
      await waitFor(`lml_staging.${PROCESSES}__next`, async () => {
        await run.assertRunning();
        const [row] = await db.sql`select to_regclass(${`lml_staging.${PROCESSES}__next`}) as t`;
        return row!.t !== null;
      });
      assert.equal((await run.kill()).signal, "SIGKILL");
    } finally {
      pipe.close();
    }
    await refreshSessionsGone(db);

    const after = await schemaChecksums(db.sql, SCHEMAS);
    assert.ok(stagingTables(after).length > 0, "killed before anything was staged");
    assert.deepEqual(withoutStaging(after), before);
    const runs = await refreshRuns(db.sql);
    assert.deepEqual(runs.map((r) => r.status), ["succeeded", "running"]);

    const next = await nextRefresh(db, samples.second, tmp.path);
    assert.deepEqual(
      (await refreshRuns(db.sql)).map((r) => [r.run_id, r.status]),
      [[runs[0]!.run_id, "succeeded"], [runs[1]!.run_id, "abandoned"], [next.runId, "succeeded"]],
    );
    const now = await schemaChecksums(db.sql, SCHEMAS);
    assert.deepEqual(stagingTables(now), []);
    assert.notDeepEqual(now, before);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(samples.secondManifest));
  },
});

Deno.test({
  name:
    "refresh killed (SIGKILL) during the transforms: previous data intact, next refresh takes over",
  ...needsRealServer,
  async fn() {
    const samples = await sampleDumps();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const before = await previousData(db, samples.first, tmp.path);

    {
      await using lock = await holdSchema(db.url, "lml_processes");
      await using run = spawnRefresh(db.url, samples.second, `${tmp.path}/killed`);
      const blocked = await waitFor("the refresh to wait for schema lml_processes", async () => {
        await run.assertRunning();
        return await blockedBy(db.sql, lock.pid);
      });
      assert.equal(blocked.application, APPLICATION);
      assert.match(blocked.query, /^alter schema/);
      assert.equal(await swappedRawTables(db.sql, blocked.pid), config.collections.length);
      assert.equal((await run.kill()).signal, "SIGKILL");
    }
    await refreshSessionsGone(db);

    const after = await schemaChecksums(db.sql, SCHEMAS);
    assert.deepEqual(withoutStaging(after), before);
    const runs = await refreshRuns(db.sql);
    assert.deepEqual(runs.map((r) => r.status), ["succeeded", "running"]);

    await nextRefresh(db, samples.second, tmp.path);
    assert.deepEqual(
      (await refreshRuns(db.sql)).map((r) => r.status),
      ["succeeded", "abandoned", "succeeded"],
    );
    const now = await schemaChecksums(db.sql, SCHEMAS);
    assert.deepEqual(stagingTables(now), []);
    assert.notDeepEqual(now, before);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(samples.secondManifest));
  },
});

Deno.test({
  name: "refresh with MongoDB gone mid-extraction fails naming the collection; data intact",
  ignore: needsRealServer.ignore || MONGO_TEST_URL !== undefined,
  async fn() {
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await using mongo = await openTestMongo();
    await insertSample(mongo.url, { scale: 0.01, seed: 1, database: mongo.database });
    const before = await previousData(db, mongo.url, tmp.path);
    const manifest = await insertSample(mongo.url, {
      scale: 0.01,
      seed: 2,
      database: mongo.database,
    });

    mongo.server!.failAfterBatches(4); // four cursor replies, then the server dies for good
    const failed = await refreshOn(db.url, {
      source: mongo.url,
      reportsDir: `${tmp.path}/failed`,
      retry: { attempts: 10, maxSeconds: 2, firstDelayMs: 100 },
    });
    assert.equal(failed.status, "failed");
    const broken = failed.extract.filter((e) => e.status === "failed");
    assert.ok(broken.length > 0 && broken.length < config.collections.length, "not mid-extract");
    for (const e of broken) {
      assert.ok(e.error?.startsWith(`${e.collection}: `), e.error);
      // The first reads wait out the bound; once one gave up, the others fail at once.
      assert.match(
        e.error!,
        /\((not retried( further)?: another read )?gave up after \d+ retries over [2-9]\.\d s\)$/,
      );
    }
    assert.ok(broken.some((e) => / \(gave up after/.test(e.error!)), "none waited out the bound");
    assert.ok(failed.retries?.length, "the retries before giving up are reported");
    assert.ok(failed.retries.every((r) => r.stage === "read"));
    const [logged] = await db.sql`
      select count(*)::int as n from lml_meta.retries where run_id = ${failed.runId}`;
    assert.equal(logged!.n, failed.retries.length);
    assert.ok(failed.error?.message.includes(broken[0]!.error!), failed.error?.message);
    assert.match(failed.error!.message, /failed to extract; nothing was changed/);
    assert.deepEqual(await schemaChecksums(db.sql, SCHEMAS), before);
    assert.deepEqual((await refreshRuns(db.sql)).map((r) => r.status), ["succeeded", "failed"]);

    mongo.server!.revive();
    await nextRefresh(db, mongo.url, tmp.path);
    const now = await schemaChecksums(db.sql, SCHEMAS);
    assert.deepEqual(stagingTables(now), []);
    assert.notDeepEqual(now, before);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(manifest));
  },
});

/**
 * Starts a refresh while schema lml_processes is held, and terminates the session of its
 * transaction `times` times, each once it waits for the lock (a new session each time: the
 * transaction is rerun from its start once). Resolves with the refresh's result, after
 * releasing the lock.
 */
async function refreshTerminated(
  db: TestDatabase,
  source: string,
  reportsDir: string,
  times: number,
): Promise<RunResult> {
  await using lock = await holdSchema(db.url, "lml_processes");
  const running = refreshOn(db.url, {
    source,
    reportsDir,
    lockTimeoutMs: TIMEOUT_MS * 2,
    retry: { firstDelayMs: 50 },
  });
  let settled = false;
  running.finally(() => settled = true).catch(() => {});
  const terminated: number[] = [];
  const blocked = () =>
    waitFor("the refresh to wait for schema lml_processes", async () => {
      if (settled) await running; // surfaces an early failure
      const session = await blockedBy(db.sql, lock.pid);
      return session && !terminated.includes(session.pid) ? session : undefined;
    });
  for (let k = 0; k < times; k++) {
    const session = await blocked();
    assert.equal(await swappedRawTables(db.sql, session.pid), config.collections.length);
    const [ended] = await db.sql`select pg_terminate_backend(${session.pid}::int) as ok`;
    assert.equal(ended!.ok, true);
    terminated.push(session.pid);
  }
  if (times < 2) await blocked(); // the rerun waits for the lock in a new session
  await lock.release();
  return await running;
}

Deno.test({
  name: "refresh whose session is terminated once mid-transform reruns its transaction; succeeds",
  ...needsRealServer,
  async fn() {
    const samples = await sampleDumps();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await previousData(db, samples.first, tmp.path);

    const result = await refreshTerminated(db, samples.second, `${tmp.path}/rerun`, 1);
    assert.equal(result.status, "succeeded", result.error?.message);
    assert.deepEqual(result.retries?.map((r) => [r.stage, r.what]), [
      ["transaction", "the publishing transaction (from its start)"],
    ]);
    assert.match(
      result.retries![0]!.why,
      /^schema lml_\w+ \(retire\): lost the PostgreSQL session/,
    );
    assert.deepEqual((await refreshRuns(db.sql)).map((r) => r.status), ["succeeded", "succeeded"]);
    assert.deepEqual(stagingTables(await schemaChecksums(db.sql, SCHEMAS)), []);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(samples.secondManifest));
    assert.match(await Deno.readTextFile(result.reports!.markdown), /## Retries/);
  },
});

Deno.test({
  name: "refresh whose session is terminated in both runs of its transaction fails; data intact",
  ...needsRealServer,
  async fn() {
    const samples = await sampleDumps();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const before = await previousData(db, samples.first, tmp.path);

    const failed = await refreshTerminated(db, samples.second, `${tmp.path}/failed`, 2);
    assert.equal(failed.status, "failed");
    assert.match(
      failed.error!.message,
      /^schema lml_\w+ \(retire\): lost the PostgreSQL session.*; nothing was changed \(rolled back\)$/,
    );
    assert.deepEqual(failed.retries?.map((r) => r.stage), ["transaction"]);
    assert.deepEqual(await schemaChecksums(db.sql, SCHEMAS), before);
    const runs = await refreshRuns(db.sql);
    assert.deepEqual(runs.map((r) => r.status), ["succeeded", "failed"]);

    await nextRefresh(db, samples.second, tmp.path);
    assert.notDeepEqual(await schemaChecksums(db.sql, SCHEMAS), before);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(samples.secondManifest));
  },
});

Deno.test({
  name: "refresh with a failing error check changes nothing, raw tables included, and reports it",
  ...needsRealServer,
  async fn() {
    const samples = await sampleDumps();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const before = await previousData(db, samples.first, tmp.path);

    const copied = await new Deno.Command("cp", { args: ["-r", `${ROOT}sql`, tmp.path] }).output();
    assert.ok(copied.success, "cp -r sql");
    await Deno.mkdir(`${tmp.path}/sql/_checks`, { recursive: true });
    await Deno.writeTextFile(
      `${tmp.path}/sql/_checks/zz_fail.sql`,
      "-- check: always_fails\n-- severity: error\n-- description: fails on purpose\n" +
        "select 'offending' as reason\n",
    );
    const failing = await loadConfig(`${tmp.path}/sql/pipeline.yaml`);
    const failed = await refreshOn(db.url, {
      config: failing,
      source: samples.second,
      reportsDir: `${tmp.path}/failed`,
    });
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.failedChecks, ["always_fails"]);
    assert.match(failed.error!.message, /always_fails/);
    assert.deepEqual(await schemaChecksums(db.sql, SCHEMAS), before);
    assert.deepEqual((await refreshRuns(db.sql)).map((r) => r.status), ["succeeded", "failed"]);
    assert.ok(failed.reports, "no reports written");
    assert.match(await Deno.readTextFile(failed.reports.markdown), /always_fails/);
    assert.match(await Deno.readTextFile(failed.reports.junit), /always_fails/);

    await nextRefresh(db, samples.second, tmp.path);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(samples.secondManifest));
  },
});

Deno.test({
  name: "two refreshes started together: one runs, the other exits at once naming it",
  ...needsRealServer,
  async fn() {
    const samples = await sampleDumps();
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const before = await previousData(db, samples.first, tmp.path);

    let winner: RunResult;
    let loser: unknown;
    {
      // Keeps whichever wins inside its transaction until the other has given up.
      await using lock = await holdSchema(db.url, "lml_processes");
      const runs = ["together-a", "together-b"].map((runId) =>
        refreshOn(db.url, {
          source: samples.second,
          runId,
          reportsDir: `${tmp.path}/${runId}`,
          lockTimeoutMs: TIMEOUT_MS * 2,
        })
      );
      const first = await Promise.race(runs.map((p, i) => p.then(() => i, () => i)));
      loser = await runs[first]!.catch((error) => error);
      await lock.release();
      winner = await runs[1 - first]!;
    }
    assert.equal(winner.status, "succeeded", winner.error?.message);
    assert.ok(loser instanceof RefreshBusyError, String(loser));
    const [started] = await db.sql<{ started_at: Date }[]>`
      select started_at from lml_meta.runs where run_id = ${winner.runId}`;
    assert.match(
      loser.message,
      new RegExp(
        `another refresh \\(${winner.runId}\\) has been running since ${
          started!.started_at.toISOString().replace(/\./g, "\\.")
        }`,
      ),
    );
    assert.deepEqual(
      (await refreshRuns(db.sql)).map((r) => r.status),
      ["succeeded", "succeeded"],
      "the refresh that gave up must leave no run behind",
    );
    const together = await schemaChecksums(db.sql, SCHEMAS, { ignoreColumns: ["extracted_at"] });
    assert.deepEqual(stagingTables(together), []);
    assert.notDeepEqual(await schemaChecksums(db.sql, SCHEMAS), before);

    // The data is that of one complete refresh of the new sample: the next one, alone, gives
    // the same rows.
    await nextRefresh(db, samples.second, tmp.path);
    assert.deepEqual(
      await schemaChecksums(db.sql, SCHEMAS, { ignoreColumns: ["extracted_at"] }),
      together,
    );
  },
});

Deno.test({
  name: "refresh from a source that cannot be opened fails and records its run as failed",
  ...needsRealServer,
  async fn() {
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    const missing = `${tmp.path}/no_such_dump`;
    const failed = await refreshOn(db.url, { source: missing, reportsDir: `${tmp.path}/failed` });
    assert.equal(failed.status, "failed");
    assert.ok(failed.error?.message.includes(missing), failed.error?.message);
    assert.deepEqual(
      (await refreshRuns(db.sql)).map((r) => [r.run_id, r.status]),
      [[failed.runId, "failed"]],
    );
    assert.ok(failed.reports, "no reports written");
    assert.deepEqual(await schemaChecksums(db.sql, SCHEMAS), {});
  },
});

Deno.test({
  name: "refresh through MongoDB blips (connections killed once, a lost cursor) succeeds exactly",
  ignore: needsRealServer.ignore || MONGO_TEST_URL !== undefined,
  async fn() {
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await using mongo = await openTestMongo();
    const manifest = await insertSample(mongo.url, {
      scale: 0.01,
      seed: 2,
      database: mongo.database,
    });
    const server = mongo.server!;
    server.errorAfterBatches(1, { code: 43, codeName: "CursorNotFound", collection: PROCESSES });
    server.failAfterBatches(5, { forMs: 500 }); // every connection dropped, back in half a second

    const result = await refreshOn(db.url, {
      source: mongo.url,
      reportsDir: tmp.path,
      retry: { firstDelayMs: 100 },
    });
    assert.equal(result.status, "succeeded", result.error?.message);
    await assertManifestFigures(db.sql, config, manifest);
    // Nothing staged twice or skipped: the raw tables (keyed by _id) hold every document once.
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(manifest));

    const retries = result.retries ?? [];
    assert.ok(retries.every((r) => r.stage === "read"), JSON.stringify(retries));
    assert.ok(
      retries.some((r) => r.what === PROCESSES && /^CursorNotFound \(43\)/.test(r.why)),
      JSON.stringify(retries),
    );
    assert.ok(retries.some((r) => /^MongoNetworkError/.test(r.why)), JSON.stringify(retries));
    const logged = await db.sql<{ stage: string; what: string; attempt: number }[]>`
      select stage, what, attempt from lml_meta.retries where run_id = ${result.runId}
      order by ordinal`;
    assert.deepEqual(
      logged.map((r) => [r.stage, r.what, r.attempt]),
      retries.map((r) => [r.stage, r.what, r.attempt]),
    );
    const report = JSON.parse(await Deno.readTextFile(result.reports!.json));
    assert.equal(report.retries.length, retries.length);
    assert.equal(report.source_reads.read_preference, "primary");
    assert.match(report.source_reads.not_at_one_point, /standalone/);
    const markdown = await Deno.readTextFile(result.reports!.markdown);
    assert.match(markdown, /## Source reads\n\nThe collections were NOT read at one point in time/);
    assert.match(markdown, new RegExp(`## Retries\\n\\n${retries.length} transient faults`));
  },
});

Deno.test({
  name: "refresh whose COPY session is terminated during staging restages that collection",
  ignore: needsRealServer.ignore || MONGO_TEST_URL !== undefined,
  async fn() {
    await using db = await freshDatabase();
    await using tmp = await tempDir();
    await using mongo = await openTestMongo();
    const manifest = await insertSample(mongo.url, {
      scale: 0.01,
      seed: 2,
      database: mongo.database,
    });
    const server = mongo.server!;
    const paused = server.pauseAfterBatches(1, { collection: PROCESSES });
    const running = refreshOn(db.url, {
      source: mongo.url,
      reportsDir: tmp.path,
      retry: { firstDelayMs: 100 },
    });
    let settled = false;
    running.finally(() => settled = true).catch(() => {});
    await Promise.race([paused, running.then(() => assert.fail("the refresh ended first"))]);
    const copy = await waitFor("the COPY of the processes", async () => {
      if (settled) await running;
      const [row] = await db.sql<{ pid: number }[]>`
        select pid from pg_stat_activity
        where datname = current_database() and query like ${`copy %${PROCESSES}__next%`}`;
      return row;
    });
    const [ended] = await db.sql`select pg_terminate_backend(${copy.pid}::int) as ok`;
    assert.equal(ended!.ok, true);
    server.resume();

    const result = await running;
    assert.equal(result.status, "succeeded", result.error?.message);
    const restaged = (result.retries ?? []).filter((r) => r.stage === "stage");
    assert.deepEqual(restaged.map((r) => [r.what, r.attempt]), [[PROCESSES, 1]]);
    assert.match(restaged[0]!.why, /lost the PostgreSQL session/);
    await assertManifestFigures(db.sql, config, manifest);
    assert.deepEqual(await documentCounts(db.sql), manifestCounts(manifest));
    assert.deepEqual(stagingTables(await schemaChecksums(db.sql, SCHEMAS)), []);
  },
});
