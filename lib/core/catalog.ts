/**
 * Look-ups in the PostgreSQL catalog shared by the commands: which tables a schema holds.
 * @module
 */
import type postgres from "postgres";

/** A pool or a transaction. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

/** A table of the database. */
export interface TableName {
  /** Its schema. */
  schema: string;
  /** Its name. */
  table: string;
}

/**
 * The ordinary and partitioned tables of `schemas`, in the order of `schemas`, then by name.
 * Sees the caller's transaction, tables it created included.
 */
export async function listTables(sql: Queryable, schemas: readonly string[]): Promise<TableName[]> {
  if (schemas.length === 0) return [];
  return await sql<TableName[]>`
    select n.nspname::text as schema, c.relname::text as table
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${schemas as string[]}::text[]) and c.relkind in ('r', 'p')
    order by array_position(${schemas as string[]}::text[], n.nspname::text), c.relname
  `;
}
