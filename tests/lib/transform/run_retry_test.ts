/**
 * Transient PostgreSQL failures during the transforms: a deadlock or a serialization failure
 * runs the statement again (in its savepoint), a lost session runs the whole transaction again
 * once from its start; each retry is logged, in the ledger and in the reports.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Sql } from "../../../lib/core/db.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { freshDatabase, needsRealServer } from "../../support/db.ts";
import { loadRaw, makeFixture, reported, snapshot } from "../../support/pipeline_fixture.ts";

/** A statement of a transform file that fails its first `n` runs: `fail` is the failure. */
function failingFirst(n: number, fail: string): string {
  return `-- Fails its first ${n} run(s), then does nothing.
do $$ begin
  if nextval('public.attempts') <= ${n} then
    ${fail};
  end if;
end $$;
`;
}

async function retryRows(sql: Sql) {
  return [
    ...(await sql<{ run_id: string; stage: string; what: string; why: string; attempt: number }[]>`
    select run_id, stage, what, why, attempt from lml_meta.retries order by ordinal`),
  ];
}

Deno.test({
  name: "a serialization failure of a statement is retried in its savepoint and reported",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_people/020_serialize.sql": failingFirst(
      1,
      "raise exception 'could not serialize access (test)' using errcode = 'serialization_failure'",
    ),
  });
  await loadRaw(db.sql);
  await db.sql`create sequence public.attempts`;
  const result = await reported(
    runTransforms(db.sql, fx.config, {
      runId: "serialized",
      lockRetryDelayMs: 20,
    }),
    fx.reports,
  );
  assert.equal(result.status, "succeeded", result.error?.message);
  assert.deepEqual(result.retries?.map((r) => [r.stage, r.what, r.attempt]), [
    ["statement", "sql/f_people/020_serialize.sql:2", 1],
  ]);
  assert.match(result.retries![0]!.why, /^serialization failure \(40001\): could not serialize/);
  assert.deepEqual((await retryRows(db.sql)).map((r) => [r.run_id, r.stage]), [
    ["serialized", "statement"],
  ]);
  const report = JSON.parse(await Deno.readTextFile(`${fx.reports}/runs/serialized/report.json`));
  assert.equal(report.retries.length, 1);
  assert.equal(report.retries[0].what, "sql/f_people/020_serialize.sql:2");
  assert.equal(report.retries[0].waited_ms, 20);
  const markdown = await Deno.readTextFile(`${fx.reports}/runs/serialized/report.md`);
  assert.match(markdown, /## Retries\n\n1 transient fault was retried/);
  assert.match(markdown, /\| 1 \| statement \| sql\/f_people\/020_serialize\.sql:2 \| serial/);
});

Deno.test({
  name: "a deadlock of a statement is retried once the other session is through",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_people/020_lock_both.sql": `-- Locks a, then b: the opposite order of the other session.
do $$ begin
  lock table public.lock_a in exclusive mode;
  lock table public.lock_b in exclusive mode;
end $$;
`,
  });
  await loadRaw(db.sql);
  await db.sql`create table public.lock_a (x int)`;
  await db.sql`create table public.lock_b (x int)`;
  const other = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const { promise: holding, resolve: hold } = Promise.withResolvers<number>();
    const { promise: through, resolve: finish } = Promise.withResolvers<void>();
    const session = other.begin(async (tx) => {
      // Only the run detects the deadlock: its deadlock_timeout (1 s) is the shorter.
      await tx`set local deadlock_timeout = '60s'`;
      const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await tx`lock table public.lock_b in exclusive mode`;
      hold(row!.pid);
      await through;
      await tx`lock table public.lock_a in exclusive mode`;
    });
    const pid = await holding;
    const running = reported(
      runTransforms(db.sql, fx.config, { runId: "deadlocked", lockRetryDelayMs: 20 }),
      fx.reports,
    );
    for (let waited = 0;; waited += 50) {
      const [row] = await db.sql`
        select count(*)::int as n from pg_stat_activity
        where ${pid}::int = any(pg_blocking_pids(pid))`;
      if (row!.n > 0) break;
      assert.ok(waited < 30_000, "the run never waited for lock_b");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    finish(); // the other session now waits for lock_a, which the run holds: a deadlock
    await session;
    const result = await running;
    assert.equal(result.status, "succeeded", result.error?.message);
    assert.deepEqual(result.retries?.map((r) => [r.stage, r.what]), [
      ["statement", "sql/f_people/020_lock_both.sql:2"],
    ]);
    assert.match(result.retries![0]!.why, /^deadlock detected \(40P01\)/);
    assert.equal((await retryRows(db.sql)).length, 1);
  } finally {
    await other.end();
  }
});

Deno.test({
  name: "a session lost inside the transaction reruns the whole transaction once, from its start",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({
    "f_orders/030_terminate.sql": failingFirst(1, "perform pg_terminate_backend(pg_backend_pid())"),
  });
  await loadRaw(db.sql);
  await db.sql`create sequence public.attempts`;
  const result = await reported(
    runTransforms(db.sql, fx.config, {
      runId: "rerun",
      retry: { attempts: 3, maxSeconds: 10, firstDelayMs: 20 },
    }),
    fx.reports,
  );
  assert.equal(result.status, "succeeded", result.error?.message);
  assert.deepEqual(result.retries?.map((r) => [r.stage, r.what, r.attempt]), [
    ["transaction", "the publishing transaction (from its start)", 1],
  ]);
  assert.match(
    result.retries![0]!.why,
    /^sql\/f_orders\/030_terminate\.sql:2: lost the PostgreSQL session/,
  );
  // Every file ran once in the run that committed: the rerun started from scratch.
  assert.deepEqual(result.files.filter((f) => f.kind !== "check").map((f) => f.path), [
    "sql/_shared/000_util.sql",
    "sql/f_users/010_main.sql",
    "sql/f_people/010_main.sql",
    "sql/f_orders/010_main.sql",
    "sql/f_orders/020_totals.sql",
    "sql/f_orders/030_terminate.sql",
  ]);
  assert.equal((await snapshot(db.sql, "f_orders", "main")).length, 3);
  const [run] = await db.sql`select status from lml_meta.runs where run_id = 'rerun'`;
  assert.equal(run!.status, "succeeded");
  assert.deepEqual((await retryRows(db.sql)).map((r) => r.stage), ["transaction"]);
});

Deno.test({
  name: "a session lost twice inside the transaction fails the run; nothing changed",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await runTransforms(db.sql, fx.config)).status, "succeeded");
  const before = await snapshot(db.sql, "f_orders", "main");
  await fx.write(
    "f_orders/030_terminate.sql",
    failingFirst(2, "perform pg_terminate_backend(pg_backend_pid())"),
  );
  await db.sql`create sequence public.attempts`;
  await db.sql`delete from lml_raw.orders_src where _id = 'o1'`;
  const result = await reported(
    runTransforms(db.sql, fx.config, {
      runId: "lost-twice",
      retry: { attempts: 3, maxSeconds: 10, firstDelayMs: 20 },
    }),
    fx.reports,
  );
  assert.equal(result.status, "failed");
  assert.match(
    result.error!.message,
    /^sql\/f_orders\/030_terminate\.sql:2: lost the PostgreSQL session.*nothing was changed/,
  );
  assert.equal(result.retries?.length, 1);
  assert.deepEqual(await snapshot(db.sql, "f_orders", "main"), before);
  const [run] = await db.sql`select status from lml_meta.runs where run_id = 'lost-twice'`;
  assert.equal(run!.status, "failed");
  assert.deepEqual((await retryRows(db.sql)).map((r) => r.run_id), ["lost-twice"]);
});
