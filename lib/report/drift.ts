/**
 * The parts of the reports about source drift: the rows of the `<schema>_source_drift` checks
 * (new paths nobody reads, read paths whose type changed, read paths that disappeared) and the
 * values the transforms could not map (`<schema>_unmapped_values`), by schema (report.md).
 * @module
 */
import type { CheckResult } from "../core/mod.ts";
import { markdownInline } from "./markdown_text.ts";

/** What the drift sections are made of (a subset of a run's result). */
export interface DriftFacts {
  /** The run's checks. */
  checks: readonly CheckResult[];
}

const DRIFT = "_source_drift";
const UNMAPPED = "_unmapped_values";

/**
 * The report.json key `drift`, only when a schema drifted: `new_paths`, `changed_types` and
 * `disappeared_paths`, each a list of {collection, schema, path, types_before, types_now,
 * documents}.
 */
export function driftJson(facts: DriftFacts): Record<string, unknown> {
  const kinds: Record<string, string> = {
    "new path nobody reads": "new_paths",
    "type changed": "changed_types",
    "read path disappeared": "disappeared_paths",
  };
  const drift: Record<string, unknown[]> = {};
  for (const c of facts.checks) {
    if (!c.name.endsWith(DRIFT) || c.status !== "failed") continue;
    for (const r of c.samples) {
      const key = kinds[String(r.drift)] ?? "other";
      (drift[key] ??= []).push({
        collection: r.collection ?? null,
        schema: c.schema,
        path: r.path,
        types_before: r.types_before ?? null,
        types_now: r.types_now ?? null,
        documents: r.documents,
      });
    }
  }
  return Object.keys(drift).length > 0 ? { drift } : {};
}

/** The "Drift" section of report.md (nothing when no schema drifted and nothing was unmapped). */
export function driftMarkdown(facts: DriftFacts): string[] {
  const drift = facts.checks.filter((c) => c.name.endsWith(DRIFT) && c.status === "failed");
  const unmapped = facts.checks.filter((c) => c.name.endsWith(UNMAPPED) && c.offending > 0);
  if (drift.length === 0 && unmapped.length === 0) return [];
  const out = ["## Drift", ""];
  out.push(
    "What changed in the source since the last successful run (top-level paths), and the values " +
      "the transforms read but could not map. See sql/README.md, “Reading the drift report”.",
    "",
  );
  if (drift.length > 0) {
    out.push("| schema | path | drift | types before | types now | documents |");
    out.push("|---|---|---|---|---|---:|");
    for (const c of drift) {
      for (const r of c.samples) {
        const types = (v: unknown) => Array.isArray(v) ? v.join(", ") : "";
        out.push(
          `| ${markdownInline(c.schema ?? "")} | ${markdownInline(String(r.path ?? ""))} | ${
            markdownInline(String(r.drift ?? ""))
          } | ${markdownInline(types(r.types_before))} | ${markdownInline(types(r.types_now))} | ${
            Number(r.documents ?? 0)
          } |`,
        );
      }
      if (c.offending > c.samples.length) {
        out.push(
          `| ${markdownInline(c.schema ?? "")} | … ${
            c.offending - c.samples.length
          } more | | | | |`,
        );
      }
    }
    out.push("");
  }
  if (unmapped.length > 0) {
    out.push("| schema | unmapped values | in |");
    out.push("|---|---:|---|");
    for (const c of unmapped) {
      out.push(
        `| ${markdownInline(c.schema ?? "")} | ${c.offending} | \`${
          markdownInline(c.schema ?? "")
        }.unmapped_values\` |`,
      );
    }
    out.push("");
  }
  return out;
}
