import assert from "node:assert/strict";
import { buildPlan, formatPlan, graphMermaid, graphText } from "../../../lib/transform/plan.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { sha256Hex } from "../../../lib/core/hash.ts";
import { freshDatabase } from "../../support/db.ts";
import { FILES, loadRaw, makeFixture } from "../../support/pipeline_fixture.ts";

Deno.test("buildPlan() without a database lists files in dependency order", async () => {
  await using fx = await makeFixture();
  const plan = await buildPlan(undefined, fx.config, { select: ["people_src"] });
  assert.deepEqual(plan.selected, ["f_people", "f_orders"]);
  assert.deepEqual(plan.untouched, ["f_users"]);
  assert.deepEqual(plan.files.map((f) => [f.path, f.kind, f.schema, f.status]), [
    ["sql/_shared/000_util.sql", "shared", null, "unknown"],
    ["sql/f_people/010_main.sql", "transform", "f_people", "unknown"],
    ["sql/f_orders/010_main.sql", "transform", "f_orders", "unknown"],
    ["sql/f_orders/020_totals.sql", "transform", "f_orders", "unknown"],
  ]);
  assert.equal(plan.files[1]!.sha256, await sha256Hex(FILES["f_people/010_main.sql"]!));
  assert.equal(plan.ledgerRead, false);
  const text = formatPlan(plan);
  assert.match(text, /ledger not read/);
  assert.match(text, /sql\/f_people\/010_main\.sql {2}-- People, each pointing to a user\./);
});

Deno.test("graphText() and graphMermaid() draw the dependencies, selected marked", async () => {
  await using fx = await makeFixture();
  assert.equal(
    graphText(fx.config, ["f_orders"]),
    "  f_users (users_src)\n  f_people (people_src) ← f_users\n* f_orders (orders_src) ← f_people",
  );
  const mermaid = graphMermaid(fx.config, ["f_orders"]).split("\n");
  assert.equal(mermaid[0], "flowchart LR");
  assert.ok(mermaid.includes("  f_users --> f_people"));
  assert.ok(mermaid.includes("  f_people --> f_orders"));
  assert.ok(mermaid.includes("  class f_orders selected"));
});

Deno.test("buildPlan() detects files changed, added and removed since the last success", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  const before = await buildPlan(db.sql, fx.config);
  assert.equal(before.ledgerRead, false);
  assert.equal((await db.sql`select to_regnamespace('lml_meta') as s`)[0]!.s, null);
  const run = await runTransforms(db.sql, fx.config, { runId: "base" });
  assert.equal(run.status, "succeeded");
  const same = await buildPlan(db.sql, fx.config);
  assert.ok(same.files.every((f) => f.status === "unchanged"));
  assert.deepEqual(same.changedSchemas, []);
  assert.equal(same.lastSuccess?.runId, "base");

  await fx.write("f_people/010_main.sql", FILES["f_people/010_main.sql"] + "\n-- edited\n");
  await fx.write("f_users/020_new.sql", "-- New.\nselect 1;\n");
  await fx.remove("f_orders/020_totals.sql");
  // A failed run does not count as the baseline.
  await fx.write("f_orders/030_fail.sql", "select 1/0;\n");
  assert.equal((await runTransforms(db.sql, fx.config)).status, "failed");
  await fx.remove("f_orders/030_fail.sql");

  const plan = await buildPlan(db.sql, fx.config);
  const status = Object.fromEntries(plan.files.map((f) => [f.path, f.status]));
  assert.deepEqual(status, {
    "sql/_shared/000_util.sql": "unchanged",
    "sql/f_users/010_main.sql": "unchanged",
    "sql/f_users/020_new.sql": "new",
    "sql/f_people/010_main.sql": "changed",
    "sql/f_orders/010_main.sql": "unchanged",
  });
  const changed = plan.files.find((f) => f.status === "changed")!;
  assert.equal(changed.previousSha256, await sha256Hex(FILES["f_people/010_main.sql"]!));
  assert.deepEqual(plan.removed, ["sql/f_orders/020_totals.sql"]);
  assert.deepEqual(plan.changedSchemas, ["f_users", "f_people"]);
  const text = formatPlan(plan);
  assert.match(text, /compared with run base/);
  assert.match(text, /changed {4}sql\/f_people\/010_main\.sql/);
  assert.match(text, /removed {4}sql\/f_orders\/020_totals\.sql/);
  assert.match(text, /Changed since the last successful run: f_users, f_people/);
  assert.match(text, /```mermaid\nflowchart LR\n/);
});
