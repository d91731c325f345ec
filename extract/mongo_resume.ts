/**
 * Where a MongoDB read resumes after a fault: right after the last document already staged.
 * Reads are sorted by `_id`, and MongoDB sorts values of different BSON types by type bracket
 * first (MinKey < null < numbers < strings < objects < arrays < binary < ObjectId < booleans <
 * dates < timestamps < regular expressions < MaxKey), while `$gt` only compares values of the
 * same bracket. So "after x" is `_id > x` within x's bracket, or an `_id` of any later bracket:
 * nothing is read twice and nothing is skipped, whatever mix of `_id` types a collection has.
 * @module
 */
import * as BSON from "bson";
import { findId } from "./ejson.ts";

/** An `_id` that cannot be sent back to the server exactly (e.g. a string of invalid UTF-8). */
export class ResumeError extends RangeError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ResumeError";
  }
}

/** MongoDB's canonical sort rank of each BSON type, by type byte. */
const RANK: Readonly<Record<number, number>> = {
  0xff: -1, // MinKey
  0x06: 0, // undefined
  0x0a: 5, // null
  0x01: 10, // double
  0x10: 10, // int
  0x12: 10, // long
  0x13: 10, // decimal
  0x02: 15, // string
  0x0e: 15, // symbol
  0x03: 20, // object
  0x04: 25, // array
  0x05: 30, // binData
  0x07: 35, // objectId
  0x08: 40, // bool
  0x09: 45, // date
  0x11: 47, // timestamp
  0x0b: 50, // regex
  0x0c: 55, // dbPointer
  0x0d: 60, // javascript
  0x0f: 65, // javascriptWithScope
  0x7f: 127, // MaxKey
};

/** The `$type` alias of each BSON type, by type byte. */
const ALIAS: Readonly<Record<number, string>> = {
  0xff: "minKey",
  0x06: "undefined",
  0x0a: "null",
  0x01: "double",
  0x10: "int",
  0x12: "long",
  0x13: "decimal",
  0x02: "string",
  0x0e: "symbol",
  0x03: "object",
  0x04: "array",
  0x05: "binData",
  0x07: "objectId",
  0x08: "bool",
  0x09: "date",
  0x11: "timestamp",
  0x0b: "regex",
  0x0c: "dbPointer",
  0x0d: "javascript",
  0x0f: "javascriptWithScope",
  0x7f: "maxKey",
};

/** `$type` aliases of the types that sort after every value of type byte `type`. */
export function laterTypes(type: number): string[] {
  const rank = RANK[type];
  if (rank === undefined) throw new ResumeError(`unknown BSON type 0x${type.toString(16)}`);
  return Object.entries(RANK)
    .filter(([, r]) => r > rank)
    .sort(([a, ra], [b, rb]) => ra - rb || Number(a) - Number(b))
    .map(([t]) => ALIAS[Number(t)]!);
}

/**
 * The filter matching every document whose `_id` sorts after the `_id` of `doc` (raw BSON).
 * Throws {@linkcode ResumeError} when that `_id` cannot be sent back byte for byte.
 */
export function afterFilter(doc: Uint8Array): BSON.Document {
  const id = findId(doc);
  if (!id) throw new ResumeError("the document has no _id");
  let value: unknown;
  try {
    value = BSON.deserialize(doc, {
      promoteValues: false,
      promoteLongs: false,
      promoteBuffers: false,
      bsonRegExp: true,
      validation: { utf8: false },
    })._id;
  } catch (cause) {
    throw new ResumeError(`cannot decode the _id: ${(cause as Error).message}`, { cause });
  }
  // The value must serialize to the very bytes the server sent, or $gt would compare to another.
  const again = BSON.serialize({ _id: value });
  const element = again.subarray(4, again.length - 1);
  const start = id.at - 5; // type byte, then "_id\0"
  const sent = doc.subarray(start, start + element.length);
  if (sent.length !== element.length || !sent.every((byte, k) => byte === element[k])) {
    throw new ResumeError(
      "the _id does not survive a round trip through the driver (e.g. a string that is not valid UTF-8)",
    );
  }
  const later = laterTypes(id.type);
  const gt = { _id: { $gt: value } };
  return later.length === 0 ? gt : { $or: [gt, { _id: { $type: later } }] };
}
