/**
 * How the command line reports a failure: one redacted line plus a hint, and an exit code.
 * @module
 */
import { escapeControl, LmlError, redactText } from "../core/mod.ts";

const encoder = new TextEncoder();

/**
 * Prints `error` for people (stack only with `debug`) and returns the exit code: the toolkit
 * error's own (2 usage/config, 1 failed run), 1 for anything unexpected.
 */
export function reportFailure(
  error: unknown,
  options: { debug?: boolean; write?: (text: string) => void } = {},
): number {
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const err = error instanceof Error ? error : new Error(String(error));
  const known = err instanceof LmlError;
  let text = `error: ${err.message}\n`;
  if (known && err.hint) text += `hint: ${err.hint}\n`;
  else if (!known) text += "hint: run again with --debug to see where it failed\n";
  if (options.debug) {
    text += `${err.stack ?? ""}\n`;
    if (err.cause instanceof Error) text += `caused by: ${err.cause.stack ?? err.cause.message}\n`;
  }
  write(escapeControl(redactText(text)));
  return known ? err.exitCode : 1;
}
