import assert from "node:assert/strict";
import postgres from "postgres";
import { runTransforms } from "../../../lib/transform/run.ts";
import { LockTimeoutError } from "../../../lib/transform/statements.ts";
import { freshDatabase, needsRealServer } from "../../support/db.ts";
import { loadRaw, makeFixture, reported } from "../../support/pipeline_fixture.ts";
import { NASTY_PASSWORD } from "../../support/nasty.ts";

async function reportTexts(dir: string): Promise<string> {
  const names = ["report.md", "junit.xml", "report.json"];
  return (await Promise.all(names.map((n) => Deno.readTextFile(`${dir}/${n}`)))).join("\n");
}

Deno.test({
  name: "a lock timeout names the blocking session but never its query text",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await reported(runTransforms(db.sql, fx.config), fx.reports)).status, "succeeded");
  const blocker = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: 'blocker "app"' },
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: (pid: number) => void;
  const lockedPid = new Promise<number>((resolve) => (locked = resolve));
  const holding = blocker.begin(async (tx) => {
    const [row] = await tx`select pg_backend_pid() as pid`;
    // An uncommitted change of the schema: the run's retire of f_people waits for it.
    await tx`grant usage on schema f_people to public`;
    // The blocker's last query: what an `alter role … password` would leave in pg_stat_activity.
    await tx.unsafe(`select 'alter role x password ''${NASTY_PASSWORD}''' as last_query`);
    locked(row!.pid);
    await released;
  });
  try {
    const pid = await lockedPid;
    const result = await reported(
      runTransforms(db.sql, fx.config, {
        select: ["f_people"],
        lockTimeoutMs: 200,
        lockRetries: 0,
        runId: "locked",
      }),
      fx.reports,
    );
    const error = result.error;
    assert.ok(error instanceof LockTimeoutError, String(error));
    assert.match(
      error.message,
      new RegExp(
        `blocked by pid ${pid} \\(user \\w+, application "blocker \\\\"app\\\\"", ` +
          `state idle in transaction, in a transaction since \\d{4}-`,
      ),
    );
    const [run] = await db.sql`select error from lml_meta.runs where run_id = 'locked'`;
    for (const text of [error.message, run!.error, await reportTexts(fx.reports)]) {
      assert.ok(!text.includes("cd+ef"), text);
      assert.ok(!text.includes("last_query"), text);
    }
  } finally {
    release();
    await holding;
    await blocker.end();
  }
});

Deno.test("a failing statement quoting a SQL PASSWORD literal is redacted in the ledger and reports", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  await fx.write(
    "f_users/020_role.sql",
    `-- A role for the users.\nalter role lml_no_such_role password '${NASTY_PASSWORD}';\n`,
  );
  const result = await reported(runTransforms(db.sql, fx.config, { runId: "pw" }), fx.reports);
  assert.equal(result.status, "failed");
  const [run] = await db.sql`select error from lml_meta.runs where run_id = 'pw'`;
  assert.match(run!.error, /lml_no_such_role/);
  assert.match(run!.error, /password '\*\*\*'/);
  for (const text of [run!.error, await reportTexts(fx.reports)]) {
    assert.ok(!text.includes("cd+ef"), text);
  }
});
