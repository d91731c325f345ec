import assert from "node:assert/strict";
import { RunError } from "../../../lib/core/errors.ts";
import { newRunResult, type RunResult } from "../../../lib/core/result.ts";
import { renderJson } from "../../../lib/report/json.ts";
import { renderJunit } from "../../../lib/report/junit.ts";
import { renderMarkdown } from "../../../lib/report/markdown.ts";
import { hasControl, NASTY, NASTY_STRINGS } from "../../support/nasty.ts";

/** A failed run whose every text field carries the nasty strings. */
function hostileRun(): RunResult {
  const result = newRunResult({
    runId: "hostile",
    command: "transform",
    selected: ["f_people"],
    graph: "flowchart LR\n  f_people",
  });
  const samples = NASTY_STRINGS.map((value, i) => ({ [`col ${i} ${value}`]: value, n: i }));
  result.status = "failed";
  result.checks = [{
    name: `names ${NASTY.backtick}`,
    schema: "f_people",
    severity: "warn",
    status: "failed",
    offending: samples.length,
    samples: [Object.fromEntries(NASTY_STRINGS.map((v, i) => [`c${i}`, v])), ...samples],
    description: `${NASTY.markdown} ${NASTY.link} ${NASTY.script}`,
    seconds: 0.1,
    source: "file",
  }, {
    name: "errored_check",
    schema: null,
    severity: "error",
    status: "errored",
    offending: 0,
    samples: [],
    description: NASTY.carriageReturn,
    seconds: 0.1,
    source: "file",
    error: `syntax error\n${NASTY.backticks}\n\`\`\`\`\n${NASTY.terminal}`,
  }];
  result.failedChecks = [];
  result.extract = [{
    collection: "people",
    documents: 1,
    bytes: 1,
    anomalies: 0,
    seconds: 1,
    status: "failed",
    error: NASTY.newline + NASTY.script,
  }];
  result.error = new RunError(`broke at ${NASTY.backticks}\n\`\`\`\`\`\n${NASTY.cdataEnd}`, {
    hint: `${NASTY.link} ${NASTY.carriageReturn}`,
  });
  return result;
}

/** Lines outside fenced code blocks, and the fenced blocks' bodies. */
function splitFences(markdown: string): { prose: string[]; blocks: string[] } {
  const prose: string[] = [];
  const blocks: string[] = [];
  let fence: string | undefined;
  let body: string[] = [];
  for (const line of markdown.split("\n")) {
    const opener = /^(`{3,})/.exec(line)?.[1];
    if (fence === undefined && opener) [fence, body] = [opener, []];
    else if (fence !== undefined && line === fence) {
      blocks.push(body.join("\n"));
      fence = undefined;
    } else if (fence !== undefined) body.push(line);
    else prose.push(line);
  }
  assert.equal(fence, undefined, "every fence is closed");
  return { prose, blocks };
}

/** `|` that CommonMark reads as a cell border (not backslash-escaped, outside code spans). */
function borders(line: string): number {
  return [...line.matchAll(/(?<!\\)(?:\\\\)*\|/g)].length;
}

Deno.test("report.md keeps hostile sample values, names and errors inert", () => {
  const markdown = renderMarkdown(hostileRun());
  assert.ok(!markdown.includes("\r"), "no carriage return reaches the file");
  assert.ok(!hasControl(markdown.replace(/\n/g, "")), "no control character");
  assert.ok(!markdown.includes("\x1b"), "no terminal escape");
  const { prose, blocks } = splitFences(markdown);
  // The error message and the errored check keep their backticks and fences inside the block.
  assert.ok(blocks.some((b) => b.includes("`````") && b.includes("]]>")), blocks.join("\n---\n"));
  assert.ok(blocks.some((b) => b.includes("````") && b.includes("\\x1b[31m")));
  for (const line of prose) {
    const unescaped = line.replace(/\\[\\`*_[\]()<>|~&!#+=>-]/g, "");
    assert.doesNotMatch(unescaped, /<|\]\(|!\[|\*em\*|~~/, `live Markdown in: ${line}`);
    if (line.startsWith("|")) {
      assert.ok(line.endsWith("|"), line);
    }
    assert.doesNotMatch(line, /^\s*(#+ (head|item)|[-+] item|> quote)/, `block syntax: ${line}`);
  }
  // Each sample row has exactly one cell per column.
  const header = prose.findIndex((l) => l.startsWith("| c0 "));
  assert.ok(header > 0, "the sample table is there");
  const columns = borders(prose[header]!);
  for (let i = header; prose[i]!.startsWith("|"); i++) {
    assert.equal(borders(prose[i]!), columns, prose[i]);
  }
  // Backtick-laden check names are whole code spans.
  assert.ok(markdown.includes("names a\\`b\\`\\`c"), "names escaped in headings and tables");
});

Deno.test("junit.xml and report.json carry hostile text well-formed", () => {
  const result = hostileRun();
  const xml = renderJunit(result);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  assert.ok(xml.isWellFormed(), "no lone surrogate");
  assert.ok(!xml.includes("<script") && !xml.includes("]]>"), "markup escaped");
  assert.equal(xml.match(/<testcase /g)?.length, 3);
  const json = JSON.stringify(renderJson(result), null, 2);
  const parsed = JSON.parse(json);
  assert.deepEqual(parsed.checks[0].samples, result.checks[0]!.samples);
  assert.equal(parsed.error.message, result.error!.message);
});
