/**
 * junit.xml: the run for CI, one testcase per file and per check.
 * @module
 */
import type { CheckResult, RunResult } from "../core/mod.ts";

/** Escapes text for XML attributes and content, replacing characters XML 1.0 cannot hold. */
export function xmlEscape(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

interface TestCase {
  name: string;
  classname: string;
  seconds: number;
  failure?: { message: string; type: string; text: string };
  error?: { message: string; type: string; text: string };
  out?: string;
}

function sampleText(c: CheckResult): string {
  const lines = [`${c.offending} offending rows (${c.severity}): ${c.description}`];
  for (const s of c.samples) lines.push(JSON.stringify(s));
  if (c.offending > c.samples.length) lines.push(`… ${c.offending - c.samples.length} more`);
  return lines.join("\n");
}

/**
 * The junit.xml text: a testsuite "transforms" (one testcase per file run, plus one errored
 * testcase when the run failed on an error that is not a check), then one testsuite per schema
 * with one testcase per check. Failed error checks are failures, errored checks errors; warn
 * checks with offending rows pass and list their samples in system-out.
 */
export function renderJunit(result: RunResult): string {
  const suites = new Map<string, TestCase[]>();
  const add = (suite: string, test: TestCase) => {
    const list = suites.get(suite) ?? [];
    suites.set(suite, list);
    list.push(test);
  };
  if (result.command !== "assert" || result.error && result.failedChecks.length === 0) {
    suites.set("transforms", []);
  }
  for (const f of result.files.filter((f) => f.kind !== "check")) {
    add("transforms", { name: f.path, classname: "transforms", seconds: f.seconds });
  }
  if (result.error && result.failedChecks.length === 0) {
    const where = (result.error as { file?: unknown }).file;
    add("transforms", {
      name: typeof where === "string" ? where : "run",
      classname: "transforms",
      seconds: 0,
      error: {
        message: result.error.message.split("\n")[0]!,
        type: result.error.name,
        text: result.error.message,
      },
    });
  }
  for (const c of result.checks) {
    const suite = c.schema ?? "cross_schema";
    const test: TestCase = { name: c.name, classname: `checks.${suite}`, seconds: c.seconds };
    if (c.status === "errored") {
      test.error = {
        message: c.error?.split("\n")[0] ?? "errored",
        type: "errored",
        text: c.error ?? "",
      };
    } else if (c.status === "failed" && c.severity === "error") {
      test.failure = {
        message: `${c.offending} offending rows: ${c.description}`,
        type: "check_failed",
        text: sampleText(c),
      };
    } else if (c.status === "failed") {
      test.out = sampleText(c);
    }
    add(suite, test);
  }
  const totals = { tests: 0, failures: 0, errors: 0, seconds: 0 };
  const body: string[] = [];
  for (const [name, tests] of suites) {
    const failures = tests.filter((t) => t.failure).length;
    const errors = tests.filter((t) => t.error).length;
    const seconds = tests.reduce((sum, t) => sum + t.seconds, 0);
    totals.tests += tests.length;
    totals.failures += failures;
    totals.errors += errors;
    totals.seconds += seconds;
    body.push(
      `  <testsuite name="${
        xmlEscape(name)
      }" tests="${tests.length}" failures="${failures}" errors="${errors}" skipped="0" time="${
        seconds.toFixed(3)
      }" timestamp="${xmlEscape(result.startedAt.slice(0, 19))}">`,
    );
    for (const t of tests) {
      const open = `    <testcase name="${xmlEscape(t.name)}" classname="${
        xmlEscape(t.classname)
      }" time="${t.seconds.toFixed(3)}"`;
      const inner: string[] = [];
      for (const kind of ["failure", "error"] as const) {
        const f = t[kind];
        if (f) {
          inner.push(
            `      <${kind} message="${xmlEscape(f.message)}" type="${xmlEscape(f.type)}">${
              xmlEscape(f.text)
            }</${kind}>`,
          );
        }
      }
      if (t.out) inner.push(`      <system-out>${xmlEscape(t.out)}</system-out>`);
      body.push(inner.length ? `${open}>\n${inner.join("\n")}\n    </testcase>` : `${open}/>`);
    }
    body.push("  </testsuite>");
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="lml ${result.command} ${
      xmlEscape(result.runId)
    }" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" time="${
      result.seconds.toFixed(3)
    }">`,
    ...body,
    `</testsuites>`,
    "",
  ].join("\n");
}
