/**
 * Test support for the SQL transforms: raw tables (per the raw table contract) loaded from
 * relaxed Extended JSON documents, then the whole pipeline run through the engine.
 * @module
 */
import { loadConfig, type PipelineConfig } from "../../lib/core/config.ts";
import { quoteIdent, type Sql } from "../../lib/core/db.ts";
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
  const raw = quoteIdent(config.rawSchema);
  await sql.unsafe(`create schema if not exists ${raw}`);
  for (const c of config.collections) {
    const table = `${raw}.${quoteIdent(c.name)}`;
    await sql.unsafe(`create table if not exists ${table} (
      _id text primary key, doc jsonb not null, original bytea,
      extracted_at timestamptz not null default now())`);
    for (const doc of documents[c.name] ?? []) {
      await sql.unsafe(`insert into ${table} (_id, doc) values ($1, $2::text::jsonb)`, [
        rawId(doc._id),
        JSON.stringify(doc),
      ]);
    }
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
