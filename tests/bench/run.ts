/**
 * BENCHMARK: `deno task bench [--scales 1,4] [--runs 3] [--stages extract,floor,transform,
 * refresh,driver,sync] [--database lml_bench] [--seed 1] [--driver-scale 0.1] [--sync-scale 1]
 * [--sync-fraction 0.01] [--quick]`.
 *
 * Generates (and caches under tests/bench/cache/) mesa4core dumps, then measures at each scale,
 * each stage in a fresh process and several times: extract+load, the psql `\copy` floor of the
 * same rows, transform + assert, the refresh end to end; and extraction through the MongoDB
 * driver (MONGO_BENCH_URL, else the in-process test server); and an incremental refresh
 * against a full one with 1% of the documents changed (./sync.ts). Prints a table and writes
 * reports/bench.json. The database `--database` is created on the server at BENCH_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres) and dropped at the end.
 * @module
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../lib/core/config.ts";
import { connect, quoteIdent, redactUrl, type Sql } from "../../lib/core/db.ts";
import { insertSample } from "../../lib/sample/mod.ts";
import { openTestMongo, withDatabase } from "../support/mongo.ts";
import {
  type BenchReport,
  type ProcessStage,
  renderTable,
  type ScaleResult,
  scalingStatement,
  summarize,
  targetVerdicts,
  type TransformStage,
} from "./report.ts";
import {
  CACHE_DIR,
  type ChildRun,
  ensureDump,
  ensureFloorFiles,
  freeBytes,
  resetFloor,
  runChild,
  runFloor,
} from "./stages.ts";
import { measureSync, renderSync, type SyncBench } from "./sync.ts";

const STAGES = ["extract", "floor", "transform", "refresh", "driver", "sync"] as const;
const FLOOR_SCHEMA = "bench_floor";
const REPORT = new URL("../../reports/bench.json", import.meta.url).pathname;

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function parseOptions(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      scales: { type: "string", default: "1,4" },
      runs: { type: "string", default: "3" },
      database: { type: "string", default: "lml_bench" },
      stages: { type: "string", default: STAGES.join(",") },
      seed: { type: "string", default: "1" },
      "driver-scale": { type: "string", default: "0.1" },
      "sync-scale": { type: "string", default: "1" },
      "sync-fraction": { type: "string", default: "0.01" },
      quick: { type: "boolean", default: false },
    },
  });
  const stages = values.stages.split(",").map((s) => s.trim()).filter(Boolean);
  for (const stage of stages) {
    if (!(STAGES as readonly string[]).includes(stage)) {
      throw new TypeError(`unknown stage "${stage}": use ${STAGES.join(", ")}`);
    }
  }
  const numbers = (text: string, flag: string) =>
    text.split(",").map((s) => {
      const n = Number(s);
      if (!Number.isFinite(n) || n <= 0) throw new TypeError(`--${flag}: "${s}" is not > 0`);
      return n;
    });
  quoteIdent(values.database);
  return {
    scales: values.quick ? [0.05] : numbers(values.scales, "scales"),
    runs: values.quick ? 1 : Math.round(numbers(values.runs, "runs")[0]!),
    database: values.database,
    stages,
    seed: Math.round(Number(values.seed)),
    driverScale: values.quick ? 0.02 : numbers(values["driver-scale"], "driver-scale")[0]!,
    syncScale: values.quick ? 0.02 : numbers(values["sync-scale"], "sync-scale")[0]!,
    syncFraction: numbers(values["sync-fraction"], "sync-fraction")[0]!,
    quick: values.quick,
  };
}

function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function recreateDatabase(admin: Sql, database: string): Promise<void> {
  await admin.unsafe(`drop database if exists ${quoteIdent(database)} with (force)`);
  await admin.unsafe(`create database ${quoteIdent(database)}`);
}

function processStage(runs: ChildRun[]): ProcessStage {
  const first = runs[0]!;
  return {
    seconds: summarize(runs.map((r) => r.seconds)),
    wallSeconds: summarize(runs.map((r) => r.wallSeconds)),
    peakRssBytes: summarize(runs.map((r) => r.peakRssBytes)),
    docsPerSecond: summarize(runs.map((r) => r.documents / r.seconds)),
    mbPerSecond: summarize(runs.map((r) => r.bytes / 1e6 / r.seconds)),
    documents: first.documents,
    bytes: first.bytes,
  };
}

/** Median seconds per schema over runs (`_shared` helpers, `_checks` cross-schema checks). */
function perSchema(runs: ChildRun[]): Record<string, number> {
  const sums = runs.map((run) => {
    const sum: Record<string, number> = {};
    for (const f of run.files) {
      const key = f.schema ?? (f.kind === "shared" ? "_shared" : "_checks");
      sum[key] = (sum[key] ?? 0) + f.seconds;
    }
    return sum;
  });
  const keys = [...new Set(sums.flatMap((s) => Object.keys(s)))];
  return Object.fromEntries(keys.map((k) => [k, summarize(sums.map((s) => s[k] ?? 0)).median]));
}

function transformStage(runs: ChildRun[]): TransformStage {
  const paths = [...new Set(runs.flatMap((r) => r.files.map((f) => f.path)))];
  const files = paths.map((path) => {
    const hits = runs.flatMap((r) => r.files.filter((f) => f.path === path));
    return {
      path,
      seconds: summarize(hits.map((f) => f.seconds)).median,
      rows: hits[0]?.rows ?? 0,
    };
  });
  const seconds = summarize(runs.map((r) => r.seconds));
  const scanSeconds = summarize(runs.map((r) => r.driftScanSeconds ?? 0)).median;
  const accountingSeconds = files.find((f) => f.path.endsWith("/040_unmapped.sql"))?.seconds ?? 0;
  return {
    seconds,
    perSchema: perSchema(runs),
    slowestFiles: [...files].sort((a, b) => b.seconds - a.seconds).slice(0, 5),
    checks: runs[0]!.checks.total,
    drift: {
      scanSeconds,
      accountingSeconds,
      share: (scanSeconds + accountingSeconds) / seconds.median,
    },
    peakRssBytes: summarize(runs.map((r) => r.peakRssBytes)),
  };
}

async function measureScale(
  scale: number,
  options: ReturnType<typeof parseOptions>,
  ctx: { admin: Sql; url: string; collections: string[] },
): Promise<ScaleResult> {
  const need = Math.max(2, scale * 2) * 1e9;
  const free = await freeBytes(CACHE_DIR);
  if (scale > 1 && free < need) {
    const message = `only ${(free / 1e9).toFixed(1)} GB free; scale ${scale} needs about ${
      (need / 1e9).toFixed(0)
    } GB (dump, COPY files and tables)`;
    log(`skipping scale ${scale}: ${message}`);
    return {
      scale,
      dump: { dir: "", documents: 0, bytes: 0, cached: false, generateSeconds: 0 },
      skipped: message,
    };
  }
  log(`scale ${scale}: preparing the dump`);
  const dump = await ensureDump(scale, options.seed);
  log(
    dump.cached
      ? `scale ${scale}: using the cached dump ${dump.dir}`
      : `scale ${scale}: generated ${dump.dir} in ${dump.generateSeconds.toFixed(1)} s`,
  );
  const result: ScaleResult = { scale, dump };
  await recreateDatabase(ctx.admin, options.database);
  const has = (stage: string) => options.stages.includes(stage);
  const checkpoint = async () => {
    await ctx.admin.unsafe("checkpoint").catch(() => {});
  };

  const floorFiles = has("floor") ? await ensureFloorFiles(dump, ctx.collections) : undefined;
  if (floorFiles) {
    log(
      `scale ${scale}: COPY files for the floor ${
        floorFiles.cached ? "from the cache" : "rendered"
      }`,
    );
  }
  const extracts: ChildRun[] = [];
  const floors: number[] = [];
  for (let run = 1; run <= options.runs; run++) {
    if (has("extract")) {
      await checkpoint();
      const r = await runChild("extract", ctx.url, { source: dump.dir });
      log(
        `scale ${scale} extract run ${run}: ${r.seconds.toFixed(2)} s, ${
          (r.peakRssBytes / 1e6).toFixed(0)
        } MB`,
      );
      extracts.push(r);
    }
    if (floorFiles) {
      await resetFloor(ctx.url, FLOOR_SCHEMA);
      await checkpoint();
      const seconds = await runFloor(ctx.url, floorFiles, {
        schema: FLOOR_SCHEMA,
        collections: ctx.collections,
      });
      log(`scale ${scale} floor run ${run}: ${seconds.toFixed(2)} s`);
      floors.push(seconds);
    }
  }
  if (floorFiles) await resetFloor(ctx.url, FLOOR_SCHEMA);
  if (extracts.length) result.extract = processStage(extracts);
  if (floorFiles && floors.length) {
    result.floor = {
      seconds: summarize(floors),
      docsPerSecond: summarize(floors.map((s) => dump.documents / s)),
      copyTextBytes: floorFiles.bytes,
      cached: floorFiles.cached,
    };
    if (result.extract) {
      result.floorRatio = result.floor.seconds.median / result.extract.seconds.median;
    }
  }

  if (has("transform")) {
    if (!extracts.length) {
      log(`scale ${scale}: loading the raw tables for the transform (not measured)`);
      await runChild("extract", ctx.url, { source: dump.dir });
    }
    const runs: ChildRun[] = [];
    for (let run = 1; run <= options.runs; run++) {
      await checkpoint();
      const r = await runChild("transform", ctx.url);
      log(`scale ${scale} transform run ${run}: ${r.seconds.toFixed(2)} s`);
      runs.push(r);
    }
    result.transform = transformStage(runs);
  }

  if (has("refresh")) {
    const runs: ChildRun[] = [];
    const longest: number[] = [];
    let answered = 0;
    let failed = 0;
    for (let run = 1; run <= options.runs; run++) {
      await checkpoint();
      // Something published for the reader from the first run on (not measured).
      if (run === 1) await runChild("refresh", ctx.url, { source: dump.dir });
      const reader = startReader(ctx.url, READER_QUERIES);
      const r = await runChild("refresh", ctx.url, { source: dump.dir });
      const waits = await reader.stop();
      longest.push(waits.longestMs);
      answered += waits.answered;
      failed += waits.failed;
      log(
        `scale ${scale} refresh run ${run}: ${r.seconds.toFixed(2)} s, ${
          (r.peakRssBytes / 1e6).toFixed(0)
        } MB; reader: longest wait ${
          waits.longestMs.toFixed(0)
        } ms (${waits.slowest}) over ${waits.answered} ` +
          `queries${waits.failed ? `, ${waits.failed} failed (${waits.error})` : ""}; lock ` +
          `waits seen: ${waits.lockWaits.join(", ") || "none"}; other waits: ${
            waits.otherWaits.join(", ") || "none"
          }`,
      );
      runs.push(r);
    }
    result.refresh = {
      ...processStage(runs),
      perSchema: perSchema(runs),
      reader: { queries: READER_QUERIES, answered, failed, longestMs: summarize(longest) },
    };
  }
  return result;
}

/**
 * What the reader beside the refresh asks, a normalized and a raw table in turn: cheap queries
 * (a count of the processes scans 100s of MB at scale 1.0, seconds on a busy machine) that take
 * the same lock on the table as any query, so the time is the wait and little else.
 */
const READER_QUERIES = [
  "select exists (select from lml_processes.main)",
  "select exists (select from lml_raw.lml_processes_mesa4core)",
];

/**
 * A reader on a session of its own running `queries` in turn every 100 ms until stopped;
 * resolves with the longest time one of them took (its wait for a lock included).
 */
function startReader(url: string, queries: readonly string[]) {
  const sql = connect(url, { application: "lml bench reader", max: 1 });
  const watcher = connect(url, { application: "lml bench watcher", max: 1 });
  let stopped = false;
  // Whether a slow answer waited for a lock (else it waited for the CPU or the disk).
  const lockWaits = new Set<string>();
  // Other waits of the reader seen (I/O, buffers...), with how many polls saw each.
  const otherWaits = new Map<string, number>();
  const watch = (async () => {
    while (!stopped) {
      const rows = await watcher<{ event: string }[]>`
        select wait_event_type || ':' || wait_event as event from pg_stat_activity
        where application_name = 'lml bench reader' and state = 'active'
          and wait_event_type is not null`.catch(() => []);
      for (const r of rows) {
        if (r.event.startsWith("Lock:")) lockWaits.add(r.event);
        else otherWaits.set(r.event, (otherWaits.get(r.event) ?? 0) + 1);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let longestMs = 0;
  let answered = 0;
  let failed = 0;
  let error: string | undefined;
  let slowest = "";
  const begun = performance.now();
  const loop = (async () => {
    for (let k = 0; !stopped; k++) {
      const started = performance.now();
      try {
        await sql.unsafe(queries[k % queries.length]!);
        answered++;
      } catch (caught) {
        failed++;
        error ??= (caught as Error).message;
      }
      const took = performance.now() - started;
      if (took > longestMs) {
        longestMs = took;
        slowest = `${queries[k % queries.length]} at ${((started - begun) / 1000).toFixed(1)} s`;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await watch;
      await sql.end({ timeout: 5 });
      await watcher.end({ timeout: 5 });
      const others = [...otherWaits].sort((a, b) => b[1] - a[1]).slice(0, 4);
      return {
        longestMs,
        answered,
        failed,
        error,
        slowest,
        lockWaits: [...lockWaits],
        otherWaits: others.map(([event, n]) => `${event} ×${n}`),
      };
    },
  };
}

async function measureDriver(
  options: ReturnType<typeof parseOptions>,
  url: string,
): Promise<BenchReport["driver"]> {
  const real = Deno.env.get("MONGO_BENCH_URL") || undefined;
  await using mongo = real ? undefined : await openTestMongo({ database: "lml_bench_source" });
  const source = real ? withDatabase(real, "lml_bench_source") : mongo!.url;
  log(`driver: inserting the sample at scale ${options.driverScale} into ${redactUrl(source)}`);
  await insertSample(source, {
    scale: options.driverScale,
    seed: options.seed,
    database: "lml_bench_source",
  });
  try {
    const runs: ChildRun[] = [];
    for (let run = 1; run <= options.runs; run++) {
      const r = await runChild("extract", url, { source });
      log(`driver run ${run}: ${r.seconds.toFixed(2)} s`);
      runs.push(r);
    }
    return {
      ...processStage(runs),
      source: real ? "MONGO_BENCH_URL" : "in-process test server",
      scale: options.driverScale,
    };
  } finally {
    if (real) {
      const { MongoClient } = await import("mongodb");
      const client = new MongoClient(source);
      await client.db("lml_bench_source").dropDatabase().finally(() => client.close());
    }
  }
}

async function machineInfo(admin: Sql): Promise<BenchReport["machine"]> {
  const [row] = await admin<{ version: string }[]>`select version()`;
  return {
    cores: navigator.hardwareConcurrency,
    memoryBytes: Deno.systemMemoryInfo().total,
    postgres: row?.version ?? "unknown",
    deno: { ...Deno.version },
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  const adminUrl = Deno.env.get("BENCH_DATABASE_URL") ||
    "postgres://postgres@127.0.0.1:5432/postgres";
  const url = databaseUrl(adminUrl, options.database);
  const config = await loadConfig();
  const collections = config.collections.map((c) => c.name);
  const admin = connect(adminUrl, { application: "lml bench" });
  const startedAt = new Date().toISOString();
  try {
    const machine = await machineInfo(admin);
    log(
      `${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${
        machine.postgres.split(" on ")[0]
      }, Deno ${machine.deno.deno}`,
    );
    log(
      `scales ${options.scales.join(", ")}, ${options.runs} run(s), stages ${
        options.stages.join(", ")
      }`,
    );
    await Deno.mkdir(CACHE_DIR, { recursive: true });
    const scales: ScaleResult[] = [];
    const ctx = { admin, url, collections };
    try {
      let driver: BenchReport["driver"];
      let sync: SyncBench | undefined;
      const report = (): BenchReport => ({
        startedAt,
        finishedAt: new Date().toISOString(),
        machine,
        options: {
          scales: options.scales,
          runs: options.runs,
          seed: options.seed,
          stages: options.stages,
          quick: options.quick,
        },
        scales,
        ...(driver ? { driver } : {}),
        ...(sync ? { sync } : {}),
        scaling: scalingStatement(scales),
        targets: targetVerdicts(scales),
      });
      await Deno.mkdir(new URL(".", `file://${REPORT}`).pathname, { recursive: true });
      // Written after every scale too, so a long run that breaks later keeps what it measured.
      const write = () => Deno.writeTextFile(REPORT, JSON.stringify(report(), null, 2) + "\n");
      for (const scale of options.scales) {
        scales.push(await measureScale(scale, options, ctx));
        await write();
      }
      if (options.stages.includes("driver")) driver = await measureDriver(options, url);
      if (options.stages.includes("sync")) {
        await recreateDatabase(admin, options.database);
        sync = await measureSync(url, config, {
          scale: options.syncScale,
          seed: options.seed,
          fraction: options.syncFraction,
          log,
        });
      }
      await write();
      console.log(renderTable(report()));
      if (sync) console.log(`\n${renderSync(sync)}`);
      log(`wrote ${REPORT}`);
    } finally {
      await admin.unsafe(`drop database if exists ${quoteIdent(options.database)} with (force)`);
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`bench: ${redactUrl(error instanceof Error ? error.message : String(error))}`);
    Deno.exit(1);
  }
}
