/**
 * Applies changes read from a change stream to the raw tables, inside the caller's
 * transaction: documents written since the position are upserted (the same row encoding as
 * the loader: raw_row.ts), documents gone from the source are deleted. Readers keep seeing the
 * previous rows until the transaction commits (MVCC).
 * @module
 */
import type postgres from "postgres";
import { hex, quoteIdent, type Sql } from "../lib/core/mod.ts";
import type { RawRow } from "./raw_row.ts";

/** The rows to write into one raw table. */
export interface RawChanges {
  /** Collection (the raw table's name). */
  collection: string;
  /** Documents as they are now in the source. */
  upserts: RawRow[];
  /** `_id` texts of documents no longer in the source. */
  deletes: string[];
}

/** Bytes of document text per INSERT statement. */
const STATEMENT_BYTES = 4 * 1024 * 1024;

/** Upserts and deletes `changes` in `rawSchema` within `tx`, stamping `extractedAt` (ISO-8601). */
export async function applyRawChanges(
  tx: Sql | postgres.TransactionSql,
  changes: readonly RawChanges[],
  options: { rawSchema: string; extractedAt: string },
): Promise<void> {
  for (const change of changes) {
    const table = `${quoteIdent(options.rawSchema)}.${quoteIdent(change.collection)}`;
    if (change.deletes.length > 0) {
      await tx.unsafe(`delete from ${table} where _id = any($1::text[])`, [change.deletes]);
    }
    let rows: string[] = [];
    let bytes = 0;
    const flush = async () => {
      if (rows.length === 0) return;
      await tx.unsafe(
        `insert into ${table} as t (_id, doc, original, extracted_at)
         select r.i, r.d, decode(r.o, 'hex'), $2::timestamptz
         from jsonb_to_recordset($1::text::jsonb) as r(i text, d jsonb, o text)
         on conflict (_id) do update set
           doc = excluded.doc, original = excluded.original, extracted_at = excluded.extracted_at`,
        [`[${rows.join(",")}]`, options.extractedAt],
      );
      rows = [];
      bytes = 0;
    };
    for (const row of change.upserts) {
      const original = row.original ? JSON.stringify(hex(row.original)) : "null";
      rows.push(`{"i":${JSON.stringify(row.id)},"d":${row.doc},"o":${original}}`);
      bytes += row.doc.length;
      if (bytes >= STATEMENT_BYTES) await flush();
    }
    await flush();
  }
}
