/**
 * The sandbox a SQL unit test runs in: ONE transaction that always rolls back. Inside it the
 * schemas of the pipeline (lml_raw, lml_util and every collection's) are renamed out of the way
 * (a catalog update no other session sees, and that takes no lock on their tables: readers of
 * the real data go on undisturbed), lml_raw is recreated holding only the test's documents
 * (encoded as extraction encodes them), and the SQL files run unchanged: the shared helpers,
 * then the test's collection and everything upstream of it, in run order. Then the caller
 * looks; then everything is rolled back, the renames included. Nothing is left behind.
 * @module
 */
import type postgres from "postgres";
import { JsonLineError, rawRowOfJson, rawTableStatements } from "../../extract/mod.ts";
import {
  type CollectionConfig,
  DEFAULTS,
  hex,
  LmlError,
  type Logger,
  type PipelineConfig,
  quoteIdent,
  RetryLog,
  silentLogger,
  type Sql,
} from "../core/mod.ts";
import { type SqlLayout, StatementRunner } from "../transform/mod.ts";
import { type SqlTest, TestFileError } from "./spec.ts";

/** Everything a sandbox needs besides the test. */
export interface SandboxContext {
  /** A pool on the target database (two connections: the transaction, lock diagnostics). */
  sql: Sql;
  /** The pipeline config. */
  config: PipelineConfig;
  /** The SQL files of every collection (discoverFiles). */
  layout: SqlLayout;
  /** Lock waits and retries. Default: silent. */
  logger?: Logger;
}

const ROLLBACK = Symbol("rollback");

/** The collections `collection` needs built first (upstream, transitively), then itself, in run order. */
export function buildOrder(
  config: PipelineConfig,
  collection: CollectionConfig,
): CollectionConfig[] {
  const byName = new Map(config.collections.map((c) => [c.name, c]));
  const needed = new Set<string>([collection.name]);
  const visit = (name: string) => {
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (!needed.has(dep)) (needed.add(dep), visit(dep));
    }
  };
  visit(collection.name);
  return config.collections.filter((c) => needed.has(c.name));
}

/**
 * Builds the sandbox of `context.test` and calls `look` inside it; the transaction is rolled back
 * afterwards whatever happens. Resolves with what `look` returned; rejects with the error of
 * the build (SqlFileError at the SQL file's line, TestFileError at the document's line) or of
 * `look`.
 */
export async function inSandbox<T>(
  context: SandboxContext & { test: SqlTest },
  look: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  const { sql, config, layout, test } = context;
  const build = new Set(buildOrder(config, test.collection).map((c) => c.schema));
  const runner = new StatementRunner(sql, context.logger ?? silentLogger, {
    lockTimeoutMs: DEFAULTS.lockTimeoutMs,
    lockRetries: DEFAULTS.lockRetries,
    lockRetryDelayMs: DEFAULTS.lockRetryDelayMs,
    watchedSchemas: [config.rawSchema, config.utilSchema, ...build],
    retries: new RetryLog(context.logger ?? silentLogger),
  });
  const rows = encodeGiven(test);
  let outcome: { value: T } | undefined;
  try {
    await sql.begin(async (tx) => {
      await runner.begin(tx, "test-sql", new Date());
      await hideSchemas(tx, runner, [
        config.rawSchema,
        config.utilSchema,
        ...config.collections.map((c) => c.schema),
      ]);
      await createRaw(runner, config, rows, test);
      for (const file of layout.shared) await runner.runFile(file);
      for (const entry of layout.schemas) {
        if (!build.has(entry.schema)) continue;
        await runner.run(
          (sp) => sp`create schema ${sp(entry.schema)}`,
          `schema ${entry.schema} (create)`,
        );
        for (const file of entry.files) await runner.runFile(file);
      }
      // One rendering of timestamps for the comparisons, whatever the session's zone.
      await runner.run("set local timezone = 'UTC'", "test-sql (time zone)");
      outcome = { value: await look(tx) };
      throw ROLLBACK;
    });
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
  if (!outcome) throw new LmlError("the sandbox ended without a result");
  return outcome.value;
}

interface EncodedDocument {
  collection: string;
  line: number;
  id: string;
  doc: string;
  original: string | null;
}

/** The test's documents as raw rows; TestFileError at the line of a bad or repeated document. */
function encodeGiven(test: SqlTest): EncodedDocument[] {
  const seen = new Map<string, number>();
  return test.given.map((given) => {
    let row;
    try {
      row = rawRowOfJson(given.json);
    } catch (error) {
      if (!(error instanceof JsonLineError) && !(error instanceof SyntaxError)) throw error;
      const column = error instanceof JsonLineError ? ` (character ${error.column})` : "";
      throw new TestFileError(
        `test "${test.name}": ${given.collection} document: ${error.message}${column}`,
        { file: test.file, line: given.line },
      );
    }
    const key = `${given.collection}\u0000${row.id}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new TestFileError(
        `test "${test.name}": ${given.collection} has _id ${
          JSON.stringify(row.id)
        } twice (also at line ${other})`,
        { file: test.file, line: given.line },
      );
    }
    seen.set(key, given.line);
    return {
      collection: given.collection,
      line: given.line,
      id: row.id,
      doc: row.doc,
      original: row.original ? hex(row.original) : null,
    };
  });
}

/** Renames each existing schema of `names` out of the way, inside the transaction. */
async function hideSchemas(
  tx: postgres.TransactionSql,
  runner: StatementRunner,
  names: readonly string[],
): Promise<void> {
  const existing = await tx<{ name: string; pid: number }[]>`
    select nspname::text as name, pg_backend_pid() as pid
    from pg_namespace where nspname = any(${names as string[]}::text[])
  `;
  for (const { name, pid } of existing) {
    const hidden = `${name.slice(0, 40)}__test_sql_${pid}`;
    await runner.run(
      (sp) => sp`alter schema ${sp(name)} rename to ${sp(hidden)}`,
      `schema ${name} (set aside for the test)`,
    );
  }
}

/** Creates lml_raw with every collection's table, holding the test's documents. */
async function createRaw(
  runner: StatementRunner,
  config: PipelineConfig,
  rows: readonly EncodedDocument[],
  test: SqlTest,
): Promise<void> {
  const raw = config.rawSchema;
  await runner.run((sp) => sp`create schema ${sp(raw)}`, `schema ${raw} (create)`);
  for (const collection of config.collections) {
    const table = `${quoteIdent(raw)}.${quoteIdent(collection.name)}`;
    const [create] = rawTableStatements(table);
    await runner.run(create!, `${raw}.${collection.name} (create)`);
    await runner.run(
      `alter table ${table} add primary key (_id)`,
      `${raw}.${collection.name} (primary key)`,
    );
  }
  for (const row of rows) {
    await runner.run(
      (sp) =>
        sp`
        insert into ${sp(raw)}.${sp(row.collection)} (_id, doc, original, extracted_at)
        values (${row.id}, ${row.doc}::text::jsonb, decode(${row.original}::text, 'hex'), now())
      `,
      `${test.file}:${row.line}`,
    );
  }
}
