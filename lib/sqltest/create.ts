/**
 * `test-sql --new <collection> <_id>`: a new test from a real document of lml_raw (with the
 * upstream documents it references by id, one hop) and the rows the current SQL produces for
 * it, for the analyst to review: the fastest way to pin a bug down before fixing it. The test
 * is run once more as written before this returns, so what is written passes.
 * @module
 */
import { deserialize, EJSON } from "bson";
import {
  didYouMean,
  displayPath,
  listTables,
  LmlError,
  type Logger,
  type PipelineConfig,
  quoteIdent,
  silentLogger,
  type Sql,
  UsageError,
} from "../core/mod.ts";
import { derivedChecks, discoverFiles, fileChecks, runCheckList } from "../transform/mod.ts";
import { canonical, type ColumnInfo, columnsOf, primaryKeyOf } from "./compare.ts";
import { formatResult } from "./format.ts";
import { runSqlTests, testsDir } from "./run.ts";
import { buildOrder, inSandbox } from "./sandbox.ts";
import { parseTestFile, type SqlTest } from "./spec.ts";

/** Options of {@linkcode createTest}. */
export interface CreateTestOptions {
  /** Collection (or schema) name. */
  collection: string;
  /** The document's `_id` as the raw table holds it. Default: the first document by `_id`. */
  id?: string | undefined;
  /** Test (and file) name. Default: `document_<_id>`. */
  name?: string | undefined;
  /** Warnings. Default: silent. */
  logger?: Logger;
}

/** What {@linkcode createTest} wrote. */
export interface CreatedTest {
  /** The new file. */
  path: string;
  /** The schema whose folder holds it. */
  schema: string;
  /** Documents under `given`. */
  given: number;
  /** Tables under `expect`. */
  tables: number;
  /** Rows under `expect`. */
  rows: number;
}

interface RawDocument {
  collection: string;
  id: string;
  text: string;
}

/**
 * Writes `sql/<schema>/tests/<name>.yaml` from a document of the raw table of `collection`.
 * Throws UsageError when the document or raw table does not exist or the file already does.
 */
export async function createTest(
  sql: Sql,
  config: PipelineConfig,
  options: CreateTestOptions,
): Promise<CreatedTest> {
  const logger = options.logger ?? silentLogger;
  const collection = config.collections.find((c) =>
    c.name === options.collection || c.schema === options.collection
  );
  if (!collection) {
    const known = config.collections.flatMap((c) => [c.name, c.schema]);
    throw new UsageError(
      `unknown collection or schema "${options.collection}"${
        didYouMean(options.collection, known)
      }`,
    );
  }
  const rawTables = new Set((await listTables(sql, [config.rawSchema])).map((t) => t.table));
  if (!rawTables.has(collection.name)) {
    throw new UsageError(`no raw table ${config.rawSchema}.${collection.name}`, {
      hint: `extract it first: deno task extract --select ${collection.name}`,
    });
  }
  const main = await readDocument(sql, config, collection.name, options.id);
  const name = options.name ?? `document_${main.id}`.replace(/[^A-Za-z0-9_.-]/g, "_");
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new UsageError(`--name "${name}": use letters, digits, _, . and -`);
  }
  const path = `${testsDir(config, collection)}/${name}.yaml`;
  if (await exists(path)) {
    throw new UsageError(`${displayPath(path)} already exists`, {
      hint: "choose another --name, or remove the file",
    });
  }

  const ids = referencedIds(main.text);
  const upstream: RawDocument[] = [];
  for (const other of buildOrder(config, collection)) {
    if (other === collection || !rawTables.has(other.name) || ids.length === 0) continue;
    const rows = await sql<{ id: string }[]>`
      select _id as id from ${sql(config.rawSchema)}.${sql(other.name)}
      where _id = any(${ids}::text[]) order by _id
    `;
    for (const row of rows) upstream.push(await readDocument(sql, config, other.name, row.id));
  }
  const given = [...upstream, main];
  const description = `from ${config.rawSchema}.${collection.name} _id ${main.id}` +
    (upstream.length > 0 ? ` and the ${upstream.length} upstream document(s) it references` : "") +
    `; written by test-sql --new on ${new Date().toISOString().slice(0, 10)}: review the rows`;
  const head = renderGiven(name, description, given);
  const file = displayPath(path);
  const [draft] = parseTestFile(head, file, { config, collection });
  const layout = await discoverFiles(config);
  const captured = await inSandbox({ sql, config, layout, logger, test: draft! }, async (tx) => {
    const tables = [];
    for (const table of await listTables(tx, [collection.schema])) {
      const relation = `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
      const columns = await columnsOf(tx, relation);
      const key = await primaryKeyOf(tx, relation);
      const order = (key.length > 0 ? key : columns.map((c) => c.name)).map(quoteIdent).join(", ");
      const rows = await tx.unsafe<Record<string, string | null>[]>(
        `select ${
          columns.map((c, k) => `${canonical(`r.${quoteIdent(c.name)}`, c.type)} as c${k}`)
            .join(", ")
        } from ${relation} as r order by ${order}`,
      );
      tables.push({ table: table.table, columns, rows });
    }
    const list = [
      ...await derivedChecks(tx, config, { collections: [collection] }),
      ...fileChecks(layout.checks.filter((c) => c.schema === collection.schema)),
    ];
    const checks = (await runCheckList(tx, list)).filter((c) => c.status === "failed");
    return { tables, checks };
  });

  const lines = [head.trimEnd(), "  expect:"];
  let rowCount = 0;
  for (const table of captured.tables) {
    if (table.rows.length === 0) {
      lines.push(`    ${table.table}: []`);
      continue;
    }
    lines.push(`    ${table.table}:`);
    for (const row of table.rows) {
      rowCount++;
      table.columns.forEach((column, k) => {
        lines.push(
          `      ${k === 0 ? "- " : "  "}${column.name}: ${
            yamlValue(row[`c${k}`] ?? null, column)
          }`,
        );
      });
    }
  }
  if (captured.checks.length > 0) {
    lines.push("  checks:");
    for (const check of captured.checks) lines.push(`    ${check.name}: ${check.offending}`);
  }
  const text = lines.join("\n") + "\n";

  const [test] = parseTestFile(text, file, { config, collection });
  const [verdict] = await runSqlTests(sql, config, { tests: [test as SqlTest], layout, logger });
  await Deno.mkdir(testsDir(config, collection), { recursive: true });
  await Deno.writeTextFile(path, text, { createNew: true });
  if (verdict!.status !== "passed") {
    throw new LmlError(
      `${file} was written but does not pass as written:\n${formatResult(verdict!)}`,
      { hint: "fix the rows it expects by hand" },
    );
  }
  return {
    path: file,
    schema: collection.schema,
    given: given.length,
    tables: captured.tables.length,
    rows: rowCount,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** One raw document as Extended JSON text: the stored one, or its original BSON when kept. */
async function readDocument(
  sql: Sql,
  config: PipelineConfig,
  collection: string,
  id: string | undefined,
): Promise<RawDocument> {
  const table = sql`${sql(config.rawSchema)}.${sql(collection)}`;
  const [row] = id === undefined
    ? await sql<{ id: string; doc: string; original: Uint8Array | null }[]>`
        select _id as id, doc::text as doc, original from ${table} order by _id limit 1`
    : await sql<{ id: string; doc: string; original: Uint8Array | null }[]>`
        select _id as id, doc::text as doc, original from ${table} where _id = ${id}`;
  if (!row) {
    throw new UsageError(
      id === undefined
        ? `${config.rawSchema}.${collection} is empty`
        : `no document with _id ${JSON.stringify(id)} in ${config.rawSchema}.${collection}`,
      { hint: "the _id as the raw table holds it: 24 lower-case hex for an ObjectId" },
    );
  }
  let text = row.doc;
  if (row.original) {
    try {
      text = EJSON.stringify(deserialize(row.original, { promoteValues: false }), {
        relaxed: false,
      });
    } catch {
      text = row.doc; // what JSONB holds is the closest text there is
    }
  }
  return { collection, id: row.id, text };
}

/** Every id the document names: `{"$oid": ...}` values and string `_id`s. */
function referencedIds(text: string): string[] {
  const ids = new Set<string>();
  const walk = (value: unknown, key: string) => {
    if (Array.isArray(value)) value.forEach((v) => walk(v, ""));
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (k === "$oid" && typeof v === "string") ids.add(v.toLowerCase());
        else walk(v, k);
      }
    } else if (key === "_id" && typeof value === "string") ids.add(value);
  };
  walk(JSON.parse(text), "");
  return [...ids];
}

function renderGiven(name: string, description: string, given: readonly RawDocument[]): string {
  const lines = [`${name}:`, `  description: ${JSON.stringify(description)}`, "  given:"];
  const collections = [...new Set(given.map((d) => d.collection))];
  for (const collection of collections) {
    lines.push(`    ${collection}:`);
    for (const doc of given.filter((d) => d.collection === collection)) {
      const pretty = prettyJson(doc.text, 8).split("\n");
      lines.push(`      - ${pretty[0]}`, ...pretty.slice(1));
    }
  }
  return lines.join("\n") + "\n";
}

const NUMERIC = /^(smallint|integer|bigint|real|double precision|numeric\b)/;

/** A canonical value as YAML the test parser reads back to the same value. */
function yamlValue(value: string | null, column: ColumnInfo): string {
  if (value === null) return "null";
  if (column.type === "json" || column.type === "jsonb" || column.type.endsWith("[]")) {
    return prettyJson(value, 0, { inline: true });
  }
  if (column.type === "boolean") return value;
  if (NUMERIC.test(column.type) && /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(value)) {
    return value;
  }
  return JSON.stringify(value);
}

type JsonNode =
  | { kind: "object"; entries: [string, JsonNode][] }
  | { kind: "array"; items: JsonNode[] }
  | { kind: "atom"; text: string };

/** Parses JSON text keeping each number's text. */
function parseJson(text: string): JsonNode {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  const value = (): JsonNode => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries: [string, JsonNode][] = [];
      ws();
      if (text[i] === "}") return (i++, { kind: "object", entries });
      while (true) {
        ws();
        const key = atom();
        ws();
        i++; // :
        entries.push([key, value()]);
        ws();
        if (text[i++] === "}") return { kind: "object", entries };
      }
    }
    if (c === "[") {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === "]") return (i++, { kind: "array", items });
      while (true) {
        items.push(value());
        ws();
        if (text[i++] === "]") return { kind: "array", items };
      }
    }
    return { kind: "atom", text: atom() };
  };
  const atom = (): string => {
    const start = i;
    if (text[i] === '"') {
      i++;
      while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
    } else {
      while (i < text.length && !/[\s,:\]}]/.test(text[i]!)) i++;
    }
    return text.slice(start, i);
  };
  return value();
}

/**
 * JSON text re-indented for a test file: containers that fit in a line stay on one, others
 * take a line per member, `indent` spaces in. Number texts are kept as they are.
 */
function prettyJson(text: string, indent: number, options: { inline?: boolean } = {}): string {
  const flat = (node: JsonNode): string =>
    node.kind === "atom"
      ? node.text
      : node.kind === "array"
      ? `[${node.items.map(flat).join(", ")}]`
      : `{${node.entries.map(([k, v]) => `${k}: ${flat(v)}`).join(", ")}}`;
  const render = (node: JsonNode, depth: number): string => {
    const one = flat(node);
    if (options.inline || node.kind === "atom" || one.length + depth <= 96) return one;
    const pad = " ".repeat(depth + 2);
    const members = node.kind === "array"
      ? node.items.map((v) => pad + render(v, depth + 2))
      : node.entries.map(([k, v]) => `${pad}${k}: ${render(v, depth + 2)}`);
    const [open, close] = node.kind === "array" ? ["[", "]"] : ["{", "}"];
    return `${open}\n${members.join(",\n")}\n${" ".repeat(depth)}${close}`;
  };
  return render(parseJson(text), indent);
}
