/**
 * BENCHMARK STAGE "sync": an incremental refresh against a full one. Inserts the sample at
 * `scale` into a replica set (MONGO_BENCH_URL, else the in-process test server posing as
 * one), runs a full refresh (which stores the change stream position), changes `fraction` of
 * the documents of every collection (updates), then runs an incremental refresh; reports the
 * documents each read from the source and their times. Both run in this process (the
 * in-process server shares its CPU, which slows the full refresh more than the incremental).
 * @module
 */
import { MongoClient } from "mongodb";
import { refresh } from "../../lib/commands/refresh.ts";
import type { PipelineConfig } from "../../lib/core/config.ts";
import { connect } from "../../lib/core/db.ts";
import { createLogger } from "../../lib/core/log.ts";
import { insertSample } from "../../lib/sample/mod.ts";
import { withDatabase } from "../support/mongo.ts";
import { startMongoTestServer } from "../support/mongo_server.ts";

/** One refresh measured. */
export interface SyncRun {
  /** Seconds of the refresh call. */
  seconds: number;
  /** Documents read from the source. */
  documentsRead: number;
  /** Change events applied (incremental). */
  events: number;
}

/** What the sync stage reports. */
export interface SyncBench {
  /** Sample scale. */
  scale: number;
  /** "MONGO_BENCH_URL" or "in-process test server". */
  source: string;
  /** Documents in the source. */
  documents: number;
  /** Documents changed between the two refreshes. */
  changed: number;
  /** The full refresh. */
  full: SyncRun;
  /** The incremental one. */
  incremental: SyncRun;
  /** full.seconds / incremental.seconds. */
  speedup: number;
}

/** Measures a full and an incremental refresh at `scale` with `fraction` of documents changed. */
export async function measureSync(
  url: string,
  config: PipelineConfig,
  options: { scale: number; seed: number; fraction: number; log: (message: string) => void },
): Promise<SyncBench> {
  const real = Deno.env.get("MONGO_BENCH_URL") || undefined;
  await using server = real ? undefined : await startMongoTestServer({ replicaSet: "rs0" });
  const source = withDatabase(real ?? `${server!.url}/?replicaSet=rs0`, "lml_bench_sync");
  options.log(`sync: inserting the sample at scale ${options.scale}`);
  const manifest = await insertSample(source, {
    scale: options.scale,
    seed: options.seed,
    database: "lml_bench_sync",
  });
  const documents = Object.values(manifest.collections).reduce((n, c) => n + c.documents, 0);
  const sql = connect(url, { application: "lml bench sync", max: 4 });
  const client = new MongoClient(source);
  const reportsDir = await Deno.makeTempDir({ prefix: "lml_bench_sync_" });
  try {
    const measure = async (mode: "full" | "incremental"): Promise<SyncRun> => {
      const started = performance.now();
      const result = await refresh(sql, config, {
        source,
        reportsDir,
        mode,
        logger: createLogger({ write: (line) => options.log(`sync: ${line.trimEnd()}`) }),
      });
      const seconds = (performance.now() - started) / 1000;
      if (result.status !== "succeeded") {
        throw new Error(`${mode} refresh failed: ${result.error?.message}`);
      }
      return {
        seconds,
        documentsRead: result.extract.reduce((n, e) => n + e.documents, 0),
        events: (result.sync?.events ?? []).reduce((n, e) => n + e.events, 0),
      };
    };
    const full = await measure("full");
    options.log(`sync: full refresh ${full.seconds.toFixed(2)} s, ${full.documentsRead} read`);
    await client.connect();
    let changed = 0;
    for (const { name } of config.collections) {
      const collection = client.db("lml_bench_sync").collection(name);
      const ids = (await collection.find({}, { projection: { _id: 1 } }).toArray()).map((d) =>
        d._id
      );
      const step = Math.max(1, Math.round(1 / options.fraction));
      const picked = ids.filter((_, k) => k % step === 0);
      if (picked.length === 0) continue;
      await collection.bulkWrite(picked.map((_id) => ({
        updateOne: { filter: { _id }, update: { $set: { lml_bench_note: `changed ${_id}` } } },
      })));
      changed += picked.length;
    }
    options.log(`sync: changed ${changed} of ${documents} documents`);
    const incremental = await measure("incremental");
    options.log(
      `sync: incremental refresh ${incremental.seconds.toFixed(2)} s, ` +
        `${incremental.documentsRead} read`,
    );
    return {
      scale: options.scale,
      source: real ? "MONGO_BENCH_URL" : "in-process test server",
      documents,
      changed,
      full,
      incremental,
      speedup: full.seconds / incremental.seconds,
    };
  } finally {
    await client.db("lml_bench_sync").dropDatabase().catch(() => {});
    await client.close();
    await sql.end({ timeout: 5 });
    await Deno.remove(reportsDir, { recursive: true });
  }
}

/** The table lines of the sync stage. */
export function renderSync(bench: SyncBench): string {
  const row = (name: string, run: SyncRun) =>
    `| ${name} | ${run.documentsRead} | ${run.events} | ${run.seconds.toFixed(2)} |`;
  return [
    `Incremental sync at scale ${bench.scale} (${bench.source}): ${bench.changed} of ` +
    `${bench.documents} documents changed; incremental ${bench.speedup.toFixed(1)}x faster`,
    "",
    "| refresh | documents read | events | seconds |",
    "|---|---:|---:|---:|",
    row("full", bench.full),
    row("incremental", bench.incremental),
  ].join("\n");
}
