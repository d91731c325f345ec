/**
 * The parts of the reports about transient faults: every retry of the run (what, why, attempt,
 * waited) and how the source was read (read preference, one point in time or not).
 * @module
 */
import { describeSourceReads, type RetryEvent, type SourceReads } from "../core/mod.ts";

/** What the retry sections are made of (a subset of a run's result). */
export interface RetryFacts {
  /** Every retry of the run, in order. */
  retries?: readonly RetryEvent[] | undefined;
  /** How the source was read (refresh runs). */
  sourceReads?: SourceReads | undefined;
}

/** The report.json keys `retries` (always) and `source_reads` (when known). */
export function retriesJson(facts: RetryFacts): Record<string, unknown> {
  const reads = facts.sourceReads;
  return {
    retries: (facts.retries ?? []).map((r) => ({
      stage: r.stage,
      what: r.what,
      why: r.why,
      attempt: r.attempt,
      waited_ms: r.waitedMs,
      at: r.at,
    })),
    ...(reads
      ? {
        source_reads: {
          kind: reads.kind,
          read_preference: reads.readPreference ?? null,
          at_cluster_time: reads.atClusterTime ?? null,
          not_at_one_point: reads.notAtOnePoint ?? null,
        },
      }
      : {}),
  };
}

function cell(text: string): string {
  const short = text.length > 160 ? text.slice(0, 159) + "…" : text;
  return short.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** The report.md sections "Source reads" (when known) and "Retries" (when there were any). */
export function retriesMarkdown(facts: RetryFacts): string[] {
  const out: string[] = [];
  if (facts.sourceReads) {
    out.push("## Source reads", "", describeSourceReads(facts.sourceReads), "");
  }
  const retries = facts.retries ?? [];
  if (retries.length > 0) {
    const waited = retries.reduce((sum, r) => sum + r.waitedMs, 0);
    out.push(
      "## Retries",
      "",
      `${retries.length} transient ${retries.length === 1 ? "fault was" : "faults were"} ` +
        `retried (${(waited / 1000).toFixed(1)} s of pauses).`,
      "",
      "| # | stage | what | why | attempt | waited ms |",
      "|---:|---|---|---|---:|---:|",
    );
    retries.forEach((r, i) => {
      out.push(
        `| ${i + 1} | ${r.stage} | ${cell(r.what)} | ${
          cell(r.why)
        } | ${r.attempt} | ${r.waitedMs} |`,
      );
    });
    out.push("");
  }
  return out;
}
