/**
 * How the command line reports a failure: one redacted line plus a hint, and an exit code.
 * @module
 */
import { redactText } from "../core/db.ts";
import { ConfigError, RunError, UsageError } from "../core/errors.ts";

const encoder = new TextEncoder();

/** Prints `error` for people (stack only with `debug`) and returns the exit code: 2 usage/config, 1 otherwise. */
export function reportFailure(
  error: unknown,
  options: { debug?: boolean; write?: (text: string) => void } = {},
): number {
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const err = error instanceof Error ? error : new Error(String(error));
  const code = err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  const hint = (err as { hint?: string }).hint;
  let text = `error: ${err.message}\n`;
  if (hint) text += `hint: ${hint}\n`;
  else if (!(err instanceof UsageError || err instanceof ConfigError || err instanceof RunError)) {
    text += "hint: run again with --debug to see where it failed\n";
  }
  if (options.debug) {
    text += `${err.stack ?? ""}\n`;
    if (err.cause instanceof Error) text += `caused by: ${err.cause.stack ?? err.cause.message}\n`;
  }
  write(redactText(text));
  return code;
}
