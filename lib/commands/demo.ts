/**
 * `deno task demo`: generates a small mesa4core dump, extracts it, transforms and asserts it,
 * writes the reports and says how to look at the result. Runs on the embedded PostgreSQL unless
 * a server URL is given.
 * @module
 */
import { extractCollections } from "../../extract/mod.ts";
import {
  connect,
  DEFAULTS,
  type ExtractResult,
  loadConfig,
  type Logger,
  redactUrl,
  RunError,
  silentLogger,
} from "../core/mod.ts";
import type { ReportPaths } from "../report/mod.ts";
import { extractionFailure, reportRun } from "./conclude.ts";
import { DEFAULT_DATA_DIR, resolveDatabase, SERVE_PORT } from "../embedded/mod.ts";
import { runTransforms, type TransformResult } from "../transform/mod.ts";
import { generateSample, type Manifest } from "../sample/mod.ts";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** Sample volume relative to production. Default: 0.05. */
  scale?: number;
  /** Sample seed. Default: 1. */
  seed?: number;
  /** A PostgreSQL server to use instead of the embedded one. Default: the embedded one. */
  databaseUrl?: string | undefined;
  /** The embedded data directory. Default: ".lml/pgdata". */
  dataDir?: string;
  /** Reports folder. Default: "reports". */
  reportsDir?: string;
  /** Pipeline config file. Default: "sql/pipeline.yaml". */
  configPath?: string;
  /** Progress lines. Default: silent. */
  logger?: Logger;
  /** Where the closing instructions go. Default: stdout. */
  print?: (line: string) => void;
}

/** What {@linkcode runDemo} did. */
export interface DemoResult {
  /** The sample's manifest (documents per collection, anomalies planted). */
  manifest: Manifest;
  /** Per-collection extraction results. */
  extract: ExtractResult[];
  /** The transform run (status, checks). */
  transform: TransformResult;
  /** Where its reports went. */
  reports: ReportPaths;
  /** True when it ran on the embedded PostgreSQL. */
  isEmbedded: boolean;
  /** Total seconds. */
  seconds: number;
}

/**
 * Runs the whole pipeline on a generated sample. Throws a RunError when a collection fails to
 * extract or the transform run fails (its reports are written either way).
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const logger = options.logger ?? silentLogger;
  const print = options.print ?? ((line: string) => console.log(line));
  const scale = options.scale ?? DEFAULTS.demoScale;
  const started = performance.now();
  const config = await loadConfig(options.configPath);
  const dumpDir = await Deno.makeTempDir({ prefix: "lml_demo_" });
  try {
    logger.info(`generating the mesa4core sample`, { scale, seed: options.seed ?? 1 });
    const manifest = await generateSample(dumpDir, {
      scale,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
    await using database = await resolveDatabase({
      databaseUrl: options.databaseUrl,
      dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
      logger,
    });
    const sql = connect(database.url, {
      application: "lml demo",
      max: database.isEmbedded ? 1 : 4,
    });
    let extract: ExtractResult[];
    let transform: TransformResult;
    try {
      extract = await extractCollections(sql, config, { source: dumpDir, logger });
      const failure = extractionFailure(extract, "the demo stops");
      if (failure) throw failure;
      transform = await runTransforms(sql, config, { logger, extract });
    } finally {
      await sql.end({ timeout: 5 });
    }
    const reports = await reportRun(transform, {
      dir: options.reportsDir,
      logger,
      private: config.reports?.private,
    });
    if (transform.status !== "succeeded") {
      throw new RunError(`demo: the transform run failed: ${transform.error?.message}`, {
        cause: transform.error,
        hint: `see ${reports.markdown}`,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const documents = extract.reduce((n, r) => n + r.documents, 0);
    print(
      `Demo done in ${seconds.toFixed(1)} s: ${documents} documents in ${extract.length} ` +
        `collections, ${transform.checks.length} checks.`,
    );
    print(`Reports: ${reports.markdown} (also junit.xml, report.json)`);
    if (database.embedded) {
      const serveUrl = `postgres://postgres@127.0.0.1:${SERVE_PORT}/postgres`;
      print("Look at the data: deno task serve, then in another terminal:");
      print(`  psql ${serveUrl}`);
    } else {
      print(`Look at the data: psql ${redactUrl(database.url)}`);
    }
    return { manifest, extract, transform, reports, isEmbedded: database.isEmbedded, seconds };
  } finally {
    await Deno.remove(dumpDir, { recursive: true });
  }
}
