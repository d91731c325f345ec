/**
 * The volume guard: before a refresh swaps anything in, every collection's document count is
 * compared with the published raw table's (what the last successful run left); a collection that shrank
 * by more than the allowed share, or came back empty after having documents, stops the run.
 * @module
 */
import type postgres from "postgres";
import { quoteIdent, type Sql } from "./db.ts";
import { RunError } from "./errors.ts";
import type { ExtractResult } from "./result.ts";

/** A collection whose document count fell beyond the allowed share. */
export interface Shrinkage {
  /** Collection name. */
  collection: string;
  /** Documents published (the last successful run's). */
  before: number;
  /** Documents now. */
  after: number;
}

/** Raised when collections shrank beyond `volume_guard.max_shrink` (exit code 1). */
export class VolumeGuardError extends RunError {
  /** The collections that shrank. */
  shrunk: Shrinkage[];
  constructor(shrunk: Shrinkage[], maxShrink: number) {
    const lines = shrunk.map((s) =>
      `  ${s.collection}: ${s.before} documents published, ${s.after} now` +
      (s.after === 0 ? " (empty)" : ` (-${Math.round((100 * (s.before - s.after)) / s.before)}%)`)
    );
    super(
      `volume guard: ${shrunk.length} ${
        shrunk.length === 1 ? "collection" : "collections"
      } shrank by more than ${Math.round(maxShrink * 100)}%; nothing was changed:\n` +
        lines.join("\n"),
      {
        hint: "check the source; if the drop is real, run again with --allow-shrink " +
          "(or raise volume_guard.max_shrink in pipeline.yaml)",
      },
    );
    this.name = "VolumeGuardError";
    this.shrunk = shrunk;
  }
}

/** Options of {@linkcode checkVolumes}. */
export interface VolumeGuardOptions {
  /** The raw schema holding the published collections. Default: "lml_raw". */
  rawSchema?: string;
  /** Largest share (0 to 1) a count may fall by. Default: 0.5. */
  maxShrink?: number;
}

/**
 * The shrinkage of the extracted collections against the published raw tables (what the last
 * successful run left; an incremental run checks its own changes with {@linkcode rawCounts} and
 * {@linkcode compareVolumes}), or undefined when none shrank beyond `maxShrink` (or none was
 * published before). A collection that had documents and now has none always counts.
 */
export async function checkVolumes(
  sql: Sql,
  extract: readonly ExtractResult[],
  options: VolumeGuardOptions = {},
): Promise<VolumeGuardError | undefined> {
  const before = await rawCounts(sql, extract.map((e) => e.collection), options);
  return compareVolumes(before, extract, options);
}

/** Rows of the published raw tables of `collections` (those that exist). */
export async function rawCounts(
  sql: Sql | postgres.TransactionSql,
  collections: readonly string[],
  options: { rawSchema?: string } = {},
): Promise<Map<string, number>> {
  const raw = options.rawSchema ?? "lml_raw";
  const counts = new Map<string, number>();
  for (const collection of collections) {
    const [table] = await sql<{ ok: boolean }[]>`
      select to_regclass(${`${quoteIdent(raw)}.${quoteIdent(collection)}`}) is not null as ok`;
    if (!table?.ok) continue;
    const [row] = await sql<{ n: number }[]>`
      select count(*)::float8 as n from ${sql(raw)}.${sql(collection)}`;
    counts.set(collection, row!.n);
  }
  return counts;
}

/** The collections of `after` whose count fell beyond `maxShrink` from `before`, as an error. */
export function compareVolumes(
  before: ReadonlyMap<string, number>,
  after: readonly { collection: string; documents: number }[],
  options: { maxShrink?: number } = {},
): VolumeGuardError | undefined {
  const maxShrink = options.maxShrink ?? 0.5;
  const shrunk: Shrinkage[] = [];
  for (const e of after) {
    const was = before.get(e.collection);
    if (was === undefined || was === 0) continue;
    if (e.documents === 0 || (was - e.documents) / was > maxShrink) {
      shrunk.push({ collection: e.collection, before: was, after: e.documents });
    }
  }
  return shrunk.length > 0 ? new VolumeGuardError(shrunk, maxShrink) : undefined;
}
