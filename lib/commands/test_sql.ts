/**
 * `deno task test-sql`: runs the SQL unit tests, prints each outcome (a diff at file:line for
 * a failure) and writes JUnit XML for CI; `--new <collection> <_id>` writes a test from a real
 * raw document.
 * @module
 */
import { type Logger, type PipelineConfig, type Sql } from "../core/mod.ts";
import {
  createTest,
  findTests,
  formatResult,
  formatTotals,
  renderTestJunit,
  runSqlTests,
} from "../sqltest/mod.ts";

/** Options of {@linkcode testSql}. */
export interface TestSqlOptions {
  /** Collection or schema names (their tests and downstream ones run). Default: all. */
  select: readonly string[];
  /** Reports folder receiving test-sql.xml. */
  reportsDir: string;
  /** Progress and warnings. */
  logger: Logger;
  /** Where results go. Default: stdout. */
  print?: (line: string) => void;
}

/** Runs the tests; returns the exit code (1 when one failed or errored). */
export async function testSql(
  sql: Sql,
  config: PipelineConfig,
  options: TestSqlOptions,
): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const tests = await findTests(config, { select: options.select });
  if (tests.length === 0) {
    options.logger.warn("no SQL unit tests found (sql/<schema>/tests/*.yaml)");
  }
  const results = await runSqlTests(sql, config, {
    tests,
    logger: options.logger,
    onResult: (result) => print(formatResult(result)),
  });
  print(formatTotals(results));
  const dir = options.reportsDir.replace(/\/+$/, "") || ".";
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/test-sql.xml`;
  await Deno.writeTextFile(path, renderTestJunit(results));
  options.logger.info(`JUnit written to ${path}`);
  return results.every((r) => r.status === "passed") ? 0 : 1;
}

/** Writes a test from document `id` of `collection` in lml_raw; returns the exit code. */
export async function newSqlTest(
  sql: Sql,
  config: PipelineConfig,
  options: { collection: string; id: string; name?: string | undefined; logger: Logger },
): Promise<number> {
  const created = await createTest(sql, config, options);
  options.logger.info(
    `wrote ${created.path}: ${created.given} document(s), ${created.rows} expected row(s) in ` +
      `${created.tables} table(s); review it, then: deno task test-sql --select ${created.schema}`,
  );
  return 0;
}
