/**
 * `test-sql --new`: a test written from a real raw document passes as written, its documents
 * encode back to what lml_raw holds, and it never overwrites; `scaffold` writes a first test.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../../lib/core/config.ts";
import { UsageError } from "../../../lib/core/errors.ts";
import { createTest, findTests, formatResult, runSqlTests } from "../../../lib/sqltest/mod.ts";
import { rawRowOfJson } from "../../../extract/mod.ts";
import { extractCollections } from "../../../extract/extract.ts";
import { generateSample } from "../../../lib/sample/mod.ts";
import { freshDatabase } from "../../support/db.ts";
import { sqlCopy } from "../../support/sql_copy.ts";

Deno.test("--new writes a test from a raw document and its upstream documents that passes as written", async () => {
  await using copy = await sqlCopy();
  const config = await loadConfig(copy.configPath);
  await using db = await freshDatabase();
  const dump = await Deno.makeTempDir({ prefix: "lml_sqltest_new_" });
  try {
    await generateSample(dump, { scale: 0.01, seed: 5 });
    const extracted = await extractCollections(db.sql, config, { source: dump });
    assert.ok(extracted.every((r) => r.status === "succeeded"));
  } finally {
    await Deno.remove(dump, { recursive: true });
  }
  const [process] = await db.sql<{ id: string }[]>`
    select _id as id from lml_raw.lml_processes_mesa4core
    where jsonb_array_length(doc -> 'movements') > 1 and jsonb_array_length(doc -> 'attachments') > 0
    order by _id limit 1`;

  const created = await createTest(db.sql, config, {
    collection: "lml_processes",
    id: process!.id,
    name: "pinned",
  });
  const path = `${copy.sqlDir}/lml_processes/tests/pinned.yaml`;
  const text = await Deno.readTextFile(path);
  assert.ok(created.given > 1, "the upstream documents it references came along");
  assert.ok(created.rows > 3, "main, movements and attachments rows are expected");
  assert.ok(text.startsWith('pinned:\n  description: "from lml_raw.lml_processes_mesa4core _id '));
  assert.ok(
    text.includes('\n    movements:\n      - process_id: "'),
    "movements rows, one per entry",
  );

  // Run again from the file as written, on its own: it passes.
  const tests = (await findTests(config, { select: ["lml_processes"] }))
    .filter((t) => t.name === "pinned");
  assert.equal(tests.length, 1);
  const [result] = await runSqlTests(db.sql, config, { tests });
  assert.equal(result!.status, "passed", formatResult(result!));

  // Its documents encode to exactly what lml_raw holds.
  for (const given of tests[0]!.given) {
    const row = rawRowOfJson(given.json);
    const [same] = await db.sql<{ same: boolean }[]>`
      select doc = ${row.doc}::text::jsonb as same
      from lml_raw.${db.sql(given.collection)} where _id = ${row.id}`;
    assert.equal(same?.same, true, `${given.collection} ${row.id}`);
  }

  await assert.rejects(
    createTest(db.sql, config, { collection: "lml_processes", id: process!.id, name: "pinned" }),
    (e) => e instanceof UsageError && /pinned\.yaml already exists/.test(e.message),
  );
  await assert.rejects(
    createTest(db.sql, config, { collection: "lml_processes", id: "nope" }),
    (e) => e instanceof UsageError && /no document with _id "nope"/.test(e.message),
  );
  assert.equal(await Deno.readTextFile(path), text);
});
