/**
 * `reports/metrics.prom`: the last run of each command in the Prometheus text exposition format,
 * for node_exporter's textfile collector. Rewritten after every run, atomically (a temp file in
 * the same folder, then a rename), keeping the other commands' samples of the previous file.
 * Every sample carries a `command` label (transform, assert, refresh).
 * @module
 */
import type { RunResult } from "../core/mod.ts";

/** Options of {@linkcode renderMetrics} and {@linkcode writeMetrics}. */
export interface MetricsOptions {
  /** When the whole run started (a refresh's extraction comes before the result's startedAt). Default: the result's startedAt. */
  runStartedAt?: Date | undefined;
  /** End of the last successful run of this command (this one, when it succeeded). Default: none. */
  lastSuccessAt?: Date | undefined;
  /** Schema → collection name, for the per-collection transform durations. Default: none. */
  collections?: ReadonlyMap<string, string>;
  /** The previous file's text, whose samples of other commands are kept. Default: none. */
  previous?: string;
}

interface Family {
  help: string;
  samples: string[];
}

/** Every metric family written, with its help text; all are gauges. */
export const METRIC_FAMILIES: Readonly<Record<string, string>> = {
  lml_last_run_info: "The last run: its id and status (always 1).",
  lml_last_run_success: "1 when the last run succeeded, 0 when it failed.",
  lml_last_run_start_timestamp_seconds: "Start of the last run, Unix time.",
  lml_last_run_end_timestamp_seconds: "End of the last run, Unix time.",
  lml_last_run_duration_seconds: "Wall time of the last run.",
  lml_last_success_end_timestamp_seconds: "End of the last successful run, Unix time.",
  lml_stage_duration_seconds: "Time of each stage of the last run (extract, transform, checks).",
  lml_collection_duration_seconds: "Time of each collection in the last run, by stage.",
  lml_documents_extracted: "Documents extracted per collection by the last run.",
  lml_extracted_bytes: "BSON bytes extracted per collection by the last run.",
  lml_table_rows: "Rows per table after the last run (before the rollback of a failed one).",
  lml_checks: "Checks of the last run by result: passed, warned (warn severity), failed.",
  lml_peak_memory_bytes: "Peak resident memory of the last run's process.",
};

/** The metrics.prom text for `result`, merged with the other commands' samples of `previous`. */
export function renderMetrics(result: RunResult, options: MetricsOptions = {}): string {
  const families = new Map<string, Family>(
    Object.entries(METRIC_FAMILIES).map(([name, help]) => [name, { help, samples: [] }]),
  );
  const add = (name: string, labels: Record<string, string>, value: number) => {
    families.get(name)!.samples.push(
      `${name}${formatLabels({ command: result.command, ...labels })} ${formatValue(value)}`,
    );
  };
  const started = options.runStartedAt ?? new Date(result.startedAt);
  const finished = new Date(result.finishedAt);
  add("lml_last_run_info", { run_id: result.runId, status: result.status }, 1);
  add("lml_last_run_success", {}, result.status === "succeeded" ? 1 : 0);
  add("lml_last_run_start_timestamp_seconds", {}, started.getTime() / 1000);
  add("lml_last_run_end_timestamp_seconds", {}, finished.getTime() / 1000);
  add("lml_last_run_duration_seconds", {}, (finished.getTime() - started.getTime()) / 1000);
  if (options.lastSuccessAt) {
    add("lml_last_success_end_timestamp_seconds", {}, options.lastSuccessAt.getTime() / 1000);
  }
  for (const [stage, seconds] of Object.entries(stageSeconds(result, started))) {
    add("lml_stage_duration_seconds", { stage }, seconds);
  }
  for (const e of result.extract) {
    add(
      "lml_collection_duration_seconds",
      { collection: e.collection, stage: "extract" },
      e.seconds,
    );
  }
  const bySchema = new Map<string, number>();
  for (const f of result.files) {
    if (f.kind === "transform" && f.schema) {
      bySchema.set(f.schema, (bySchema.get(f.schema) ?? 0) + f.seconds);
    }
  }
  for (const [schema, seconds] of bySchema) {
    const collection = options.collections?.get(schema) ?? schema;
    add("lml_collection_duration_seconds", { collection, stage: "transform" }, seconds);
  }
  for (const e of result.extract) {
    add("lml_documents_extracted", { collection: e.collection }, e.documents);
    add("lml_extracted_bytes", { collection: e.collection }, e.bytes);
  }
  for (const t of result.tables) {
    add("lml_table_rows", { schema: t.schema, table: t.table }, t.rows);
  }
  const counts = { passed: 0, warned: 0, failed: 0 };
  for (const c of result.checks) {
    counts[c.status === "passed" ? "passed" : c.severity === "warn" ? "warned" : "failed"]++;
  }
  for (const [name, n] of Object.entries(counts)) add("lml_checks", { result: name }, n);
  add("lml_peak_memory_bytes", {}, result.peakRssBytes);

  for (const line of (options.previous ?? "").split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^\n]*?command="((?:[^"\\]|\\.)*)"/.exec(line);
    if (match && match[2] !== result.command) families.get(match[1]!)?.samples.push(line);
  }
  const out: string[] = [];
  for (const [name, family] of families) {
    if (family.samples.length === 0) continue;
    out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} gauge`, ...family.samples.sort());
  }
  return out.join("\n") + "\n";
}

/**
 * Writes `<dir>/metrics.prom` (temp file, then rename, so the collector never reads half a
 * file); returns its path.
 */
export async function writeMetrics(
  result: RunResult,
  options: MetricsOptions & { dir?: string } = {},
): Promise<string> {
  const dir = (options.dir ?? "reports").replace(/\/+$/, "") || ".";
  const path = `${dir}/metrics.prom`;
  let previous = "";
  try {
    previous = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dir, { recursive: true });
  const temporary = `${dir}/.metrics.prom.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, renderMetrics(result, { ...options, previous }));
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  return path;
}

/** Seconds per stage: extract (a refresh's time before its transaction), transform, checks. */
function stageSeconds(result: RunResult, started: Date): Record<string, number> {
  const stages: Record<string, number> = {};
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  if (result.command === "refresh") {
    // The transaction starts (at the result's startedAt) only after every collection was staged.
    const transformed = result.extract.length > 0 &&
      result.extract.every((e) => e.status === "succeeded");
    const until = transformed ? new Date(result.startedAt) : new Date(result.finishedAt);
    stages.extract = Math.max(0, (until.getTime() - started.getTime()) / 1000);
  }
  if (result.command !== "assert") {
    stages.transform = sum(result.files.filter((f) => f.kind !== "check").map((f) => f.seconds));
  }
  stages.checks = sum(result.checks.map((c) => c.seconds));
  return stages;
}

/** `{a="x",b="y"}` with the text format's escapes (backslash, double quote, newline). */
function formatLabels(labels: Record<string, string>): string {
  const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
  return `{${Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(Math.round(value * 1e6) / 1e6);
}
