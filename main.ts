/**
 * The lml command line: `deno task <command>` or `deno run -A main.ts <command>`.
 * Parses arguments only; the commands live in lib/commands.ts.
 * @module
 */
import { parseArgs } from "node:util";
import { COMMANDS, runCommand } from "./lib/commands/commands.ts";
import { UsageError } from "./lib/core/errors.ts";
import { reportFailure } from "./lib/commands/failure.ts";

const OPTIONS = {
  source: { type: "string" },
  "database-url": { type: "string" },
  config: { type: "string" },
  select: { type: "string" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean" },
  "log-format": { type: "string" },
  scale: { type: "string" },
  seed: { type: "string" },
  format: { type: "string" },
  reports: { type: "string" },
  port: { type: "string" },
  schema: { type: "string" },
  "sample-size": { type: "string" },
  concurrency: { type: "string" },
  "max-age": { type: "string" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

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
