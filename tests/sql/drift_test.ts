/**
 * Source drift (`generate --drift`): every drifted value is recorded in `<schema>.unmapped_values`
 * (counts equal the manifest), a new application value is kept and reported by its warn check,
 * the run publishes, and for every consumed path the documents holding a value equal the rows
 * where it was mapped plus the rows where it was recorded.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/core/config.ts";
import { runTransforms } from "../../lib/transform/run.ts";
import { generateSample, type Manifest } from "../../lib/sample/mod.ts";
import { extractCollections } from "../../extract/extract.ts";
import { freshDatabase } from "../support/db.ts";
import { assertManifestFigures } from "../support/manifest_figures.ts";

/**
 * Consumed paths and their accounting: `present` counts the raw values (documents, or array
 * elements), `mapped` the rows that hold them; `path` is the unmapped_values path.
 */
const INVARIANTS: { schema: string; path: string; present: string; mapped: string }[] = [
  {
    schema: "lml_processes",
    path: "year",
    present: `select count(*) from lml_raw.lml_processes_mesa4core
      where jsonb_typeof(doc -> 'year') <> 'null'`,
    mapped: "select count(*) from lml_processes.main where year is not null",
  },
  {
    schema: "lml_processes",
    path: "movements",
    present: `select count(*) from lml_raw.lml_processes_mesa4core
      where jsonb_typeof(doc -> 'movements') <> 'null'`,
    mapped: `select count(*) from lml_raw.lml_processes_mesa4core
      where jsonb_typeof(doc -> 'movements') = 'array'`,
  },
  {
    schema: "lml_processes",
    path: "movements[]",
    present: `select count(*) from lml_raw.lml_processes_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'movements') = 'array'
        then doc -> 'movements' end)`,
    mapped: "select count(*) from lml_processes.movements",
  },
  {
    schema: "lml_processes",
    path: "attachments[]",
    present: `select count(*) from lml_raw.lml_processes_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'attachments') = 'array'
        then doc -> 'attachments' end)`,
    mapped: "select count(*) from lml_processes.attachments",
  },
  {
    schema: "lml_processes",
    path: "attachments.size",
    present: `select count(*) from lml_raw.lml_processes_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'attachments') = 'array'
        then doc -> 'attachments' end) as a
      where jsonb_typeof(a -> 'size') <> 'null'`,
    mapped: "select count(*) from lml_processes.attachments where size_bytes is not null",
  },
  {
    schema: "lml_formbuilder",
    path: "version",
    present: `select count(*) from lml_raw.lml_formbuilder_mesa4core
      where jsonb_typeof(doc -> 'version') <> 'null'`,
    mapped: "select count(*) from lml_formbuilder.main where version is not null",
  },
  {
    schema: "lml_formbuilder",
    path: "fields[]",
    present: `select count(*) from lml_raw.lml_formbuilder_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'fields') = 'array'
        then doc -> 'fields' end)`,
    mapped: "select count(*) from lml_formbuilder.fields",
  },
  {
    schema: "lml_processtypes",
    path: "steps[]",
    present: `select count(*) from lml_raw.lml_processtypes_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'steps') = 'array'
        then doc -> 'steps' end)`,
    mapped: "select count(*) from lml_processtypes.steps",
  },
  {
    schema: "lml_listbuilder",
    path: "columns[]",
    present: `select count(*) from lml_raw.lml_listbuilder_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'columns') = 'array'
        then doc -> 'columns' end)`,
    mapped: "select count(*) from lml_listbuilder.columns",
  },
  {
    schema: "lml_people",
    path: "phones[]",
    present: `select count(*) from lml_raw.lml_people_mesa4core,
      jsonb_array_elements(case when jsonb_typeof(doc -> 'phones') = 'array'
        then doc -> 'phones' end)`,
    mapped: "select count(*) from lml_people.phones",
  },
  {
    schema: "lml_people",
    path: "emails",
    present: `select count(*) from lml_raw.lml_people_mesa4core
      where jsonb_typeof(doc -> 'emails') <> 'null'`,
    mapped: `select count(*) from lml_raw.lml_people_mesa4core
      where jsonb_typeof(doc -> 'emails') = 'array'`,
  },
  {
    schema: "lml_users",
    path: "roles",
    present: `select count(*) from lml_raw.lml_users_mesa4core
      where jsonb_typeof(doc -> 'roles') <> 'null'`,
    mapped: `select count(*) from lml_raw.lml_users_mesa4core
      where jsonb_typeof(doc -> 'roles') = 'array'`,
  },
];

Deno.test({
  name: "transforms of the drifted sample record every drifted value and still publish",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lml_drift_" });
    try {
      await using db = await freshDatabase();
      const manifest: Manifest = await generateSample(dir, { scale: 0.01, seed: 1, drift: true });
      const drift = manifest.drift ?? [];
      assert.ok(drift.length >= 15, `only ${drift.length} injected changes`);
      const config = await loadConfig();
      const extracted = await extractCollections(db.sql, config, { source: dir });
      assert.deepEqual(extracted.map((e) => e.status), extracted.map(() => "succeeded"));
      const result = await runTransforms(db.sql, config);
      assert.equal(result.status, "succeeded", result.error?.message);
      await assertManifestFigures(db.sql, config, manifest);

      const schemaOf = new Map(config.collections.map((c) => [c.name, c.schema]));
      for (const entry of drift) {
        const schema = schemaOf.get(entry.collection)!;
        if (entry.unmapped) {
          const rows = await db.sql.unsafe(
            `select raw_value, reason from ${schema}.unmapped_values
             where document_id = $1 and path = $2`,
            [entry._id, entry.unmapped.path],
          );
          assert.equal(rows.length, entry.unmapped.rows, `${entry.kind}: ${JSON.stringify(rows)}`);
        }
        if (entry.check) {
          const check = result.checks.find((c) => c.name === entry.check);
          assert.ok(check, `no check ${entry.check}`);
          assert.equal(check.severity, "warn");
          assert.equal(check.status, "failed", `${entry.kind}: ${entry.check} passed`);
          assert.ok(
            JSON.stringify(check.samples).includes(entry._id),
            `${entry.kind}: ${entry._id} not among the samples of ${entry.check}`,
          );
        }
      }
      for (const schema of new Set(drift.map((d) => schemaOf.get(d.collection)!))) {
        const check = result.checks.find((c) => c.name === `${schema}_unmapped_values`);
        assert.equal(check?.status, "failed", `${schema}_unmapped_values did not warn`);
      }

      for (const spec of INVARIANTS) {
        const [present] = await db.sql.unsafe(`select (${spec.present})::int as n`);
        const [mapped] = await db.sql.unsafe(`select (${spec.mapped})::int as n`);
        const [recorded] = await db.sql.unsafe(
          `select count(*)::int as n from ${spec.schema}.unmapped_values where path = $1`,
          [spec.path],
        );
        assert.equal(
          present!.n,
          mapped!.n + recorded!.n,
          `${spec.schema} ${spec.path}: ${present!.n} present, ${mapped!.n} mapped, ${
            recorded!.n
          } recorded`,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "the drift check reports new paths, changed types and disappeared read paths",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lml_drift_report_" });
    try {
      await using db = await freshDatabase();
      const config = await loadConfig();
      await generateSample(`${dir}/before`, { scale: 0.01, seed: 1 });
      await extractCollections(db.sql, config, { source: `${dir}/before` });
      const first = await runTransforms(db.sql, config);
      assert.equal(first.status, "succeeded", first.error?.message);
      const quiet = first.checks.filter((c) => c.name.endsWith("_source_drift"));
      assert.equal(quiet.length, config.collections.length);
      assert.deepEqual(quiet.map((c) => c.status), quiet.map(() => "passed"));

      const manifest = await generateSample(`${dir}/after`, { scale: 0.01, seed: 1, drift: true });
      await extractCollections(db.sql, config, { source: `${dir}/after` });
      await db.sql`update lml_raw.lml_processes_mesa4core set doc = doc - 'subject'`;
      const second = await runTransforms(db.sql, config);
      assert.equal(second.status, "succeeded", second.error?.message);
      const drift = second.checks.find((c) => c.name === "lml_processes_source_drift")!;
      assert.equal(drift.severity, "warn");
      const rows = Object.fromEntries(
        drift.samples.map((r) => [r.path, [r.drift, r.types_before, r.types_now]]),
      );
      const newPath = manifest.drift!.find((d) => d.newPath)!.newPath!;
      assert.deepEqual(rows[newPath], ["new path nobody reads", null, ["string"]]);
      assert.deepEqual(rows["subject"], ["read path disappeared", ["string"], null]);
      assert.deepEqual(rows["year"], ["type changed", ["number"], ["number", "string"]]);
      assert.deepEqual(rows["movements"]?.[0], "type changed");
      assert.deepEqual(rows["attachments"]?.[0], "type changed");
      assert.equal(drift.offending, 5, JSON.stringify(drift.samples));

      // The reports show it in a Drift section.
      const { renderMarkdown } = await import("../../lib/report/markdown.ts");
      const { renderJson } = await import("../../lib/report/json.ts");
      const markdown = renderMarkdown(second);
      assert.match(markdown, /## Drift/);
      assert.match(markdown, /\| lml_processes \| subject \| read path disappeared \| string \|/);
      assert.match(markdown, /\| lml_processes \| \d+ \| `lml_processes\.unmapped_values` \|/);
      const json = renderJson(second).drift as Record<string, { path: string }[]>;
      assert.ok(json.new_paths!.some((p) => p.path === newPath));
      assert.ok(json.disappeared_paths!.some((p) => p.path === "subject"));
      assert.ok(json.changed_types!.some((p) => p.path === "year"));
      assert.equal(renderJson(first).drift, undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
