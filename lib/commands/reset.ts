/**
 * `reset`: drops every schema the config names (raw, normalized, meta, util), nothing else.
 * @module
 */
import type { PipelineConfig, Sql } from "../core/mod.ts";

/** The schemas the tool manages, from the config: raw, util, meta, then each collection's. */
export function managedSchemas(config: PipelineConfig): string[] {
  return [
    config.rawSchema,
    config.utilSchema,
    config.metaSchema,
    ...config.collections.map((c) => c.schema),
  ];
}

/** Drops the managed schemas that exist, in one transaction; returns the ones dropped. */
export async function resetDatabase(sql: Sql, config: PipelineConfig): Promise<string[]> {
  const schemas = managedSchemas(config);
  return await sql.begin(async (tx) => {
    const existing = await tx<{ nspname: string }[]>`
      select nspname from pg_namespace where nspname = any(${schemas}) order by nspname`;
    const names = existing.map((r) => r.nspname);
    for (const name of names) await tx`drop schema ${tx(name)} cascade`;
    return names;
  });
}
