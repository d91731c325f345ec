/**
 * Alerts after real runs of the fixture pipeline: the webhook's payload, retries on a 500, a
 * timeout, the command target, `${VAR}` expansion with the values absent from every log,
 * report and ledger row, and which outcomes send what.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfig, type PipelineConfig } from "../../../lib/core/config.ts";
import { createLogger, type Logger } from "../../../lib/core/log.ts";
import {
  afterRun,
  alertSummary,
  monitorRun,
  runOutcomes,
  wantsAlert,
} from "../../../lib/ops/mod.ts";
import { runTransforms, type TransformResult } from "../../../lib/transform/run.ts";
import { freshDatabase, type TestDatabase } from "../../support/db.ts";
import { httpSink } from "../../support/http_sink.ts";
import {
  type Fixture,
  loadRaw,
  makeFixture,
  PIPELINE_YAML,
  RAW,
  reported,
} from "../../support/pipeline_fixture.ts";

const ALERT_SINK = fileURLToPath(new URL("../../support/alert_sink.ts", import.meta.url));

/** The fixture's documents with every reference resolving: no derived check offends. */
const CLEAN_RAW = {
  ...RAW,
  people_src: RAW.people_src!.map(([id, doc]) => [id, { ...doc, owner: "u1" }]),
} as typeof RAW;

/** Orders over 5 (o1, o3): two offending rows. */
function bigOrders(severity: "error" | "warn"): Record<string, string> {
  return {
    "f_orders/checks/big_orders.sql": `-- check: big_orders
-- severity: ${severity}
-- description: no order is over 5
select order_id, amount from f_orders.main where amount > 5
`,
  };
}

/** Rewrites the fixture's config with `notify` (YAML lines) appended and loads it. */
async function withNotify(fx: Fixture, notify: string): Promise<PipelineConfig> {
  await fx.write("pipeline.yaml", PIPELINE_YAML + notify);
  return await loadConfig(`${fx.dir}/sql/pipeline.yaml`);
}

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ format: "json", write: (l) => lines.push(l) }) };
}

/** One monitored transform run, as the transform command does it. */
async function monitoredTransform(
  db: TestDatabase,
  fx: Fixture,
  config: PipelineConfig,
  runId: string,
  logger = capture().logger,
): Promise<TransformResult> {
  return await monitorRun(
    db.sql,
    config,
    { command: "transform", runId, logger, reportsDir: fx.reports, retryDelayMs: 10 },
    () => reported(runTransforms(db.sql, config, { runId }), fx.reports),
  );
}

/** A logger writing every line both as JSON and as text. */
function teeLogger() {
  const lines: string[] = [];
  const text: string[] = [];
  const json = createLogger({ format: "json", write: (l) => lines.push(l) });
  const plain = createLogger({ format: "text", write: (l) => text.push(l) });
  const log: Logger["log"] = (level, message, fields) => {
    json.log(level, message, fields);
    plain.log(level, message, fields);
  };
  const logger: Logger = {
    log,
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    debug: (m, f) => log("debug", m, f),
    interactive: false,
  };
  return { lines, text, logger };
}

async function alertRows(db: TestDatabase) {
  return [
    ...await db.sql<
      {
        run_id: string | null;
        target: string;
        outcome: string;
        status: string;
        attempts: number;
        error: string | null;
      }[]
    >`select run_id, target, outcome, status, attempts, error from lml_meta.alerts order by sent_at`,
  ];
}

/** Every file under `dir`, as text. */
async function allFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) { for (const [p, t] of await allFiles(path)) out.set(p, t); }
    else out.set(path, await Deno.readTextFile(path));
  }
  return out;
}

Deno.test("a failed run POSTs its summary to the webhook and records the alert", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture(bigOrders("error"));
  await using sink = httpSink();
  await loadRaw(db.sql, CLEAN_RAW);
  const config = await withNotify(
    fx,
    `notify:\n  on: [failure]\n  webhook: ${sink.url}/hook\n`,
  );
  const result = await monitoredTransform(db, fx, config, "run-failed");
  assert.equal(result.status, "failed");
  assert.equal(sink.received.length, 1);
  const [request] = sink.received;
  assert.equal(request!.method, "POST");
  assert.equal(request!.path, "/hook");
  assert.equal(request!.headers["content-type"], "application/json");
  const payload = JSON.parse(request!.body);
  assert.match(payload.error, /1 error check failed: big_orders/);
  const runDir = `${fx.reports}/runs/run-failed`;
  assert.deepEqual(payload, {
    format: "lml-alert/1",
    run_id: "run-failed",
    command: "transform",
    status: "failed",
    outcome: "failure",
    outcomes: ["failure"],
    host: Deno.hostname(),
    started_at: result.startedAt,
    finished_at: result.finishedAt,
    seconds: Math.round(result.seconds * 1000) / 1000,
    error: result.error!.message.split("\n")[0],
    fallback: null,
    checks: [{ name: "big_orders", severity: "error", status: "failed", offending: 2 }],
    reports: {
      dir: runDir,
      markdown: `${runDir}/report.md`,
      json: `${runDir}/report.json`,
      junit: `${runDir}/junit.xml`,
    },
  });
  const report = JSON.parse(await Deno.readTextFile(payload.reports.json));
  assert.equal(report.run_id, "run-failed");
  assert.deepEqual(await alertRows(db), [{
    run_id: "run-failed",
    target: `webhook ${sink.url}/hook`,
    outcome: "failure",
    status: "sent",
    attempts: 1,
    error: null,
  }]);
});

Deno.test("outcomes: a warn check sends `warning` in the Slack format; a clean run sends nothing", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture(bigOrders("warn"));
  await using sink = httpSink();
  await loadRaw(db.sql, CLEAN_RAW);
  const config = await withNotify(
    fx,
    `notify:\n  on: [warning]\n  webhook:\n    url: ${sink.url}/slack\n    format: slack\n`,
  );
  const warned = await monitoredTransform(db, fx, config, "run-warned");
  assert.equal(warned.status, "succeeded");
  assert.deepEqual(runOutcomes(warned), ["warning", "success"]);
  assert.equal(sink.received.length, 1);
  const { text, ...rest } = JSON.parse(sink.received[0]!.body);
  assert.deepEqual(rest, {});
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    `:warning: *lml transform succeeded* on ${Deno.hostname()}: run \`run-warned\`, ${
      Math.round(warned.seconds)
    } s`,
  );
  assert.equal(lines[1], "Checks: `big_orders` 2 offending (warn)");
  assert.equal(lines[2], `Report: ${fx.reports}/runs/run-warned/report.md`);

  await fx.remove("f_orders/checks/big_orders.sql");
  const clean = await monitoredTransform(db, fx, config, "run-clean");
  assert.equal(clean.status, "succeeded");
  assert.deepEqual(runOutcomes(clean), ["success"]);
  assert.equal(sink.received.length, 1, "a clean run is no warning");

  const fellBack = alertSummary(clean, { fallback: "the resume token expired" });
  assert.deepEqual(fellBack.outcomes, ["fallback", "success"]);
  assert.equal(fellBack.outcome, "fallback");
  assert.ok(wantsAlert({ ...config.notify!, on: ["fallback"] }, fellBack));
  assert.ok(!wantsAlert({ ...config.notify!, on: ["fallback"] }, alertSummary(clean)));
  assert.ok(!wantsAlert({ ...config.notify!, on: ["failure", "warning"] }, fellBack));
  assert.ok(wantsAlert({ ...config.notify!, on: ["success"] }, fellBack));
});

Deno.test("a webhook answering 500 is retried twice; one that never succeeds fails the alert, not the run", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql, CLEAN_RAW);
  await using flaky = httpSink((n) => n < 2 ? { status: 500, body: "busy" } : { status: 204 });
  const config = await withNotify(fx, `notify:\n  on: [success]\n  webhook: ${flaky.url}/a\n`);
  const { lines, logger } = capture();
  const first = await monitoredTransform(db, fx, config, "run-flaky", logger);
  assert.equal(first.status, "succeeded");
  assert.equal(flaky.received.length, 3);
  assert.equal(new Set(flaky.received.map((r) => r.body)).size, 1, "the same summary each time");
  const retries = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes("retrying"));
  assert.deepEqual(retries.map((l) => [l.level, l.msg, l.attempt]), [
    ["warn", `alert to webhook ${flaky.url}/a: HTTP 500 Internal Server Error: busy; retrying`, 1],
    ["warn", `alert to webhook ${flaky.url}/a: HTTP 500 Internal Server Error: busy; retrying`, 2],
  ]);

  await using broken = httpSink(() => ({ status: 500, body: "down" }));
  const brokenConfig = await withNotify(
    fx,
    `notify:\n  on: [success]\n  webhook: ${broken.url}/b\n`,
  );
  const second = capture();
  const result = await monitoredTransform(db, fx, brokenConfig, "run-broken", second.logger);
  assert.equal(result.status, "succeeded", "the run's outcome does not change");
  assert.equal(broken.received.length, 3, "one attempt and two retries");
  const failure = second.lines.map((l) => JSON.parse(l)).find((l) => l.level === "error");
  assert.equal(
    failure?.msg,
    `alert to webhook ${broken.url}/b failed after 3 attempts: HTTP 500 Internal Server Error: down`,
  );
  const rows = await alertRows(db);
  assert.deepEqual(rows.map((r) => [r.run_id, r.status, r.attempts, r.error]), [
    ["run-flaky", "sent", 3, null],
    ["run-broken", "failed", 3, "HTTP 500 Internal Server Error: down"],
  ]);
  const [run] = await db.sql`select status from lml_meta.runs where run_id = 'run-broken'`;
  assert.equal(run!.status, "succeeded");
});

Deno.test("a webhook that never answers times out on each attempt and the run keeps its status", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql, CLEAN_RAW);
  await using silent = httpSink(() => "hang");
  const config = await withNotify(
    fx,
    `notify:\n  on: [success]\n  timeout_seconds: 0.2\n  webhook: ${silent.url}/t\n`,
  );
  const run = await reported(runTransforms(db.sql, config, { runId: "run-hang" }), fx.reports);
  const { lines, logger } = capture();
  const started = performance.now();
  const after = await afterRun(db.sql, config, run, {
    logger,
    reportsDir: fx.reports,
    retryDelayMs: 10,
  });
  const seconds = (performance.now() - started) / 1000;
  assert.equal(run.status, "succeeded");
  assert.deepEqual(after.alerts.map((a) => [a.status, a.attempts, a.error]), [
    ["failed", 3, "no answer within 0.2 s"],
  ]);
  assert.equal(silent.received.length, 3);
  assert.ok(seconds >= 0.6, `three attempts of 0.2 s each took ${seconds} s`);
  assert.ok(lines.some((l) => JSON.parse(l).level === "error"));
});

Deno.test("a command target gets the summary on stdin and LML_RUN_ID, LML_STATUS, LML_REPORT", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture(bigOrders("error"));
  await loadRaw(db.sql, CLEAN_RAW);
  const out = `${fx.dir}/alert.json`;
  const config = await withNotify(
    fx,
    `notify:\n  command: [${JSON.stringify(Deno.execPath())}, run, -A, ${
      JSON.stringify(ALERT_SINK)
    }, ${JSON.stringify(out)}, ok, --team, data]\n`,
  );
  const result = await monitoredTransform(db, fx, config, "run-cmd");
  assert.equal(result.status, "failed");
  const got = JSON.parse(await Deno.readTextFile(out));
  const report = `${fx.reports}/runs/run-cmd/report.md`;
  assert.deepEqual(got.env, {
    LML_RUN_ID: "run-cmd",
    LML_STATUS: "failed",
    LML_OUTCOME: "failure",
    LML_REPORT: report,
  });
  assert.deepEqual(got.args, ["--team", "data"]);
  const summary = JSON.parse(got.stdin);
  assert.equal(summary.run_id, "run-cmd");
  assert.equal(summary.status, "failed");
  assert.deepEqual(summary.checks, [
    { name: "big_orders", severity: "error", status: "failed", offending: 2 },
  ]);
  assert.equal(summary.reports.markdown, report);
  assert.ok((await Deno.stat(report)).isFile);

  const failing = await withNotify(
    fx,
    `notify:\n  retries: 1\n  command: [${JSON.stringify(Deno.execPath())}, run, -A, ${
      JSON.stringify(ALERT_SINK)
    }, ${JSON.stringify(out)}, fail]\n`,
  );
  const { lines, logger } = capture();
  const again = await monitoredTransform(db, fx, failing, "run-cmd-fail", logger);
  assert.equal(again.status, "failed");
  const rows = (await alertRows(db)).filter((r) => r.run_id === "run-cmd-fail");
  assert.deepEqual(rows.map((r) => [r.target, r.status, r.attempts, r.error]), [[
    `command ${Deno.execPath()}`,
    "failed",
    2,
    "exited with code 3: alert sink: told to fail",
  ]]);
  assert.ok(lines.some((l) => JSON.parse(l).msg.includes("failed after 2 attempts")));

  const sleeping = await withNotify(
    fx,
    `notify:\n  retries: 0\n  timeout_seconds: 3\n  command: [${
      JSON.stringify(Deno.execPath())
    }, run, -A, ${JSON.stringify(ALERT_SINK)}, ${JSON.stringify(out)}, sleep]\n`,
  );
  const slept = await monitoredTransform(db, fx, sleeping, "run-cmd-sleep");
  assert.equal(slept.status, "failed");
  const [row] = (await alertRows(db)).filter((r) => r.run_id === "run-cmd-sleep");
  assert.deepEqual([row!.status, row!.attempts, row!.error], [
    "failed",
    1,
    "did not finish within 3 s (killed)",
  ]);
});

Deno.test("${VAR} values reach the targets but no log line, report, metrics file or ledger row", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql, CLEAN_RAW);
  const secret = `tok-${crypto.randomUUID()}`;
  const variable = `LML_TEST_SECRET_${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
  Deno.env.set(variable, secret);
  try {
    // The server echoes the path it was asked for in its error: the secret comes back.
    await using sink = httpSink((n) =>
      n === 0 ? { status: 200 } : { status: 500, body: `no such hook: /hook/${secret}` }
    );
    const out = `${fx.dir}/alert.json`;
    const config = await withNotify(
      fx,
      `notify:
  on: [success]
  webhook:
    url: ${sink.url}/hook/\${${variable}}
    headers:
      Authorization: Bearer \${${variable}}
  command: [${JSON.stringify(Deno.execPath())}, run, -A, ${JSON.stringify(ALERT_SINK)}, ${
        JSON.stringify(out)
      }, fail, "--token=\${${variable}}"]
`,
    );
    const { lines, text, logger: both } = teeLogger();
    const first = await monitoredTransform(db, fx, config, "run-secret-1", both);
    const second = await monitoredTransform(db, fx, config, "run-secret-2", both);
    assert.equal(first.status, "succeeded");
    assert.equal(second.status, "succeeded");

    // Expanded where it is used.
    assert.equal(sink.received[0]!.path, `/hook/${secret}`);
    assert.equal(sink.received[0]!.headers["authorization"], `Bearer ${secret}`);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(out)).args, [`--token=${secret}`]);

    // Failures are logged with the variable's name in place of its value.
    const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "error");
    assert.ok(errors.length >= 3, JSON.stringify(errors));
    assert.ok(
      errors.some((l) =>
        l.msg ===
          `alert to webhook ${sink.url}/hook/\${${variable}} failed after 3 attempts: HTTP 500 Internal Server Error: no such hook: /hook/\${${variable}}`
      ),
      JSON.stringify(errors),
    );
    assert.ok(errors.some((l) => l.msg.includes(`told to fail --token=\${${variable}}`)));

    const ledger = await db.sql<{ row: string }[]>`
      select to_jsonb(t)::text as row from lml_meta.alerts t
      union all select to_jsonb(t)::text from lml_meta.runs t
      union all select to_jsonb(t)::text from lml_meta.check_results t
      union all select to_jsonb(t)::text from lml_meta.run_files t`;
    const files = await allFiles(fx.reports);
    assert.ok(files.has(`${fx.reports}/metrics.prom`));
    assert.ok(files.has(`${fx.reports}/runs/run-secret-2/report.md`));
    const places: [string, string][] = [
      ...lines.map((l, i): [string, string] => [`json log line ${i}`, l]),
      ...text.map((l, i): [string, string] => [`text log line ${i}`, l]),
      ...files,
      ...ledger.map((r, i): [string, string] => [`ledger row ${i}`, r.row]),
    ];
    for (const [where, content] of places) {
      assert.ok(!content.includes(secret), `the secret leaked into ${where}: ${content}`);
    }
    assert.ok(ledger.some((r) => r.row.includes(`\${${variable}}`)));
  } finally {
    Deno.env.delete(variable);
  }
});

Deno.test("an alert naming an unset variable fails without an attempt and the run keeps its status", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql, CLEAN_RAW);
  await using sink = httpSink();
  const config = await withNotify(
    fx,
    `notify:\n  on: [success]\n  webhook: \${LML_TEST_NEVER_SET_VARIABLE}\n`,
  );
  const result = await monitoredTransform(db, fx, config, "run-unset");
  assert.equal(result.status, "succeeded");
  assert.equal(sink.received.length, 0);
  const [row] = await alertRows(db);
  assert.deepEqual([row!.target, row!.status, row!.attempts, row!.error], [
    "webhook ${LML_TEST_NEVER_SET_VARIABLE}",
    "failed",
    0,
    "environment variable LML_TEST_NEVER_SET_VARIABLE is not set (named in the notify config)",
  ]);
});
