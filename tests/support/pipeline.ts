/**
 * Test support for the SQL transforms: raw tables loaded from relaxed Extended JSON documents,
 * and the SQL of sql/ applied the way the engine runs it (shared files, then each collection's
 * schema and files in config order, then the checks), in one transaction.
 * @module
 */
import { loadConfig, type PipelineConfig } from "../../lib/config.ts";
import { quoteIdent, type Sql } from "../../lib/db.ts";

/** Relaxed Extended JSON documents per collection name. */
export type RawDocuments = Record<string, Record<string, unknown>[]>;

/** One check's outcome. */
export interface CheckOutcome {
  /** The check name from its header. */
  name: string;
  /** error or warn. */
  severity: string;
  /** The file, relative to the SQL folder. */
  file: string;
  /** The offending rows (none = passed). */
  rows: Record<string, unknown>[];
}

/** The raw table `_id` of a document: hex of an ObjectId, a string as is, else its JSON. */
export function rawId(id: unknown): string {
  if (typeof id === "string") return id;
  if (id && typeof id === "object" && "$oid" in id) return String(id.$oid).toLowerCase();
  return JSON.stringify(id);
}

/** Creates the raw schema and one table per config collection, and inserts `documents`. */
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
    const docs = documents[c.name] ?? [];
    for (const doc of docs) {
      await sql.unsafe(`insert into ${table} (_id, doc) values ($1, $2::text::jsonb)`, [
        rawId(doc._id),
        JSON.stringify(doc),
      ]);
    }
  }
}

/** Options of {@linkcode applyTransforms}. */
export interface ApplyOptions {
  /** The config. Default: sql/pipeline.yaml. */
  config?: PipelineConfig;
  /** Value of lml.run_started_at. Default: now. */
  runStartedAt?: Date;
  /** Called with each file and its duration in milliseconds. Default: none. */
  onFile?: (file: string, ms: number) => void;
}

async function sqlFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".sql")) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort().map((name) => `${dir}/${name}`);
}

function header(text: string, key: string): string {
  return text.match(new RegExp(`^--\\s*${key}:\\s*(.+)$`, "m"))?.[1]?.trim() ?? "";
}

/** Runs sql/_shared, every collection's folder and every check in one transaction. */
export async function applyTransforms(
  sql: Sql,
  options: ApplyOptions = {},
): Promise<CheckOutcome[]> {
  const config = options.config ?? await loadConfig();
  const dir = config.sqlDir;
  const started = (options.runStartedAt ?? new Date()).toISOString();
  const relative = (file: string) => file.slice(dir.length + 1);
  return await sql.begin(async (tx) => {
    await tx`select set_config('lml.run_started_at', ${started}, true)`;
    const run = async (file: string) => {
      const t0 = performance.now();
      try {
        await tx.unsafe(await Deno.readTextFile(file));
      } catch (cause) {
        throw new Error(`${relative(file)}: ${(cause as Error).message}`, { cause });
      }
      options.onFile?.(relative(file), performance.now() - t0);
    };
    for (const file of await sqlFiles(`${dir}/_shared`)) await run(file);
    for (const c of config.collections) {
      const schema = quoteIdent(c.schema);
      await tx.unsafe(`drop schema if exists ${schema} cascade; create schema ${schema};`);
      for (const file of await sqlFiles(`${dir}/${c.schema}`)) await run(file);
    }
    const checks = [
      ...(await Promise.all(
        config.collections.map((c) => sqlFiles(`${dir}/${c.schema}/checks`)),
      )).flat(),
      ...await sqlFiles(`${dir}/_checks`),
    ];
    const outcomes: CheckOutcome[] = [];
    for (const file of checks) {
      const text = await Deno.readTextFile(file);
      let rows: Record<string, unknown>[];
      try {
        rows = [...await tx.unsafe(text)];
      } catch (cause) {
        throw new Error(`${relative(file)}: ${(cause as Error).message}`, { cause });
      }
      outcomes.push({
        name: header(text, "check"),
        severity: header(text, "severity"),
        file: relative(file),
        rows,
      });
    }
    return outcomes;
  });
}
