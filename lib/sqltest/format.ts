/**
 * SQL unit test results for people (a column-level diff at the test's file:line) and for CI
 * (JUnit XML).
 * @module
 */
import { xmlEscape } from "../report/mod.ts";
import type { ActualRow, RowDiff } from "./compare.ts";
import type { CheckOutcome, TestResult } from "./run.ts";
import type { ExpectedRow } from "./spec.ts";

const MAX_ROWS = 20;
const MAX_VALUE = 120;

function show(value: string | null): string {
  if (value === null) return "NULL";
  // deno-lint-ignore no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  return flat.length > MAX_VALUE ? `${flat.slice(0, MAX_VALUE - 1)}…` : flat;
}

function expectedRowText(row: ExpectedRow): string {
  return [...row.cells].map(([name, cell]) => `${name}=${show(cell.text)}`).join(", ");
}

function actualRowText(row: ActualRow, columns: readonly string[]): string {
  return columns.map((name) => `${name}=${show(row[name] ?? null)}`).join(", ");
}

/** The lines of a diff, indented by four spaces. */
function formatDiff(diff: RowDiff, file: string): string[] {
  const indent = "    ";
  const lines: string[] = [];
  for (const change of diff.changed) {
    lines.push(`${indent}row at ${file}:${change.expected.line} differs:`);
    const width = Math.max(6, ...change.differing.map((n) => n.length));
    lines.push(`${indent}  ${"column".padEnd(width)}  expected → actual`);
    for (const name of change.differing) {
      lines.push(
        `${indent}  ${name.padEnd(width)}  ${show(change.expected.cells.get(name)!.text)} → ${
          show(change.actual[name] ?? null)
        }`,
      );
    }
    const same = [...change.expected.cells.keys()].filter((n) => !change.differing.includes(n));
    if (same.length > 0) {
      lines.push(
        `${indent}  (same: ${
          same.map((n) => `${n}=${show(change.expected.cells.get(n)!.text)}`).join(", ")
        })`,
      );
    }
  }
  for (const row of diff.missing.slice(0, MAX_ROWS)) {
    lines.push(`${indent}missing row (${file}:${row.line}): ${expectedRowText(row)}`);
  }
  if (diff.missing.length > MAX_ROWS) {
    lines.push(`${indent}… ${diff.missing.length - MAX_ROWS} more missing rows`);
  }
  for (const row of diff.extra.slice(0, MAX_ROWS)) {
    lines.push(
      `${indent}extra row: ${
        diff.columns.length > 0 ? actualRowText(row, diff.columns) : "(a row; no column named)"
      }`,
    );
  }
  if (diff.extra.length > MAX_ROWS) {
    lines.push(`${indent}… ${diff.extra.length - MAX_ROWS} more extra rows`);
  }
  return lines;
}

function summary(diff: RowDiff): string {
  const parts = [
    diff.changed.length ? `${diff.changed.length} differing` : "",
    diff.missing.length ? `${diff.missing.length} missing` : "",
    diff.extra.length ? `${diff.extra.length} extra` : "",
  ].filter(Boolean);
  return `${parts.join(", ")} (table holds ${diff.actualCount})`;
}

function checkLines(outcome: CheckOutcome, file: string): string[] {
  const at = outcome.expected ? ` (${file}:${outcome.expected.line})` : "";
  const lines = [`  check ${outcome.actual.name}${at}: ${outcome.problem}`];
  if (outcome.diff) lines.push(...formatDiff(outcome.diff, file));
  if (!outcome.expected && outcome.actual.samples.length > 0) {
    for (const sample of outcome.actual.samples.slice(0, 5)) {
      lines.push(`    offending: ${show(JSON.stringify(sample))}`);
    }
  }
  return lines;
}

/** One test's outcome for people: a line, then (unless passed) what differs, with file:line. */
export function formatResult(result: TestResult): string {
  const { test } = result;
  const mark = result.status === "passed" ? "ok  " : result.status === "failed" ? "FAIL" : "ERR ";
  const head = `${mark} ${test.file}:${test.line} ${test.name} (${result.seconds.toFixed(2)} s)`;
  if (result.status === "passed") return head;
  const lines = [head];
  if (test.description) lines.push(`  ${test.description}`);
  if (result.error) {
    lines.push(...result.error.message.split("\n").map((l) => `  ${l}`));
    const hint = (result.error as { hint?: unknown }).hint;
    if (typeof hint === "string") lines.push(`  hint: ${hint}`);
  }
  for (const table of result.tables) {
    if (table.diff.changed.length + table.diff.missing.length + table.diff.extra.length === 0) {
      continue;
    }
    lines.push(
      `  ${table.expected.schema}.${table.expected.table} (${test.file}:${table.expected.line}): ${
        summary(table.diff)
      }`,
    );
    lines.push(...formatDiff(table.diff, test.file));
  }
  for (const check of result.checks) {
    if (check.problem !== undefined) lines.push(...checkLines(check, test.file));
  }
  return lines.join("\n");
}

/** The closing line: counts of passed, failed and errored tests. */
export function formatTotals(results: readonly TestResult[]): string {
  const count = (s: TestResult["status"]) => results.filter((r) => r.status === s).length;
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  return `test-sql: ${count("passed")} passed, ${count("failed")} failed, ${
    count("errored")
  } errored ` +
    `(${results.length} tests, ${seconds.toFixed(1)} s)`;
}

/** JUnit XML of the results: one testsuite per schema, one testcase per test. */
export function renderTestJunit(results: readonly TestResult[]): string {
  const suites = new Map<string, TestResult[]>();
  for (const result of results) {
    const schema = result.test.collection.schema;
    suites.set(schema, [...(suites.get(schema) ?? []), result]);
  }
  const count = (list: readonly TestResult[], s: TestResult["status"]) =>
    list.filter((r) => r.status === s).length;
  const time = (list: readonly TestResult[]) => list.reduce((n, r) => n + r.seconds, 0).toFixed(3);
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="test-sql" tests="${results.length}" failures="${
      count(results, "failed")
    }" errors="${count(results, "errored")}" time="${time(results)}">`,
  ];
  for (const [schema, list] of suites) {
    lines.push(
      `  <testsuite name="${xmlEscape(schema)}" tests="${list.length}" failures="${
        count(list, "failed")
      }" errors="${count(list, "errored")}" time="${time(list)}">`,
    );
    for (const result of list) {
      const { test } = result;
      const file = test.file.split("/").pop()!.replace(/\.ya?ml$/, "");
      const attributes =
        `name="${xmlEscape(test.name)}" classname="${xmlEscape(`${schema}.${file}`)}" ` +
        `file="${xmlEscape(test.file)}" line="${test.line}" time="${result.seconds.toFixed(3)}"`;
      if (result.status === "passed") {
        lines.push(`    <testcase ${attributes}/>`);
        continue;
      }
      const body = formatResult(result).split("\n").slice(1).join("\n");
      const tag = result.status === "failed" ? "failure" : "error";
      const message = result.status === "failed"
        ? `${test.file}:${test.line}: rows or checks differ`
        : `${result.error?.message.split("\n")[0] ?? "error"}`;
      lines.push(
        `    <testcase ${attributes}>`,
        `      <${tag} message="${xmlEscape(message)}">${xmlEscape(body)}</${tag}>`,
        `    </testcase>`,
      );
    }
    lines.push(`  </testsuite>`);
  }
  lines.push(`</testsuites>`, "");
  return lines.join("\n");
}
