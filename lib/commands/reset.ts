/**
 * `reset`: drops every schema the config names (raw, normalized, meta, util) and the toolkit's
 * staging and retired schemas, nothing else: a schema it did not create is refused.
 * @module
 */
import {
  ensureMeta,
  guardSchemas,
  type PipelineConfig,
  RETIRED_PREFIX,
  type Sql,
  STAGING_SCHEMA,
} from "../core/mod.ts";

/** The schemas the tool manages, from the config: raw, util, meta, then each collection's. */
export function managedSchemas(config: PipelineConfig): string[] {
  return [
    config.rawSchema,
    config.utilSchema,
    config.metaSchema,
    ...config.collections.map((c) => c.schema),
  ];
}

/**
 * Drops the managed schemas that exist, with the staging and retired ones, in one transaction;
 * returns the ones dropped. Rejects with a ConfigError, dropping nothing, when one of them
 * exists without being the toolkit's own.
 */
export async function resetDatabase(sql: Sql, config: PipelineConfig): Promise<string[]> {
  const [ledger] = await sql<{ ok: boolean }[]>`
    select to_regclass(${`${config.metaSchema}.runs`}) is not null as ok`;
  // An earlier version's ledger gets the ownership marks, so its schemas can be adopted.
  if (ledger?.ok) await ensureMeta(sql, config.metaSchema);
  const schemas = [...managedSchemas(config), STAGING_SCHEMA];
  await guardSchemas(sql, schemas.filter((s) => s !== config.metaSchema), {
    ...config,
    file: config.file,
  });
  const owned = ledger?.ok
    ? await sql<{ schema: string }[]>`
      select schema_name as schema from ${sql(config.metaSchema)}.owned_schemas
      where role = 'retired' and schema_name like ${RETIRED_PREFIX + "%"}`
    : [];
  const all = [...schemas, ...owned.map((o) => o.schema)];
  return await sql.begin(async (tx) => {
    const existing = await tx<{ nspname: string }[]>`
      select nspname from pg_namespace where nspname = any(${all}) order by nspname`;
    const names = existing.map((r) => r.nspname);
    for (const name of names) await tx`drop schema ${tx(name)} cascade`;
    return names;
  });
}
