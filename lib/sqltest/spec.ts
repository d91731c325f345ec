/**
 * SQL unit test files (`sql/<schema>/tests/<name>.yaml`): parsing and validation, with errors
 * at file:line. A file maps test names to tests:
 *
 * ```yaml
 * dangling_applicant:
 *   description: an applicant missing from lml_people is kept whole in applicant_ref
 *   given:                       # raw documents per collection, as MongoDB Extended JSON
 *     lml_processes_mesa4core:
 *       - {"_id": {"$oid": "..."}, "applicant": {"_id": {"$oid": "..."}, "fullName": "Ana"}}
 *   expect:                      # rows per table; only the columns named are compared
 *     main:                      # a table of the test's schema, or <schema>.<table>
 *       - {process_id: "...", applicant_person_id: null}
 *     movements: []              # no rows at all
 *   checks:                      # optional: check name → outcome
 *     lml_processes_dangling_references: 1   # offending rows (or passed, or a list of rows)
 * ```
 *
 * Documents keep their number text (`1.0` stays a double, `12345678901234567890` every digit),
 * so they reach the extraction encoder exactly as written. A table's rows are compared in any
 * order, unless it is written `{ordered: true, order_by: [col, ...], rows: [...]}`.
 * @module
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Scalar } from "yaml";
import {
  type CollectionConfig,
  ConfigError,
  didYouMean,
  isIdentifier,
  type PipelineConfig,
} from "../core/mod.ts";

/** A bad test file; names the file and line. */
export class TestFileError extends ConfigError {
  constructor(message: string, options: { file: string; line?: number | undefined }) {
    super(message, { ...options, hint: "see sql/README.md, section SQL unit tests" });
    this.name = "TestFileError";
  }
}

/** One raw document of `given`. */
export interface GivenDocument {
  /** The collection (raw table) it goes into. */
  collection: string;
  /** Its Extended JSON text. */
  json: string;
  /** Line in the test file. */
  line: number;
}

/** One expected value. */
export interface ExpectedCell {
  /** The value as text (JSON for a mapping or list); null for YAML null. */
  text: string | null;
  /** What was written: a string, another scalar (number, boolean), or a mapping or list. */
  form: "string" | "scalar" | "structure";
  /** Line in the test file. */
  line: number;
}

/** One expected row: the columns named, and where. */
export interface ExpectedRow {
  /** Line in the test file. */
  line: number;
  /** Column name → value. */
  cells: Map<string, ExpectedCell>;
}

/** The expected rows of one table. */
export interface ExpectedTable {
  /** Schema of the table. */
  schema: string;
  /** Table name. */
  table: string;
  /** Line in the test file. */
  line: number;
  /** Compare in order (`ordered: true`). */
  ordered: boolean;
  /** Columns the actual rows are sorted by when ordered. Default: the primary key. */
  orderBy: string[];
  /** Every row the table must hold. */
  rows: ExpectedRow[];
}

/** The expected outcome of one check. */
export interface ExpectedCheck {
  /** Check name. */
  name: string;
  /** Line in the test file. */
  line: number;
  /** Offending row count, when given. */
  offending: number | undefined;
  /** The offending rows (named columns compared, any order), when given. */
  rows: ExpectedRow[] | undefined;
}

/** One SQL unit test. */
export interface SqlTest {
  /** The test file, relative to the working directory when inside it. */
  file: string;
  /** The test's name (its key in the file). */
  name: string;
  /** Line of the test in the file. */
  line: number;
  /** The collection whose schema folder holds the test. */
  collection: CollectionConfig;
  /** One line for people. */
  description: string;
  /** Raw documents, per collection. */
  given: GivenDocument[];
  /** Expected rows per table. */
  expect: ExpectedTable[];
  /** Expected check outcomes. */
  checks: ExpectedCheck[];
}

const TEST_KEYS = ["description", "given", "expect", "checks"];
const TABLE_KEYS = ["ordered", "order_by", "rows"];
const CHECK_KEYS = ["offending", "rows"];
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

type Node = unknown;

/**
 * Parses the test file `text` of `collection` (its folder's collection); `file` is named in
 * errors. Throws TestFileError at the offending line.
 */
export function parseTestFile(
  text: string,
  file: string,
  options: { config: PipelineConfig; collection: CollectionConfig },
): SqlTest[] {
  const { config, collection } = options;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const lineOf = (node: Node): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  const fail = (message: string, node?: Node): never => {
    throw new TestFileError(message, { file, line: lineOf(node) });
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line ?? lines.linePos(firstError.pos[0]).line;
    const message = firstError.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new TestFileError(`invalid YAML: ${message}`, { file, line });
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return [];
  if (!isMap(root)) return fail("expected a mapping of test names to tests", root);

  const toJson = (node: Node): string => {
    if (isAlias(node)) return fail("YAML aliases are not supported here; write the value", node);
    if (isMap(node)) {
      return `{${
        node.items.map((pair) => {
          if (!isScalar(pair.key) || typeof pair.key.value !== "string") {
            fail("keys must be strings", pair.key);
          }
          return `${JSON.stringify((pair.key as Scalar<string>).value)}:${toJson(pair.value)}`;
        }).join(",")
      }}`;
    }
    if (isSeq(node)) return `[${node.items.map(toJson).join(",")}]`;
    if (isScalar(node)) {
      const value = node.value;
      if (value === null) return "null";
      if (typeof value === "boolean") return String(value);
      if (typeof value === "number" || typeof value === "bigint") {
        const source = String((node as { source?: unknown }).source ?? value);
        if (!JSON_NUMBER.test(source)) {
          fail(`"${source}" is not a JSON number; quote it to make it a string`, node);
        }
        return source;
      }
      return JSON.stringify(String(value));
    }
    return fail("expected a value", node);
  };

  const cell = (node: Node): ExpectedCell => {
    const line = lineOf(node) ?? 0;
    if (isMap(node) || isSeq(node)) return { text: toJson(node), form: "structure", line };
    if (!isScalar(node)) return { text: null, form: "scalar", line };
    const value = node.value;
    if (value === null) return { text: null, form: "scalar", line };
    if (typeof value === "string") return { text: value, form: "string", line };
    if (typeof value === "number" || typeof value === "bigint") {
      return { text: String((node as { source?: unknown }).source ?? value), form: "scalar", line };
    }
    return { text: String(value), form: "scalar", line };
  };

  const rows = (node: Node, what: string): ExpectedRow[] => {
    if (isScalar(node) && node.value === null) return [];
    if (!isSeq(node)) return fail(`${what}: expected a list of rows`, node);
    return node.items.map((item) => {
      if (!isMap(item)) return fail(`${what}: a row is a mapping of column names to values`, item);
      const cells = new Map<string, ExpectedCell>();
      for (const pair of item.items) {
        const name = isScalar(pair.key) ? String(pair.key.value) : "";
        if (!isIdentifier(name)) fail(`${what}: "${name}" is not a column name`, pair.key);
        cells.set(
          name,
          pair.value === null
            ? { text: null, form: "scalar", line: lineOf(pair.key) ?? 0 }
            : cell(pair.value),
        );
      }
      return { line: lineOf(item) ?? 0, cells };
    });
  };

  const keysOf = (node: Node, allowed: string[], where: string) => {
    if (!isMap(node)) return fail(`${where}: expected a mapping`, node);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!allowed.includes(key)) {
        fail(`${where}: unknown key "${key}"${didYouMean(key, allowed)}`, pair.key);
      }
    }
    return node;
  };

  const entriesOf = (node: Node, message: string): { key: Node; value: Node }[] =>
    isMap(node) ? node.items : fail(message, node);

  const byName = new Map(config.collections.map((c) => [c.name, c]));
  const bySchema = new Map(config.collections.map((c) => [c.schema, c]));
  const tests: SqlTest[] = [];
  for (const pair of root.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
      fail(`test name "${name}": use letters, digits, _, . and -`, pair.key);
    }
    const body = keysOf(pair.value, TEST_KEYS, `test "${name}"`);
    const description = body.get("description", true);
    if (
      description !== undefined && !(isScalar(description) && typeof description.value === "string")
    ) {
      fail(`test "${name}": description is one line of text`, description);
    }

    const given: GivenDocument[] = [];
    const givenNode = body.get("given", true);
    if (givenNode === undefined) {
      fail(`test "${name}": missing "given" (the raw documents)`, pair.key);
    }
    if (!(isScalar(givenNode) && givenNode.value === null)) {
      for (
        const entry of entriesOf(givenNode, `test "${name}": given maps collections to documents`)
      ) {
        const key = isScalar(entry.key) ? String(entry.key.value) : "";
        const target = byName.get(key) ?? bySchema.get(key);
        if (!target) {
          fail(
            `test "${name}": unknown collection "${key}"${
              didYouMean(key, [...byName.keys(), ...bySchema.keys()])
            }`,
            entry.key,
          );
        }
        const docs = entry.value;
        if (isScalar(docs) && docs.value === null) continue;
        if (!isSeq(docs)) {
          fail(`test "${name}": given.${key} is a list of documents`, docs ?? entry.key);
        }
        for (const item of (docs as { items: Node[] }).items) {
          const json = isScalar(item) && typeof item.value === "string"
            ? item.value
            : isMap(item)
            ? toJson(item)
            : fail(`test "${name}": a document is a mapping (Extended JSON)`, item);
          given.push({ collection: target!.name, json, line: lineOf(item) ?? 0 });
        }
      }
    }

    const expect: ExpectedTable[] = [];
    const expectNode = body.get("expect", true);
    if (expectNode !== undefined && !(isScalar(expectNode) && expectNode.value === null)) {
      for (const entry of entriesOf(expectNode, `test "${name}": expect maps tables to rows`)) {
        const key = isScalar(entry.key) ? String(entry.key.value) : "";
        const parts = key.split(".");
        const [schema, table] = parts.length === 2 ? parts : [collection.schema, parts[0]!];
        if (parts.length > 2 || !isIdentifier(schema!) || !isIdentifier(table!)) {
          fail(
            `test "${name}": "${key}" is not a table (write <table> or <schema>.<table>)`,
            entry.key,
          );
        }
        const where = `test "${name}", ${schema}.${table}`;
        let ordered = false;
        let orderBy: string[] = [];
        let rowsNode = entry.value;
        if (isMap(entry.value)) {
          const options = keysOf(entry.value, TABLE_KEYS, where);
          const orderedNode = options.get("ordered", true);
          if (orderedNode !== undefined) {
            if (!isScalar(orderedNode) || typeof orderedNode.value !== "boolean") {
              fail(`${where}: ordered is true or false`, orderedNode);
            }
            ordered = (orderedNode as Scalar<boolean>).value;
          }
          const orderByNode = options.get("order_by", true);
          if (orderByNode !== undefined) {
            const list = isSeq(orderByNode) ? orderByNode.items : [orderByNode];
            orderBy = list.map((n) =>
              isScalar(n) && typeof n.value === "string" && isIdentifier(n.value)
                ? n.value
                : fail(`${where}: order_by lists column names`, n)
            );
            ordered = true;
          }
          rowsNode = options.get("rows", true) ?? fail(`${where}: missing "rows"`, entry.value);
        }
        expect.push({
          schema: schema!,
          table: table!,
          line: lineOf(entry.key) ?? 0,
          ordered,
          orderBy,
          rows: rows(rowsNode, where),
        });
      }
    }

    const checks: ExpectedCheck[] = [];
    const checksNode = body.get("checks", true);
    if (checksNode !== undefined && !(isScalar(checksNode) && checksNode.value === null)) {
      for (
        const entry of entriesOf(checksNode, `test "${name}": checks maps check names to outcomes`)
      ) {
        const check = isScalar(entry.key) ? String(entry.key.value) : "";
        const where = `test "${name}", check ${check}`;
        const value = entry.value;
        const line = lineOf(entry.key) ?? 0;
        const count = (node: Node): number => {
          const n = isScalar(node) ? node.value : undefined;
          if (n === "passed") return 0;
          if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
            return fail(
              `${where}: expected passed, an offending row count or a list of rows`,
              node,
            );
          }
          return n;
        };
        if (isSeq(value)) {
          checks.push({ name: check, line, offending: undefined, rows: rows(value, where) });
        } else if (isMap(value)) {
          const options = keysOf(value, CHECK_KEYS, where);
          const offending = options.get("offending", true);
          const listed = options.get("rows", true);
          checks.push({
            name: check,
            line,
            offending: offending === undefined ? undefined : count(offending),
            rows: listed === undefined ? undefined : rows(listed, where),
          });
        } else {
          checks.push({ name: check, line, offending: count(value), rows: undefined });
        }
      }
    }

    tests.push({
      file,
      name,
      line: lineOf(pair.key) ?? 1,
      collection,
      description: isScalar(description) ? String(description.value) : "",
      given,
      expect,
      checks,
    });
  }
  return tests;
}
