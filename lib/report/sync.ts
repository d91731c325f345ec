/**
 * The parts of the reports about incremental sync: full or incremental, the change events
 * applied per collection and operation, and, loudly, a fallback to a full refresh.
 * @module
 */
import type { SyncSummary } from "../core/mod.ts";

/** What the sync sections are made of (a subset of a run's result). */
export interface SyncFacts {
  /** Why the refresh fell back to a full one, when it did. */
  fallback?: string | undefined;
  /** Full or incremental, and the events applied. */
  sync?: SyncSummary | undefined;
}

/** The report.json keys `sync` and `fallback` (when the run has them). */
export function syncJson(facts: SyncFacts): Record<string, unknown> {
  return {
    ...(facts.sync
      ? {
        sync: {
          mode: facts.sync.mode,
          position_stored: facts.sync.positionStored,
          skipped: facts.sync.skipped,
          events: facts.sync.events,
        },
      }
      : {}),
    ...(facts.fallback ? { fallback: facts.fallback } : {}),
  };
}

/** The report.md lines: the fallback warning first, then the section "Change stream". */
export function syncMarkdown(facts: SyncFacts): string[] {
  const out: string[] = [];
  if (facts.fallback) {
    out.push(`> **Warning: fell back to a full refresh**: ${facts.fallback}`, "");
  }
  const sync = facts.sync;
  if (!sync) return out;
  out.push("## Change stream", "");
  out.push(
    sync.mode === "incremental"
      ? `Incremental refresh: the changes since the stored position were applied (${sync.skipped} events skipped).`
      : `Full refresh: every document was read. ${
        sync.positionStored
          ? "The change stream position taken before the reads was stored with the data; the next refresh can be incremental."
          : "No change stream position was stored (the source has none); the next refresh is a full one too."
      }`,
    "",
  );
  if (sync.events.length > 0) {
    out.push("| collection | operation | events |", "|---|---|---:|");
    for (const e of sync.events) out.push(`| ${e.collection} | ${e.operation} | ${e.events} |`);
    out.push("");
  }
  return out;
}
