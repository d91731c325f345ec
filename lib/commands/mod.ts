/**
 * The commands of the command line and how a failure is printed.
 * @module
 */
export { COMMANDS, OPTIONS, runCommand } from "./commands.ts";
export { reportFailure } from "./failure.ts";
