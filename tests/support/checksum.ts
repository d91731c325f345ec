/**
 * Row-for-row fingerprints of whole schemas, to assert that data did not change (or did).
 * @module
 */
import type { Sql } from "../../lib/db.ts";

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
 * `<rows> rows md5 <hash>`: the md5 of every row as JSONB text, sorted, so two tables holding
 * the same rows in any physical order give the same value. Schemas that do not exist add
 * nothing.
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
  const sums: Record<string, string> = {};
  for (const { schema_name, table_name } of tables) {
    const [row] = await sql<{ rows: string; hash: string }[]>`
      with lines as (
        select (to_jsonb(t) - ${ignored}::text[])::text as line
        from ${sql(schema_name)}.${sql(table_name)} t
      )
      select count(*)::bigint as rows,
             md5(coalesce(string_agg(line, E'\n' order by line collate "C"), '')) as hash
      from lines
    `;
    sums[`${schema_name}.${table_name}`] = `${row!.rows} rows md5 ${row!.hash}`;
  }
  return sums;
}
