/**
 * The plan of a transform run: the files in run order with their checksums, which changed
 * since the last successful run (from the ledger), the checks, and the dependency graph as
 * text and Mermaid. Works without a database (changes are then unknown).
 * @module
 */
import {
  displayPath,
  listTables,
  type PipelineConfig,
  selectCollections,
  type Sql,
  truncate,
} from "../core/mod.ts";
import { discoverFiles } from "./sql_files.ts";
import { declaredPaths } from "./drift.ts";

/** Whether a file differs from the copy the last successful run executed. */
export type FileStatus = "new" | "changed" | "unchanged" | "unknown";

/** One file of the plan. */
export interface PlanFile {
  /** Path relative to the SQL folder's parent, e.g. `sql/lml_users/010_main.sql`. */
  path: string;
  /** Shared helper, collection transform, or check file. */
  kind: "shared" | "transform" | "check";
  /** Collection schema, or null for shared and cross-schema files. */
  schema: string | null;
  /** Hex SHA-256 of the file. */
  sha256: string;
  /** The file's header (check files: their description). */
  description: string;
  /** new (never run successfully), changed, unchanged, or unknown (no database). */
  status: FileStatus;
  /** Checksum recorded by the last successful run that executed it, if any. */
  previousSha256: string | null;
}

/** A check of the plan (file checks only; derived checks are generated during the run). */
export interface PlanCheck {
  /** Name. */
  name: string;
  /** Schema, or null for `sql/_checks/`. */
  schema: string | null;
  /** error or warn. */
  severity: "error" | "warn";
  /** The check file. */
  source: string;
}

/** What a transform run would do. */
export interface Plan {
  /** The config file. */
  config: string;
  /** Selected collections (schema names), in run order. */
  selected: string[];
  /** Collections left untouched by the selection (schema names). */
  untouched: string[];
  /** Files in run order: shared, then each schema's transforms, then checks. */
  files: PlanFile[];
  /** Document paths each selected schema reads (`Mongo path:` in its COMMENT ON), by schema. */
  readPaths: Record<string, string[]>;
  /** File checks that would run. */
  checks: PlanCheck[];
  /** Schemas with at least one new or changed file (transforms or checks). */
  changedSchemas: string[];
  /** Files of the last successful run that no longer exist. */
  removed: string[];
  /** The last successful transform or refresh, when the ledger was read and has one. */
  lastSuccess: { runId: string; finishedAt: string } | null;
  /** Whether the ledger was read (false without a database or before the first run). */
  ledgerRead: boolean;
  /** Dependency graph: `text` for terminals, `mermaid` for Markdown. */
  graph: { text: string; mermaid: string };
  /** Layout warnings, e.g. a folder matching no collection. */
  warnings: string[];
}

/** Options of {@linkcode buildPlan}. */
export interface PlanOptions {
  /** Collection or schema names to rebuild (plus everything downstream). Default: all. */
  select?: readonly string[];
}

/**
 * Builds the plan; with `sql`, compares checksums with the ledger (read only: nothing is
 * created, not even the meta schema). Throws ConfigError for bad check files, UsageError for
 * an unknown selection.
 */
export async function buildPlan(
  sql: Sql | undefined,
  config: PipelineConfig,
  options: PlanOptions = {},
): Promise<Plan> {
  const collections = selectCollections(config, options.select ?? []);
  const layout = await discoverFiles(config, { collections });
  const selected = collections.map((c) => c.schema);
  const files: Omit<PlanFile, "status" | "previousSha256">[] = [
    ...layout.shared.map((f) => ({ ...f, kind: "shared" as const, schema: null })),
    ...layout.schemas.flatMap((s) =>
      s.files.map((f) => ({ ...f, kind: "transform" as const, schema: s.schema }))
    ),
    ...layout.checks.map((f) => ({ ...f, kind: "check" as const, schema: f.schema ?? null })),
  ].map((f) => ({
    path: f.relativePath,
    kind: f.kind,
    schema: f.schema,
    sha256: f.sha256,
    description: f.description,
  }));
  const ledger = sql ? await readLedger(sql, config.metaSchema) : undefined;
  const planFiles: PlanFile[] = files.map((f) => {
    if (!ledger) return { ...f, status: "unknown", previousSha256: null };
    const previous = ledger.checksums.get(f.path) ?? null;
    const status: FileStatus = previous === null
      ? "new"
      : previous === f.sha256
      ? "unchanged"
      : "changed";
    return { ...f, status, previousSha256: previous };
  });
  const present = new Set(planFiles.map((f) => f.path));
  const changedSchemas = new Set<string>();
  for (const f of planFiles) {
    if (f.status !== "new" && f.status !== "changed") continue;
    // A changed shared or cross-schema file affects every selected schema.
    for (const s of f.schema ? [f.schema] : selected) changedSchemas.add(s);
  }
  return {
    config: displayPath(config.file),
    selected,
    untouched: config.collections.map((c) => c.schema).filter((s) => !selected.includes(s)),
    files: planFiles,
    readPaths: Object.fromEntries(
      layout.schemas.map((s) => [s.schema, declaredPaths(s.files).get(s.schema) ?? []]),
    ),
    checks: layout.checks.map((c) => ({
      name: c.name,
      schema: c.schema ?? null,
      severity: c.severity,
      source: c.relativePath,
    })),
    changedSchemas: selected.filter((s) => changedSchemas.has(s)),
    removed: ledger ? ledger.lastFiles.filter((p) => !present.has(p)) : [],
    lastSuccess: ledger?.last ?? null,
    ledgerRead: ledger !== undefined,
    graph: { text: graphText(config, selected), mermaid: graphMermaid(config, selected) },
    warnings: layout.warnings,
  };
}

interface Ledger {
  checksums: Map<string, string>;
  last: { runId: string; finishedAt: string } | null;
  lastFiles: string[];
}

async function readLedger(sql: Sql, metaSchema: string): Promise<Ledger | undefined> {
  const tables = new Set((await listTables(sql, [metaSchema])).map((t) => t.table));
  if (!tables.has("runs") || !tables.has("run_files")) return undefined;
  const latest = await sql<{ path: string; sha256: string }[]>`
    select distinct on (f.path) f.path, f.sha256
    from ${sql(metaSchema)}.run_files f
    join ${sql(metaSchema)}.runs r using (run_id)
    where r.status = 'succeeded' and r.command in ('transform', 'refresh')
    order by f.path, r.finished_at desc
  `;
  const [last] = await sql<{ run_id: string; finished_at: Date }[]>`
    select run_id, finished_at
    from ${sql(metaSchema)}.runs
    where status = 'succeeded' and command in ('transform', 'refresh')
    order by finished_at desc
    limit 1
  `;
  const lastFiles = last
    ? (await sql<{ path: string }[]>`
      select path from ${sql(metaSchema)}.run_files where run_id = ${last.run_id} order by ordinal
    `).map((r) => r.path)
    : [];
  return {
    checksums: new Map(latest.map((r) => [r.path, r.sha256])),
    last: last
      ? { runId: last.run_id, finishedAt: new Date(last.finished_at).toISOString() }
      : null,
    lastFiles,
  };
}

/** The dependency graph as indented text, one collection a line, `*` marking selected ones. */
export function graphText(config: PipelineConfig, selected: readonly string[] = []): string {
  const bySchema = new Map(config.collections.map((c) => [c.name, c.schema]));
  return config.collections.map((c) => {
    const mark = selected.includes(c.schema) ? "*" : " ";
    const deps = c.dependsOn.map((d) => bySchema.get(d) ?? d);
    return `${mark} ${c.schema} (${c.name})${deps.length ? ` ← ${deps.join(", ")}` : ""}`;
  }).join("\n");
}

/** The dependency graph as a Mermaid flowchart (arrows follow the data); selected nodes styled. */
export function graphMermaid(config: PipelineConfig, selected: readonly string[] = []): string {
  const bySchema = new Map(config.collections.map((c) => [c.name, c.schema]));
  const lines = ["flowchart LR"];
  for (const c of config.collections) lines.push(`  ${c.schema}["${c.schema}"]`);
  for (const c of config.collections) {
    for (const d of c.dependsOn) lines.push(`  ${bySchema.get(d) ?? d} --> ${c.schema}`);
  }
  const chosen = config.collections.filter((c) => selected.includes(c.schema));
  if (chosen.length > 0) {
    lines.push("  classDef selected fill:#fde68a,stroke:#b45309");
    lines.push(`  class ${chosen.map((c) => c.schema).join(",")} selected`);
  }
  return lines.join("\n");
}

/** The plan as text for a terminal: selection, files with status and checksum, checks, graph. */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  out.push(
    `Plan for ${plan.config}: ${
      plan.lastSuccess
        ? `compared with run ${plan.lastSuccess.runId} (${plan.lastSuccess.finishedAt})`
        : plan.ledgerRead
        ? "no successful run recorded yet"
        : "ledger not read (no database or no run yet)"
    }`,
  );
  out.push(`Rebuilds: ${plan.selected.join(", ") || "nothing"}`);
  if (plan.untouched.length) out.push(`Untouched: ${plan.untouched.join(", ")}`);
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  out.push("", "Files, in run order:");
  for (const f of plan.files) {
    out.push(
      `  ${f.sha256.slice(0, 12)}  ${f.status.padEnd(9)}  ${f.path}${
        f.description ? `  -- ${truncate(f.description, 90)}` : ""
      }`,
    );
  }
  for (const path of plan.removed) out.push(`  ${"".padEnd(12)}  ${"removed".padEnd(9)}  ${path}`);
  out.push(
    "",
    `Checks: ${plan.checks.length} from files (${
      plan.checks.filter((c) => c.severity === "error").length
    } error, ${
      plan.checks.filter((c) => c.severity === "warn").length
    } warn), plus the checks derived from the config at run time`,
  );
  out.push("", "Document paths read (Mongo path: in COMMENT ON; the drift report compares them):");
  for (const [schema, paths] of Object.entries(plan.readPaths)) {
    out.push(`  ${schema}: ${paths.join(", ") || "none declared"}`);
  }
  if (plan.ledgerRead) {
    out.push(
      plan.changedSchemas.length
        ? `Changed since the last successful run: ${plan.changedSchemas.join(", ")}`
        : "Nothing changed since the last successful run.",
    );
  }
  out.push("", "Dependency graph (* = rebuilt):", plan.graph.text);
  out.push("", "```mermaid", plan.graph.mermaid, "```");
  return out.join("\n");
}
