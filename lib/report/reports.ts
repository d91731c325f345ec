/**
 * Run reports, written after every transform, refresh or assert run, failed or not:
 * `report.md` for people, `junit.xml` for CI, `report.json` for programs; the latest run's at
 * the top of the reports folder, every run's under `runs/<run_id>/`.
 *
 * `report.json` has this shape (format "lml-report/1"; keys are stable, new keys may be added):
 * ```
 * { "format": "lml-report/1", "run_id": "...", "command": "transform" | "refresh" | "assert",
 *   "status": "succeeded" | "failed", "started_at": ISO, "finished_at": ISO, "seconds": n,
 *   "peak_rss_bytes": n, "selected": ["<schema>", ...], "failed_checks": ["<name>", ...],
 *   "error": null | { "name", "message", "file"?, "line"?, "column"?, "code"? },
 *   "files": [{ "path", "kind": "shared" | "transform" | "check", "schema", "sha256",
 *               "seconds", "rows" }],
 *   "checks": [{ "name", "schema", "severity", "status", "offending", "samples": [{...}],
 *                "description", "seconds", "source", "error"? }],
 *   "tables": [{ "schema", "table", "rows" }],
 *   "extract": [{ "collection", "documents", "bytes", "anomalies", "seconds", "status",
 *                 "error"? }],
 *   "retries": [{ "stage": "read" | "stage" | "statement" | "transaction", "what", "why",
 *                 "attempt", "waited_ms", "at" }],
 *   "source_reads"?: { "kind", "read_preference", "at_cluster_time", "not_at_one_point" },
 *   "graph": "<Mermaid flowchart>" }
 * ```
 * @module
 */
import type { ExtractResult } from "../../extract/extract.ts";
import type { CheckResult } from "../transform/checks.ts";
import type { RetryEvent } from "../core/retry.ts";
import type { SourceReads } from "../core/source_reads.ts";
import { retriesJson, retriesMarkdown } from "./retries.ts";

/** One SQL file a run executed. */
export interface FileResult {
  /** Path relative to the SQL folder's parent, e.g. `sql/lml_users/010_main.sql`. */
  path: string;
  /** Shared helper, collection transform, or check file. */
  kind: "shared" | "transform" | "check";
  /** The collection schema, or null for shared and cross-schema files. */
  schema: string | null;
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** Time taken. */
  seconds: number;
  /** Rows written (inserted + updated + deleted) by the file. */
  rows: number;
}

/** Row count of one table of a rebuilt schema. */
export interface TableCount {
  /** Schema. */
  schema: string;
  /** Table. */
  table: string;
  /** Rows. */
  rows: number;
}

/** Everything a run produced; what the reports are made of. */
export interface RunResult {
  /** The run's id (also the folder name under `runs/`). */
  runId: string;
  /** The command that ran. */
  command: "transform" | "refresh" | "assert";
  /** `planned` only for dry runs, which write no report. */
  status: "succeeded" | "failed" | "planned";
  /** ISO start time. */
  startedAt: string;
  /** ISO end time. */
  finishedAt: string;
  /** Total time. */
  seconds: number;
  /** Schemas rebuilt or checked, in run order. */
  selected: string[];
  /** Files executed, in order (up to the failing one, excluded). */
  files: FileResult[];
  /** Check results (empty when the transforms failed before the checks). */
  checks: CheckResult[];
  /** Names of the error-severity checks that failed or errored. */
  failedChecks: string[];
  /** Row counts of the rebuilt (or checked) schemas' tables; after a failed run, as they were before the rollback. */
  tables: TableCount[];
  /** Extraction metrics, when the caller gave some. */
  extract: ExtractResult[];
  /** Peak resident memory of this process. */
  peakRssBytes: number;
  /** The dependency graph (Mermaid), selected schemas highlighted. */
  graph: string;
  /** Why the run failed: SqlFileError, LockTimeoutError, RunError (failed checks), ... */
  error: Error | undefined;
  /** Where the reports went (undefined when none were written). */
  reports: ReportPaths | undefined;
  /** Every transient fault the run retried. Default: none. */
  retries?: RetryEvent[];
  /** How the source was read (refresh runs). */
  sourceReads?: SourceReads;
}

/** Files written by {@linkcode writeReports}. */
export interface ReportPaths {
  /** `<dir>/report.md`. */
  markdown: string;
  /** `<dir>/junit.xml`. */
  junit: string;
  /** `<dir>/report.json`. */
  json: string;
  /** `<dir>/runs/<run_id>/`, holding copies of the three. */
  runDir: string;
}

/** Options of {@linkcode writeReports}. */
export interface ReportOptions {
  /** Reports folder. Default: "reports". */
  dir?: string;
}

/** Writes report.md, junit.xml and report.json into `dir` and `dir/runs/<run_id>/`. */
export async function writeReports(
  result: RunResult,
  options: ReportOptions = {},
): Promise<ReportPaths> {
  const dir = (options.dir ?? "reports").replace(/\/+$/, "") || ".";
  if (!/^[A-Za-z0-9_.-]+$/.test(result.runId) || result.runId.startsWith(".")) {
    throw new TypeError(`Invalid run id "${result.runId}" for a reports folder`);
  }
  const runDir = `${dir}/runs/${result.runId}`;
  await Deno.mkdir(runDir, { recursive: true });
  const contents: [string, string][] = [
    ["report.md", renderMarkdown(result)],
    ["junit.xml", renderJunit(result)],
    ["report.json", JSON.stringify(renderJson(result), null, 2) + "\n"],
  ];
  for (const [name, text] of contents) {
    await Deno.writeTextFile(`${runDir}/${name}`, text);
    const temporary = `${dir}/.${name}.${result.runId}.tmp`;
    await Deno.writeTextFile(temporary, text);
    await Deno.rename(temporary, `${dir}/${name}`);
  }
  return {
    markdown: `${dir}/report.md`,
    junit: `${dir}/junit.xml`,
    json: `${dir}/report.json`,
    runDir,
  };
}

/** The report.json object (format "lml-report/1"). */
export function renderJson(result: RunResult): Record<string, unknown> {
  return {
    format: "lml-report/1",
    run_id: result.runId,
    command: result.command,
    status: result.status,
    started_at: result.startedAt,
    finished_at: result.finishedAt,
    seconds: round(result.seconds),
    peak_rss_bytes: result.peakRssBytes,
    selected: result.selected,
    failed_checks: result.failedChecks,
    error: result.error ? errorJson(result.error) : null,
    files: result.files.map((f) => ({ ...f, seconds: round(f.seconds) })),
    checks: result.checks.map((c) => ({ ...c, seconds: round(c.seconds) })),
    tables: result.tables,
    extract: result.extract.map((e) => ({ ...e, seconds: round(e.seconds) })),
    ...retriesJson(result),
    graph: result.graph,
  };
}

function errorJson(error: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  for (const key of ["file", "line", "column", "code"]) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (typeof value === "string" || typeof value === "number") out[key] = value;
  }
  return out;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

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
  const short = text.length > max ? text.slice(0, max - 1) + "…" : text;
  return short.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function verdict(result: RunResult): string {
  if (result.status === "succeeded") {
    const warned = result.checks.filter((c) => c.status !== "passed");
    return `**Succeeded.** ${result.checks.length} checks ran` +
      (warned.length
        ? `; ${warned.length} warnings (${warned.map((c) => c.name).join(", ")}).`
        : "; all passed.");
  }
  if (result.failedChecks.length > 0) {
    const n = result.failedChecks.length;
    const rolledBack = result.command === "assert" ? "" : " (rolled back)";
    return `**Failed**${rolledBack}: ${n} error ${n === 1 ? "check" : "checks"} did not pass: ` +
      result.failedChecks.map((n) => `\`${n}\``).join(", ") + ".";
  }
  const first = result.error?.message.split("\n")[0] ?? "unknown error";
  return `**Failed**${result.command === "assert" ? "" : " (rolled back)"}: ${first}`;
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
  if (result.error && result.failedChecks.length === 0) {
    out.push("## Error", "", "```text", result.error.message, "```", "");
  }
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
      out.push(`### ${c.name} — ${c.status} (${c.severity})`, "", c.description, "");
      if (c.error) {
        out.push("```text", c.error, "```", "");
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
    for (const t of result.tables) out.push(`| ${t.schema}.${t.table} | ${t.rows} |`);
    out.push("");
  }
  if (result.extract.length > 0) {
    out.push("## Extraction", "");
    out.push("| collection | status | documents | bytes | anomalies | seconds | error |");
    out.push("|---|---|---:|---:|---:|---:|---|");
    for (const e of result.extract) {
      out.push(
        `| ${e.collection} | ${e.status} | ${e.documents} | ${
          formatBytes(e.bytes)
        } | ${e.anomalies} | ${e.seconds.toFixed(1)} | ${cell(e.error ?? "")} |`,
      );
    }
    out.push("");
  }
  out.push(...retriesMarkdown(result));
  out.push("## Dependency graph", "", "```mermaid", result.graph, "```", "");
  return out.join("\n");
}

/** Escapes text for XML attributes and content, replacing characters XML 1.0 cannot hold. */
export function xmlEscape(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

interface TestCase {
  name: string;
  classname: string;
  seconds: number;
  failure?: { message: string; type: string; text: string };
  error?: { message: string; type: string; text: string };
  out?: string;
}

function sampleText(c: CheckResult): string {
  const lines = [`${c.offending} offending rows (${c.severity}): ${c.description}`];
  for (const s of c.samples) lines.push(JSON.stringify(s));
  if (c.offending > c.samples.length) lines.push(`… ${c.offending - c.samples.length} more`);
  return lines.join("\n");
}

/**
 * The junit.xml text: a testsuite "transforms" (one testcase per file run, plus one errored
 * testcase when the run failed on an error that is not a check), then one testsuite per schema
 * with one testcase per check. Failed error checks are failures, errored checks errors; warn
 * checks with offending rows pass and list their samples in system-out.
 */
export function renderJunit(result: RunResult): string {
  const suites = new Map<string, TestCase[]>();
  const add = (suite: string, test: TestCase) => {
    const list = suites.get(suite) ?? [];
    suites.set(suite, list);
    list.push(test);
  };
  if (result.command !== "assert" || result.error && result.failedChecks.length === 0) {
    suites.set("transforms", []);
  }
  for (const f of result.files.filter((f) => f.kind !== "check")) {
    add("transforms", { name: f.path, classname: "transforms", seconds: f.seconds });
  }
  if (result.error && result.failedChecks.length === 0) {
    const where = (result.error as { file?: unknown }).file;
    add("transforms", {
      name: typeof where === "string" ? where : "run",
      classname: "transforms",
      seconds: 0,
      error: {
        message: result.error.message.split("\n")[0]!,
        type: result.error.name,
        text: result.error.message,
      },
    });
  }
  for (const c of result.checks) {
    const suite = c.schema ?? "cross_schema";
    const test: TestCase = { name: c.name, classname: `checks.${suite}`, seconds: c.seconds };
    if (c.status === "errored") {
      test.error = {
        message: c.error?.split("\n")[0] ?? "errored",
        type: "errored",
        text: c.error ?? "",
      };
    } else if (c.status === "failed" && c.severity === "error") {
      test.failure = {
        message: `${c.offending} offending rows: ${c.description}`,
        type: "check_failed",
        text: sampleText(c),
      };
    } else if (c.status === "failed") {
      test.out = sampleText(c);
    }
    add(suite, test);
  }
  const totals = { tests: 0, failures: 0, errors: 0, seconds: 0 };
  const body: string[] = [];
  for (const [name, tests] of suites) {
    const failures = tests.filter((t) => t.failure).length;
    const errors = tests.filter((t) => t.error).length;
    const seconds = tests.reduce((sum, t) => sum + t.seconds, 0);
    totals.tests += tests.length;
    totals.failures += failures;
    totals.errors += errors;
    totals.seconds += seconds;
    body.push(
      `  <testsuite name="${
        xmlEscape(name)
      }" tests="${tests.length}" failures="${failures}" errors="${errors}" skipped="0" time="${
        seconds.toFixed(3)
      }" timestamp="${xmlEscape(result.startedAt.slice(0, 19))}">`,
    );
    for (const t of tests) {
      const open = `    <testcase name="${xmlEscape(t.name)}" classname="${
        xmlEscape(t.classname)
      }" time="${t.seconds.toFixed(3)}"`;
      const inner: string[] = [];
      for (const kind of ["failure", "error"] as const) {
        const f = t[kind];
        if (f) {
          inner.push(
            `      <${kind} message="${xmlEscape(f.message)}" type="${xmlEscape(f.type)}">${
              xmlEscape(f.text)
            }</${kind}>`,
          );
        }
      }
      if (t.out) inner.push(`      <system-out>${xmlEscape(t.out)}</system-out>`);
      body.push(inner.length ? `${open}>\n${inner.join("\n")}\n    </testcase>` : `${open}/>`);
    }
    body.push("  </testsuite>");
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="lml ${result.command} ${
      xmlEscape(result.runId)
    }" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" time="${
      result.seconds.toFixed(3)
    }">`,
    ...body,
    `</testsuites>`,
    "",
  ].join("\n");
}
