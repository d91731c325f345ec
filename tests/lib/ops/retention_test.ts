/**
 * Retention at the end of a run: exactly the runs (ledger rows and folders) older than
 * retention_days go; runs still running, the newest run and newest success of each command,
 * the current run and the latest reports stay.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../../lib/core/config.ts";
import { createLogger } from "../../../lib/core/log.ts";
import { monitorRun } from "../../../lib/ops/mod.ts";
import { startRun } from "../../../lib/core/ledger.ts";
import { runChecks, runTransforms } from "../../../lib/transform/run.ts";
import { freshDatabase } from "../../support/db.ts";
import { loadRaw, makeFixture, PIPELINE_YAML, reported } from "../../support/pipeline_fixture.ts";

const FAILING_CHECK = {
  path: "f_orders/checks/no_orders.sql",
  text: `-- check: no_orders
-- severity: error
-- description: fails whenever there is an order
select order_id from f_orders.main
`,
};

const DAY = 86_400_000;

Deno.test("retention prunes exactly the runs older than retention_days, ledger and folders", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  const runs = `${fx.reports}/runs`;
  const transform = (runId: string) =>
    reported(runTransforms(db.sql, fx.config, { runId }), fx.reports);

  // Ages in days; t-29 and t-1 fail, so t-31 is the newest success of `transform`.
  for (const id of ["t-40", "t-35", "t-31"]) {
    assert.equal((await transform(id)).status, "succeeded");
  }
  await fx.write(FAILING_CHECK.path, FAILING_CHECK.text);
  for (const id of ["t-29", "t-1"]) assert.equal((await transform(id)).status, "failed");
  const assertRun = await reported(runChecks(db.sql, fx.config, { runId: "a-40" }), fx.reports);
  assert.equal(assertRun.status, "failed");
  await startRun(db.sql, { runId: "t-50-running", command: "transform", selected: [] });
  for (const id of ["t-40", "t-35", "t-31", "t-29", "t-1", "a-40", "t-50-running"]) {
    const days = Number(/-(\d+)/.exec(id)![1]);
    await db.sql`
      update lml_meta.runs
      set started_at = now() - make_interval(days => ${days}),
          finished_at = case when status = 'running' then null
                             else now() - make_interval(days => ${days}) + interval '1 second' end
      where run_id = ${id}`;
  }
  // Folders the ledger does not know are aged by their files.
  for (const [name, days] of [["orphan-old", 45], ["orphan-new", 2]] as const) {
    await Deno.mkdir(`${runs}/${name}`);
    await Deno.writeTextFile(`${runs}/${name}/report.md`, "# old\n");
    const time = new Date(Date.now() - days * DAY);
    await Deno.utime(`${runs}/${name}/report.md`, time, time);
    await Deno.utime(`${runs}/${name}`, time, time);
  }
  await Deno.writeTextFile(`${runs}/README.txt`, "not a run");
  await db.sql`
    insert into lml_meta.extract_log
      (run_id, collection, source, status, started_at, finished_at, seconds)
    values (null, 'users_src', 'dump', 'succeeded', now() - interval '40 days',
            now() - interval '40 days', 1),
           (null, 'users_src', 'dump', 'succeeded', now() - interval '2 days',
            now() - interval '2 days', 1)`;

  // With 60 days nothing is old enough.
  const longConfig = await (async () => {
    await fx.write("pipeline.yaml", PIPELINE_YAML + "retention_days: 60\n");
    return await loadConfig(`${fx.dir}/sql/pipeline.yaml`);
  })();
  assert.equal(longConfig.retentionDays, 60);
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (l) => lines.push(l) });
  const monitor = (runId: string, config = fx.config) =>
    monitorRun(
      db.sql,
      config,
      { command: "transform", runId, logger, reportsDir: fx.reports },
      () => reported(runTransforms(db.sql, config, { runId }), fx.reports),
    );
  assert.equal((await monitor("t-now-60", longConfig)).status, "failed");
  assert.deepEqual(await ledgerRuns(), [
    "a-40",
    "t-1",
    "t-29",
    "t-31",
    "t-35",
    "t-40",
    "t-50-running",
    "t-now-60",
  ]);

  // The default, 30 days.
  assert.equal(fx.config.retentionDays, 30);
  const before = await counts();
  assert.equal((await monitor("t-now")).status, "failed");
  assert.deepEqual(await ledgerRuns(), [
    "a-40", // the newest run of `assert`
    "t-1",
    "t-29",
    "t-31", // the newest success of `transform`
    "t-50-running", // still running
    "t-now",
    "t-now-60",
  ]);
  const said = lines.map((l) => JSON.parse(l));
  assert.deepEqual(said.filter((l) => l.level === "warn"), [], "every step after the run worked");
  assert.deepEqual(said.filter((l) => l.msg.startsWith("retention")).map((l) => l.msg), [
    "retention: pruned 2 ledger runs and 3 run folders older than 30 days",
  ]);
  const folders = [];
  for await (const entry of Deno.readDir(runs)) folders.push(entry.name);
  assert.deepEqual(folders.sort(), [
    "README.txt",
    "a-40",
    "orphan-new",
    "t-1",
    "t-29",
    "t-31",
    "t-now",
    "t-now-60",
  ]);
  const after = await counts();
  assert.ok(before.pruned > 0);
  assert.equal(after.pruned, 0, "t-40's and t-35's files and checks went with them");
  assert.equal(after.extractLog, 1, "the extraction logged 40 days ago went");
  for (const name of ["report.md", "report.json", "junit.xml", "metrics.prom"]) {
    assert.ok((await Deno.stat(`${fx.reports}/${name}`)).isFile, `${name} stays`);
  }
  const latest = JSON.parse(await Deno.readTextFile(`${fx.reports}/report.json`));
  assert.equal(latest.run_id, "t-now");

  async function ledgerRuns(): Promise<string[]> {
    return (await db.sql<{ run_id: string }[]>`select run_id from lml_meta.runs order by run_id`)
      .map((r) => r.run_id);
  }
  /** Rows of t-40 and t-35 in run_files and check_results, and extract_log rows. */
  async function counts(): Promise<{ pruned: number; extractLog: number }> {
    const [row] = await db.sql<{ pruned: number; extract_log: number }[]>`
      select (select count(*)::int from lml_meta.run_files where run_id in ('t-40', 't-35')) +
             (select count(*)::int from lml_meta.check_results where run_id in ('t-40', 't-35'))
               as pruned,
             (select count(*)::int from lml_meta.extract_log) as extract_log`;
    return { pruned: row!.pruned, extractLog: row!.extract_log };
  }
});
