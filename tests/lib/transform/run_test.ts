import assert from "node:assert/strict";
import postgres from "postgres";
import { RunError } from "../../../lib/core/errors.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { LockTimeoutError } from "../../../lib/transform/statements.ts";
import { SqlFileError } from "../../../lib/transform/sql_files.ts";
import { freshDatabase, needsRealServer } from "../../support/db.ts";
import { loadRaw, makeFixture, reported, snapshot } from "../../support/pipeline_fixture.ts";

const TABLES = [["f_users", "main"], ["f_people", "main"], ["f_orders", "main"], [
  "f_orders",
  "totals",
]] as const;

async function snapshotAll(sql: postgres.Sql): Promise<string[][]> {
  return await Promise.all(TABLES.map(([s, t]) => snapshot(sql, s, t)));
}

Deno.test("runTransforms() runs files in dependency order and records the ledger", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  const result = await reported(runTransforms(db.sql, fx.config, { runId: "run-1" }), fx.reports);
  assert.equal(result.status, "succeeded", result.error?.message);
  assert.deepEqual(result.selected, ["f_users", "f_people", "f_orders"]);
  assert.deepEqual(result.files.map((f) => f.path), [
    "sql/_shared/000_util.sql",
    "sql/f_users/010_main.sql",
    "sql/f_people/010_main.sql",
    "sql/f_orders/010_main.sql",
    "sql/f_orders/020_totals.sql",
  ]);
  assert.deepEqual(result.files.map((f) => f.rows), [0, 3, 3, 3, 2]);
  assert.deepEqual(
    result.tables.map((t) => `${t.schema}.${t.table}=${t.rows}`),
    ["f_users.main=3", "f_people.main=3", "f_orders.main=3", "f_orders.totals=2"],
  );
  const [run] = await db.sql`select * from lml_meta.runs`;
  assert.equal(run!.run_id, "run-1");
  assert.equal(run!.command, "transform");
  assert.equal(run!.status, "succeeded");
  assert.ok(run!.finished_at instanceof Date);
  assert.ok(Number(run!.peak_rss_bytes) > 0);
  assert.deepEqual(run!.selected, ["f_users", "f_people", "f_orders"]);
  const files = await db.sql`select path, sha256, rows from lml_meta.run_files order by ordinal`;
  assert.equal(files.length, 5);
  assert.equal(files[1]!.path, "sql/f_users/010_main.sql");
  assert.equal(Number(files[1]!.rows), 3);
  const checks = await db.sql`select check_name, status from lml_meta.check_results`;
  assert.equal(checks.length, result.checks.length);
  assert.ok(
    checks.some((c) => c.check_name === "f_users_main_matches_raw" && c.status === "passed"),
  );
  const totals = await db.sql`select person_id, total::text, note from f_orders.totals order by 1`;
  assert.deepEqual(totals.map((r) => [r.person_id, r.total, r.note]), [
    ["p1", "12.5", ";"],
    ["p3", "7", ";"],
  ]);
  const report = JSON.parse(await Deno.readTextFile(`${fx.reports}/runs/run-1/report.json`));
  assert.equal(report.format, "lml-report/1");
  assert.equal(report.status, "succeeded");
});

Deno.test("runTransforms() locates a syntax error and keeps the previous data", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal(
    (await reported(runTransforms(db.sql, fx.config), fx.reports)).status,
    "succeeded",
  );
  const before = await snapshotAll(db.sql);
  await fx.write(
    "f_people/020_extra.sql",
    "-- Extra table.\ncreate table f_people.extra as\nselect person_id\n  from from f_people.main;\n",
  );
  const result = await reported(
    runTransforms(db.sql, fx.config, {
      runId: "bad-syntax",
    }),
    fx.reports,
  );
  assert.equal(result.status, "failed");
  const error = result.error;
  assert.ok(error instanceof SqlFileError, String(error));
  assert.equal(error.file, `${fx.dir}/sql/f_people/020_extra.sql`);
  assert.equal(error.line, 4);
  assert.equal(error.column, 8);
  assert.equal(error.code, "42601");
  assert.ok(error.cause instanceof Error);
  assert.equal(
    error.message,
    `${fx.dir}/sql/f_people/020_extra.sql:4:8: syntax error at or near "from"\n` +
      "    from from f_people.main;\n" +
      "         ^",
  );
  assert.deepEqual(await snapshotAll(db.sql), before);
  assert.equal((await db.sql`select to_regclass('f_people.extra') as t`)[0]!.t, null);
  const [run] = await db.sql`select status, error from lml_meta.runs where run_id = 'bad-syntax'`;
  assert.equal(run!.status, "failed");
  assert.match(run!.error, /020_extra\.sql:4:8: syntax error/);
  const report = await Deno.readTextFile(`${fx.reports}/report.md`);
  assert.match(report, /^# lml transform: FAILED/);
  assert.match(report, /020_extra\.sql:4:8: syntax error at or near "from"/);
});

Deno.test("runTransforms() points a runtime error at its statement, with DETAIL", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal(
    (await reported(runTransforms(db.sql, fx.config), fx.reports)).status,
    "succeeded",
  );
  const before = await snapshotAll(db.sql);
  await fx.write(
    "f_orders/030_checked.sql",
    "-- A key, then a duplicate.\nalter table f_orders.main add primary key (order_id);\n\n  insert into f_orders.main (order_id, amount)\n" +
      "  values ('o9', 1), ('o1', 2);\n",
  );
  const result = await reported(runTransforms(db.sql, fx.config), fx.reports);
  const error = result.error;
  assert.ok(error instanceof SqlFileError, String(error));
  assert.equal(error.line, 4);
  assert.equal(error.column, 3);
  assert.equal(error.code, "23505");
  assert.match(error.message, /030_checked\.sql:4:3: duplicate key value violates unique/);
  assert.match(error.message, /\n {4}insert into f_orders\.main .*\n {4}\^\n/);
  assert.equal(
    error.detail,
    'Key (order_id)=(o1) already exists.\noffending: order_id o1 with order_id = "o1"',
  );
  assert.match(error.message, /\nDETAIL: Key \(order_id\)=\(o1\) already exists\.\n/);
  assert.deepEqual(await snapshotAll(db.sql), before);
});

Deno.test("runTransforms() names the document and the value behind a failed constraint", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_people/030_checked.sql": "-- A value set.\n" +
      "create table f_people.names (person_id text, name text check (name in ('Pat', 'Lee')));\n" +
      "insert into f_people.names select person_id, name from f_people.main;\n",
  });
  await loadRaw(db.sql);
  const check = await runTransforms(db.sql, fx.config);
  assert.ok(check.error instanceof SqlFileError, String(check.error));
  assert.equal(check.error.code, "23514");
  assert.match(check.error.message, /\noffending: person_id p3 with name = "Kim"/);

  await fx.write(
    "f_people/030_checked.sql",
    "-- A reference.\nalter table f_people.main add constraint owner_fkey " +
      "foreign key (name) references f_users.main (user_id);\n",
  );
  const fk = await runTransforms(db.sql, fx.config);
  assert.ok(fk.error instanceof SqlFileError, String(fk.error));
  assert.equal(fk.error.code, "23503");
  assert.match(fk.error.message, /\noffending: person_id p1 with name = "Pat"$/);
});

Deno.test("runTransforms() with select rebuilds the schema and its downstream only", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal(
    (await reported(runTransforms(db.sql, fx.config), fx.reports)).status,
    "succeeded",
  );
  const identity = () =>
    db.sql<{ t: string; oid: number; xmins: string }[]>`
      select c.relnamespace::regnamespace::text || '.' || c.relname as t, c.oid::int as oid,
             (select string_agg(xmin::text, ',') from f_users.main) as xmins
      from pg_class c
      where c.relname = 'main' and c.relnamespace::regnamespace::text like 'f\\_%'
      order by 1
    `;
  const before = new Map((await identity()).map((r) => [r.t, r]));
  const result = await reported(
    runTransforms(db.sql, fx.config, {
      select: ["people_src"],
    }),
    fx.reports,
  );
  assert.equal(result.status, "succeeded", result.error?.message);
  assert.deepEqual(result.selected, ["f_people", "f_orders"]);
  assert.deepEqual(result.files.filter((f) => f.kind === "transform").map((f) => f.schema), [
    "f_people",
    "f_orders",
    "f_orders",
  ]);
  assert.ok(result.checks.every((c) => c.schema !== "f_users"));
  const after = new Map((await identity()).map((r) => [r.t, r]));
  assert.equal(after.get("f_users.main")!.oid, before.get("f_users.main")!.oid);
  assert.equal(after.get("f_users.main")!.xmins, before.get("f_users.main")!.xmins);
  assert.notEqual(after.get("f_people.main")!.oid, before.get("f_people.main")!.oid);
  assert.notEqual(after.get("f_orders.main")!.oid, before.get("f_orders.main")!.oid);
});

Deno.test("runTransforms() dry run returns the plan and touches nothing", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  const result = await runTransforms(db.sql, fx.config, { dryRun: true, select: ["f_orders"] });
  assert.equal(result.status, "planned");
  assert.deepEqual(result.plan!.files.map((f) => f.path), [
    "sql/_shared/000_util.sql",
    "sql/f_orders/010_main.sql",
    "sql/f_orders/020_totals.sql",
  ]);
  const [state] = await db.sql`
    select to_regnamespace('lml_meta') as meta, to_regnamespace('f_orders') as orders,
           to_regnamespace('lml_util') as util
  `;
  assert.deepEqual(state, { meta: null, orders: null, util: null });
  await assert.rejects(() => Deno.stat(fx.reports), Deno.errors.NotFound);
});

Deno.test("runTransforms() rolls back when an error check fails, naming it with samples", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_people/checks/no_blank_names.sql":
      "-- check: no_blank_names\n-- severity: error\n-- description: every person has a name\n" +
      "select person_id, name from f_people.main where coalesce(name, '') = ''\n",
  });
  await loadRaw(db.sql);
  assert.equal(
    (await reported(runTransforms(db.sql, fx.config), fx.reports)).status,
    "succeeded",
  );
  const before = await snapshotAll(db.sql);
  await db.sql`update lml_raw.people_src set doc = doc || '{"name": ""}' where _id = 'p2'`;
  const result = await reported(runTransforms(db.sql, fx.config, { runId: "chk" }), fx.reports);
  assert.equal(result.status, "failed");
  assert.deepEqual(result.failedChecks, ["no_blank_names"]);
  assert.ok(result.error instanceof RunError);
  assert.match(result.error.message, /1 error check failed: no_blank_names/);
  const check = result.checks.find((c) => c.name === "no_blank_names")!;
  assert.equal(check.status, "failed");
  assert.equal(check.offending, 1);
  assert.deepEqual(check.samples, [{ person_id: "p2", name: "" }]);
  assert.equal(check.source, "sql/f_people/checks/no_blank_names.sql");
  assert.deepEqual(await snapshotAll(db.sql), before);
  const [stored] = await db.sql`
    select status, offending, samples from lml_meta.check_results
    where run_id = 'chk' and check_name = 'no_blank_names'
  `;
  assert.deepEqual(
    { ...stored },
    { status: "failed", offending: "1", samples: [{ person_id: "p2", name: "" }] },
  );
  const report = await Deno.readTextFile(`${fx.reports}/report.md`);
  assert.match(report, /1 error check did not pass: `no_blank_names`/);
  assert.match(report, /### no_blank_names — failed \(error\)/);
  assert.match(report, /\| person_id \| name \|\n\|---\|---\|\n\| p2 \| {2}\|/);
  const json = JSON.parse(await Deno.readTextFile(`${fx.reports}/report.json`));
  assert.deepEqual(json.failed_checks, ["no_blank_names"]);
});

Deno.test("runTransforms() commits despite a failing warn check", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "_checks/big_orders.sql":
      "-- check: big_orders\n-- severity: warn\n-- description: orders above 5\n" +
      "select order_id, amount from f_orders.main where amount > 5 order by order_id;\n",
  });
  await loadRaw(db.sql);
  const result = await reported(runTransforms(db.sql, fx.config), fx.reports);
  assert.equal(result.status, "succeeded", result.error?.message);
  const check = result.checks.find((c) => c.name === "big_orders")!;
  assert.equal(check.status, "failed");
  assert.equal(check.schema, null);
  assert.deepEqual(check.samples, [{ order_id: "o1", amount: 10.5 }, {
    order_id: "o3",
    amount: 7,
  }]);
  assert.equal((await db.sql`select count(*)::int as n from f_orders.main`)[0]!.n, 3);
  assert.ok(
    result.files.some((f) => f.kind === "check" && f.path === "sql/_checks/big_orders.sql"),
  );
});

Deno.test("runTransforms() exposes run settings and runs prepare inside the transaction", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_users/020_run.sql": "-- Run metadata.\ncreate table f_users.run as\n" +
      "select current_setting('lml.run_id', true) as run_id,\n" +
      "       current_setting('lml.run_started_at', true)::timestamptz as started_at;\n",
  });
  await loadRaw(db.sql);
  const result = await reported(
    runTransforms(db.sql, fx.config, {
      runId: "with-prepare",
      command: "refresh",
      prepare: async (tx) => {
        await tx`insert into lml_raw.users_src (_id, doc, extracted_at) values ('u4', '{"name": "dee"}', now())`;
      },
    }),
    fx.reports,
  );
  assert.equal(result.status, "succeeded", result.error?.message);
  const [run] = await db.sql`select run_id, started_at from f_users.run`;
  assert.equal(run!.run_id, "with-prepare");
  assert.equal(new Date(run!.started_at).toISOString(), result.startedAt);
  assert.equal((await db.sql`select count(*)::int as n from f_users.main`)[0]!.n, 4);
  assert.equal((await db.sql`select command from lml_meta.runs`)[0]!.command, "refresh");

  // A failing run rolls back what prepare did, too.
  await fx.write("f_orders/030_fail.sql", "select 1/0;\n");
  const failed = await reported(
    runTransforms(db.sql, fx.config, {
      prepare: async (tx) => {
        await tx`insert into lml_raw.users_src (_id, doc, extracted_at) values ('u5', '{"name": "eve"}', now())`;
      },
    }),
    fx.reports,
  );
  assert.equal(failed.status, "failed");
  assert.equal((await db.sql`select count(*)::int as n from lml_raw.users_src`)[0]!.n, 4);
});

Deno.test({
  name: "runTransforms() fails with a LockTimeoutError naming the blocking session",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal(
    (await reported(runTransforms(db.sql, fx.config), fx.reports)).status,
    "succeeded",
  );
  const blocker = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "lml blocker test" },
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: (pid: number) => void;
  const lockedPid = new Promise<number>((resolve) => (locked = resolve));
  const holding = blocker.begin(async (tx) => {
    const [row] = await tx`select pg_backend_pid() as pid`;
    // A schema change not committed yet: the run's retire of f_people waits for it (a reader
    // of f_people.main would not hold it up).
    await tx`grant usage on schema f_people to public`;
    locked(row!.pid);
    await released;
  });
  try {
    const pid = await lockedPid;
    const result = await reported(
      runTransforms(db.sql, fx.config, {
        select: ["f_people"],
        lockTimeoutMs: 200,
        lockRetries: 1,
        lockRetryDelayMs: 50,
        runId: "locked",
      }),
      fx.reports,
    );
    assert.equal(result.status, "failed");
    const error = result.error;
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.equal(error.where, "schema f_people (retire)");
    assert.equal(error.blockers[0]?.pid, pid);
    assert.equal(error.blockers[0]?.application, "lml blocker test");
    assert.match(error.message, new RegExp(`2 attempts\\); blocked by pid ${pid} `));
    assert.match(error.hint ?? "", new RegExp(`pg_terminate_backend\\(${pid}\\)`));
    const [run] = await db.sql`select status from lml_meta.runs where run_id = 'locked'`;
    assert.equal(run!.status, "failed");
  } finally {
    release();
    await holding;
    await blocker.end();
  }
});
