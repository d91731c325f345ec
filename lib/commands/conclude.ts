/**
 * How every command ends a run: the reports written, where they are logged, and the run's
 * outcome turned into an exit code or its error.
 * @module
 */
import {
  DEFAULTS,
  type ExtractResult,
  type Logger,
  RunError,
  type RunResult,
} from "../core/mod.ts";
import { type ReportPaths, writeReports } from "../report/mod.ts";

/**
 * Writes the reports of `result` (default folder "reports", owner-only unless `private` is
 * false) and logs where they went.
 */
export async function reportRun(
  result: RunResult,
  options: { dir?: string | undefined; logger: Logger; private?: boolean | undefined },
): Promise<ReportPaths> {
  const paths = await writeReports(result, {
    dir: options.dir ?? DEFAULTS.reportsDir,
    private: options.private,
  });
  options.logger.info(`reports: ${paths.markdown}`, { junit: paths.junit });
  return paths;
}

/** 0 for a run that did not fail; otherwise throws the run's error (exit code 1). */
export function exitCode(result: RunResult, logger: Logger): number {
  if (result.status !== "failed") return 0;
  if (result.failedChecks.length > 0) {
    logger.error(`failed error checks: ${result.failedChecks.join(", ")}`);
  }
  throw result.error ?? new RunError(`${result.command} ${result.runId} failed`);
}

/**
 * The error of an extraction where some collections failed, naming each with its reason, or
 * undefined when none did. `outcome` says what happened to the data, e.g. "nothing was changed".
 */
export function extractionFailure(
  results: readonly ExtractResult[],
  outcome: string,
): RunError | undefined {
  const failed = results.filter((r) => r.status === "failed");
  if (failed.length === 0) return undefined;
  return new RunError(
    `${failed.length} of ${results.length} collections failed to extract; ${outcome}:\n` +
      failed.map((r) => `  ${r.error ?? r.collection}`).join("\n"),
  );
}
