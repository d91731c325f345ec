/**
 * Names the rows behind a failed constraint (CHECK, FK, NOT NULL, unique): after the failing
 * statement's savepoint is rolled back, the table is read again through the constraint's
 * columns, so the error says which document ids and which values broke it, not only the file.
 * @module
 */
import type postgres from "postgres";
import { quoteIdent } from "../core/mod.ts";

/** The fields of a PostgreSQL constraint error this module reads. */
export interface ConstraintErrorFields {
  /** SQLSTATE (23xxx). */
  code?: string;
  /** DETAIL, e.g. `Key (a)=(x) is not present in table "t".` */
  detail?: string;
  /** Schema of the table. */
  schema_name?: string;
  /** Table. */
  table_name?: string;
  /** Column (NOT NULL). */
  column_name?: string;
  /** Constraint (CHECK, FK, unique). */
  constraint_name?: string;
}

/** Rows looked up at most. */
const LIMIT = 5;

/**
 * One line naming the offending document id(s) (the table's first column) and value(s) of a
 * constraint error, or undefined when it is not one or the rows cannot be found. Runs its
 * queries in a savepoint of `tx` (the transaction stays usable).
 */
export async function describeConstraintRows(
  tx: postgres.TransactionSql,
  error: ConstraintErrorFields,
): Promise<string | undefined> {
  const { code, schema_name: schema, table_name: table } = error;
  if (!code?.startsWith("23") || !schema || !table) return undefined;
  try {
    return await tx.savepoint(async (sp) => {
      const columns = (await sp<{ name: string }[]>`
        select a.attname as name from pg_attribute a
        where a.attrelid = (quote_ident(${schema}) || '.' || quote_ident(${table}))::regclass
          and a.attnum > 0 and not a.attisdropped
        order by a.attnum`).map((c) => c.name);
      const first = columns[0];
      if (!first) return undefined;
      const key = /^Key \((.+)\)=\((.*)\) (?:is not present|already exists)/s.exec(
        error.detail ?? "",
      );
      if (key && !key[1]!.includes(",")) {
        // FK or unique on one column: the rows holding that value.
        const column = key[1]!.replace(/^"|"$/g, "");
        if (!columns.includes(column)) return undefined;
        const rows = await sp.unsafe<{ id: string }[]>(
          `select distinct ${quoteIdent(first)}::text as id from ${quoteIdent(schema)}.${
            quoteIdent(table)
          } where ${quoteIdent(column)}::text = $1 limit ${LIMIT}`,
          [key[2]!],
        );
        if (rows.length === 0) return undefined;
        return `offending: ${first} ${rows.map((r) => r.id).join(", ")} with ${column} = ${
          JSON.stringify(key[2])
        }`;
      }
      const failing = /^Failing row contains \((.*)\)\.$/s.exec(error.detail ?? "");
      if (!failing) return undefined;
      // CHECK or NOT NULL: the failing row is in DETAIL; name its id and the checked column(s).
      const values = failing[1]!.split(", ");
      let checked = error.column_name ? [error.column_name] : [];
      if (checked.length === 0 && error.constraint_name) {
        checked = (await sp<{ name: string }[]>`
          select a.attname as name
          from pg_constraint c
          join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
          where c.conname = ${error.constraint_name}
            and c.conrelid = (quote_ident(${schema}) || '.' || quote_ident(${table}))::regclass
          order by a.attnum`).map((c) => c.name);
      }
      const shown = values.length === columns.length
        ? checked.map((c) => `${c} = ${JSON.stringify(values[columns.indexOf(c)])}`)
        : [];
      return `offending: ${first} ${values[0]}` + (shown.length ? ` with ${shown.join(", ")}` : "");
    });
  } catch {
    return undefined;
  }
}
