/**
 * The volume guard: before a refresh swaps anything in, every collection's document count is
 * compared with the last successful run's (the ledger's extract_log); a collection that shrank
 * by more than the allowed share, or came back empty after having documents, stops the run.
 * @module
 */
import type { Sql } from "./db.ts";
import { RunError } from "./errors.ts";
import type { ExtractResult } from "./result.ts";

/** A collection whose document count fell beyond the allowed share. */
export interface Shrinkage {
  /** Collection name. */
  collection: string;
  /** Documents at the last successful run. */
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
      `  ${s.collection}: ${s.before} documents at the last successful run, ${s.after} now` +
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
  /** The meta schema holding the ledger. Default: "lml_meta". */
  metaSchema?: string;
  /** Largest share (0 to 1) a count may fall by. Default: 0.5. */
  maxShrink?: number;
}

/**
 * The shrinkage of the extracted collections against the last successful run that loaded each
 * one, or undefined when none shrank beyond `maxShrink` (or none was loaded before). A
 * collection that had documents and now has none always counts.
 */
export async function checkVolumes(
  sql: Sql,
  extract: readonly ExtractResult[],
  options: VolumeGuardOptions = {},
): Promise<VolumeGuardError | undefined> {
  const maxShrink = options.maxShrink ?? 0.5;
  const names = extract.map((e) => e.collection);
  if (names.length === 0) return undefined;
  const meta = sql(options.metaSchema ?? "lml_meta");
  const previous = await sql<{ collection: string; documents: string }[]>`
    select distinct on (e.collection) e.collection, e.documents
    from ${meta}.extract_log as e
    join ${meta}.runs as r on r.run_id = e.run_id
    where e.status = 'succeeded' and r.status = 'succeeded' and e.collection = any(${names})
    order by e.collection, e.finished_at desc
  `;
  const before = new Map(previous.map((p) => [p.collection, Number(p.documents)]));
  const shrunk: Shrinkage[] = [];
  for (const e of extract) {
    const was = before.get(e.collection);
    if (was === undefined || was === 0) continue;
    if (e.documents === 0 || (was - e.documents) / was > maxShrink) {
      shrunk.push({ collection: e.collection, before: was, after: e.documents });
    }
  }
  return shrunk.length > 0 ? new VolumeGuardError(shrunk, maxShrink) : undefined;
}
