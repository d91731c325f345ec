import assert from "node:assert/strict";
import type { CheckResult, RunResult } from "../../../lib/core/result.ts";
import { RunError, UsageError } from "../../../lib/core/errors.ts";
import { renderJunit } from "../../../lib/report/junit.ts";
import { renderMarkdown } from "../../../lib/report/markdown.ts";
import { writeReports } from "../../../lib/report/write.ts";
import { SqlFileError } from "../../../lib/transform/sql_files.ts";

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function decode(raw: string): string {
  return raw.replace(/&([a-z]+|#[0-9]+|#x[0-9a-f]+);|&|</gi, (match, entity?: string) => {
    if (!entity) throw new SyntaxError(`unescaped ${match} in XML text`);
    if (entity.startsWith("#x")) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    const value = ENTITIES[entity];
    if (value === undefined) throw new SyntaxError(`unknown entity &${entity};`);
    return value;
  });
}

/** A strict little parser for the XML subset junit.xml uses; throws on anything malformed. */
function parseXml(xml: string): XmlElement {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml)) {
    throw new SyntaxError("control character not allowed in XML 1.0");
  }
  let i = 0;
  const skipSpace = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  if (xml.startsWith("<?xml")) i = xml.indexOf("?>") + 2;
  skipSpace();
  const element = (): XmlElement => {
    if (xml[i] !== "<") throw new SyntaxError(`expected < at ${i}`);
    i++;
    const name = /^[A-Za-z_][\w.-]*/.exec(xml.slice(i))?.[0];
    if (!name) throw new SyntaxError(`expected a tag name at ${i}`);
    i += name.length;
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (xml.startsWith("/>", i)) {
        i += 2;
        return { name, attributes, children: [], text: "" };
      }
      if (xml[i] === ">") {
        i++;
        break;
      }
      const attr = /^([A-Za-z_][\w.-]*)="([^"]*)"/.exec(xml.slice(i));
      if (!attr) throw new SyntaxError(`bad attribute at ${i}`);
      if (attr[1]! in attributes) throw new SyntaxError(`duplicate attribute ${attr[1]}`);
      attributes[attr[1]!] = decode(attr[2]!);
      i += attr[0].length;
    }
    const children: XmlElement[] = [];
    let text = "";
    for (;;) {
      const next = xml.indexOf("<", i);
      if (next < 0) throw new SyntaxError(`unclosed <${name}>`);
      text += decode(xml.slice(i, next));
      i = next;
      if (xml.startsWith("</", i)) {
        const close = `</${name}>`;
        if (!xml.startsWith(close, i)) throw new SyntaxError(`expected ${close} at ${i}`);
        i += close.length;
        return { name, attributes, children, text };
      }
      children.push(element());
    }
  };
  const root = element();
  skipSpace();
  if (i !== xml.length) throw new SyntaxError("content after the root element");
  return root;
}

/** Asserts the JUnit XML structure: testsuites/testsuite/testcase/failure|error attributes. */
function assertJunit(root: XmlElement): void {
  assert.equal(root.name, "testsuites");
  for (const a of ["tests", "failures", "errors", "time"]) assert.ok(a in root.attributes, a);
  let tests = 0, failures = 0, errors = 0;
  for (const suite of root.children) {
    assert.equal(suite.name, "testsuite");
    for (const a of ["name", "tests", "failures", "errors", "skipped", "time"]) {
      assert.ok(a in suite.attributes, `testsuite@${a}`);
    }
    assert.ok(Number.isFinite(Number(suite.attributes.time)));
    const cases = suite.children.filter((c) => c.name === "testcase");
    assert.equal(cases.length, suite.children.length);
    assert.equal(Number(suite.attributes.tests), cases.length);
    const count = (kind: string) =>
      cases.filter((c) => c.children.some((x) => x.name === kind)).length;
    assert.equal(Number(suite.attributes.failures), count("failure"));
    assert.equal(Number(suite.attributes.errors), count("error"));
    for (const test of cases) {
      for (const a of ["name", "classname", "time"]) assert.ok(a in test.attributes, a);
      for (const child of test.children) {
        assert.ok(["failure", "error", "system-out"].includes(child.name), child.name);
        if (child.name !== "system-out") {
          assert.ok("message" in child.attributes && "type" in child.attributes);
        }
      }
    }
    tests += cases.length;
    failures += count("failure");
    errors += count("error");
  }
  assert.equal(Number(root.attributes.tests), tests);
  assert.equal(Number(root.attributes.failures), failures);
  assert.equal(Number(root.attributes.errors), errors);
}

function check(overrides: Partial<CheckResult> & { name: string }): CheckResult {
  return {
    schema: "f_people",
    severity: "error",
    status: "passed",
    offending: 0,
    samples: [],
    description: "a check",
    seconds: 0.01,
    source: "derived",
    ...overrides,
  };
}

function result(overrides: Partial<RunResult> = {}): RunResult {
  return {
    runId: "20250101T000000Z-abcdef",
    command: "transform",
    status: "succeeded",
    startedAt: "2025-01-01T00:00:00.000Z",
    finishedAt: "2025-01-01T00:00:02.000Z",
    seconds: 2,
    selected: ["f_people"],
    files: [{
      path: "sql/f_people/010_main.sql",
      kind: "transform",
      schema: "f_people",
      sha256: "ab".repeat(32),
      seconds: 1.5,
      rows: 3,
    }],
    checks: [],
    failedChecks: [],
    tables: [{ schema: "f_people", table: "main", rows: 3 }],
    extract: [],
    peakRssBytes: 100 * 1024 * 1024,
    graph: 'flowchart LR\n  f_people["f_people"]',
    error: undefined,
    ...overrides,
  };
}

const HOSTILE = "<b>&amp; \"quoted\" 'single' \u0000nul ]]> \ud800";

Deno.test("renderJunit() writes valid JUnit XML: failures, errors and warn samples", () => {
  const failed = result({
    status: "failed",
    failedChecks: ["no_blank_names", "broken"],
    error: new RunError("2 error checks failed: no_blank_names, broken"),
    checks: [
      check({ name: "ok_check" }),
      check({
        name: "no_blank_names",
        status: "failed",
        offending: 12,
        samples: [{ person_id: "p2", name: HOSTILE }],
      }),
      check({ name: "broken", status: "errored", error: `x.sql:5:6: relation ${HOSTILE}` }),
      check({
        name: "orphans",
        schema: null,
        severity: "warn",
        status: "failed",
        offending: 1,
        samples: [{ id: 1 }],
      }),
    ],
  });
  const root = parseXml(renderJunit(failed));
  assertJunit(root);
  assert.deepEqual(root.children.map((s) => s.attributes.name), [
    "transforms",
    "f_people",
    "cross_schema",
  ]);
  const people = root.children[1]!;
  assert.deepEqual(
    people.children.map((c) => [c.attributes.name, c.children.map((x) => x.name).join()]),
    [["ok_check", ""], ["no_blank_names", "failure"], ["broken", "error"]],
  );
  const failure = people.children[1]!.children[0]!;
  assert.equal(failure.attributes.message, "12 offending rows: a check");
  assert.match(failure.text, /"person_id":"p2"/);
  assert.match(failure.text, /<b>&amp; \\"quoted\\" 'single' \\u0000nul ]]>/);
  assert.match(failure.text, /… 11 more/);
  const error = people.children[2]!.children[0]!;
  assert.equal(
    error.attributes.message,
    "x.sql:5:6: relation <b>&amp; \"quoted\" 'single' \ufffdnul ]]> \ufffd",
  );
  const warn = root.children[2]!.children[0]!;
  assert.equal(warn.children[0]!.name, "system-out");
  assert.equal(Number(root.attributes.failures), 1);
  assert.equal(Number(root.attributes.errors), 1);
});

Deno.test("renderJunit() reports a SQL error as an errored testcase of its file", () => {
  const error = new SqlFileError({
    file: "sql/f_people/020_bad.sql",
    line: 4,
    column: 8,
    sourceLine: "  from from t;",
    pgMessage: 'syntax error at or near "from"',
    code: "42601",
  });
  const root = parseXml(renderJunit(result({ status: "failed", error })));
  assertJunit(root);
  const transforms = root.children[0]!;
  const last = transforms.children.at(-1)!;
  assert.equal(last.attributes.name, "sql/f_people/020_bad.sql");
  assert.equal(last.children[0]!.name, "error");
  assert.equal(last.children[0]!.attributes.type, "SqlFileError");
  assert.equal(
    last.children[0]!.attributes.message,
    'sql/f_people/020_bad.sql:4:8: syntax error at or near "from"',
  );
  assert.equal(Number(root.attributes.errors), 1);
});

Deno.test("renderMarkdown() starts with the verdict and shows samples, tables and extraction", () => {
  const text = renderMarkdown(result({
    status: "failed",
    failedChecks: ["no_blank_names"],
    error: new RunError("1 error check failed: no_blank_names"),
    checks: [
      check({ name: "fine" }),
      check({
        name: "no_blank_names",
        status: "failed",
        offending: 1,
        samples: [{ person_id: "p|2", name: "a\nb" }],
      }),
    ],
    extract: [{
      collection: "people_src",
      documents: 3,
      bytes: 2048,
      anomalies: 1,
      seconds: 0.5,
      status: "succeeded",
    }],
  }));
  const lines = text.split("\n");
  assert.equal(lines[0], "# lml transform: FAILED");
  assert.equal(lines[2], "**Failed** (rolled back): 1 error check did not pass: `no_blank_names`.");
  assert.ok(text.indexOf("| no_blank_names |") < text.indexOf("| fine |"));
  assert.match(text, /\| person_id \| name \|\n\|---\|---\|\n\| p\\\|2 \| a b \|/);
  assert.match(text, /\| sql\/f_people\/010_main\.sql \| 3 \| 1\.50 \| `abababababab` \|/);
  assert.match(
    text,
    /## Tables \(as built before the rollback\)\n\n\| table \| rows \|\n\|---\|---:\|\n\| f_people\.main \| 3 \|/,
  );
  assert.match(text, /\| people_src \| succeeded \| 3 \| 2\.0 KiB \| 1 \| 0\.5 \| {2}\|/);
  assert.match(text, /peak memory 100\.0 MiB/);
  assert.match(text, /```mermaid\nflowchart LR\n/);
});

Deno.test("writeReports() writes the three reports, latest on top and each run kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lml_reports_" });
  try {
    const first = await writeReports(result({ runId: "run-a" }), { dir: `${dir}/reports` });
    const second = await writeReports(
      result({ runId: "run-b", status: "failed", error: new RunError("boom") }),
      { dir: `${dir}/reports` },
    );
    assert.equal(first.runDir, `${dir}/reports/runs/run-a`);
    assert.equal(second.json, `${dir}/reports/report.json`);
    const latest = JSON.parse(await Deno.readTextFile(second.json));
    assert.equal(latest.format, "lml-report/1");
    assert.equal(latest.run_id, "run-b");
    assert.equal(latest.status, "failed");
    assert.deepEqual(latest.error, { name: "RunError", message: "boom" });
    assert.deepEqual(Object.keys(latest), [
      "format",
      "run_id",
      "command",
      "status",
      "started_at",
      "finished_at",
      "seconds",
      "peak_rss_bytes",
      "selected",
      "failed_checks",
      "error",
      "files",
      "checks",
      "tables",
      "extract",
      "retries",
      "graph",
    ]);
    const kept = JSON.parse(await Deno.readTextFile(`${dir}/reports/runs/run-a/report.json`));
    assert.equal(kept.run_id, "run-a");
    for (const name of ["report.md", "junit.xml", "report.json"]) {
      await Deno.stat(`${dir}/reports/runs/run-b/${name}`);
    }
    const entries = await Array.fromAsync(Deno.readDir(`${dir}/reports`));
    assert.deepEqual(entries.map((e) => e.name).sort(), [
      "junit.xml",
      "report.json",
      "report.md",
      "runs",
    ]);
    await assert.rejects(
      () => writeReports(result({ runId: "../escape" }), { dir: `${dir}/reports` }),
      UsageError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
