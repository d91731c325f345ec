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
 *   "error": null | { "name", "message", "file"?, "line"?, "column"?, "code"?, "hint"? },
 *   "files": [{ "path", "kind": "shared" | "transform" | "check", "schema", "sha256",
 *               "seconds", "rows" }],
 *   "checks": [{ "name", "schema", "severity", "status", "offending", "samples": [{...}],
 *                "description", "seconds", "source", "error"? }],
 *   "tables": [{ "schema", "table", "rows" }],
 *   "extract": [{ "collection", "documents", "bytes", "anomalies", "seconds", "status",
 *                 "error"? }],
 *   "graph": "<Mermaid flowchart>" }
 * ```
 * @module
 */
import { checkRunId, DEFAULTS, redactText, type RunResult } from "../core/mod.ts";
import { renderJson } from "./json.ts";
import { renderJunit } from "./junit.ts";
import { renderMarkdown } from "./markdown.ts";
import { redactResult } from "./redact_result.ts";

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
  /** Readable by the owner only: files 0600, folders 0700 (samples may hold personal data).
   * Default: true. */
  private?: boolean | undefined;
}

/** Writes report.md, junit.xml and report.json into `dir` and `dir/runs/<run_id>/`. */
export async function writeReports(
  result: RunResult,
  options: ReportOptions = {},
): Promise<ReportPaths> {
  const dir = (options.dir ?? DEFAULTS.reportsDir).replace(/\/+$/, "") || ".";
  checkRunId(result.runId);
  const runDir = `${dir}/runs/${result.runId}`;
  const owner = options.private ?? true;
  const created = await Deno.stat(dir).then(() => false, () => true);
  await Deno.mkdir(runDir, { recursive: true, ...(owner ? { mode: 0o700 } : {}) });
  if (owner) {
    // The reports folder itself only when made here: it may be a shared one, e.g. ".".
    for (const folder of [...(created ? [dir] : []), `${dir}/runs`, runDir]) {
      await Deno.chmod(folder, 0o700);
    }
  }
  const write = async (path: string, text: string) => {
    await Deno.writeTextFile(path, text, owner ? { mode: 0o600 } : {});
    if (owner) await Deno.chmod(path, 0o600);
  };
  const shown = redactResult(result);
  const contents: [string, string][] = [
    ["report.md", renderMarkdown(shown)],
    ["junit.xml", redactText(renderJunit(shown))],
    ["report.json", redactText(JSON.stringify(renderJson(shown), null, 2)) + "\n"],
  ];
  for (const [name, text] of contents) {
    await write(`${runDir}/${name}`, text);
    const temporary = `${dir}/.${name}.${result.runId}.tmp`;
    await write(temporary, text);
    await Deno.rename(temporary, `${dir}/${name}`);
  }
  return {
    markdown: `${dir}/report.md`,
    junit: `${dir}/junit.xml`,
    json: `${dir}/report.json`,
    runDir,
  };
}
