import assert from "node:assert/strict";
import { loadConfig, parseConfig } from "../../../lib/core/config.ts";
import { ConfigError } from "../../../lib/core/errors.ts";
import { DEFAULT_MASKED_COLUMNS, MASK } from "../../../lib/core/mask.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { writeReports } from "../../../lib/report/write.ts";
import { freshDatabase } from "../../support/db.ts";
import { loadRaw, makeFixture, PIPELINE_YAML, RAW } from "../../support/pipeline_fixture.ts";
import { NASTY } from "../../support/nasty.ts";

const PERSONAL_CHECK = `-- check: personal_samples
-- severity: warn
-- description: every person, with personal columns
select person_id, name as first_name, null::text as last_name, name as nickname,
       'DNI ' || person_id as document_number
from f_people.main
`;

async function readAll(dir: string): Promise<{ path: string; mode: number; text?: string }[]> {
  const out: { path: string; mode: number; text?: string }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    const mode = (await Deno.stat(path)).mode! & 0o777;
    if (entry.isDirectory) out.push({ path, mode }, ...await readAll(path));
    else out.push({ path, mode, text: await Deno.readTextFile(path) });
  }
  return out;
}

Deno.test("the config's reports section: masked columns and privacy, defaults and errors", () => {
  const plain = parseConfig(PIPELINE_YAML, "sql/pipeline.yaml");
  assert.deepEqual(plain.reports, { maskedColumns: DEFAULT_MASKED_COLUMNS, private: true });
  const custom = parseConfig(
    `${PIPELINE_YAML}reports:\n  masked_columns: [nickname, "*_email"]\n  private: false\n`,
    "sql/pipeline.yaml",
  );
  assert.deepEqual(custom.reports, { maskedColumns: ["nickname", "*_email"], private: false });
  for (
    const [bad, line] of [
      [`reports:\n  masked_columns: ["${NASTY.quotes.replaceAll('"', "")}"]\n`, 15],
      ["reports:\n  private: maybe\n", 15],
      ["reports:\n  mask: [x]\n", 15],
    ] as const
  ) {
    try {
      parseConfig(PIPELINE_YAML + bad, "sql/pipeline.yaml");
      assert.fail(`accepted ${bad}`);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.line, line, error.message);
    }
  }
});

Deno.test("names and document numbers are masked in samples, ledger and reports, which are owner-only", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({ "f_people/checks/personal.sql": PERSONAL_CHECK });
  await loadRaw(db.sql, {
    ...RAW,
    people_src: [["p1", { name: NASTY.script, owner: "u1" }], ...RAW.people_src!.slice(1)],
  });
  const result = await runTransforms(db.sql, fx.config, { runId: "masked" });
  assert.equal(result.status, "succeeded", result.error?.message);
  const check = result.checks.find((c) => c.name === "personal_samples")!;
  assert.equal(check.samples.length, 3);
  for (const s of check.samples) {
    assert.equal(s.first_name, MASK);
    assert.equal(s.document_number, MASK);
    assert.equal(s.last_name, null, "nulls stay visible");
    assert.notEqual(s.nickname, MASK, "not masked unless configured");
  }
  const [stored] = await db.sql`
    select samples::text as samples from lml_meta.check_results where check_name = 'personal_samples'`;
  assert.doesNotMatch(stored!.samples, /DNI p1/);

  const paths = await writeReports(result, { dir: fx.reports });
  const files = await readAll(fx.reports);
  assert.ok(files.length >= 7);
  for (const f of files) {
    assert.equal(f.mode, f.text === undefined ? 0o700 : 0o600, `${f.path} ${f.mode.toString(8)}`);
    if (f.text !== undefined) assert.ok(!f.text.includes("DNI p1"), f.path);
  }
  assert.ok((await Deno.readTextFile(paths.markdown)).includes(MASK.replace(/[[\]]/g, "\\$&")));

  // Configured otherwise: nickname masked too, reports as the umask says.
  await fx.write(
    "pipeline.yaml",
    `${PIPELINE_YAML}reports:\n  masked_columns: [nickname]\n  private: false\n`,
  );
  const open = await loadConfig(`${fx.dir}/sql/pipeline.yaml`);
  const second = await runTransforms(db.sql, open, { runId: "open" });
  const samples = second.checks.find((c) => c.name === "personal_samples")!.samples;
  assert.ok(samples.every((s) => s.nickname === MASK && s.first_name !== MASK));
  const dir = `${fx.dir}/shared`;
  await writeReports(second, { dir, private: open.reports!.private });
  const umask = Deno.umask();
  assert.equal((await Deno.stat(`${dir}/report.md`)).mode! & 0o777, 0o666 & ~umask);
});
