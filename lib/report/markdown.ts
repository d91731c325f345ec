/**
 * report.md: the run for people, verdict first.
 * @module
 */
import { retriesMarkdown } from "./retries.ts";
import { driftMarkdown } from "./drift.ts";
import { syncMarkdown } from "./sync.ts";
import { type RunResult, truncate } from "../core/mod.ts";
import { markdownCode, markdownFence, markdownInline } from "./markdown_text.ts";

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) [value, unit] = [value / 1024, unit + 1];
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function cell(value: unknown, max = 80): string {
  const text = value === null || value === undefined
    ? ""
    : typeof value === "string"
    ? value
    : JSON.stringify(value);
  return markdownInline(truncate(text, max));
}

function verdict(result: RunResult): string {
  if (result.status === "succeeded") {
    const warned = result.checks.filter((c) => c.status !== "passed");
    return `**Succeeded.** ${result.checks.length} checks ran` +
      (warned.length
        ? `; ${warned.length} warnings (${warned.map((c) => markdownInline(c.name)).join(", ")}).`
        : "; all passed.");
  }
  if (result.failedChecks.length > 0) {
    const n = result.failedChecks.length;
    const rolledBack = result.command === "assert" ? "" : " (rolled back)";
    return `**Failed**${rolledBack}: ${n} error ${n === 1 ? "check" : "checks"} did not pass: ` +
      result.failedChecks.map((n) => markdownCode(n)).join(", ") + ".";
  }
  const first = result.error?.message.split("\n")[0] ?? "unknown error";
  return `**Failed**${result.command === "assert" ? "" : " (rolled back)"}: ${
    markdownInline(first)
  }`;
}

/** The report.md text: verdict first, then checks, files, tables, extraction, graph. */
export function renderMarkdown(result: RunResult): string {
  const out: string[] = [];
  const title = result.status === "succeeded" ? "succeeded" : "FAILED";
  out.push(`# lml ${result.command}: ${title}`, "", verdict(result), "");
  out.push(
    `Run \`${result.runId}\` · started ${result.startedAt} · ${
      result.seconds.toFixed(1)
    } s · peak memory ${formatBytes(result.peakRssBytes)} · schemas: ${
      result.selected.join(", ") || "none"
    }`,
    "",
  );
  out.push(...syncMarkdown(result));
  if (result.error && result.failedChecks.length === 0) {
    out.push("## Error", "", ...markdownFence(result.error.message), "");
    const hint = (result.error as { hint?: unknown }).hint;
    if (typeof hint === "string" && hint) out.push(`Hint: ${markdownInline(hint)}`, "");
  }
  out.push(...driftMarkdown(result));
  if (result.checks.length > 0) {
    out.push("## Checks", "");
    out.push("| check | schema | severity | status | offending | seconds | source |");
    out.push("|---|---|---|---|---:|---:|---|");
    const order = { failed: 0, errored: 0, passed: 1 } as const;
    const sorted = [...result.checks].sort((a, b) =>
      order[a.status] - order[b.status] ||
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1)
    );
    for (const c of sorted) {
      const mark = c.status === "passed" ? "✅" : c.severity === "error" ? "❌" : "⚠️";
      out.push(
        `| ${cell(c.name)} | ${
          cell(c.schema ?? "")
        } | ${c.severity} | ${mark} ${c.status} | ${c.offending} | ${c.seconds.toFixed(2)} | ${
          cell(c.source)
        } |`,
      );
    }
    out.push("");
    for (const c of sorted) {
      if (c.status === "passed") continue;
      out.push(
        `### ${markdownInline(c.name)} — ${c.status} (${c.severity})`,
        "",
        markdownInline(c.description),
        "",
      );
      if (c.error) {
        out.push(...markdownFence(c.error), "");
        continue;
      }
      out.push(`${c.offending} offending rows; ${c.samples.length} shown.`, "");
      const columns = [...new Set(c.samples.flatMap((s) => Object.keys(s)))].slice(0, 10);
      if (columns.length > 0) {
        out.push(`| ${columns.map((k) => cell(k)).join(" | ")} |`);
        out.push(`|${columns.map(() => "---").join("|")}|`);
        for (const s of c.samples) out.push(`| ${columns.map((k) => cell(s[k])).join(" | ")} |`);
        out.push("");
      }
    }
  }
  if (result.files.length > 0) {
    out.push("## Files", "");
    out.push("| # | file | rows | seconds | sha256 |", "|---:|---|---:|---:|---|");
    result.files.forEach((f, i) => {
      out.push(
        `| ${i + 1} | ${cell(f.path, 120)} | ${f.rows} | ${f.seconds.toFixed(2)} | \`${
          f.sha256.slice(0, 12)
        }\` |`,
      );
    });
    out.push("");
  }
  if (result.tables.length > 0) {
    out.push(
      result.status === "succeeded" || result.command === "assert"
        ? "## Tables"
        : "## Tables (as built before the rollback)",
      "",
    );
    out.push("| table | rows |", "|---|---:|");
    for (const t of result.tables) out.push(`| ${cell(`${t.schema}.${t.table}`)} | ${t.rows} |`);
    out.push("");
  }
  if (result.extract.length > 0) {
    out.push("## Extraction", "");
    out.push("| collection | status | documents | bytes | anomalies | seconds | error |");
    out.push("|---|---|---:|---:|---:|---:|---|");
    for (const e of result.extract) {
      out.push(
        `| ${cell(e.collection)} | ${e.status} | ${e.documents} | ${
          formatBytes(e.bytes)
        } | ${e.anomalies} | ${e.seconds.toFixed(1)} | ${cell(e.error ?? "")} |`,
      );
    }
    out.push("");
  }
  out.push(...retriesMarkdown(result));
  out.push("## Dependency graph", "", ...markdownFence(result.graph, "mermaid"), "");
  return out.join("\n");
}
