/**
 * The monitoring hooks of the commands, run as operators run them (child processes): an alert
 * that times out leaves the exit code alone, a refresh that cannot start still alerts, and
 * with Deno's OpenTelemetry export on, a run is a trace with a span per stage and SQL file.
 */
import assert from "node:assert/strict";
import { freshDatabase, needsRealServer } from "../../support/db.ts";
import { httpSink } from "../../support/http_sink.ts";
import { cli, sampleDump, tempDir } from "../../support/monitoring.ts";
import { loadRaw, makeFixture, PIPELINE_YAML } from "../../support/pipeline_fixture.ts";

Deno.test("transform exits 0 although its webhook never answers; the failed alert is logged and recorded", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await using sink = httpSink(() => "hang");
  await loadRaw(db.sql);
  await fx.write(
    "pipeline.yaml",
    PIPELINE_YAML +
      `notify:\n  on: [success, warning]\n  timeout_seconds: 0.3\n  webhook: ${sink.url}/hook\n`,
  );
  const run = await cli([
    "transform",
    "--config",
    `${fx.dir}/sql/pipeline.yaml`,
    "--database-url",
    db.url,
    "--reports",
    fx.reports,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(sink.received.length, 3);
  assert.match(
    run.stderr,
    new RegExp(
      `ERROR alert to webhook ${sink.url}/hook failed after 3 attempts: no answer within 0\\.3 s`,
    ),
  );
  const [alert] = await db.sql`
    select a.status, a.attempts, a.error, r.status as run_status
    from lml_meta.alerts a join lml_meta.runs r using (run_id)`;
  assert.deepEqual({ ...alert }, {
    status: "failed",
    attempts: 3,
    error: "no answer within 0.3 s",
    run_status: "succeeded",
  });
});

Deno.test({
  name:
    "a refresh that cannot start (another one holds the database) still sends its failure alert",
  ...needsRealServer,
  fn: async () => {
    await using db = await freshDatabase();
    await using reports = await tempDir();
    await using sink = httpSink();
    const { dir: dump } = await sampleDump();
    // The shipped collections with a notify section; the busy refresh never reads the SQL.
    const config = `${reports.path}/pipeline.yaml`;
    const shipped = new URL("../../../sql/pipeline.yaml", import.meta.url);
    await Deno.writeTextFile(
      config,
      await Deno.readTextFile(shipped) + `\nnotify:\n  webhook: ${sink.url}/busy\n`,
    );
    const holder = await db.sql.reserve();
    try {
      await holder`select pg_advisory_lock(hashtext('lml'), hashtext('refresh'))`;
      const run = await cli([
        "refresh",
        "--config",
        config,
        "--source",
        dump,
        "--database-url",
        db.url,
        "--reports",
        reports.path,
      ]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /another run \(lml test, session pid \d+\) holds this database/);
      assert.equal(sink.received.length, 1);
      const payload = JSON.parse(sink.received[0]!.body);
      assert.equal(payload.command, "refresh");
      assert.equal(payload.status, "failed");
      assert.match(payload.error, /another run \(lml test, session pid \d+\) holds this database/);
      assert.equal(payload.reports, null);
      const [alert] = await db.sql`select run_id, status, outcome from lml_meta.alerts`;
      assert.deepEqual({ ...alert }, { run_id: null, status: "sent", outcome: "failure" });
      const metrics = await Deno.readTextFile(`${reports.path}/metrics.prom`);
      assert.match(metrics, /^lml_last_run_success\{command="refresh"\} 0$/m);
    } finally {
      await holder`select pg_advisory_unlock_all()`;
      holder.release();
    }
  },
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

Deno.test("with OTEL_DENO=true a transform is one trace: the run, its stages, each SQL file and check", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await using collector = httpSink();
  await using hook = httpSink();
  await loadRaw(db.sql);
  // A token in the webhook URL must not reach the telemetry backend either.
  const secret = `tok-${crypto.randomUUID()}`;
  await fx.write(
    "pipeline.yaml",
    PIPELINE_YAML +
      `notify:\n  on: [success, warning]\n  webhook: ${hook.url}/hook/\${LML_TEST_OTEL_TOKEN}\n`,
  );
  const run = await cli([
    "transform",
    "--config",
    `${fx.dir}/sql/pipeline.yaml`,
    "--database-url",
    db.url,
    "--reports",
    fx.reports,
  ], {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_DENO_CONSOLE: "ignore",
    LML_TEST_OTEL_TOKEN: secret,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(hook.received.map((r) => r.path), [`/hook/${secret}`]);
  assert.ok(collector.received.some((r) => r.path === "/v1/traces"));
  for (const r of collector.received) {
    assert.ok(!r.body.includes(secret), `the token reached the telemetry backend in ${r.path}`);
  }
  const spans: OtlpSpan[] = collector.received
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => JSON.parse(r.body).resourceSpans)
    .flatMap((rs: { scopeSpans: { spans: OtlpSpan[] }[] }) => rs.scopeSpans)
    .flatMap((ss: { spans: OtlpSpan[] }) => ss.spans);
  const report = JSON.parse(await Deno.readTextFile(`${fx.reports}/report.json`));
  const byName = (name: string) => {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `one span "${name}" among ${spans.map((s) => s.name)}`);
    return found[0]!;
  };
  const attribute = (span: OtlpSpan, key: string) =>
    Object.values(span.attributes?.find((a) => a.key === key)?.value ?? {})[0];
  const seconds = (span: OtlpSpan) =>
    Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e9;

  const root = byName("lml transform");
  assert.equal(root.parentSpanId ?? "", "");
  assert.equal(attribute(root, "lml.run_id"), report.run_id);
  assert.equal(attribute(root, "lml.status"), "succeeded");
  const transform = byName("transform");
  const checks = byName("checks");
  for (const stage of [transform, checks]) {
    assert.equal(stage.traceId, root.traceId);
    assert.equal(stage.parentSpanId, root.spanId);
  }
  const files = report.files.filter((f: { kind: string }) => f.kind !== "check");
  assert.equal(files.length, 5);
  for (const f of files) {
    const span = byName(f.path);
    assert.equal(span.parentSpanId, transform.spanId);
    assert.equal(Number(attribute(span, "lml.rows")), f.rows);
    assert.ok(Math.abs(seconds(span) - f.seconds) < 1e-3, `${f.path}: ${seconds(span)}`);
  }
  assert.ok(report.checks.length > 0);
  for (const c of report.checks) {
    const span = byName(`check ${c.name}`);
    assert.equal(span.parentSpanId, checks.spanId);
    assert.equal(attribute(span, "lml.status"), c.status);
  }
  assert.ok(BigInt(root.startTimeUnixNano) <= BigInt(transform.startTimeUnixNano));
  assert.ok(BigInt(root.endTimeUnixNano) >= BigInt(checks.endTimeUnixNano));
});
