/**
 * BENCHMARK REPORT: statistics over repeated runs (median and spread), the scaling statement,
 * the target verdicts, the printed table and the shape of `reports/bench.json`.
 * @module
 */
import type { SyncBench } from "./sync.ts";

/** Median and spread of repeated measurements. */
export interface Summary {
  /** Median (mean of the two middle values for an even count). */
  median: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** (max - min) / median, e.g. 0.05 for ±2.5 %; 0 for one run. */
  spread: number;
  /** Every value, in run order. */
  values: number[];
}

/** Summarizes `values` (at least one). Throws a RangeError when empty. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError("summarize() needs at least one value");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { median, min, max, spread: median === 0 ? 0 : (max - min) / median, values: [...values] };
}

/** The machine the benchmark ran on. */
export interface MachineInfo {
  /** Logical CPU cores. */
  cores: number;
  /** Total memory in bytes. */
  memoryBytes: number;
  /** `select version()` of the PostgreSQL server. */
  postgres: string;
  /** Deno, V8 and TypeScript versions. */
  deno: { deno: string; v8: string; typescript: string };
  /** Operating system and architecture. */
  os: string;
}

/** One measured subprocess stage (extract, refresh, driver) over its runs. */
export interface ProcessStage {
  /** Seconds measured inside the child around the stage call. */
  seconds: Summary;
  /** Wall seconds of the whole child process (includes Deno start-up). */
  wallSeconds: Summary;
  /** Peak RSS of the child in bytes. */
  peakRssBytes: Summary;
  /** Documents per second (from the in-process time). */
  docsPerSecond: Summary;
  /** BSON megabytes (10^6) per second (from the in-process time). */
  mbPerSecond: Summary;
  /** Documents handled per run. */
  documents: number;
  /** BSON bytes handled per run. */
  bytes: number;
}

/** A reader querying published tables every 100 ms during the refreshes. */
export interface ReaderWaits {
  /** The reader's queries. */
  queries: string[];
  /** Queries answered over all runs. */
  answered: number;
  /** Queries that failed (a table missing, a timeout). */
  failed: number;
  /** Longest wait of one query, in ms, per run. */
  longestMs: Summary;
}

/** The psql `\copy` floor over its runs. */
export interface FloorStage {
  /** Wall seconds of the whole load (tables, \copy, primary keys). */
  seconds: Summary;
  /** Documents per second. */
  docsPerSecond: Summary;
  /** Bytes of COPY text loaded per run. */
  copyTextBytes: number;
  /** Whether the pre-rendered COPY files came from the cache. */
  cached: boolean;
}

/** Transform + assert over its runs. */
export interface TransformStage {
  /** Total seconds (in-process). */
  seconds: Summary;
  /** Median seconds per schema (its transform files and checks); `_shared` and `_checks` too. */
  perSchema: Record<string, number>;
  /** The slowest SQL files by median seconds, slowest first. */
  slowestFiles: { path: string; seconds: number; rows: number }[];
  /** Checks run per transform. */
  checks: number;
  /**
   * The cost of the source-drift work (median seconds): the drift scan, and the one file of value
   * accounting that reads the documents again (`lml_processes/040_unmapped.sql`); `share` is
   * their sum over the transform's median seconds (target: under 0.1). The accounting done in
   * the transforms' own passes is inside their files' time.
   */
  drift: { scanSeconds: number; accountingSeconds: number; share: number };
  /** Peak RSS of the child in bytes. */
  peakRssBytes: Summary;
}

/** Everything measured at one scale. */
export interface ScaleResult {
  /** Volume factor (1.0 ≈ production). */
  scale: number;
  /** The dump used. */
  dump: { dir: string; documents: number; bytes: number; cached: boolean; generateSeconds: number };
  /** Extract + load of the dump (stage "extract"). */
  extract?: ProcessStage;
  /** The psql \copy floor (stage "floor"). */
  floor?: FloorStage;
  /** Our throughput as a share of the floor's: floor seconds / our seconds (medians). */
  floorRatio?: number;
  /** Transform + assert (stage "transform"). */
  transform?: TransformStage;
  /** The refresh end to end (stage "refresh"), with the waits of a reader querying beside it. */
  refresh?: ProcessStage & { perSchema: Record<string, number>; reader?: ReaderWaits };
  /** Why this scale was skipped, when it was. */
  skipped?: string;
}

/** A target and whether it was met. */
export interface TargetVerdict {
  /** What is required. */
  target: string;
  /** What was measured. */
  measured: string;
  /** Met, missed, or not measured in this run. */
  status: "met" | "missed" | "not measured";
}

/** The whole of `reports/bench.json`. */
export interface BenchReport {
  /** ISO start time. */
  startedAt: string;
  /** ISO end time. */
  finishedAt: string;
  /** The machine. */
  machine: MachineInfo;
  /** The options used. */
  options: { scales: number[]; runs: number; seed: number; stages: string[]; quick: boolean };
  /** One entry per scale. */
  scales: ScaleResult[];
  /** Extraction through the official MongoDB driver (stage "driver"). */
  driver?: ProcessStage & { source: string; scale: number };
  /** An incremental refresh against a full one (stage "sync", ./sync.ts). */
  sync?: SyncBench;
  /** How time and peak memory grow between the smallest and largest measured scale. */
  scaling: string[];
  /** Target verdicts. */
  targets: TargetVerdict[];
}

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/**
 * States how extract and refresh time and peak memory grow from the smallest to the largest
 * measured scale (time should grow linearly, peak memory should stay flat).
 */
export function scalingStatement(scales: readonly ScaleResult[]): string[] {
  const measured = scales.filter((s) => !s.skipped);
  if (measured.length < 2) return ["scaling: only one scale measured"];
  const low = measured[0]!;
  const high = measured[measured.length - 1]!;
  const factor = high.scale / low.scale;
  const lines: string[] = [];
  for (const stage of ["extract", "refresh"] as const) {
    const a = low[stage];
    const b = high[stage];
    if (!a || !b) continue;
    const time = ratioOf(b.seconds.median, a.seconds.median)!;
    const rss = ratioOf(b.peakRssBytes.median, a.peakRssBytes.median)!;
    lines.push(
      `${stage}: scale ${low.scale} → ${high.scale} (${fmt(factor, 1)}× data): time ×${
        fmt(time, 2)
      } (${time <= factor * 1.15 ? "linear or better" : "worse than linear"}), peak RSS ×${
        fmt(rss, 2)
      } (${rss <= 1.25 ? "flat" : "grows with the data"})`,
    );
  }
  const t = ratioOf(high.transform?.seconds.median, low.transform?.seconds.median);
  if (t !== undefined) {
    lines.push(
      `transform: scale ${low.scale} → ${high.scale}: time ×${fmt(t, 2)} (${
        t <= factor * 1.15 ? "linear or better" : "worse than linear"
      })`,
    );
  }
  return lines;
}

/**
 * Checks the targets: extract ≥ 85 % of the floor, refresh at scale 1 < 30 s and ≤ 2.0× the
 * floor, transform at scale 4 ≤ 4.2× scale 1 (ratios within one run), RSS < 300 MB.
 */
export function targetVerdicts(scales: readonly ScaleResult[]): TargetVerdict[] {
  const measured = scales.filter((s) => !s.skipped);
  const verdicts: TargetVerdict[] = [];
  const ratios = measured.filter((s) => s.floorRatio !== undefined);
  verdicts.push({
    target: "extract+load ≥ 85 % of the psql \\copy floor's throughput",
    measured: ratios.map((s) => `scale ${s.scale}: ${fmt(s.floorRatio! * 100, 0)} %`).join(", ") ||
      "-",
    status: ratios.length === 0
      ? "not measured"
      : ratios.every((s) => s.floorRatio! >= 0.85)
      ? "met"
      : "missed",
  });
  const one = measured.find((s) => s.scale === 1 && s.refresh);
  verdicts.push({
    target: "full refresh at scale 1.0 under 30 s",
    measured: one?.refresh ? `${fmt(one.refresh.seconds.median, 1)} s` : "-",
    status: !one?.refresh ? "not measured" : one.refresh.seconds.median < 30 ? "met" : "missed",
  });
  const waits = one?.refresh?.reader;
  verdicts.push({
    target: "a reader querying every 100 ms during a full refresh at scale 1.0 waits under 1 s",
    measured: waits
      ? `longest ${
        fmt(waits.longestMs.max, 0)
      } ms over ${waits.answered} queries (${waits.failed} failed)`
      : "-",
    status: !waits
      ? "not measured"
      : waits.longestMs.max < 1000 && waits.failed === 0
      ? "met"
      : "missed",
  });
  const overFloor = one?.floor
    ? ratioOf(one.refresh!.seconds.median, one.floor.seconds.median)
    : undefined;
  verdicts.push({
    target: "full refresh at scale 1.0 ≤ 2.0× the psql \\copy floor",
    measured: overFloor === undefined ? "-" : `${fmt(overFloor, 2)}×`,
    status: overFloor === undefined ? "not measured" : overFloor <= 2 ? "met" : "missed",
  });
  const t1 = measured.find((s) => s.scale === 1)?.transform;
  const t4 = measured.find((s) => s.scale === 4)?.transform;
  const growth = ratioOf(t4?.seconds.median, t1?.seconds.median);
  verdicts.push({
    target: "transform + checks at scale 4.0 ≤ 4.2× scale 1.0",
    measured: growth === undefined ? "-" : `×${fmt(growth, 2)}`,
    status: growth === undefined ? "not measured" : growth <= 4.2 ? "met" : "missed",
  });
  const peaks = measured.flatMap((s) =>
    [s.extract, s.refresh].filter((x) => x !== undefined).map((x) => x.peakRssBytes.max)
  );
  const peak = peaks.length ? Math.max(...peaks) : undefined;
  verdicts.push({
    target: "peak RSS under 300 MB at any scale (extract, refresh)",
    measured: peak === undefined ? "-" : `${fmt(peak / 1e6, 0)} MB`,
    status: peak === undefined ? "not measured" : peak < 300e6 ? "met" : "missed",
  });
  const drift = measured.find((s) => s.scale === 1 && s.transform)?.transform?.drift;
  verdicts.push({
    target: "drift scan + value accounting under 10 % of the transform at scale 1.0",
    measured: drift ? `${fmt(drift.share * 100, 1)} %` : "-",
    status: !drift ? "not measured" : drift.share < 0.1 ? "met" : "missed",
  });
  return verdicts;
}

/** `n` with `digits` decimals. */
export function fmt(n: number, digits: number): string {
  return n.toFixed(digits);
}

function cell(s: Summary | undefined, digits: number, scale = 1): string {
  if (!s) return "-";
  const pct = s.values.length > 1 ? ` ±${fmt((s.spread * 100) / 2, 1)}%` : "";
  return `${fmt(s.median / scale, digits)}${pct}`;
}

/** Renders the report as a plain-text table (medians, ± half the spread). */
export function renderTable(report: BenchReport): string {
  const rows: string[][] = [[
    "scale",
    "stage",
    "seconds",
    "wall s",
    "docs/s",
    "MB/s",
    "peak RSS MB",
  ]];
  for (const s of report.scales) {
    if (s.skipped) {
      rows.push([String(s.scale), `skipped: ${s.skipped}`, "", "", "", "", ""]);
      continue;
    }
    const proc = (name: string, p: ProcessStage | undefined) => {
      if (!p) return;
      rows.push([
        String(s.scale),
        name,
        cell(p.seconds, 2),
        cell(p.wallSeconds, 2),
        cell(p.docsPerSecond, 0),
        cell(p.mbPerSecond, 1),
        cell(p.peakRssBytes, 0, 1e6),
      ]);
    };
    proc("extract+load", s.extract);
    if (s.floor) {
      rows.push([
        String(s.scale),
        `psql \\copy floor (ours ${
          s.floorRatio === undefined ? "-" : fmt(s.floorRatio * 100, 0)
        }%)`,
        cell(s.floor.seconds, 2),
        "",
        cell(s.floor.docsPerSecond, 0),
        "",
        "",
      ]);
    }
    if (s.transform) {
      rows.push([
        String(s.scale),
        "transform+assert",
        cell(s.transform.seconds, 2),
        "",
        "",
        "",
        cell(s.transform.peakRssBytes, 0, 1e6),
      ]);
    }
    proc("refresh", s.refresh);
  }
  if (report.driver) {
    rows.push([String(report.driver.scale), `driver (${report.driver.source})`]);
    const d = report.driver;
    rows[rows.length - 1]!.push(
      cell(d.seconds, 2),
      cell(d.wallSeconds, 2),
      cell(d.docsPerSecond, 0),
      cell(d.mbPerSecond, 1),
      cell(d.peakRssBytes, 0, 1e6),
    );
  }
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => (r[k] ?? "").length)));
  const lines = rows.map((r) =>
    r.map((c, k) => k < 2 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!)).join("  ").trimEnd()
  );
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  for (const s of report.scales) {
    if (!s.transform) continue;
    lines.push("", `transform per schema, scale ${s.scale} (median s):`);
    for (const [schema, seconds] of Object.entries(s.transform.perSchema)) {
      lines.push(`  ${schema.padEnd(20)} ${fmt(seconds, 2).padStart(8)}`);
    }
    const d = s.transform.drift;
    lines.push(
      `drift scan ${fmt(d.scanSeconds, 2)} s + value accounting ${
        fmt(d.accountingSeconds, 2)
      } s = ${fmt(d.share * 100, 1)}% of the transform, scale ${s.scale}`,
    );
    lines.push(`slowest SQL files, scale ${s.scale}:`);
    for (const f of s.transform.slowestFiles) {
      lines.push(`  ${f.path.padEnd(48)} ${fmt(f.seconds, 2).padStart(8)} s ${f.rows} rows`);
    }
  }
  for (const s of report.scales) {
    const reader = s.refresh?.reader;
    if (!reader) continue;
    lines.push(
      "",
      `reader beside the refresh, scale ${s.scale}: longest wait ${
        fmt(reader.longestMs.max, 0)
      } ms (median of runs ${fmt(reader.longestMs.median, 0)} ms), ${reader.answered} queries, ` +
        `${reader.failed} failed; refresh ${fmt(s.refresh!.seconds.median, 2)} s`,
    );
  }
  lines.push("", ...report.scaling, "");
  for (const t of report.targets) lines.push(`[${t.status}] ${t.target}: ${t.measured}`);
  return lines.join("\n");
}
