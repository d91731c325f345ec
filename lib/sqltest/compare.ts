/**
 * Comparing the rows a relation holds with the rows a test expects: values are brought to one
 * canonical text by PostgreSQL itself (expected text cast to the column's type), only the
 * columns a row names are compared, and rows are matched in any order (a maximum matching) or
 * in order. What does not match becomes a diff: rows that differ column by column, missing
 * rows and extra rows.
 * @module
 */
import type postgres from "postgres";
import { didYouMean, quoteIdent } from "../core/mod.ts";
import { type ExpectedCell, type ExpectedRow, TestFileError } from "./spec.ts";

/** A column of a table or of a check's result. */
export interface ColumnInfo {
  /** Its name. */
  name: string;
  /** format_type() of its type. */
  type: string;
}

/** Canonical values of one actual row, by column name (null: SQL NULL). */
export type ActualRow = Record<string, string | null>;

/** An expected row that matched no actual row, paired with the closest one. */
export interface ChangedRow {
  /** The expected row. */
  expected: ExpectedRow;
  /** The closest actual row (named columns only). */
  actual: ActualRow;
  /** The columns whose values differ. */
  differing: string[];
}

/** Where a relation and its expected rows disagree (nothing differs: every list is empty). */
export interface RowDiff {
  /** The columns compared, in the order first named. */
  columns: string[];
  /** Rows expected and found, but with other values. */
  changed: ChangedRow[];
  /** Rows expected and not found. */
  missing: ExpectedRow[];
  /** Rows found and not expected (named columns only). */
  extra: ActualRow[];
  /** Rows the relation holds. */
  actualCount: number;
}

/** True when a diff shows no difference. */
export function isEmptyDiff(diff: RowDiff): boolean {
  return diff.changed.length === 0 && diff.missing.length === 0 && diff.extra.length === 0;
}

/** The columns of a table, view or temporary view `relation` (qualified, quoted), in order. */
export async function columnsOf(
  tx: postgres.TransactionSql,
  relation: string,
): Promise<ColumnInfo[]> {
  return [
    ...await tx<ColumnInfo[]>`
    select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type
    from pg_attribute a
    where a.attrelid = to_regclass(${relation}) and a.attnum > 0 and not a.attisdropped
    order by a.attnum
  `,
  ];
}

/** The primary key columns of `relation` (qualified, quoted), in key order. */
export async function primaryKeyOf(
  tx: postgres.TransactionSql,
  relation: string,
): Promise<string[]> {
  const rows = await tx<{ name: string }[]>`
    select a.attname::text as name
    from pg_constraint c
    cross join lateral unnest(c.conkey) with ordinality as k(attnum, n)
    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
    where c.conrelid = to_regclass(${relation}) and c.contype = 'p'
    order by k.n
  `;
  return rows.map((r) => r.name);
}

/** The SQL giving the canonical text of value `expr` of type `type`. */
export function canonical(expr: string, type: string): string {
  if (/^numeric\b/.test(type)) return `trim_scale(${expr})::text`;
  if (type === "json" || type === "jsonb") return `(${expr})::jsonb::text`;
  if (type.endsWith("[]")) return `to_jsonb(${expr})::text`;
  return `(${expr})::text`;
}

/** The SQL giving the canonical text of expected text `expr` for a column of `type`. */
function canonicalOfText(expr: string, type: string): string {
  if (type === "json" || type === "jsonb" || type.endsWith("[]")) {
    return `(${expr})::jsonb::text`;
  }
  return canonical(`(${expr})::${type}`, type);
}

/** The text an expected cell is cast from, for a column of `type`. */
function castText(cell: ExpectedCell, type: string): string | null | undefined {
  const json = type === "json" || type === "jsonb";
  if (cell.text === null) return null;
  if (json) return cell.form === "string" ? JSON.stringify(cell.text) : cell.text;
  if (type.endsWith("[]")) return cell.form === "structure" ? cell.text : undefined;
  return cell.form === "structure" ? undefined : cell.text;
}

/** Options of {@linkcode compareRows}. */
export interface CompareOptions {
  /** The test file, for errors. */
  file: string;
  /** What is compared, for errors (e.g. `lml_people.main`). */
  what: string;
  /** Compare in order. Default: false. */
  ordered?: boolean;
  /** Columns the actual rows are sorted by when ordered. Default: every named column. */
  orderBy?: readonly string[];
}

/** What {@linkcode compareRows} compares. */
export interface CompareTarget {
  /** SQL text of a table or view, quoted and qualified. */
  relation: string;
  /** Its columns ({@linkcode columnsOf}). */
  columns: readonly ColumnInfo[];
  /** The rows it must hold. */
  rows: readonly ExpectedRow[];
}

/**
 * Compares the rows of `target.relation` with `target.rows`. Throws TestFileError for a
 * column the relation lacks or a value its type cannot hold, at the line of the cell.
 */
export async function compareRows(
  tx: postgres.TransactionSql,
  target: CompareTarget,
  options: CompareOptions,
): Promise<RowDiff> {
  const { relation, columns, rows: expected } = target;
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const named: string[] = [];
  for (const row of expected) {
    for (const [name, cell] of row.cells) {
      if (!types.has(name)) {
        throw new TestFileError(
          `${options.what} has no column "${name}"${didYouMean(name, types.keys())}`,
          { file: options.file, line: cell.line },
        );
      }
      if (!named.includes(name)) named.push(name);
    }
  }
  const orderBy = options.orderBy ?? [];
  for (const name of orderBy) {
    if (!types.has(name)) {
      throw new TestFileError(
        `order_by: ${options.what} has no column "${name}"${didYouMean(name, types.keys())}`,
        { file: options.file, line: expected[0]?.line },
      );
    }
  }
  const wanted = await canonicalExpected(tx, expected, named, types, options);
  const sortKeys = options.ordered ? (orderBy.length > 0 ? orderBy : named) : [];
  const select = named.length > 0
    ? named.map((n, k) => `${canonical(`r.${quoteIdent(n)}`, types.get(n)!)} as c${k}`).join(", ")
    : "1 as one";
  const order = sortKeys.length > 0
    ? ` order by ${sortKeys.map((n) => `r.${quoteIdent(n)}`).join(", ")}`
    : "";
  const fetched = await tx.savepoint((sp) =>
    sp.unsafe<Record<string, string | null>[]>(`select ${select} from ${relation} as r${order}`)
  );
  const actual: ActualRow[] = fetched.map((row) =>
    Object.fromEntries(named.map((n, k) => [n, row[`c${k}`] ?? null]))
  );

  const equal = (e: number, a: ActualRow) =>
    [...expected[e]!.cells.keys()].every((n) => wanted[e]!.get(n) === a[n]);
  const pairs: [number, number][] = [];
  if (options.ordered) {
    for (let k = 0; k < Math.min(expected.length, actual.length); k++) {
      if (equal(k, actual[k]!)) pairs.push([k, k]);
    }
  } else {
    pairs.push(...maximumMatching(expected.length, actual.length, (e, a) => equal(e, actual[a]!)));
  }
  const matchedE = new Set(pairs.map((p) => p[0]));
  const matchedA = new Set(pairs.map((p) => p[1]));
  const leftE = expected.map((_, k) => k).filter((k) => !matchedE.has(k));
  const leftA = actual.map((_, k) => k).filter((k) => !matchedA.has(k));

  // Pair what is left by likeness (most equal columns), so a row with one wrong value shows as
  // that value, not as a missing and an extra row. In order, rows pair by position.
  const changed: ChangedRow[] = [];
  const usedE = new Set<number>();
  const usedA = new Set<number>();
  const differing = (e: number, a: number) =>
    [...expected[e]!.cells.keys()].filter((n) => wanted[e]!.get(n) !== actual[a]![n]);
  const candidates: { e: number; a: number; score: number }[] = [];
  for (const e of leftE) {
    for (const a of leftA) {
      if (options.ordered && e !== a) continue;
      const size = expected[e]!.cells.size;
      const score = size - differing(e, a).length;
      if (score > 0 || (options.ordered && size > 0)) candidates.push({ e, a, score });
    }
  }
  candidates.sort((x, y) => y.score - x.score || x.e - y.e || x.a - y.a);
  for (const { e, a } of candidates) {
    if (usedE.has(e) || usedA.has(a)) continue;
    usedE.add(e);
    usedA.add(a);
    changed.push({ expected: expected[e]!, actual: actual[a]!, differing: differing(e, a) });
  }
  changed.sort((x, y) => x.expected.line - y.expected.line);
  return {
    columns: named,
    changed,
    missing: leftE.filter((e) => !usedE.has(e)).map((e) => expected[e]!),
    extra: leftA.filter((a) => !usedA.has(a)).map((a) => actual[a]!),
    actualCount: actual.length,
  };
}

/** Canonical text of every expected cell, by row; throws TestFileError for a value that does not fit. */
async function canonicalExpected(
  tx: postgres.TransactionSql,
  expected: readonly ExpectedRow[],
  named: readonly string[],
  types: ReadonlyMap<string, string>,
  options: CompareOptions,
): Promise<Map<string, string | null>[]> {
  const texts = expected.map((row) =>
    named.map((name) => {
      const cell = row.cells.get(name);
      if (!cell) return null;
      const type = types.get(name)!;
      const text = castText(cell, type);
      if (text === undefined) {
        throw new TestFileError(
          `${options.what}.${name} is ${type}: ${
            type.endsWith("[]") ? "write the array as a list" : "write a single value"
          }, not a ${cell.form === "structure" ? "mapping or list" : "scalar"}`,
          { file: options.file, line: cell.line },
        );
      }
      return text;
    })
  );
  const query = (rows: (string | null)[][], only?: number) =>
    tx.savepoint((sp) =>
      sp.unsafe<Record<string, string | null>[]>(
        `select ${
          named.map((n, k) =>
            only === undefined || only === k
              ? `${canonicalOfText(`r.v ->> ${k}`, types.get(n)!)} as c${k}`
              : `null::text as c${k}`
          ).join(", ") || "1 as one"
        } from jsonb_array_elements($1::text::jsonb) with ordinality as r(v, i) order by r.i`,
        [JSON.stringify(rows)],
      )
    );
  let result: Record<string, string | null>[];
  try {
    result = await query(texts);
  } catch (error) {
    // Find the value at fault, to name its line.
    for (let r = 0; r < texts.length; r++) {
      for (let k = 0; k < named.length; k++) {
        if (texts[r]![k] === null) continue;
        try {
          await query([texts[r]!], k);
        } catch (cellError) {
          const cell = expected[r]!.cells.get(named[k]!)!;
          throw new TestFileError(
            `${JSON.stringify(cell.text)} is not a valid ${
              types.get(named[k]!)
            } for ${options.what}.${named[k]}: ${(cellError as Error).message}`,
            { file: options.file, line: cell.line },
          );
        }
      }
    }
    throw error;
  }
  return expected.map((row, r) =>
    new Map(
      [...row.cells.keys()].map((name) => [name, result[r]![`c${named.indexOf(name)}`] ?? null]),
    )
  );
}

/**
 * A maximum matching between `left` and `right` items where `fits(l, r)` (augmenting paths):
 * returns [l, r] pairs. Rows named loosely still find their partner when a greedy pass would
 * have given it away.
 */
function maximumMatching(
  left: number,
  right: number,
  fits: (l: number, r: number) => boolean,
): [number, number][] {
  const edges = Array.from(
    { length: left },
    (_, l) => Array.from({ length: right }, (_, r) => r).filter((r) => fits(l, r)),
  );
  const owner = new Array<number>(right).fill(-1);
  const tryAssign = (l: number, seen: boolean[]): boolean => {
    for (const r of edges[l]!) {
      if (seen[r]) continue;
      seen[r] = true;
      if (owner[r] === -1 || tryAssign(owner[r]!, seen)) {
        owner[r] = l;
        return true;
      }
    }
    return false;
  };
  for (let l = 0; l < left; l++) tryAssign(l, new Array<boolean>(right).fill(false));
  return owner.flatMap((l, r) => (l === -1 ? [] : [[l, r] as [number, number]]));
}
