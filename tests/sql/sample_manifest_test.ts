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

const PATH_COUNTS = (table: string) =>
  `select count(*)::int as n, path from ${table} group by path`;

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

      const schemaOf = new Map(config.collections.map((c) => [c.name, c]));
      const collections: Record<string, unknown> = {};
      const withoutId: Record<string, number> = {};
      const garbage: Record<string, number> = {};
      for (const [name, c] of schemaOf) {
        const [row] = await db.sql.unsafe(
          `select count(*)::int as documents,
             count(*) filter (where is_deleted)::int as soft_deleted,
             count(*) filter (where ${c.primaryKey} !~ '^[0-9a-f]{24}$')::int as string_ids
           from ${c.schema}.main ${c.schema === "lml_users" ? "where not is_ghost" : ""}`,
        );
        collections[name] = { ...row };
        for (const r of await db.sql.unsafe(PATH_COUNTS(`${c.schema}.unresolvable_snapshots`))) {
          withoutId[`${name}:${r.path}`] = r.n;
        }
        for (const r of await db.sql.unsafe(PATH_COUNTS(`${c.schema}.garbage_timestamps`))) {
          garbage[`${name}:${r.path}`] = r.n;
        }
      }
      assert.deepEqual(collections, manifest.collections);
      assert.deepEqual(withoutId, manifest.snapshots_without_id);
      assert.deepEqual(garbage, manifest.garbage_timestamps);

      const [ghosts] = await db.sql`
        select count(*)::int as n from lml_users.main where is_ghost and is_deleted`;
      assert.equal(ghosts!.n, manifest.ghost_users);

      const [dangling] = await db.sql`
        select
          (select count(*)::int from lml_processes.main where applicant_ref is not null
             and applicant_person_id is null) as applicant,
          (select count(*)::int from lml_processes.main where process_type_ref is not null
             and process_type_id is null) as process_type,
          (select count(*)::int from lml_processtypes.main where form_ref is not null
             and form_id is null) as form,
          (select count(*)::int from lml_people.main where legal_representative_ref is not null
             and legal_representative_person_id is null) as legal_representative`;
      assert.deepEqual(
        {
          "lml_processes_mesa4core:applicant": dangling!.applicant,
          "lml_processes_mesa4core:processType": dangling!.process_type,
          "lml_processtypes_mesa4core:form": dangling!.form,
          "lml_people_mesa4core:legalRepresentative": dangling!.legal_representative,
        },
        manifest.dangling,
      );

      const rows: Record<string, number> = {};
      for (const table of Object.keys(manifest.rows)) {
        const [schema, name] = table.split(".");
        const [r] = await db.sql.unsafe(`select count(*)::int as n from ${schema}.${name}`);
        rows[table] = r!.n;
      }
      assert.deepEqual(rows, manifest.rows);

      // Member entries with an _id in the raw documents, minus the rows kept.
      const [members] = await db.sql`
        select (
          select count(*)::int
          from lml_raw.lml_usersgroups_mesa4core as g,
            jsonb_array_elements(g.doc -> 'members') as m
          where m ? '_id' and jsonb_typeof(m -> '_id') <> 'null'
        ) - (select count(*)::int from lml_usersgroups.members) as dropped`;
      assert.equal(members!.dropped, manifest.duplicate_members);

      const roles = Object.fromEntries(
        (await db.sql`select role_id, name from lml_users.roles`).map((r) => [r.role_id, r.name]),
      );
      const areas = Object.fromEntries(
        (await db.sql`select area_id, name from lml_users.areas`).map((r) => [r.area_id, r.name]),
      );
      assert.deepEqual(roles, manifest.catalog.roles);
      assert.deepEqual(areas, manifest.catalog.areas);

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
