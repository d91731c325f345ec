/**
 * Making text inert for a terminal or a one-line log: control characters (escape sequences,
 * carriage returns, NUL, C1 controls) become visible `\xNN` escapes.
 * @module
 */

/**
 * `text` with every C0/C1 control character but tab (and newline, unless `newlines` is false)
 * written as `\xNN`, and lone surrogates as U+FFFD, so printing it cannot move the cursor,
 * recolor, retitle or rewrite a terminal.
 */
export function escapeControl(text: string, options: { newlines?: boolean } = {}): string {
  const keepNewlines = options.newlines ?? true;
  return text
    .replace(
      // deno-lint-ignore no-control-regex
      /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g,
      (c) => c === "\n" && keepNewlines ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
    )
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}
