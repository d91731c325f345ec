/**
 * `deno task status`: the freshness probe's line, JSON and exit code for a database never
 * refreshed, fresh data, stale data, a failed last refresh, and a refresh holding the lock.
 */
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../../lib/commands/status.ts";
import { UsageError } from "../../../lib/core/errors.ts";
import { freshDatabase } from "../../support/db.ts";
import { cli, sampleDump, tempDir } from "../../support/monitoring.ts";

Deno.test("status exits 0 for fresh data and 1 when never refreshed, stale, or the last refresh failed", async () => {
  await using db = await freshDatabase();
  await using reports = await tempDir();
  const { dir: dump } = await sampleDump();
  const status = (...args: string[]) => cli(["status", "--database-url", db.url, ...args]);

  const never = await status();
  assert.equal(never.code, 1, never.stderr);
  assert.equal(never.stdout, "lml NEVER: no successful refresh recorded; no refresh running\n");

  const refreshed = await cli([
    "refresh",
    "--source",
    dump,
    "--database-url",
    db.url,
    "--reports",
    reports.path,
  ]);
  assert.equal(refreshed.code, 0, refreshed.stderr);
  const [good] = await db.sql<{ run_id: string }[]>`
    select run_id from lml_meta.runs where command = 'refresh' and status = 'succeeded'`;

  const fresh = await status();
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(
    fresh.stdout,
    new RegExp(
      `^lml OK: last successful refresh ${good!.run_id} \\d+s ago \\(max 26h\\); ` +
        `no refresh running \\| age_seconds=\\d+;93600\\n$`,
    ),
  );
  const json = await status("--format", "json");
  assert.equal(json.code, 0);
  const probe = JSON.parse(json.stdout);
  assert.equal(probe.state, "ok");
  assert.equal(probe.exit_code, 0);
  assert.equal(probe.max_age_seconds, 26 * 3600);
  assert.equal(probe.last_success.run_id, good!.run_id);
  assert.equal(probe.last_run.run_id, good!.run_id);
  assert.equal(probe.last_run.status, "succeeded");
  assert.deepEqual(probe.locks, []);

  // 27 hours pass.
  await db.sql`
    update lml_meta.runs
    set started_at = started_at - interval '27 hours', finished_at = finished_at - interval '27 hours'`;
  const stale = await status();
  assert.equal(stale.code, 1);
  assert.match(
    stale.stdout,
    new RegExp(`^lml STALE: last successful refresh ${good!.run_id} 27h ago \\(max 26h\\);`),
  );
  const lenient = await status("--max-age", "2d");
  assert.equal(lenient.code, 0, lenient.stdout);
  assert.match(lenient.stdout, /^lml OK: .* 27h ago \(max 2d\)/);
  const staleJson = JSON.parse((await status("--format", "json", "--max-age", "90m")).stdout);
  assert.equal(staleJson.state, "stale");
  assert.equal(staleJson.exit_code, 1);
  assert.ok(Math.abs(staleJson.last_success.age_seconds - 27 * 3600) < 120);

  const failedRun = await cli([
    "refresh",
    "--source",
    `${reports.path}/no-such-dump`,
    "--database-url",
    db.url,
    "--reports",
    reports.path,
  ]);
  assert.equal(failedRun.code, 1);
  const [bad] = await db.sql<{ run_id: string; error: string }[]>`
    select run_id, error from lml_meta.runs where command = 'refresh' and status = 'failed'`;
  const failed = await status("--max-age", "2d");
  assert.equal(failed.code, 1, "a failed last refresh fails the probe even with fresh-enough data");
  assert.ok(
    failed.stdout.startsWith(
      `lml FAILED: last successful refresh ${good!.run_id} 27h ago (max 2d); last refresh ${
        bad!.run_id
      } failed: ${bad!.error.split("\n")[0]}; no refresh running`,
    ),
    failed.stdout,
  );
  const failedJson = JSON.parse((await status("--format", "json")).stdout);
  assert.equal(failedJson.state, "failed");
  assert.equal(failedJson.last_run.run_id, bad!.run_id);
  assert.equal(failedJson.last_run.status, "failed");
  assert.equal(failedJson.last_success.run_id, good!.run_id);
});

Deno.test("status names the session holding the refresh lock", async () => {
  await using db = await freshDatabase();
  const holder = await db.sql.reserve();
  try {
    const [{ pid }] = await holder<[{ pid: number }]>`
      select pg_backend_pid() as pid, pg_advisory_lock(hashtext('lml'), hashtext('refresh'))`;
    const held = await cli(["status", "--database-url", db.url, "--format", "json"]);
    assert.equal(held.code, 1, "never refreshed");
    const probe = JSON.parse(held.stdout);
    assert.equal(probe.locks.length, 1);
    assert.equal(probe.locks[0].pid, pid);
    assert.equal(probe.locks[0].application, "lml test");
    const line = await cli(["status", "--database-url", db.url]);
    assert.equal(
      line.stdout,
      `lml NEVER: no successful refresh recorded; refresh lock held by pid ${pid}\n`,
    );
  } finally {
    await holder`select pg_advisory_unlock_all()`;
    holder.release();
  }
});

Deno.test("status --max-age takes s, m, h and d; anything else is a usage error (exit 2)", async () => {
  assert.equal(parseDuration("26h"), 93_600);
  assert.equal(parseDuration("90m"), 5400);
  assert.equal(parseDuration("1.5d"), 129_600);
  assert.equal(parseDuration("45s"), 45);
  for (const bad of ["26", "h", "-1h", "0h", "1w"]) {
    assert.throws(() => parseDuration(bad), UsageError, bad);
  }
  assert.equal(formatDuration(97_200), "27h");
  assert.equal(formatDuration(3 * 86_400 + 4 * 3600 + 59), "3d4h");
  assert.equal(formatDuration(3 * 3600 + 12 * 60), "3h12m");
  assert.equal(formatDuration(59), "59s");
  const usage = await cli([
    "status",
    "--max-age",
    "26",
    "--database-url",
    "postgres://x@127.0.0.1:1/x",
  ]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--max-age must be a duration like 26h/);
});
