/**
 * reports/metrics.prom after real refresh and assert runs, parsed with a Prometheus text-format
 * parser and checked value by value against the run's report, the ledger and the tables.
 */
import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { METRIC_FAMILIES, renderMetrics } from "../../../lib/report/metrics_prom.ts";
import { freshDatabase } from "../../support/db.ts";
import { cli, sampleDump, tempDir } from "../../support/monitoring.ts";

interface Sample {
  value: string;
  labels?: Record<string, string>;
}
interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}

/** Parsed metrics.prom: family name → samples. */
async function readMetrics(dir: string): Promise<Map<string, Family>> {
  const text = await Deno.readTextFile(`${dir}/metrics.prom`);
  const families = parsePrometheus(text) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the one sample of `name` whose labels include `labels`. */
function value(
  metrics: Map<string, Family>,
  name: string,
  labels: Record<string, string>,
): number {
  const found = (metrics.get(name)?.metrics ?? []).filter((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return Number(found[0]!.value);
}

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} is not within ${tolerance} of ${expected}`,
  );
}

Deno.test("metrics.prom holds the refresh's figures, value by value", async () => {
  await using db = await freshDatabase();
  await using reports = await tempDir();
  const { dir: dump, manifest } = await sampleDump();
  const run = await cli([
    "refresh",
    "--source",
    dump,
    "--database-url",
    db.url,
    "--reports",
    reports.path,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(await Deno.readTextFile(`${reports.path}/report.json`));
  const [ledger] = await db.sql<{ started_at: Date; finished_at: Date; peak: string }[]>`
    select started_at, finished_at, peak_rss_bytes::text as peak from lml_meta.runs
    where run_id = ${report.run_id}`;
  const m = await readMetrics(reports.path);
  const refresh = { command: "refresh" };

  assert.deepEqual([...m.keys()].sort(), Object.keys(METRIC_FAMILIES).sort());
  for (const family of m.values()) {
    assert.equal(family.type, "GAUGE");
    assert.equal(family.help, METRIC_FAMILIES[family.name]);
    for (const sample of family.metrics) assert.equal(sample.labels?.command, "refresh");
  }
  assert.equal(
    value(m, "lml_last_run_info", { ...refresh, run_id: report.run_id, status: "succeeded" }),
    1,
  );
  assert.equal(value(m, "lml_last_run_success", refresh), 1);
  const end = Date.parse(report.finished_at) / 1000;
  const start = value(m, "lml_last_run_start_timestamp_seconds", refresh);
  close(value(m, "lml_last_run_end_timestamp_seconds", refresh), end, 1e-3, "end");
  const success = ledger!.finished_at.getTime() / 1000;
  close(value(m, "lml_last_success_end_timestamp_seconds", refresh), success, 1e-3, "success");
  // The command's clock starts just before the ledger row is written.
  close(start, ledger!.started_at.getTime() / 1000, 2, "start vs the ledger");
  assert.ok(start <= Date.parse(report.started_at) / 1000);
  close(value(m, "lml_last_run_duration_seconds", refresh), end - start, 1e-3, "duration");
  assert.equal(value(m, "lml_peak_memory_bytes", refresh), report.peak_rss_bytes);
  assert.equal(value(m, "lml_peak_memory_bytes", refresh), Number(ledger!.peak));

  const files = report.files.filter((f: { kind: string }) => f.kind !== "check");
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  close(
    value(m, "lml_stage_duration_seconds", { ...refresh, stage: "transform" }),
    sum(files.map((f: { seconds: number }) => f.seconds)),
    files.length * 1e-3,
    "transform stage",
  );
  close(
    value(m, "lml_stage_duration_seconds", { ...refresh, stage: "checks" }),
    sum(report.checks.map((c: { seconds: number }) => c.seconds)),
    report.checks.length * 1e-3,
    "checks stage",
  );
  close(
    value(m, "lml_stage_duration_seconds", { ...refresh, stage: "extract" }),
    Date.parse(report.started_at) / 1000 - start,
    2e-3,
    "extract stage",
  );

  const collections = Object.keys(manifest.collections);
  assert.equal(report.extract.length, collections.length);
  for (const e of report.extract) {
    const labels = { ...refresh, collection: e.collection };
    assert.equal(value(m, "lml_documents_extracted", labels), e.documents);
    assert.equal(e.documents, manifest.collections[e.collection]!.documents);
    assert.equal(value(m, "lml_extracted_bytes", labels), e.bytes);
    close(
      value(m, "lml_collection_duration_seconds", { ...labels, stage: "extract" }),
      e.seconds,
      1e-3,
      `extract ${e.collection}`,
    );
    const schema = e.collection.replace(/_mesa4core$/, "");
    const own = files.filter((f: { schema: string }) => f.schema === schema);
    assert.ok(own.length > 0, schema);
    close(
      value(m, "lml_collection_duration_seconds", { ...labels, stage: "transform" }),
      sum(own.map((f: { seconds: number }) => f.seconds)),
      own.length * 1e-3,
      `transform ${e.collection}`,
    );
  }

  assert.equal(m.get("lml_table_rows")!.metrics.length, report.tables.length);
  for (const t of report.tables) {
    const rows = value(m, "lml_table_rows", { ...refresh, schema: t.schema, table: t.table });
    assert.equal(rows, t.rows);
    const [count] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from ${db.sql(t.schema)}.${db.sql(t.table)}`;
    assert.equal(rows, count!.n, `${t.schema}.${t.table}`);
  }

  const passed = report.checks.filter((c: { status: string }) => c.status === "passed").length;
  const warned =
    report.checks.filter((c: { status: string; severity: string }) =>
      c.status !== "passed" && c.severity === "warn"
    ).length;
  assert.equal(value(m, "lml_checks", { ...refresh, result: "passed" }), passed);
  assert.equal(value(m, "lml_checks", { ...refresh, result: "warned" }), warned);
  assert.equal(value(m, "lml_checks", { ...refresh, result: "failed" }), 0);
  assert.equal(passed + warned, report.checks.length);
  assert.ok(passed > 0);

  const leftovers = [];
  for await (const entry of Deno.readDir(reports.path)) {
    if (entry.name.endsWith(".tmp")) leftovers.push(entry.name);
  }
  assert.deepEqual(leftovers, [], "the temp file was renamed into place");

  // An assert run adds its own samples and keeps the refresh's; a failed refresh keeps the
  // time of the last success.
  const check = await cli(["assert", "--database-url", db.url, "--reports", reports.path]);
  assert.equal(check.code, 0, check.stderr);
  const failed = await cli([
    "refresh",
    "--source",
    `${reports.path}/no-such-dump`,
    "--database-url",
    db.url,
    "--reports",
    reports.path,
  ]);
  assert.equal(failed.code, 1);
  const after = await readMetrics(reports.path);
  const assertReport = JSON.parse(
    await Deno.readTextFile(
      `${reports.path}/runs/${
        (await db.sql`select run_id from lml_meta.runs where command = 'assert'`)[0]!.run_id
      }/report.json`,
    ),
  );
  assert.equal(value(after, "lml_last_run_success", { command: "assert" }), 1);
  assert.equal(
    value(after, "lml_checks", { command: "assert", result: "passed" }),
    assertReport.checks.filter((c: { status: string }) => c.status === "passed").length,
  );
  assert.equal(value(after, "lml_last_run_success", refresh), 0);
  close(value(after, "lml_last_success_end_timestamp_seconds", refresh), success, 1e-3, "kept");
  assert.equal(after.has("lml_documents_extracted"), false, "the failed refresh extracted nothing");
});

Deno.test("renderMetrics() escapes label values and keeps only other commands' old samples", () => {
  const base = {
    runId: "r1",
    command: "assert" as const,
    status: "failed" as const,
    startedAt: "2025-01-01T00:00:00.000Z",
    finishedAt: "2025-01-01T00:00:10.500Z",
    seconds: 10.5,
    selected: [],
    files: [],
    checks: [],
    failedChecks: [],
    tables: [{ schema: "s", table: 'we"ird\\name', rows: 3 }],
    extract: [],
    peakRssBytes: 1024,
    graph: "",
    error: new Error("boom"),
    reports: undefined,
  };
  const previous = [
    "# HELP lml_last_run_success old help",
    "# TYPE lml_last_run_success gauge",
    'lml_last_run_success{command="refresh"} 1',
    'lml_last_run_success{command="assert"} 1',
    'lml_gone_metric{command="refresh"} 7',
  ].join("\n");
  const text = renderMetrics(base, { previous });
  const parsed = new Map(
    (parsePrometheus(text) as Family[]).map((f) => [f.name, f]),
  );
  assert.deepEqual(parsed.get("lml_last_run_success")!.metrics, [
    { value: "0", labels: { command: "assert" } },
    { value: "1", labels: { command: "refresh" } },
  ]);
  assert.deepEqual(parsed.get("lml_table_rows")!.metrics, [
    { value: "3", labels: { command: "assert", schema: "s", table: 'we"ird\\name' } },
  ]);
  assert.equal(parsed.has("lml_gone_metric"), false);
  assert.equal(parsed.has("lml_last_success_end_timestamp_seconds"), false);
  assert.equal(Number(parsed.get("lml_last_run_duration_seconds")!.metrics[0]!.value), 10.5);
});
