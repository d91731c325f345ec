/**
 * Test support for the SQL transforms: raw tables (per the raw table contract) loaded from
 * relaxed Extended JSON documents, then the whole pipeline run through the engine.
 * @module
 */
import { loadConfig, type PipelineConfig } from "../../lib/core/config.ts";
import { listTables } from "../../lib/core/catalog.ts";
import { quoteIdent, type Sql } from "../../lib/core/db.ts";
import { rawTableStatements } from "../../extract/load.ts";
import { runTransforms, type TransformResult } from "../../lib/transform/run.ts";

/** Relaxed Extended JSON documents per collection name. */
export type RawDocuments = Record<string, Record<string, unknown>[]>;

/** The raw table `_id` of a document: hex of an ObjectId, a string as is, else its JSON. */
export function rawId(id: unknown): string {
  if (typeof id === "string") return id;
  if (id && typeof id === "object" && "$oid" in id) return String(id.$oid).toLowerCase();
  return JSON.stringify(id);
}

/**
 * Creates the raw schema with one table per config collection (missing ones empty) and inserts
 * `documents` into them.
 */
export async function loadRaw(
  sql: Sql,
  documents: RawDocuments,
  options: { config?: PipelineConfig } = {},
): Promise<void> {
  const config = options.config ?? await loadConfig();
  await createRawTables(sql, config.rawSchema, config.collections.map((c) => c.name));
  for (const c of config.collections) {
    for (const doc of documents[c.name] ?? []) {
      await sql`
        insert into ${sql(config.rawSchema)}.${sql(c.name)} (_id, doc, extracted_at)
        values (${rawId(doc._id)}, ${JSON.stringify(doc)}::text::jsonb, now())
      `;
    }
  }
}

/**
 * Creates the raw tables of `collections` where missing, in the loader's own layout (the DDL
 * extraction uses) with their primary key, for tests that write raw rows directly.
 */
export async function createRawTables(
  sql: Sql,
  rawSchema: string,
  collections: readonly string[],
): Promise<void> {
  await sql`create schema if not exists ${sql(rawSchema)}`;
  const existing = new Set((await listTables(sql, [rawSchema])).map((t) => t.table));
  for (const collection of collections.filter((c) => !existing.has(c))) {
    const table = `${quoteIdent(rawSchema)}.${quoteIdent(collection)}`;
    const [create, compress] = rawTableStatements(table);
    await sql.unsafe(create!);
    await sql.unsafe(compress!).catch(() => {}); // engines without lz4 keep the default
    await sql`alter table ${sql(rawSchema)}.${sql(collection)} add primary key (_id)`;
  }
}

/** Runs every transform and check (no reports); throws the run's error when it failed. */
export async function transformAll(
  sql: Sql,
  options: { config?: PipelineConfig } = {},
): Promise<TransformResult> {
  const config = options.config ?? await loadConfig();
  const result = await runTransforms(sql, config);
  if (result.status !== "succeeded") {
    throw result.error ?? new Error(`transform ${result.status}`);
  }
  return result;
}
