/**
 * The shared fixture of hostile strings: every writer (SQL, Markdown, JUnit, JSON, terminal,
 * log) is tested against these.
 * @module
 */

/** A password with every character URL redaction used to miss: `/`, `+`, `=` and `@`. */
export const NASTY_PASSWORD = "ab/cd+ef==@x";

/** Hostile strings by what they attack. */
export const NASTY = {
  newline: "owner\ncreate table public.pwned as select 1;\n--",
  carriageReturn: "left\rright",
  crlf: "a\r\nb",
  nul: "nul\u0000byte",
  quotes: `it's "quoted" ''`,
  backticks: "```js\nalert(1)\n```",
  backtick: "a`b``c",
  cdataEnd: "]]> <x>",
  script: "<script>alert(1)</script>",
  link: "[click](https://evil.example/) ![img](x) <https://evil.example>",
  pipe: "a | b \\| c",
  terminal: "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x9b2J",
  loneHigh: "x\ud83dy",
  loneLow: "x\ude00y",
  pair: "😀".repeat(3),
  long: "n".repeat(310),
  comment: "*/ -- /* $$ $x$",
  markdown: "# head\n- item\n> quote\n*em* _u_ ~~s~~",
} as const;

/** Every hostile string of {@linkcode NASTY}. */
export const NASTY_STRINGS: readonly string[] = Object.values(NASTY);

/** A name of 300+ characters ending in a surrogate pair cut at the 300th UTF-16 unit. */
export const LONG_NAME = "k".repeat(299) + "😀" + "tail";

/** True when `text` holds a C0/C1 control character other than tab (terminal-unsafe). */
export function hasControl(text: string): boolean {
  // deno-lint-ignore no-control-regex
  return /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/.test(text);
}
