/**
 * A refresh as the database's other users see it: a reader in another session gets the
 * previously published data at once at every point of the publishing transaction and the new
 * data after COMMIT; a second writing command exits at once naming the refresh.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { loadConfig } from "../../../lib/core/config.ts";
import { connect } from "../../../lib/core/db.ts";
import { refresh } from "../../../lib/commands/refresh.ts";
import type { PausePoint } from "../../../lib/transform/mod.ts";
import { generateSample } from "../../../lib/sample/mod.ts";
import { freshDatabase, needsRealServer } from "../../support/db.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const config = await loadConfig(`${ROOT}sql/pipeline.yaml`);
const PROCESSES = "lml_processes_mesa4core";

/** What a reader sees: a fingerprint of the published processes, raw and normalized. */
async function fingerprint(sql: postgres.Sql): Promise<{ raw: string; main: string }> {
  const [row] = await sql<{ raw: string; main: string }[]>`
    select (select md5(string_agg(_id, ',' order by _id)) from ${sql("lml_raw")}.${
    sql(PROCESSES)
  }) as raw,
           (select md5(string_agg(process_id, ',' order by process_id))
            from lml_processes.main) as main`;
  return row!;
}

/** Runs `main.ts <args>` to its end; resolves with its exit code and stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test({
  name: "refresh() keeps a reader on the previous data until COMMIT; extract beside it exits",
  ...needsRealServer,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lml_refresh_readers_" });
    await using db = await freshDatabase();
    const sql = connect(db.url, { application: "lml refresh", max: 4 });
    const reader = postgres(db.url, {
      max: 1,
      onnotice: () => {},
      // A reader kept waiting fails the test instead of passing late.
      connection: { statement_timeout: 2000, application_name: "lml test reader" },
    });
    try {
      await generateSample(`${dir}/first`, { scale: 0.01, seed: 1 });
      await generateSample(`${dir}/second`, { scale: 0.01, seed: 2 });
      const first = await refresh(sql, config, {
        source: `${dir}/first`,
        reportsDir: `${dir}/reports`,
      });
      assert.equal(first.status, "succeeded", first.error?.message);
      const before = await fingerprint(reader);

      const seen: [PausePoint, { raw: string; main: string }][] = [];
      let extract: { code: number; stderr: string } | undefined;
      const second = await refresh(sql, config, {
        source: `${dir}/second`,
        reportsDir: `${dir}/reports`,
        runId: "second-refresh",
        pauseAt: async (point) => {
          seen.push([point, await fingerprint(reader)]);
          if (point === "raw-swapped") {
            extract = await cli([
              "extract",
              "--source",
              `${dir}/second`,
              "--database-url",
              db.url,
            ]);
          }
        },
      });
      assert.equal(second.status, "succeeded", second.error?.message);
      assert.deepEqual(seen, [
        ["raw-swapped", before],
        ["mid-transforms", before],
        ["checks", before],
      ]);
      const after = await fingerprint(reader);
      assert.notEqual(after.raw, before.raw);
      assert.notEqual(after.main, before.main);
      assert.equal(extract?.code, 1, extract?.stderr);
      assert.match(extract!.stderr, /another refresh \(second-refresh\) has been running since/);
    } finally {
      await reader.end();
      await sql.end({ timeout: 5 });
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "refresh() whose lock session is terminated fails before COMMIT; nothing changes",
  ...needsRealServer,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lml_refresh_lock_" });
    await using db = await freshDatabase();
    const sql = connect(db.url, { application: "lml refresh", max: 4 });
    try {
      await generateSample(`${dir}/first`, { scale: 0.01, seed: 1 });
      await generateSample(`${dir}/second`, { scale: 0.01, seed: 2 });
      const first = await refresh(sql, config, {
        source: `${dir}/first`,
        reportsDir: `${dir}/reports`,
      });
      assert.equal(first.status, "succeeded", first.error?.message);
      const before = await fingerprint(db.sql as unknown as postgres.Sql);
      const second = await refresh(sql, config, {
        source: `${dir}/second`,
        reportsDir: `${dir}/reports`,
        pauseAt: async (point) => {
          if (point !== "checks") return;
          // What idle_session_timeout or a pooler would do to an idle lock session.
          const [ended] = await db.sql<{ ok: boolean }[]>`
            select pg_terminate_backend(pid) as ok from pg_locks
            where locktype = 'advisory' and granted
              and database = (select oid from pg_database where datname = current_database())
              and classid = hashtext('lml')::oid and objid = hashtext('refresh')::oid`;
          assert.equal(ended?.ok, true);
        },
      });
      assert.equal(second.status, "failed");
      assert.match(second.error!.message, /the run lock was lost/);
      assert.deepEqual(await fingerprint(db.sql as unknown as postgres.Sql), before);

      // Lost during the extraction, while the lock's session sits between two heartbeats.
      const third = refresh(sql, config, { source: `${dir}/second`, reportsDir: `${dir}/reports` });
      for (;;) {
        const [staged] = await db.sql<{ n: number }[]>`
          select count(*)::int as n from pg_tables where schemaname = 'lml_staging'`;
        if (staged!.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await db.sql`
        select pg_terminate_backend(pid) from pg_locks
        where locktype = 'advisory' and granted
              and database = (select oid from pg_database where datname = current_database())
          and classid = hashtext('lml')::oid and objid = hashtext('refresh')::oid`;
      const failed = await third;
      assert.equal(failed.status, "failed");
      assert.match(failed.error!.message, /the run lock was lost/);
      assert.deepEqual(await fingerprint(db.sql as unknown as postgres.Sql), before);
    } finally {
      await sql.end({ timeout: 1 });
      await Deno.remove(dir, { recursive: true });
    }
  },
});
