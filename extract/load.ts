/**
 * Loading raw documents into PostgreSQL: a staging table `lml_staging.<collection>__next`
 * filled by `COPY ... FROM STDIN` (or batched INSERTs where COPY is unsupported), its primary
 * key added after the load, and a swap that moves it into the raw schema as the live table. A row
 * larger than one COPY statement carries (a 16 MiB document of control characters is a
 * 112 MiB row) is inserted on its own with parameters.
 * @module
 */
import { LmlError, quoteIdent, type Sql, STAGING_SCHEMA, STAGING_SUFFIX } from "../lib/core/mod.ts";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type postgres from "postgres";
import { BsonError, EjsonWriter, findId, idText, writeIdText } from "./ejson.ts";
import { type DocumentBatch, SourceError } from "./source.ts";

/** How rows reach PostgreSQL. */
export type LoadMethod = "copy" | "insert";

/** Name of the staging table of `collection` (the config refuses names it would not fit). */
export function stagingName(collection: string): string {
  return collection + STAGING_SUFFIX;
}

/** A staged collection whose `_id`s are not unique. */
export class DuplicateIdError extends LmlError {
  /** The duplicated `_id` text. */
  id: string;
  /** Positions (1-based) of the documents sharing it. */
  ordinals: number[];
  /** Byte offsets of those documents in the dump file, when read from a dump. */
  offsets: number[];
  constructor(id: string, ordinals: number[], offsets: number[], cause?: unknown) {
    const where = ordinals.map((n, k) =>
      offsets[k] === undefined ? `document ${n}` : `document ${n} (byte ${offsets[k]})`
    ).join(" and ");
    super(`duplicate _id ${JSON.stringify(id)}: ${where} share it`, { cause });
    this.name = "DuplicateIdError";
    this.id = id;
    this.ordinals = ordinals;
    this.offsets = offsets;
  }
}

/** Counts of a load. */
export interface LoadCounts {
  /** Documents loaded. */
  documents: number;
  /** BSON bytes of those documents. */
  bytes: number;
  /** Documents whose original BSON was kept because JSONB could not hold them exactly. */
  anomalies: number;
}

/** Options of {@linkcode loadDocuments}. */
export interface LoadOptions {
  /** Collection (the staging table is `<collection>__next`). */
  collection: string;
  /** Value of `extracted_at` for every row (ISO-8601). */
  extractedAt: string;
  /** "copy" or "insert". Default: "copy". */
  method?: LoadMethod;
  /** Bytes of encoded rows per write or INSERT. Default: 262144. */
  batchBytes?: number;
  /**
   * Bytes sent by one COPY statement before the next one starts (the embedded engine takes at
   * most 64 MiB per statement; on a server the split costs nothing measurable). Default: 32 MiB.
   */
  copyBytes?: number;
  /** The file or namespace read, named in errors. Default: none. */
  location?: string;
  /**
   * Asked once (COPY only), after the first COPY statement's worth of rows, for one more
   * connection; undefined when none is free. With it the rows go out over both in turns, so that
   * two server processes parse the JSON, each on a core of its own. Default: none.
   */
  extraLane?: () => Promise<Sql | undefined>;
  /**
   * Called after each source batch with the running counts, the source bytes consumed and the
   * bytes the row encoder holds (its buffer, for memory diagnostics).
   */
  onProgress?: (counts: LoadCounts, consumed: number, encoderBytes: number) => void;
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NULL_FIELD = encoder.encode("\\N");
const BYTEA_PREFIX = encoder.encode("\\\\x");

/**
 * The statements that create raw table `table` (a quoted, qualified name), in the one layout
 * every raw table has: `_id`, `doc`, `original`, `extracted_at`, and while staging the
 * diagnostic `source_ordinal` and `source_offset` (dropped by {@linkcode finishStaging}).
 * The document and BSON columns are lz4-compressed where the engine has lz4 (the last statement;
 * it may fail with 0A000 elsewhere, which leaves the default).
 */
export function rawTableStatements(table: string, options: { staging?: boolean } = {}): string[] {
  const diagnostic = options.staging
    ? ", source_ordinal bigint not null, source_offset bigint"
    : "";
  return [
    `create table ${table} (_id text not null, doc jsonb not null, original bytea, ` +
    `extracted_at timestamptz not null${diagnostic})`,
    // lz4 compresses and decompresses the documents several times faster than the default
    // pglz: COPY and every transform scan gain (the kept BSON too: COPY of the processes at
    // scale 1, 9.2 → 8.2 s).
    `alter table ${table} alter column doc set compression lz4, ` +
    `alter column original set compression lz4`,
  ];
}

/** The qualified, quoted name of `collection`'s staging table. */
function stagingTable(collection: string): string {
  return `${quoteIdent(STAGING_SCHEMA)}.${quoteIdent(stagingName(collection))}`;
}

/** Creates the staging schema and an empty staging table (dropping a leftover one). */
export async function createStaging(sql: Sql, options: { collection: string }) {
  const table = stagingTable(options.collection);
  await sql`create schema if not exists ${sql(STAGING_SCHEMA)}`.catch((error) => {
    // Two collections staged at once may race on the schema; the loser finds it there.
    if ((error as { code?: string }).code !== "23505") throw error;
  });
  await sql.unsafe(`drop table if exists ${table}`);
  const [create, compress] = rawTableStatements(table, { staging: true });
  await sql.unsafe(create!);
  await sql.unsafe(compress!).catch((error) => {
    if ((error as { code?: string }).code !== "0A000") throw error;
  });
}

/**
 * Probes whether `COPY ... FROM STDIN` works on `sql` (PGlite, for one, refuses it) by copying
 * zero rows into a temporary table, on a connection of its own that is discarded afterwards.
 */
export async function copySupported(
  sql: Sql,
  options: { timeoutMs?: number } = {},
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reserved: postgres.ReservedSql | undefined;
  try {
    reserved = await sql.reserve();
    await reserved`create temporary table if not exists lml_copy_probe (x text)`;
    const copy = await openCopy(reserved, "copy lml_copy_probe (x) from stdin");
    copy.stream.end();
    await Promise.race([
      copy.done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("COPY probe timed out")),
          options.timeoutMs ?? 15_000,
        );
      }),
    ]);
    await reserved`drop table if exists lml_copy_probe`;
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    reserved?.release();
  }
}

interface OpenCopy {
  stream: Writable;
  /** Settles when the server has accepted (or refused) the whole COPY. */
  done: Promise<void>;
  /** Rejects as soon as the COPY fails. */
  failed: Promise<never>;
}

/**
 * Starts a COPY FROM STDIN. postgres.js 3.4 drops a server error that arrives after the stream
 * ended (its `finish` never comes), so the query's own rejection is captured here as well.
 */
async function openCopy(sql: Sql, text: string): Promise<OpenCopy> {
  const query = sql.unsafe(text) as unknown as postgres.PendingQuery<postgres.Row[]> & {
    reject: (error: unknown) => void;
  };
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  const reject = query.reject;
  query.reject = (error: unknown) => {
    fail(error);
    reject(error);
  };
  const stream = await query.writable();
  stream.on("error", (error) => fail(error));
  const done = Promise.race([finished(stream), failed]);
  done.catch(() => {});
  return { stream, done, failed };
}

/** A row too large for one COPY statement or INSERT batch, loaded by an INSERT of its own. */
interface OutsizedRow {
  /** The document as JSON text. */
  doc: string;
  _id: string;
  /** The BSON, when JSONB cannot hold the document exactly. */
  original: Uint8Array | null;
  ordinal: number;
  offset: number | undefined;
}

/** Encodes documents as rows (COPY text, or a JSON array for INSERT) into a writer. */
class RowEncoder {
  writer: EjsonWriter;
  counts: LoadCounts = { documents: 0, bytes: 0, anomalies: 0 };
  rows = 0;
  #copy: boolean;
  #extractedAt: Uint8Array;
  #maxRowBytes: number;

  #location: string | undefined;

  constructor(
    method: LoadMethod,
    extractedAt: string,
    options: { location: string | undefined; maxRowBytes: number },
  ) {
    this.#location = options.location;
    this.#maxRowBytes = options.maxRowBytes;
    this.#copy = method === "copy";
    this.writer = new EjsonWriter({ copy: this.#copy, initialSize: 512 * 1024 });
    this.#extractedAt = encoder.encode(extractedAt);
  }

  /**
   * Appends the row of `doc`; a row longer than `maxRowBytes` is not appended but returned,
   * to be inserted on its own, and the buffer it grew is given back.
   */
  add(doc: Uint8Array, ordinal: number, offset: number | undefined): OutsizedRow | undefined {
    const w = this.writer;
    const start = w.pos;
    let docStart = start;
    let docEnd = start;
    w.anomaly = false;
    try {
      if (this.#copy) {
        w.document(doc);
        docEnd = w.pos;
        w.byte(TAB);
        this.#id(doc, ordinal, offset);
        w.byte(TAB);
        if (w.anomaly) {
          w.bytes(BYTEA_PREFIX);
          w.hex(doc);
        } else {
          w.bytes(NULL_FIELD);
        }
        w.byte(TAB);
        w.bytes(this.#extractedAt);
        w.byte(TAB);
        w.ascii(String(ordinal));
        w.byte(TAB);
        if (offset === undefined) w.bytes(NULL_FIELD);
        else w.ascii(String(offset));
        w.byte(NEWLINE);
      } else {
        w.byte(this.rows === 0 ? 0x5b : 0x2c);
        w.ascii('{"d":');
        docStart = w.pos;
        w.document(doc);
        docEnd = w.pos;
        w.ascii(',"i":');
        this.#id(doc, ordinal, offset);
        w.ascii(',"o":');
        if (w.anomaly) {
          w.byte(0x22);
          w.hex(doc);
          w.byte(0x22);
        } else {
          w.ascii("null");
        }
        w.ascii(`,"n":${ordinal},"f":${offset ?? "null"}}`);
      }
    } catch (error) {
      w.pos = start;
      if (error instanceof BsonError) {
        const at = offset === undefined ? undefined : offset + error.offset;
        throw new SourceError(`cannot decode the document: ${error.message}`, {
          ordinal,
          ...(at === undefined ? {} : { offset: at }),
          ...(this.#location === undefined ? {} : { location: this.#location }),
          cause: error,
        });
      }
      throw error;
    }
    this.counts.documents++;
    this.counts.bytes += doc.length;
    if (w.anomaly) this.counts.anomalies++;
    if (w.pos - start <= this.#maxRowBytes) {
      this.rows++;
      return undefined;
    }
    // COPY text is the JSON with every backslash doubled: undo that in place.
    const json = this.#copy
      ? w.buf.subarray(docStart, halveBackslashes(w.buf, docStart, docEnd))
      : w.buf.subarray(docStart, docEnd);
    const row: OutsizedRow = {
      doc: decoder.decode(json),
      _id: idText(doc, findId(doc)!),
      original: w.anomaly ? doc : null,
      ordinal,
      offset,
    };
    w.pos = start;
    w.compact();
    return row;
  }

  #id(doc: Uint8Array, ordinal: number, offset: number | undefined): void {
    const id = findId(doc);
    if (!id) {
      throw new SourceError("the document has no _id", {
        ordinal,
        ...(this.#location === undefined ? {} : { location: this.#location }),
        ...(offset === undefined ? {} : { offset }),
      });
    }
    writeIdText(this.writer, doc, id);
  }

  /** Bytes the encoder's buffer holds. */
  get capacity(): number {
    return this.writer.capacity;
  }

  /** Takes the encoded rows (a complete JSON array in insert mode). */
  take(): Uint8Array {
    if (!this.#copy && this.rows > 0) this.writer.byte(0x5d);
    this.rows = 0;
    return this.writer.take();
  }
}

/** Turns each `\\` of `buf[start..end)` into `\` in place; returns the new end. */
function halveBackslashes(buf: Uint8Array, start: number, end: number): number {
  let out = buf.indexOf(0x5c, start);
  if (out === -1 || out >= end) return end;
  for (let i = out; i < end; i++) {
    buf[out++] = buf[i]!;
    if (buf[i] === 0x5c) i++;
  }
  return out;
}

/**
 * Inserts one outsized row with parameters; its original BSON, when kept, follows in a second
 * statement so that neither message is larger than the document's JSON text (the embedded
 * engine refuses messages over 128 MiB).
 */
async function insertRow(
  sql: Sql,
  table: string,
  row: OutsizedRow,
  extractedAt: string,
): Promise<void> {
  const [inserted] = await sql.unsafe(
    `insert into ${table} (doc, _id, original, extracted_at, source_ordinal, source_offset)
     values ($1::text::jsonb, $2::text, null, $3::timestamptz, $4::bigint, $5::bigint)
     returning ctid::text as ctid`,
    [row.doc, row._id, extractedAt, row.ordinal, row.offset ?? null],
  );
  if (row.original) {
    await sql.unsafe(`update ${table} set original = $1::bytea where ctid = $2::tid`, [
      row.original,
      inserted!.ctid,
    ]);
  }
}

/**
 * Streams `batches` into the staging table (created by {@linkcode createStaging}) and returns
 * the counts. On any failure the COPY is aborted (nothing of it stays) and the error is
 * rethrown; {@linkcode SourceError}s carry the document's ordinal and byte offset.
 * Run it on a reserved connection: the COPY owns the connection until it ends.
 */
export async function loadDocuments(
  sql: Sql,
  batches: AsyncIterable<DocumentBatch>,
  options: LoadOptions,
): Promise<LoadCounts> {
  const method = options.method ?? "copy";
  const batchBytes = options.batchBytes ?? 256 * 1024;
  const table = stagingTable(options.collection);
  const columns = "doc, _id, original, extracted_at, source_ordinal, source_offset";
  const copyBytes = options.copyBytes ?? 32 * 1024 * 1024;
  // A row larger than one COPY statement may carry goes through an INSERT of its own.
  const rows = new RowEncoder(method, options.extractedAt, {
    location: options.location,
    maxRowBytes: copyBytes,
  });
  let ordinal = 0;

  if (method === "insert") {
    const flush = async () => {
      if (rows.rows === 0) return;
      const json = decoder.decode(rows.take());
      await sql.unsafe(
        `insert into ${table} (${columns})
         select r.d, r.i, decode(r.o, 'hex'), $2::timestamptz, r.n, r.f
         from jsonb_to_recordset($1::text::jsonb) as r(d jsonb, i text, o text, n bigint, f bigint)`,
        [json, options.extractedAt],
      );
    };
    for await (const batch of batches) {
      for (let k = 0; k < batch.docs.length; k++) {
        const outsized = rows.add(batch.docs[k]!, ++ordinal, batch.offsets?.[k]);
        if (outsized) {
          await flush();
          await insertRow(sql, table, outsized, options.extractedAt);
        } else if (rows.writer.pos >= batchBytes) await flush();
      }
      options.onProgress?.(rows.counts, batch.consumed, rows.capacity);
    }
    await flush();
    return rows.counts;
  }

  const statement = `copy ${table} (${columns}) from stdin`;
  // Each connection runs one COPY at a time, opened at its first write and ended every
  // copyBytes; the first one also ends it before an outsized row's INSERT.
  const lanes: Lane[] = [{ conn: sql, sent: 0 }];
  let turn = 0;
  let asked = false;
  const write = async (chunk: Uint8Array, lane = lanes[turn++ % lanes.length]!) => {
    if (!asked && lane.sent + chunk.length > copyBytes && options.extraLane) {
      asked = true;
      const extra = await options.extraLane();
      if (extra) lanes.push({ conn: extra, sent: 0 });
    }
    if (lane.sent > 0 && lane.sent + chunk.length > copyBytes) await endCopy(lane);
    if (!lane.copy) {
      lane.copy = await openCopy(lane.conn, statement);
      lane.sent = 0;
    }
    lane.sent += chunk.length;
    if (!lane.copy.stream.write(chunk)) {
      await Promise.race([once(lane.copy.stream, "drain"), lane.copy.failed]);
    }
  };
  try {
    for await (const batch of batches) {
      for (let k = 0; k < batch.docs.length; k++) {
        const outsized = rows.add(batch.docs[k]!, ++ordinal, batch.offsets?.[k]);
        if (outsized) {
          if (rows.writer.pos > 0) await write(rows.take(), lanes[0]);
          await endCopy(lanes[0]!);
          await insertRow(sql, table, outsized, options.extractedAt);
        } else if (rows.writer.pos >= batchBytes) await write(rows.take());
      }
      options.onProgress?.(rows.counts, batch.consumed, rows.capacity);
    }
    if (rows.writer.pos > 0) await write(rows.take());
    // Every COPY settles before the first failure (if any) is rethrown.
    const ended = await Promise.allSettled(lanes.map(endCopy));
    const refused = ended.find((e) => e.status === "rejected");
    if (refused) throw refused.reason;
    return rows.counts;
  } catch (error) {
    await Promise.all(lanes.map(async ({ copy }) => {
      if (!copy) return;
      if (!copy.stream.destroyed) copy.stream.destroy(error as Error);
      // Wait until the server has rolled the COPY back, so the connection is usable again.
      await copy.done.catch(() => {});
    }));
    throw error;
  }
}

/** A connection of a load and the COPY it runs, if any. */
interface Lane {
  conn: Sql;
  copy?: OpenCopy | undefined;
  /** Bytes sent by the open COPY. */
  sent: number;
}

/** Ends the lane's COPY, if one is open, once the server has accepted all of it. */
async function endCopy(lane: Lane): Promise<void> {
  const copy = lane.copy;
  if (!copy) return;
  lane.copy = undefined;
  copy.stream.end();
  await copy.done;
}

/**
 * Adds the primary key to a loaded staging table and drops the diagnostic columns. Throws
 * {@linkcode DuplicateIdError} naming the documents when `_id`s repeat.
 */
export async function finishStaging(sql: Sql, options: { collection: string }): Promise<void> {
  const staging = stagingName(options.collection);
  const table = stagingTable(options.collection);
  try {
    await sql.unsafe(
      `alter table ${table} add constraint ${quoteIdent(staging + "_pkey")} primary key (_id)`,
    );
  } catch (error) {
    if ((error as { code?: string }).code !== "23505") throw error;
    const [dup] = await sql.unsafe(
      `select _id, array_agg(source_ordinal order by source_ordinal) as ordinals,
              array_agg(source_offset order by source_ordinal) as offsets
       from ${table} group by _id having count(*) > 1
       order by min(source_ordinal) limit 1`,
    );
    if (!dup) throw error;
    throw new DuplicateIdError(
      String(dup._id),
      (dup.ordinals as string[]).map(Number),
      (dup.offsets as (string | null)[]).filter((o) => o !== null).map(Number),
      error,
    );
  }
  await sql.unsafe(
    `alter table ${table} drop column source_ordinal, drop column source_offset`,
  );
}

/** Comment put on every raw table. */
function tableComment(collection: string): string {
  return `Raw documents of MongoDB collection ${collection} as relaxed Extended JSON v2; ` +
    `original holds the BSON of documents JSONB could not hold exactly.`;
}

/**
 * Moves each staged table into the raw schema as the live table, inside the caller's
 * transaction `tx` (it locks only the staged tables). The raw schema must not hold them: a
 * refresh has just replaced it by a fresh one, an extraction has just retired the live table.
 */
export async function swapStagingTables(
  tx: Sql | postgres.TransactionSql,
  options: { rawSchema: string; collections: readonly string[] },
): Promise<void> {
  const schema = quoteIdent(options.rawSchema);
  await tx.unsafe(`create schema if not exists ${schema}`);
  for (const collection of options.collections) {
    const staging = stagingName(collection);
    const [found] = await tx`select to_regclass(${stagingTable(collection)}) as oid`;
    if (!found?.oid) {
      throw new Error(
        `${collection}: no staged table ${STAGING_SCHEMA}.${staging} to swap in; stage the ` +
          `collection first`,
      );
    }
    const live = quoteIdent(collection);
    await tx.unsafe(`alter table ${stagingTable(collection)} set schema ${schema}`);
    await tx.unsafe(`alter table ${schema}.${quoteIdent(staging)} rename to ${live}`);
    await tx.unsafe(
      `alter table ${schema}.${live} rename constraint ${quoteIdent(staging + "_pkey")} ` +
        `to ${quoteIdent(collection + "_pkey")}`,
    );
    await tx.unsafe(
      `comment on table ${schema}.${live} is '${tableComment(collection).replaceAll("'", "''")}'`,
    );
  }
}

/** Drops the staging tables of `collections` (those that exist). */
export async function dropStagingTables(
  sql: Sql,
  options: { collections: readonly string[] },
): Promise<void> {
  for (const collection of options.collections) {
    await sql.unsafe(`drop table if exists ${stagingTable(collection)}`);
  }
}
