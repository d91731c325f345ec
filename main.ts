/**
 * The lml command line: `deno task <command>` or `deno run -A main.ts <command>`.
 * Parses arguments only; the commands live in lib/commands/.
 * @module
 */
import { parseArgs } from "node:util";
import { COMMANDS, OPTIONS, reportFailure, runCommand } from "./lib/commands/mod.ts";
import { UsageError } from "./lib/core/mod.ts";

if (import.meta.main) {
  const args = Deno.args;
  let debug = args.includes("--debug");
  try {
    const { values, positionals } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    debug = values.debug ?? false;
    const [name, ...rest] = positionals;
    Deno.exitCode = await runCommand(name, rest, values);
  } catch (error) {
    const usage =
      error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
        ? new UsageError(error.message, {
          hint: `see: deno task <command> --help (commands: ${Object.keys(COMMANDS).join(", ")})`,
        })
        : error;
    Deno.exitCode = reportFailure(usage, { debug });
  }
}
