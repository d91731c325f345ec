import assert from "node:assert/strict";
import { derivedChecks, judgeCheck, runCheckList } from "../../../lib/transform/checks.ts";
import { discoverFiles } from "../../../lib/transform/sql_files.ts";
import { loadConfig } from "../../../lib/core/config.ts";
import { parseThreshold } from "../../../lib/core/config_checks.ts";
import { ConfigError } from "../../../lib/core/errors.ts";
import { runChecks, runTransforms } from "../../../lib/transform/run.ts";
import { freshDatabase } from "../../support/db.ts";
import { loadRaw, makeFixture, RAW, reported } from "../../support/pipeline_fixture.ts";

Deno.test("derivedChecks() generates a check only where its tables and columns exist", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_users/020_extras.sql": "-- Ghost flag and side tables.\n" +
      "alter table f_users.main add column is_ghost boolean not null default false;\n" +
      "create table f_users.unmapped_values (document_id text, path text, raw_value jsonb, reason text);\n" +
      "create table f_users.unresolvable_snapshots (document_id text, path text, snapshot jsonb);\n",
  });
  await loadRaw(db.sql);
  assert.equal((await runTransforms(db.sql, fx.config)).status, "succeeded");
  const checks = await derivedChecks(db.sql, fx.config);
  assert.deepEqual(checks.map((c) => `${c.name}:${c.severity}`), [
    "f_users_main_matches_raw:error",
    "f_users_primary_key_not_null:error",
    "f_users_no_future_timestamps:error",
    "f_users_created_at_in_range:warn",
    "f_users_ghost_users:warn",
    "f_users_unresolvable_snapshots:warn",
    "f_users_unmapped_values:warn",
    "f_people_main_matches_raw:error",
    "f_people_primary_key_not_null:error",
    "f_people_dangling_references:warn",
    "f_orders_main_matches_raw:error",
    "f_orders_primary_key_not_null:error",
  ]);
  assert.ok(checks.every((c) => c.source === "derived"));
});

Deno.test("derived checks catch a raw/main mismatch, ghosts aside, and roll back", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_users/020_ghosts.sql": "-- A ghost user, not in raw.\n" +
      "alter table f_users.main add column is_ghost boolean not null default false;\n" +
      "insert into f_users.main (user_id, name, is_ghost) values ('g1', 'ghost', true);\n",
  });
  await loadRaw(db.sql);
  const first = await runTransforms(db.sql, fx.config);
  assert.equal(first.status, "succeeded", first.error?.message);
  const ghosts = first.checks.find((c) => c.name === "f_users_ghost_users")!;
  assert.equal(ghosts.status, "failed");
  assert.equal(ghosts.offending, 1);
  assert.equal(ghosts.samples[0]!.user_id, "g1");

  await fx.write(
    "f_people/010_main.sql",
    "-- People, but one is lost.\ncreate table f_people.main as\n" +
      "select _id as person_id, doc->>'name' as name from lml_raw.people_src where _id <> 'p2';\n",
  );
  const result = await reported(runTransforms(db.sql, fx.config), fx.reports);
  assert.equal(result.status, "failed");
  assert.deepEqual(result.failedChecks, ["f_people_main_matches_raw"]);
  const check = result.checks.find((c) => c.name === "f_people_main_matches_raw")!;
  assert.deepEqual(check.samples, [{
    document_id: "p2",
    problem: "raw document missing from main",
  }]);
  assert.equal(
    (await db.sql`select count(*)::int as n from f_people.main`)[0]!.n,
    RAW.people_src!.length,
  );
});

Deno.test("derived checks catch a timestamp later than the run's start", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql, {
    ...RAW,
    users_src: [...RAW.users_src!, ["u8", { name: "zed", created: "2999-01-01T00:00:00Z" }]],
  });
  const result = await runTransforms(db.sql, fx.config);
  assert.equal(result.status, "failed");
  assert.deepEqual(result.failedChecks, ["f_users_no_future_timestamps"]);
  const check = result.checks.find((c) => c.name === "f_users_no_future_timestamps")!;
  assert.equal(check.offending, 1);
  assert.deepEqual(
    { ...check.samples[0], value: new Date(check.samples[0]!.value as string).toISOString() },
    {
      table_name: "main",
      column_name: "created_at",
      value: "2999-01-01T00:00:00.000Z",
      row_key: { user_id: "u8" },
    },
  );
  assert.equal((await db.sql`select to_regnamespace('f_users') as s`)[0]!.s, null);
});

Deno.test("derived checks warn about created_at before 1990 without failing the run", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql, {
    ...RAW,
    users_src: [...RAW.users_src!, ["u7", { name: "old", created: "1970-01-01T00:00:00Z" }]],
  });
  const result = await runTransforms(db.sql, fx.config);
  assert.equal(result.status, "succeeded", result.error?.message);
  const check = result.checks.find((c) => c.name === "f_users_created_at_in_range")!;
  assert.equal(check.status, "failed");
  assert.equal(check.samples[0]!.user_id, "u7");
});

Deno.test("runCheckList() marks a broken check errored and keeps the transaction usable", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "_checks/broken.sql": "-- check: broken\n-- severity: error\n-- description: d\n" +
      "select *\nfrom no_such_table\n",
  });
  await loadRaw(db.sql);
  const result = await runTransforms(db.sql, fx.config);
  assert.equal(result.status, "failed");
  assert.deepEqual(result.failedChecks, ["broken"]);
  const broken = result.checks.find((c) => c.name === "broken")!;
  assert.equal(broken.status, "errored");
  assert.match(broken.error!, /broken\.sql:5:6: relation "no_such_table" does not exist/);
  // Checks after it still ran.
  const names = result.checks.map((c) => c.name);
  assert.equal(names.at(-1), "broken");
  assert.ok(result.checks.filter((c) => c.name !== "broken").every((c) => c.status !== "errored"));
  await db.sql.begin(async (tx) => {
    const results = await runCheckList(tx, [
      {
        name: "bad",
        schema: undefined,
        severity: "warn",
        description: "d",
        query: "select 1/0",
        source: "derived",
      },
      {
        name: "good",
        schema: undefined,
        severity: "warn",
        description: "d",
        query: "select 1 as one",
        source: "derived",
      },
    ]);
    assert.deepEqual(results.map((r) => [r.name, r.status, r.offending]), [
      ["bad", "errored", 0],
      ["good", "failed", 1],
    ]);
    assert.deepEqual(results[1]!.samples, [{ one: 1 }]);
  });
});

Deno.test("runChecks() checks current data read-only and records an assert run", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_people/checks/no_blank_names.sql":
      "-- check: no_blank_names\n-- severity: error\n-- description: every person has a name\n" +
      "select person_id from f_people.main where coalesce(name, '') = ''\n",
  });
  await loadRaw(db.sql);
  assert.equal((await runTransforms(db.sql, fx.config)).status, "succeeded");
  const passing = await reported(runChecks(db.sql, fx.config, { runId: "a1" }), fx.reports);
  assert.equal(passing.status, "succeeded", passing.error?.message);
  assert.equal(passing.command, "assert");
  assert.ok(passing.checks.some((c) => c.name === "no_blank_names" && c.status === "passed"));

  await db.sql`update f_people.main set name = '' where person_id = 'p3'`;
  const failing = await reported(
    runChecks(db.sql, fx.config, {
      select: ["f_people"],
      runId: "a2",
    }),
    fx.reports,
  );
  assert.equal(failing.status, "failed");
  assert.deepEqual(failing.selected, ["f_people"]);
  assert.deepEqual(failing.failedChecks, ["no_blank_names"]);
  assert.ok(failing.checks.every((c) => c.schema === "f_people"));
  assert.deepEqual(failing.checks.find((c) => c.name === "no_blank_names")!.samples, [
    { person_id: "p3" },
  ]);
  // Data untouched.
  assert.equal((await db.sql`select name from f_people.main where person_id = 'p3'`)[0]!.name, "");
  const runs = await db.sql`select run_id, command, status from lml_meta.runs order by started_at`;
  assert.deepEqual(runs.slice(1).map((r) => [r.run_id, r.command, r.status]), [
    ["a1", "assert", "succeeded"],
    ["a2", "assert", "failed"],
  ]);
  const json = JSON.parse(await Deno.readTextFile(`${fx.reports}/report.json`));
  assert.equal(json.run_id, "a2");
  assert.equal(json.command, "assert");
});

Deno.test("runChecks() runs in a read-only transaction", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await runTransforms(db.sql, fx.config)).status, "succeeded");
  await fx.write(
    "_checks/writes.sql",
    "-- check: writes\n-- severity: error\n-- description: d\n" +
      "select nextval('public.counter') as n\n",
  );
  await db.sql`create sequence public.counter`;
  const result = await runChecks(db.sql, fx.config);
  const check = result.checks.find((c) => c.name === "writes")!;
  assert.equal(check.status, "errored");
  assert.match(check.error!, /read-only transaction/);
  assert.equal((await db.sql`select last_value::int as n from public.counter`)[0]!.n, 1);
  assert.equal((await db.sql`select is_called from public.counter`)[0]!.is_called, false);
});

Deno.test("judgeCheck() warns or fails by the thresholds of the config, like dbt", () => {
  const control = {
    line: 1,
    warnIf: parseThreshold("> 1%")!,
    errorIf: parseThreshold("> 5%")!,
  };
  assert.deepEqual(judgeCheck("error", 10, control, 100), { severity: "error", status: "failed" });
  assert.deepEqual(judgeCheck("error", 3, control, 100), { severity: "warn", status: "failed" });
  assert.deepEqual(judgeCheck("error", 1, control, 100), { severity: "error", status: "passed" });
  assert.deepEqual(judgeCheck("warn", 10, control, 100), { severity: "warn", status: "failed" });
  assert.deepEqual(judgeCheck("warn", 1, { line: 1, severity: "error" }, 0), {
    severity: "error",
    status: "failed",
  });
  assert.deepEqual(judgeCheck("error", 0, undefined, 0), { severity: "error", status: "passed" });
});

Deno.test("discoverFiles() rejects controls of an unknown check with a did you mean", async () => {
  await using fx = await makeFixture({
    "f_users/checks/names_set.sql": "-- check: f_users_names_set\n-- severity: error\n" +
      "-- description: every user has a name\nselect * from f_users.main where name is null\n",
  });
  const yaml = await Deno.readTextFile(`${fx.dir}/sql/pipeline.yaml`);
  await fx.write("pipeline.yaml", yaml + "checks:\n  f_users_name_set:\n    severity: warn\n");
  const config = await loadConfig(`${fx.dir}/sql/pipeline.yaml`);
  await assert.rejects(
    () => discoverFiles(config),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /pipeline\.yaml:\d+: checks: unknown check "f_users_name_set" \(did you mean "f_users_names_set"\?\)/,
      );
      return true;
    },
  );
  await fx.write(
    "pipeline.yaml",
    yaml + "checks:\n  f_users_unmaped_values:\n    severity: warn\n",
  );
  await assert.rejects(
    async () => discoverFiles(await loadConfig(`${fx.dir}/sql/pipeline.yaml`)),
    /did you mean "f_users_unmapped_values"/,
  );
});
