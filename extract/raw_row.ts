/**
 * One document as the loader stores it in a raw table: the `_id` text, the relaxed Extended
 * JSON of `doc`, and the original BSON when JSONB could not hold the document exactly. For
 * tools that write raw rows themselves (the SQL unit tests) and must match extraction.
 * @module
 */
import { LmlSyntaxError } from "../lib/core/mod.ts";
import { EjsonWriter, findId, idText } from "./ejson.ts";
import { jsonLineToBson } from "./json_lines.ts";

/** The columns of one raw table row. */
export interface RawRow {
  /** `_id` text: 24 lower-case hex for an ObjectId, the string itself (quoted when it would print
   * like another type's id), else canonical EJSON. */
  id: string;
  /** The document as relaxed Extended JSON (the `doc` column). */
  doc: string;
  /** The BSON, when a value was altered to fit JSONB (the `original` column); else null. */
  original: Uint8Array | null;
}

const decoder = new TextDecoder();

/**
 * The raw row of one document given as Extended JSON text (relaxed or canonical, as
 * mongoexport writes it), encoded exactly as extraction encodes it. Throws JsonLineError for
 * malformed text and LmlSyntaxError for a document without `_id`.
 */
export function rawRowOfJson(text: string): RawRow {
  return rawRowOfBson(jsonLineToBson(text));
}

/**
 * The raw row of one BSON document, encoded exactly as extraction encodes it (used to apply
 * change events). Throws LmlSyntaxError for a document without `_id`.
 */
export function rawRowOfBson(bson: Uint8Array): RawRow {
  const id = findId(bson);
  if (!id) throw new LmlSyntaxError("the document has no _id");
  const writer = new EjsonWriter({ initialSize: bson.length * 2 + 64 });
  writer.document(bson);
  return {
    id: idText(bson, id),
    doc: decoder.decode(writer.buf.subarray(0, writer.pos)),
    original: writer.anomaly ? bson : null,
  };
}
