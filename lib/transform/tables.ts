/**
 * What a run wrote: rows written by its transaction so far, and row counts of its tables.
 * @module
 */
import type postgres from "postgres";
import { isIdentifier, listTables, type TableCount } from "../core/mod.ts";

/** Sum of rows inserted, updated and deleted so far by this transaction, over all tables. */
export async function writtenRows(tx: postgres.TransactionSql): Promise<number> {
  const [row] = await tx<{ n: string }[]>`
    select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint as n
    from pg_stat_xact_user_tables
  `;
  return Number(row?.n ?? 0);
}

/** Exact row counts of every table of `schemas`. */
export async function countTables(
  tx: postgres.TransactionSql,
  schemas: readonly string[],
): Promise<TableCount[]> {
  const counted: TableCount[] = [];
  for (const { schema, table } of await listTables(tx, schemas)) {
    if (!isIdentifier(table)) continue;
    const [row] = await tx<{ n: string }[]>`select count(*)::bigint as n from ${tx(schema)}.${
      tx(table)
    }`;
    counted.push({ schema, table, rows: Number(row?.n ?? 0) });
  }
  return counted;
}
