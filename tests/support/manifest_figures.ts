/**
 * Asserts that the transformed schemas reproduce every figure of a sample's manifest: documents
 * per collection, soft deletions, string ids, unresolvable snapshots, garbage timestamps, ghost
 * users, dangling references, related rows, collapsed members and the catalogs.
 * @module
 */
import assert from "node:assert/strict";
import type { PipelineConfig } from "../../lib/core/config.ts";
import type { Sql } from "../../lib/core/db.ts";
import type { Manifest } from "../../lib/sample/mod.ts";

const PATH_COUNTS = (table: string) =>
  `select count(*)::int as n, path from ${table} group by path`;

/** Asserts every figure of `manifest` against the data in `sql` (after a successful run). */
export async function assertManifestFigures(
  sql: Sql,
  config: PipelineConfig,
  manifest: Manifest,
): Promise<void> {
  const schemaOf = new Map(config.collections.map((c) => [c.name, c]));
  const collections: Record<string, unknown> = {};
  const withoutId: Record<string, number> = {};
  const garbage: Record<string, number> = {};
  for (const [name, c] of schemaOf) {
    const [row] = await sql.unsafe(
      `select count(*)::int as documents,
         count(*) filter (where is_deleted)::int as soft_deleted,
         count(*) filter (where ${c.primaryKey} !~ '^[0-9a-f]{24}$')::int as string_ids
       from ${c.schema}.main ${c.schema === "lml_users" ? "where not is_ghost" : ""}`,
    );
    collections[name] = { ...row };
    // Snapshots without _id: unresolvable, or resolved by username (main's snapshots only).
    const resolved = await sql.unsafe(`select to_regclass('${c.schema}.resolved_snapshots') as t`);
    const snapshots = resolved[0]!.t
      ? `(select path from ${c.schema}.unresolvable_snapshots
          union all select path from ${c.schema}.resolved_snapshots) as s`
      : `${c.schema}.unresolvable_snapshots`;
    for (const r of await sql.unsafe(PATH_COUNTS(snapshots))) {
      withoutId[`${name}:${r.path}`] = r.n;
    }
    const timestamps = `(select * from ${c.schema}.unmapped_values
      where reason = 'unparseable timestamp' or reason like 'timestamp expected%') as u`;
    for (const r of await sql.unsafe(PATH_COUNTS(timestamps))) {
      garbage[`${name}:${r.path}`] = r.n;
    }
  }
  assert.deepEqual(collections, manifest.collections);
  assert.deepEqual(withoutId, manifest.snapshots_without_id);
  assert.deepEqual(garbage, manifest.garbage_timestamps);

  const [ghosts] = await sql`
    select count(*)::int as n from lml_users.main where is_ghost and is_deleted`;
  assert.equal(ghosts!.n, manifest.ghost_users);

  const [dangling] = await sql`
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
    const [r] = await sql.unsafe(`select count(*)::int as n from ${schema}.${name}`);
    rows[table] = r!.n;
  }
  assert.deepEqual(rows, manifest.rows);

  // Member entries with an _id in the raw documents, minus the rows kept.
  const [members] = await sql`
    select (
      select count(*)::int
      from lml_raw.lml_usersgroups_mesa4core as g,
        jsonb_array_elements(
          case when jsonb_typeof(g.doc -> 'members') = 'array' then g.doc -> 'members' end
        ) as m
      where m ? '_id' and jsonb_typeof(m -> '_id') <> 'null'
    ) - (select count(*)::int from lml_usersgroups.members) as dropped`;
  assert.equal(members!.dropped, manifest.duplicate_members);

  const roles = Object.fromEntries(
    (await sql`select role_id, name from lml_users.roles`).map((r) => [r.role_id, r.name]),
  );
  const areas = Object.fromEntries(
    (await sql`select area_id, name from lml_users.areas`).map((r) => [r.area_id, r.name]),
  );
  assert.deepEqual(roles, manifest.catalog.roles);
  assert.deepEqual(areas, manifest.catalog.areas);
}
