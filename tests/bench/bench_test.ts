import assert from "node:assert/strict";
import {
  type BenchReport,
  type ProcessStage,
  renderTable,
  type ScaleResult,
  scalingStatement,
  summarize,
  targetVerdicts,
} from "./report.ts";

function stage(seconds: number[], rss: number[], documents = 1000): ProcessStage {
  return {
    seconds: summarize(seconds),
    wallSeconds: summarize(seconds.map((s) => s + 0.1)),
    peakRssBytes: summarize(rss),
    docsPerSecond: summarize(seconds.map((s) => documents / s)),
    mbPerSecond: summarize(seconds.map((s) => 2 / s)),
    documents,
    bytes: 2e6,
  };
}

function scale(
  n: number,
  seconds: number,
  rss: number,
  floorRatio = 0.9,
  readerMs = 50,
): ScaleResult {
  return {
    scale: n,
    dump: { dir: "/tmp/x", documents: 1000 * n, bytes: 2e6 * n, cached: true, generateSeconds: 0 },
    extract: stage([seconds, seconds * 1.1, seconds * 0.9], [rss, rss, rss]),
    floor: {
      seconds: summarize([seconds * floorRatio]),
      docsPerSecond: summarize([1000 / (seconds * floorRatio)]),
      copyTextBytes: 1e6,
      cached: true,
    },
    floorRatio,
    transform: {
      seconds: summarize([seconds * 2]),
      perSchema: { lml_users: seconds * 2 },
      slowestFiles: [],
      checks: 10,
      peakRssBytes: summarize([rss]),
      drift: { scanSeconds: 0, accountingSeconds: 0, share: 0 },
    },
    refresh: {
      ...stage([seconds * 3], [rss * 1.1]),
      perSchema: { lml_users: 1 },
      reader: { queries: ["select 1"], answered: 10, failed: 0, longestMs: summarize([readerMs]) },
    },
  };
}

Deno.test("summarize() gives the median and the relative spread", () => {
  assert.deepEqual(summarize([3, 1, 2]), {
    median: 2,
    min: 1,
    max: 3,
    spread: 1,
    values: [3, 1, 2],
  });
  assert.equal(summarize([4, 1, 2, 3]).median, 2.5);
  assert.equal(summarize([5]).spread, 0);
  assert.throws(() => summarize([]), RangeError);
});

Deno.test("scalingStatement() calls linear time and flat memory by their ratios", () => {
  const [extract, refresh] = scalingStatement([scale(1, 10, 100e6), scale(4, 41, 110e6)].map(
    (s) => ({ ...s, floorRatio: 0.9 }),
  ));
  assert.match(extract!, /^extract: scale 1 → 4 \(4\.0× data\): time ×4\.10 \(linear or better\)/);
  assert.match(extract!, /peak RSS ×1\.10 \(flat\)/);
  assert.match(refresh!, /^refresh: /);
  const [worse] = scalingStatement([scale(1, 10, 100e6), scale(4, 60, 300e6)]);
  assert.match(worse!, /worse than linear.*grows with the data/);
  assert.deepEqual(scalingStatement([scale(1, 10, 1)]), ["scaling: only one scale measured"]);
});

Deno.test("targetVerdicts() checks the floor ratios, the refresh time, the reader's wait, the transform growth and the peak RSS", () => {
  // refresh = 3× extract; floor = extract × floorRatio; transform = 2× extract.
  const one = scale(1, 5, 100e6, 0.9);
  const met = targetVerdicts([
    { ...one, refresh: { ...one.refresh!, ...stage([8], [110e6]) } },
    scale(4, 20, 120e6, 0.86),
  ]);
  assert.deepEqual(met.map((t) => t.status), [
    "met",
    "met",
    "met",
    "met",
    "met",
    "met",
    "met",
  ]);
  assert.equal(met[3]!.measured, "1.78×");
  assert.equal(met[4]!.measured, "×4.00");
  const slow = scale(1, 12, 320e6, 0.7, 1500);
  const drift = { scanSeconds: 3, accountingSeconds: 2, share: 0.2 };
  const missed = targetVerdicts([
    { ...slow, transform: { ...slow.transform!, drift } },
    scale(4, 60, 120e6, 0.9),
  ]);
  assert.deepEqual(missed.map((t) => t.status), [
    "missed",
    "missed",
    "missed",
    "missed",
    "missed",
    "missed",
    "missed",
  ]);
  assert.equal(missed[0]!.measured, "scale 1: 70 %, scale 4: 90 %");
  assert.match(missed[2]!.measured, /^longest 1500 ms over 10 queries/);
  const skipped = targetVerdicts([{ ...scale(1, 5, 1, 1), skipped: "no room" }]);
  assert.deepEqual(skipped.map((t) => t.status), Array(7).fill("not measured"));
});

Deno.test("renderTable() shows every stage, the skipped scales and the verdicts", () => {
  const scales = [scale(1, 10, 100e6, 0.9), {
    ...scale(4, 1, 1, 1),
    skipped: "only 3.0 GB free",
  }];
  const report: BenchReport = {
    startedAt: "2025-01-01T00:00:00Z",
    finishedAt: "2025-01-01T00:01:00Z",
    machine: {
      cores: 2,
      memoryBytes: 8e9,
      postgres: "PostgreSQL 15",
      deno: { deno: "2", v8: "1", typescript: "5" },
      os: "linux x86_64",
    },
    options: { scales: [1, 4], runs: 3, seed: 1, stages: ["extract"], quick: false },
    scales,
    scaling: scalingStatement(scales),
    targets: targetVerdicts(scales),
  };
  const table = renderTable(report);
  assert.match(table, /^1\s+extract\+load\s+10\.00 ±10\.0%/m);
  assert.match(table, /^1\s+refresh\s+30\.00/m);
  assert.match(table, /^4\s+skipped: only 3\.0 GB free/m);
  assert.match(table, /^\[met\] extract\+load ≥ 85 %.*: scale 1: 90 %$/m);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});
