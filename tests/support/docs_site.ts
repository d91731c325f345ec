/**
 * A catalog site built the way an operator gets one: the demo on a fresh database (a generated
 * sample extracted, transformed, checked and reported), a second transform for history, then
 * `buildDocs`. Disposing it drops the database and the reports folder.
 * @module
 */
import { runDemo } from "../../lib/commands/demo.ts";
import { loadConfig, type PipelineConfig } from "../../lib/core/config.ts";
import { buildDocs, type DocsResult } from "../../lib/docs/mod.ts";
import { runTransforms } from "../../lib/transform/run.ts";
import { writeReports } from "../../lib/report/write.ts";
import { freshDatabase, type TestDatabase } from "./db.ts";

/** A built site and what it was built from. */
export interface DocsSite extends AsyncDisposable {
  /** The database (demo data, two runs in the ledger). */
  db: TestDatabase;
  /** The pipeline config. */
  config: PipelineConfig;
  /** The reports folder (the site is `<it>/docs`). */
  reports: string;
  /** What buildDocs wrote. */
  docs: DocsResult;
}

/** Runs the demo at `scale` on a fresh database, one more transform, then builds the site. */
export async function demoDocsSite(options: { scale?: number } = {}): Promise<DocsSite> {
  const db = await freshDatabase();
  const reports = await Deno.makeTempDir({ prefix: "lml_docs_" });
  try {
    const config = await loadConfig();
    await runDemo({
      scale: options.scale ?? 0.01,
      seed: 3,
      databaseUrl: db.url,
      reportsDir: reports,
      print: () => {},
    });
    const second = await runTransforms(db.sql, config, {});
    await writeReports(second, { dir: reports });
    const docs = await buildDocs(db.sql, config, { reportsDir: reports });
    return {
      db,
      config,
      reports,
      docs,
      async [Symbol.asyncDispose]() {
        await Deno.remove(reports, { recursive: true }).catch(() => {});
        await db[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await Deno.remove(reports, { recursive: true }).catch(() => {});
    await db[Symbol.asyncDispose]();
    throw error;
  }
}
