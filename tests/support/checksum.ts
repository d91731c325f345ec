/**
 * Row-for-row fingerprints of whole schemas, to assert that data did not change (or did).
 * @module
 */
import type { Sql } from "../../lib/core/db.ts";

/** Options of {@linkcode schemaChecksums}. */
export interface ChecksumOptions {
  /**
   * Columns left out of every row before hashing (e.g. `extracted_at`, which differs between
   * two loads of the same documents). Default: none.
   */
  ignoreColumns?: readonly string[];
}

/**
 * One entry per table (and materialized view) of `schemas`, keyed `schema.table`, valued
 * `<rows> rows md5 <hash>`: the md5 of the sorted md5s of its rows (each as JSONB text), so two
 * tables holding the same rows in any physical order give the same value. Schemas that do not
 * exist add nothing. Tables are hashed concurrently, as many at once as `sql`'s pool allows.
 */
export async function schemaChecksums(
  sql: Sql,
  schemas: readonly string[],
  options: ChecksumOptions = {},
): Promise<Record<string, string>> {
  const ignored = [...(options.ignoreColumns ?? [])];
  const tables = await sql<{ schema_name: string; table_name: string }[]>`
    select n.nspname as schema_name, c.relname as table_name
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(${[...schemas]}::text[]) and c.relkind in ('r', 'p', 'm')
    order by n.nspname, c.relname
  `;
  const sums = await Promise.all(tables.map(async ({ schema_name, table_name }) => {
    const [row] = await sql<{ rows: string; hash: string }[]>`
      with rows as (
        select md5((to_jsonb(t) - ${ignored}::text[])::text) as row_hash
        from ${sql(schema_name)}.${sql(table_name)} t
      )
      select count(*)::bigint as rows,
             md5(coalesce(string_agg(row_hash, '' order by row_hash collate "C"), '')) as hash
      from rows
    `;
    return [`${schema_name}.${table_name}`, `${row!.rows} rows md5 ${row!.hash}`] as const;
  }));
  return Object.fromEntries(sums);
}
