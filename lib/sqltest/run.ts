/**
 * Finding and running the SQL unit tests: each test builds its sandbox (sandbox.ts), compares
 * the tables and checks it names, and is rolled back.
 * @module
 */
import type postgres from "postgres";
import {
  type CheckResult,
  type CollectionConfig,
  DEFAULT_REPORTS,
  didYouMean,
  displayPath,
  type Logger,
  maskSamples,
  type PipelineConfig,
  quoteIdent,
  selectCollections,
  silentLogger,
  type Sql,
} from "../core/mod.ts";
import {
  type Check,
  derivedChecks,
  discoverFiles,
  fileChecks,
  runCheckList,
  type SqlLayout,
} from "../transform/mod.ts";
import { columnsOf, compareRows, isEmptyDiff, primaryKeyOf, type RowDiff } from "./compare.ts";
import { inSandbox } from "./sandbox.ts";
import {
  type ExpectedCheck,
  type ExpectedTable,
  parseTestFile,
  type SqlTest,
  TestFileError,
} from "./spec.ts";

/** A table compared. */
export interface TableOutcome {
  /** What the test expected. */
  expected: ExpectedTable;
  /** Where it differs (empty lists: it does not). */
  diff: RowDiff;
}

/** A check compared (or an error check that offended unexpectedly). */
export interface CheckOutcome {
  /** What the test expected; undefined for an error check the test did not name. */
  expected: ExpectedCheck | undefined;
  /** What the check did. */
  actual: CheckResult;
  /** Row differences, when the test listed rows. */
  diff: RowDiff | undefined;
  /** Why it does not pass, or undefined when it does. */
  problem: string | undefined;
}

/** The outcome of one test. */
export interface TestResult {
  /** The test. */
  test: SqlTest;
  /** passed; failed (a difference); errored (the SQL or the test file could not run). */
  status: "passed" | "failed" | "errored";
  /** Time taken. */
  seconds: number;
  /** Every table the test names. */
  tables: TableOutcome[];
  /** Every check the test names, and error checks that offended unnamed. */
  checks: CheckOutcome[];
  /** Why it errored. */
  error: Error | undefined;
}

/** Options of {@linkcode findTests}. */
export interface FindOptions {
  /** Collection or schema names whose tests (and downstream ones) run. Default: all. */
  select?: readonly string[];
}

/** Test files of one collection. */
export interface TestFiles {
  /** The collection. */
  collection: CollectionConfig;
  /** `sql/<schema>/tests/*.yaml`, by name. */
  paths: string[];
}

/** The folder holding the tests of `collection`. */
export function testsDir(config: PipelineConfig, collection: CollectionConfig): string {
  return `${config.sqlDir.replace(/\/+$/, "")}/${collection.schema}/tests`;
}

/**
 * The tests of the selected collections (with `select`, those and everything downstream, as
 * for transforms), in run order, parsed. Throws TestFileError for a bad file.
 */
export async function findTests(
  config: PipelineConfig,
  options: FindOptions = {},
): Promise<SqlTest[]> {
  const tests: SqlTest[] = [];
  for (const collection of selectCollections(config, options.select ?? [])) {
    const dir = testsDir(config, collection);
    let names: string[];
    try {
      names = (await Array.fromAsync(Deno.readDir(dir)))
        .filter((e) => e.isFile && /\.ya?ml$/.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const name of names) {
      const path = `${dir}/${name}`;
      tests.push(
        ...parseTestFile(await Deno.readTextFile(path), displayPath(path), { config, collection }),
      );
    }
  }
  return tests;
}

/** Options of {@linkcode runSqlTests}. */
export interface RunTestsOptions {
  /** The tests to run. Default: those {@linkcode findTests} finds for `select`. */
  tests?: readonly SqlTest[];
  /** Collection or schema names, when `tests` is not given. Default: all. */
  select?: readonly string[];
  /** Lock waits. Default: silent. */
  logger?: Logger;
  /** Called after each test. */
  onResult?: (result: TestResult) => void;
  /** The SQL files (discovered once). Default: discovered now. */
  layout?: SqlLayout;
}

/** Runs the tests one after the other, each in its own rolled-back sandbox. */
export async function runSqlTests(
  sql: Sql,
  config: PipelineConfig,
  options: RunTestsOptions = {},
): Promise<TestResult[]> {
  const logger = options.logger ?? silentLogger;
  const tests = options.tests ?? await findTests(config, { select: options.select ?? [] });
  const layout = options.layout ?? await discoverFiles(config);
  const results: TestResult[] = [];
  for (const test of tests) {
    const result = await runOne(sql, config, { test, layout, logger });
    results.push(result);
    options.onResult?.(result);
  }
  return results;
}

/** Runs one test; resolves with its result (errors of the SQL or the file included). */
async function runOne(
  sql: Sql,
  config: PipelineConfig,
  options: { test: SqlTest; layout: SqlLayout; logger: Logger },
): Promise<TestResult> {
  const { test } = options;
  const started = performance.now();
  const result: TestResult = {
    test,
    status: "passed",
    seconds: 0,
    tables: [],
    checks: [],
    error: undefined,
  };
  try {
    await inSandbox(
      { sql, config, layout: options.layout, logger: options.logger, test },
      async (tx) => {
        result.tables = await compareTables(tx, test);
        result.checks = await compareChecks(tx, config, options.layout, test);
      },
    );
    const differs = result.tables.some((t) => !isEmptyDiff(t.diff)) ||
      result.checks.some((c) => c.problem !== undefined);
    result.status = differs ? "failed" : "passed";
  } catch (error) {
    result.status = "errored";
    result.error = error instanceof Error ? error : new Error(String(error));
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function compareTables(tx: postgres.TransactionSql, test: SqlTest): Promise<TableOutcome[]> {
  const outcomes: TableOutcome[] = [];
  for (const expected of test.expect) {
    const what = `${expected.schema}.${expected.table}`;
    const relation = `${quoteIdent(expected.schema)}.${quoteIdent(expected.table)}`;
    const columns = await columnsOf(tx, relation);
    if (columns.length === 0) {
      const existing = await tx<{ name: string }[]>`
        select c.relname::text as name from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ${expected.schema} and c.relkind in ('r', 'p', 'v', 'm')
      `;
      throw new TestFileError(
        `no table ${what} after the build${
          didYouMean(expected.table, existing.map((r) => r.name))
        } (only the test's schema and those upstream of it are built)`,
        { file: test.file, line: expected.line },
      );
    }
    const orderBy = expected.ordered && expected.orderBy.length === 0
      ? await primaryKeyOf(tx, relation)
      : expected.orderBy;
    const diff = await compareRows(tx, { relation, columns, rows: expected.rows }, {
      file: test.file,
      what,
      ordered: expected.ordered,
      orderBy,
    });
    outcomes.push({ expected, diff });
  }
  return outcomes;
}

async function compareChecks(
  tx: postgres.TransactionSql,
  config: PipelineConfig,
  layout: SqlLayout,
  test: SqlTest,
): Promise<CheckOutcome[]> {
  const schema = test.collection.schema;
  const own: Check[] = [
    ...await derivedChecks(tx, config, { collections: [test.collection] }),
    ...fileChecks(layout.checks.filter((c) => c.schema === schema)),
  ];
  const global = fileChecks(layout.checks.filter((c) => c.schema === undefined));
  const named = new Set(test.checks.map((c) => c.name));
  const list = [...own, ...global.filter((c) => named.has(c.name))];
  for (const expected of test.checks) {
    if (!list.some((c) => c.name === expected.name)) {
      throw new TestFileError(
        `test "${test.name}": no check "${expected.name}" for ${schema}${
          didYouMean(expected.name, list.map((c) => c.name))
        }`,
        { file: test.file, line: expected.line },
      );
    }
  }
  const results = maskSamples(
    await runCheckList(tx, list),
    (config.reports ?? DEFAULT_REPORTS).maskedColumns,
  );
  const outcomes: CheckOutcome[] = [];
  for (const [k, actual] of results.entries()) {
    const expected = test.checks.find((c) => c.name === actual.name);
    if (!expected) {
      if (actual.severity === "error" && actual.status !== "passed") {
        outcomes.push({
          expected: undefined,
          actual,
          diff: undefined,
          problem: actual.status === "errored"
            ? `could not run: ${actual.error}`
            : `error check offends with ${actual.offending} row(s): a run would fail; ` +
              `list it under checks: if the test means it`,
        });
      }
      continue;
    }
    let problem: string | undefined;
    let diff: RowDiff | undefined;
    if (actual.status === "errored") {
      problem = `could not run: ${actual.error}`;
    } else {
      if (expected.offending !== undefined && expected.offending !== actual.offending) {
        problem = `expected ${expected.offending} offending row(s), got ${actual.offending}`;
      }
      if (expected.rows !== undefined) {
        const view = `pg_temp.${quoteIdent(`lml_test_sql_check_${k}`)}`;
        await tx.savepoint((sp) => sp.unsafe(`create temporary view ${view} as ${list[k]!.query}`));
        const columns = await columnsOf(tx, view);
        diff = await compareRows(tx, { relation: view, columns, rows: expected.rows }, {
          file: test.file,
          what: `check ${actual.name}`,
        });
        if (!isEmptyDiff(diff)) {
          problem ??= `offends with other rows than expected (${actual.offending} row(s))`;
        }
      }
    }
    outcomes.push({ expected, actual, diff, problem });
  }
  return outcomes;
}
