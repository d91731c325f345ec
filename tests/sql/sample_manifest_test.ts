/**
 * The transforms reproduce the sample generator's manifest exactly: documents, ghosts,
 * unresolvable snapshots, garbage timestamps, dangling references, catalogs and child rows.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/core/config.ts";
import { runTransforms } from "../../lib/transform/run.ts";
import { generateSample, type Manifest } from "../../lib/sample/mod.ts";
import { extractCollections } from "../../extract/extract.ts";
import { freshDatabase } from "../support/db.ts";
import { assertManifestFigures } from "../support/manifest_figures.ts";

Deno.test({
  name: "transforms of the 0.01 sample match its manifest exactly",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "lml_sample_" });
    try {
      await using db = await freshDatabase();
      const manifest: Manifest = await generateSample(dir, { scale: 0.01, seed: 1 });
      const config = await loadConfig();
      const extracted = await extractCollections(db.sql, config, { source: dir });
      assert.deepEqual(extracted.map((e) => e.status), extracted.map(() => "succeeded"));
      const result = await runTransforms(db.sql, config);
      assert.equal(result.status, "succeeded", result.error?.message);

      await assertManifestFigures(db.sql, config, manifest);

      // Every user reference column has its FK to lml_users.main (so none can be violated).
      const missing = await db.sql`
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns as c
        where c.table_schema like 'lml\\_%' and c.table_schema not in ('lml_raw', 'lml_meta', 'lml_util')
          and (c.column_name like '%user_id' or c.column_name like '%area_id'
            or c.column_name like '%person_id' or c.column_name = 'form_id'
            or c.column_name = 'process_type_id' or c.column_name = 'role_id')
          and not exists (
            select from pg_constraint as k
            join pg_attribute as a on a.attrelid = k.conrelid and a.attnum = any (k.conkey)
            where k.conrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
              and k.contype in ('f', 'p') and a.attname = c.column_name
          )`;
      assert.deepEqual([...missing], []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
