/**
 * BENCHMARK CHILD: runs one measured stage in a fresh process and prints one JSON line on
 * stdout with the stage's own time and this process's peak RSS (VmHWM), so memory is measured
 * per stage. Started by ./stages.ts; not a tool on its own.
 *
 * Usage: `deno run -A tests/bench/child.ts <extract|transform|refresh> <database-url> [source]`
 * @module
 */
import { loadConfig } from "../../lib/core/config.ts";
import { connect } from "../../lib/core/db.ts";
import { peakRssBytes } from "../../lib/core/metrics.ts";
import { refresh } from "../../lib/commands/refresh.ts";
import { runTransforms } from "../../lib/transform/run.ts";
import { extractCollections } from "../../extract/extract.ts";

/** The stages a child can run. */
export type ChildStage = "extract" | "transform" | "refresh";

/** What a child prints (one JSON line). */
export interface ChildOutput {
  /** The stage that ran. */
  stage: ChildStage;
  /** Seconds measured inside the process, around the stage call only. */
  seconds: number;
  /** Peak resident set size of the child in bytes. */
  peakRssBytes: number;
  /** Documents extracted (extract, refresh). */
  documents: number;
  /** BSON bytes extracted (extract, refresh). */
  bytes: number;
  /** SQL files run, in order (transform, refresh). */
  files: { path: string; schema: string | null; kind: string; seconds: number; rows: number }[];
  /** Checks run and how many failed (transform, refresh). */
  checks: { total: number; failed: string[] };
  /** Seconds of the drift scan (transform). */
  driftScanSeconds?: number;
  /** "succeeded" or "failed". */
  status: string;
  /** Why it failed. */
  error?: string;
}

async function main(stage: string, url: string, source: string | undefined): Promise<ChildOutput> {
  const config = await loadConfig();
  const sql = connect(url, { application: `lml bench ${stage}`, max: 4 });
  try {
    const started = performance.now();
    if (stage === "extract") {
      if (!source) throw new TypeError("extract needs a source");
      const results = await extractCollections(sql, config, { source });
      const seconds = (performance.now() - started) / 1000;
      const failed = results.filter((r) => r.status === "failed");
      return {
        stage,
        seconds,
        peakRssBytes: peakRssBytes(),
        documents: results.reduce((n, r) => n + r.documents, 0),
        bytes: results.reduce((n, r) => n + r.bytes, 0),
        files: [],
        checks: { total: 0, failed: [] },
        status: failed.length === 0 ? "succeeded" : "failed",
        ...(failed.length === 0 ? {} : { error: failed.map((r) => r.error).join("; ") }),
      };
    }
    if (stage === "transform" || stage === "refresh") {
      const reportsDir = stage === "refresh"
        ? await Deno.makeTempDir({ prefix: "lml_bench_" })
        : "";
      try {
        const result = stage === "transform"
          ? await runTransforms(sql, config)
          : await refresh(sql, config, { source: source ?? "", reportsDir });
        const seconds = (performance.now() - started) / 1000;
        return {
          stage,
          seconds,
          peakRssBytes: peakRssBytes(),
          documents: result.extract.reduce((n, r) => n + r.documents, 0),
          bytes: result.extract.reduce((n, r) => n + r.bytes, 0),
          files: result.files.map((f) => ({
            path: f.path,
            schema: f.schema,
            kind: f.kind,
            seconds: f.seconds,
            rows: f.rows,
          })),
          checks: { total: result.checks.length, failed: result.failedChecks },
          ...("driftScanSeconds" in result && result.driftScanSeconds !== undefined
            ? { driftScanSeconds: result.driftScanSeconds }
            : {}),
          status: result.status,
          ...(result.error ? { error: result.error.message } : {}),
        };
      } finally {
        if (reportsDir) await Deno.remove(reportsDir, { recursive: true });
      }
    }
    throw new TypeError(`unknown stage "${stage}": use extract, transform or refresh`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  const [stage = "", url = "", source] = Deno.args;
  const output = await main(stage, url, source);
  console.log(JSON.stringify(output));
}
