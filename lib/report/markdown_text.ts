/**
 * Making untrusted text inert in Markdown (CommonMark and GitHub's renderer): inline text,
 * code spans and fenced code blocks.
 * @module
 */
import { escapeControl } from "../core/mod.ts";

// Everything CommonMark or GitHub interprets inline: emphasis, code, links, images, raw HTML,
// entities, tables, strikethrough; `_` only where it can open or close emphasis (not inside a
// word, so snake_case names stay readable).
const INLINE = /[\\`*[\]()<>|~&!#]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu;
// A line that would start a heading, list, quote, thematic break or setext underline.
const LINE_START = /^(\s*)([-+=>#]|\d+[.)])/;

/**
 * `text` as one line of inline Markdown showing exactly its characters: line breaks (`\r`
 * alone too) become spaces, control characters `\xNN`, and every character Markdown reads as
 * syntax is backslash-escaped.
 */
export function markdownInline(text: string): string {
  const line = escapeControl(text.replace(/\r\n|\r|\n/g, " "), { newlines: false });
  return line.replace(INLINE, (c) => `\\${c}`).replace(LINE_START, "$1\\$2");
}

/** `text` as a code span, delimited by more backticks than any run inside it. */
export function markdownCode(text: string): string {
  const inner = escapeControl(text.replace(/\r\n|\r|\n/g, " "), { newlines: false });
  const ticks = "`".repeat(longestRun(inner) + 1);
  const pad = inner.startsWith("`") || inner.endsWith("`") || inner === "" ? " " : "";
  return `${ticks}${pad}${inner}${pad}${ticks}`;
}

/**
 * `text` as a fenced code block (lines), fenced with more backticks than any run inside it;
 * control characters (a lone `\r` included) are shown as `\xNN`.
 */
export function markdownFence(text: string, info = "text"): string[] {
  const body = escapeControl(text.replace(/\r\n/g, "\n"));
  const fence = "`".repeat(Math.max(3, longestRun(body) + 1));
  return [`${fence}${info}`, body, fence];
}

function longestRun(text: string): number {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}
