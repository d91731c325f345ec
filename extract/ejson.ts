/**
 * BSON bytes → relaxed Extended JSON v2 text, walking the bytes directly (no intermediate JS
 * objects), optionally escaped for PostgreSQL's COPY text format in the same pass.
 *
 * The output matches `EJSON.stringify(BSON.deserialize(bytes), {relaxed: true})` of npm:bson
 * wherever that is lossless, and keeps more where it is not: Int64 beyond ±(2^53-1) as
 * `{"$numberLong": "..."}`, -0.0 as `{"$numberDouble": "-0.0"}`, Symbol, Undefined and DBPointer
 * in their own EJSON v2 forms. What JSONB cannot hold (U+0000, invalid UTF-8) becomes U+FFFD and
 * flags the document as an anomaly, so the caller can keep its original bytes.
 * @module
 */
import { hex, LmlSyntaxError } from "../lib/core/mod.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { Decimal128 } from "bson";

/** A document that is not valid BSON; `offset` is relative to the document's first byte. */
export class BsonError extends LmlSyntaxError {
  /** Byte offset of the fault inside the document. */
  offset: number;
  constructor(message: string, offset: number) {
    super(`invalid BSON at byte ${offset} of the document: ${message}`);
    this.name = "BsonError";
    this.offset = offset;
  }
}

/** Options of {@linkcode EjsonWriter}. */
export interface EjsonWriterOptions {
  /** Escape backslashes for the COPY text format (every `\` written as `\\`). Default: false. */
  copy?: boolean;
  /** Initial buffer size in bytes. Default: 65536. */
  initialSize?: number;
  /**
   * Largest buffer kept between {@linkcode EjsonWriter.take} calls: a buffer grown beyond it
   * (by an outsized document) is handed out by `take` and replaced by a new one of
   * `initialSize`. Default: 4 MiB.
   */
  keptBytes?: number;
}

/** Source bytes (or UTF-16 units) escaped per buffer reservation: bounds over-reservation. */
const STRING_CHUNK = 65536;

const HEX = new TextEncoder().encode("0123456789abcdef");
const B64 = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
);
const MS_PER_DAY = 86400000;
const MAX_RELAXED_DATE = 253402300800000; // 10000-01-01T00:00:00Z, exclusive
const utf8Lenient = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Strings that print like the `_id` text of another BSON type. */
const LOOKS_TYPED = /^(?:[0-9a-f]{24}|[{"].*|true|false|null)$/s;

/** Deepest nesting of documents and arrays decoded (MongoDB itself stops at 100). */
export const MAX_DEPTH = 200;

/** Field names that make an object read as a typed Extended JSON value. */
const EJSON_KEYWORDS = new Set([
  "$oid",
  "$date",
  "$numberInt",
  "$numberLong",
  "$numberDouble",
  "$numberDecimal",
  "$binary",
  "$uuid",
  "$regularExpression",
  "$timestamp",
  "$symbol",
  "$code",
  "$scope",
  "$minKey",
  "$maxKey",
  "$undefined",
  "$dbPointer",
  "$regex",
  "$options",
  "$type",
]);

/** Field names already seen in one object: start/end pairs, and a set once there are many. */
interface SeenKeys {
  pairs: number[];
  names: Set<string> | undefined;
}

/** The bytes `src[start..end)` as a string of their code units (enough for ASCII names). */
function latin1(src: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(src[i]!);
  return text;
}
const scratch = new DataView(new ArrayBuffer(8));

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

const LIT = {
  nul: ascii("null"),
  tru: ascii("true"),
  fals: ascii("false"),
  oid: ascii('{"$oid":"'),
  dateIso: ascii('{"$date":"'),
  dateLong: ascii('{"$date":{"$numberLong":"'),
  numberLong: ascii('{"$numberLong":"'),
  numberInt: ascii('{"$numberInt":"'),
  numberDouble: ascii('{"$numberDouble":"'),
  numberDecimal: ascii('{"$numberDecimal":"'),
  binary: ascii('{"$binary":{"base64":"'),
  subType: ascii('","subType":"'),
  regex: ascii('{"$regularExpression":{"pattern":'),
  regexOptions: ascii(',"options":'),
  dbPointer: ascii('{"$dbPointer":{"$ref":'),
  dbPointerId: ascii(',"$id":{"$oid":"'),
  code: ascii('{"$code":'),
  scope: ascii(',"$scope":'),
  symbol: ascii('{"$symbol":'),
  timestamp: ascii('{"$timestamp":{"t":'),
  timestampI: ascii(',"i":'),
  minKey: ascii('{"$minKey":1}'),
  maxKey: ascii('{"$maxKey":1}'),
  undef: ascii('{"$undefined":true}'),
  closeStr: ascii('"}'),
  closeStr2: ascii('"}}'),
  close2: ascii("}}"),
  nan: ascii("NaN"),
  inf: ascii("Infinity"),
  ninf: ascii("-Infinity"),
  negZero: ascii("-0.0"),
};

/**
 * An append-only output buffer with the BSON walker. Reuse one per stream: call
 * {@linkcode EjsonWriter.take} to hand the bytes written so far to a consumer.
 */
export class EjsonWriter extends ByteBuffer {
  /**
   * Set when JSONB cannot hold the document exactly: a value altered to fit (U+0000 or invalid
   * UTF-8 → U+FFFD), a field name repeated in one object (JSONB keeps the last), or a field
   * name that is an Extended JSON keyword (`{"$date": ...}` typed by a user would read as a
   * date).
   */
  anomaly = false;
  #depth = 0;
  #copy: boolean;
  #src: Uint8Array = new Uint8Array(0);
  #base = 0;
  #canonical = false;
  #element = 0;
  #initialSize: number;
  #keptBytes: number;

  /** True when output is escaped for the COPY text format. */
  get copy(): boolean {
    return this.#copy;
  }

  constructor(options: EjsonWriterOptions = {}) {
    super(options.initialSize ?? 65536);
    this.#copy = options.copy ?? false;
    this.#initialSize = this.buf.length;
    this.#keptBytes = options.keptBytes ?? 4 * 1024 * 1024;
  }

  /**
   * Returns the bytes written so far and empties the writer. They are copied out of a buffer
   * of at most `keptBytes`, which is kept; a larger buffer is handed out as is (no copy) and
   * replaced by a new one of `initialSize`, so one outsized document does not pin its memory.
   */
  take(): Uint8Array {
    const pos = this.pos;
    this.pos = 0;
    if (this.buf.length <= this.#keptBytes) return this.buf.slice(0, pos);
    const out = this.buf.subarray(0, pos);
    this.buf = new Uint8Array(this.#initialSize);
    return out;
  }

  /** Gives back the memory of a buffer grown beyond `keptBytes`, keeping what is written. */
  compact(): void {
    if (this.buf.length > this.#keptBytes) this.shrink(Math.max(this.#initialSize, this.pos));
  }

  /** Appends `data` as lower-case hex. */
  hex(data: Uint8Array): void {
    this.reserve(data.length * 2);
    const buf = this.buf;
    let p = this.pos;
    for (let k = 0; k < data.length; k++) {
      const b = data[k]!;
      buf[p++] = HEX[b >> 4]!;
      buf[p++] = HEX[b & 15]!;
    }
    this.pos = p;
  }

  /** Appends an ASCII string. */
  ascii(text: string): void {
    this.reserve(text.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) buf[p++] = text.charCodeAt(i);
    this.pos = p;
  }

  /**
   * Writes the document at `src[start..]` as relaxed EJSON (or canonical with `canonical`) and
   * returns its length in bytes. Throws {@linkcode BsonError} (and writes nothing) when malformed.
   */
  document(src: Uint8Array, start = 0, canonical = false): number {
    const saved = this.pos;
    this.#src = src;
    this.#base = start;
    this.#canonical = canonical;
    this.#depth = 0;
    try {
      if (start + 5 > src.length) throw this.#fail("document shorter than 5 bytes", start);
      const length = this.#int32(start);
      if (length < 5 || start + length > src.length) {
        throw this.#fail(
          `document length ${length} exceeds the ${src.length - start} bytes available`,
          start,
        );
      }
      this.#doc(start, false);
      return length;
    } catch (error) {
      this.pos = saved;
      throw error;
    }
  }

  /**
   * Writes one element value of type `type` located at `src[at..]`, canonical or relaxed, and
   * returns the offset after it. Used for `_id` text.
   */
  value(src: Uint8Array, type: number, at: number, canonical: boolean, end = src.length): number {
    this.#src = src;
    this.#base = 0;
    this.#canonical = canonical;
    this.#depth = 0;
    return this.#value(type, at, end);
  }

  /** Writes `text` as a JSON string (quoted, escaped), replacing U+0000 with U+FFFD. */
  jsonString(text: string): void {
    this.byte(0x22);
    this.#jsString(text);
    this.byte(0x22);
  }

  /**
   * Writes `src[start..end)` as JSON string content (no quotes), validating UTF-8; U+0000 and
   * invalid sequences become U+FFFD and set {@linkcode EjsonWriter.anomaly}.
   */
  stringContent(src: Uint8Array, start: number, end: number): void {
    const copy = this.#copy;
    let i = start;
    // Room is reserved per chunk (7 bytes per source byte at most, + 8 for a character that
    // runs past the chunk's end), so a long string does not reserve 7 times its size at once.
    let stop = Math.min(end, i + STRING_CHUNK);
    this.reserve((stop - i) * 7 + 8);
    let buf = this.buf;
    let p = this.pos;
    while (i < end) {
      if (i >= stop) {
        stop = Math.min(end, i + STRING_CHUNK);
        this.pos = p;
        this.reserve((stop - i) * 7 + 8);
        buf = this.buf;
      }
      const c = src[i]!;
      if (c < 0x80) {
        if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
          buf[p++] = c;
        } else if (c === 0) {
          buf[p++] = 0xef;
          buf[p++] = 0xbf;
          buf[p++] = 0xbd;
          this.anomaly = true;
        } else {
          buf[p++] = 0x5c;
          if (copy) buf[p++] = 0x5c;
          switch (c) {
            case 0x22:
              buf[p++] = 0x22;
              break;
            case 0x5c:
              buf[p++] = 0x5c;
              if (copy) buf[p++] = 0x5c;
              break;
            case 0x08:
              buf[p++] = 0x62;
              break;
            case 0x0c:
              buf[p++] = 0x66;
              break;
            case 0x0a:
              buf[p++] = 0x6e;
              break;
            case 0x0d:
              buf[p++] = 0x72;
              break;
            case 0x09:
              buf[p++] = 0x74;
              break;
            default:
              buf[p++] = 0x75;
              buf[p++] = 0x30;
              buf[p++] = 0x30;
              buf[p++] = HEX[c >> 4]!;
              buf[p++] = HEX[c & 15]!;
          }
        }
        i++;
        continue;
      }
      let n = 0;
      if (c >= 0xc2 && c <= 0xdf) {
        if (i + 1 < end && (src[i + 1]! & 0xc0) === 0x80) n = 2;
      } else if (c >= 0xe0 && c <= 0xef) {
        const c1 = src[i + 1]!;
        if (
          i + 2 < end && (c1 & 0xc0) === 0x80 && (src[i + 2]! & 0xc0) === 0x80 &&
          (c !== 0xe0 || c1 >= 0xa0) && (c !== 0xed || c1 < 0xa0)
        ) n = 3;
      } else if (c >= 0xf0 && c <= 0xf4) {
        const c1 = src[i + 1]!;
        if (
          i + 3 < end && (c1 & 0xc0) === 0x80 && (src[i + 2]! & 0xc0) === 0x80 &&
          (src[i + 3]! & 0xc0) === 0x80 && (c !== 0xf0 || c1 >= 0x90) && (c !== 0xf4 || c1 < 0x90)
        ) n = 4;
      }
      if (n === 0) {
        // Invalid UTF-8: redo this string through the standard lenient decoder (U+FFFD).
        this.pos = p;
        this.anomaly = true;
        this.#jsString(utf8Lenient.decode(src.subarray(i, end)));
        return;
      }
      buf[p++] = c;
      buf[p++] = src[i + 1]!;
      if (n > 2) buf[p++] = src[i + 2]!;
      if (n > 3) buf[p++] = src[i + 3]!;
      i += n;
    }
    this.pos = p;
  }

  #jsString(text: string): void {
    const copy = this.#copy;
    let stop = Math.min(text.length, STRING_CHUNK);
    this.reserve(stop * 7 + 8);
    let buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < text.length; i++) {
      if (i >= stop) {
        stop = Math.min(text.length, i + STRING_CHUNK);
        this.pos = p;
        this.reserve((stop - i) * 7 + 8);
        buf = this.buf;
      }
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
          buf[p++] = c;
          continue;
        }
        if (c === 0) {
          this.anomaly = true;
          c = 0xfffd;
        } else {
          buf[p++] = 0x5c;
          if (copy) buf[p++] = 0x5c;
          const short = c === 0x22
            ? 0x22
            : c === 0x5c
            ? 0x5c
            : c === 8
            ? 0x62
            : c === 12
            ? 0x66
            : c === 10
            ? 0x6e
            : c === 13
            ? 0x72
            : c === 9
            ? 0x74
            : 0;
          if (short === 0x5c && copy) buf[p++] = 0x5c;
          if (short) {
            buf[p++] = short;
          } else {
            buf[p++] = 0x75;
            buf[p++] = 0x30;
            buf[p++] = 0x30;
            buf[p++] = HEX[c >> 4]!;
            buf[p++] = HEX[c & 15]!;
          }
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (cp >> 18);
          buf[p++] = 0x80 | ((cp >> 12) & 63);
          buf[p++] = 0x80 | ((cp >> 6) & 63);
          buf[p++] = 0x80 | (cp & 63);
          i++;
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        this.anomaly = true;
        c = 0xfffd;
      }
      if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 63);
      } else {
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 63);
        buf[p++] = 0x80 | (c & 63);
      }
    }
    this.pos = p;
  }

  #fail(message: string, at: number): BsonError {
    return new BsonError(message, at - this.#base);
  }

  #int32(at: number): number {
    const s = this.#src;
    return s[at]! | (s[at + 1]! << 8) | (s[at + 2]! << 16) | (s[at + 3]! << 24);
  }

  #need(at: number, n: number, end: number, what: string): void {
    if (at + n > end) throw this.#fail(`${what} runs past the end of its document`, at);
  }

  /** Position of the NUL ending a cstring starting at `at`. */
  #cstringEnd(at: number, end: number): number {
    const s = this.#src;
    let i = at;
    while (i < end && s[i] !== 0) i++;
    if (i >= end) throw this.#fail("unterminated name or string", at);
    return i;
  }

  #quoted(start: number, end: number): void {
    this.byte(0x22);
    this.stringContent(this.#src, start, end);
    this.byte(0x22);
  }

  /** A length-prefixed BSON string at `at`: returns [contentStart, contentEnd, next]. */
  #string(at: number, end: number): [number, number, number] {
    this.#need(at, 4, end, "string length");
    const length = this.#int32(at);
    if (length < 1 || at + 4 + length > end) {
      throw this.#fail(`string length ${length} is out of bounds`, at);
    }
    const stop = at + 4 + length - 1;
    if (this.#src[stop] !== 0) throw this.#fail("string is not NUL-terminated", stop);
    return [at + 4, stop, stop + 1];
  }

  #doc(at: number, isArray: boolean): number {
    const src = this.#src;
    const length = this.#int32(at);
    const end = at + length;
    if (src[end - 1] !== 0) throw this.#fail("document is not NUL-terminated", end - 1);
    if (++this.#depth > MAX_DEPTH) {
      throw this.#fail(`documents nested deeper than ${MAX_DEPTH} levels`, at);
    }
    this.byte(isArray ? 0x5b : 0x7b);
    let i = at + 4;
    let first = true;
    const keys: SeenKeys = { pairs: [], names: undefined };
    while (i < end - 1) {
      const type = src[i]!;
      this.#element = i;
      const keyEnd = this.#cstringEnd(i + 1, end - 1);
      if (!first) this.byte(0x2c);
      first = false;
      if (!isArray) {
        if (!this.anomaly && this.#oddKey(i + 1, keyEnd, keys)) this.anomaly = true;
        this.#quoted(i + 1, keyEnd);
        this.byte(0x3a);
      }
      i = this.#value(type, keyEnd + 1, end - 1);
    }
    if (i !== end - 1) throw this.#fail("elements overrun the document length", i);
    this.byte(isArray ? 0x5d : 0x7d);
    this.#depth--;
    return end;
  }

  /**
   * Whether the field name at `src[start..end)` repeats one of the object's earlier names in
   * `keys` (to which it is added) or is an Extended JSON keyword. Names are compared as bytes
   * while the object is small, through a set of names beyond 32.
   */
  #oddKey(start: number, end: number, keys: SeenKeys): boolean {
    const src = this.#src;
    if (src[start] === 0x24 && EJSON_KEYWORDS.has(latin1(src, start, end))) return true;
    const pairs = keys.pairs;
    if (keys.names === undefined && pairs.length >= 64) {
      keys.names = new Set();
      for (let k = 0; k < pairs.length; k += 2) {
        keys.names.add(latin1(src, pairs[k]!, pairs[k + 1]!));
      }
    }
    if (keys.names !== undefined) {
      const name = latin1(src, start, end);
      if (keys.names.has(name)) return true;
      keys.names.add(name);
      return false;
    }
    const length = end - start;
    for (let k = 0; k < pairs.length; k += 2) {
      if (pairs[k + 1]! - pairs[k]! !== length) continue;
      let same = true;
      for (let j = 0; j < length && same; j++) same = src[pairs[k]! + j] === src[start + j];
      if (same) return true;
    }
    pairs.push(start, end);
    return false;
  }

  #subdoc(at: number, end: number, isArray: boolean): number {
    this.#need(at, 5, end, "embedded document");
    const length = this.#int32(at);
    if (length < 5 || at + length > end) {
      throw this.#fail(`embedded document length ${length} is out of bounds`, at);
    }
    return this.#doc(at, isArray);
  }

  #value(type: number, at: number, end: number): number {
    const src = this.#src;
    switch (type) {
      case 0x01: { // double
        this.#need(at, 8, end, "double");
        this.#double(at);
        return at + 8;
      }
      case 0x02: { // string
        const [s, e, next] = this.#string(at, end);
        this.#quoted(s, e);
        return next;
      }
      case 0x03:
        return this.#subdoc(at, end, false);
      case 0x04:
        return this.#subdoc(at, end, true);
      case 0x05: { // binary
        this.#need(at, 5, end, "binary");
        let length = this.#int32(at);
        if (length < 0 || at + 5 + length > end) {
          throw this.#fail(`binary length ${length} is out of bounds`, at);
        }
        const subType = src[at + 4]!;
        let data = at + 5;
        if (subType === 2) {
          const inner = length >= 4 ? this.#int32(data) : -1;
          if (inner !== length - 4) {
            throw this.#fail("binary subtype 2 with an inconsistent inner length", at);
          }
          data += 4;
          length -= 4;
        }
        this.bytes(LIT.binary);
        this.#base64(data, data + length);
        this.bytes(LIT.subType);
        this.reserve(2);
        this.buf[this.pos++] = HEX[subType >> 4]!;
        this.buf[this.pos++] = HEX[subType & 15]!;
        this.bytes(LIT.closeStr2);
        return data + length;
      }
      case 0x06:
        this.bytes(LIT.undef);
        return at;
      case 0x07: { // ObjectId
        this.#need(at, 12, end, "ObjectId");
        this.bytes(LIT.oid);
        this.#hex(at, 12);
        this.bytes(LIT.closeStr);
        return at + 12;
      }
      case 0x08: {
        this.#need(at, 1, end, "boolean");
        const b = src[at];
        if (b !== 0 && b !== 1) throw this.#fail(`boolean byte ${b}`, at);
        this.bytes(b ? LIT.tru : LIT.fals);
        return at + 1;
      }
      case 0x09: { // UTC datetime
        this.#need(at, 8, end, "date");
        this.#date(at);
        return at + 8;
      }
      case 0x0a:
        this.bytes(LIT.nul);
        return at;
      case 0x0b: { // regex
        const patternEnd = this.#cstringEnd(at, end);
        const optionsEnd = this.#cstringEnd(patternEnd + 1, end);
        this.bytes(LIT.regex);
        this.#quoted(at, patternEnd);
        this.bytes(LIT.regexOptions);
        const options = [...src.subarray(patternEnd + 1, optionsEnd)];
        const sorted = options.every((c, k) => k === 0 || options[k - 1]! <= c);
        if (sorted) this.#quoted(patternEnd + 1, optionsEnd);
        else this.jsonString(String.fromCharCode(...options.sort((a, b) => a - b)));
        this.bytes(LIT.close2);
        return optionsEnd + 1;
      }
      case 0x0c: { // DBPointer
        const [s, e, next] = this.#string(at, end);
        this.#need(next, 12, end, "DBPointer id");
        this.bytes(LIT.dbPointer);
        this.#quoted(s, e);
        this.bytes(LIT.dbPointerId);
        this.#hex(next, 12);
        this.bytes(LIT.closeStr2);
        this.byte(0x7d);
        return next + 12;
      }
      case 0x0d:
      case 0x0e: { // JavaScript code, symbol
        const [s, e, next] = this.#string(at, end);
        this.bytes(type === 0x0d ? LIT.code : LIT.symbol);
        this.#quoted(s, e);
        this.byte(0x7d);
        return next;
      }
      case 0x0f: { // code with scope
        this.#need(at, 4, end, "code with scope");
        const total = this.#int32(at);
        if (total < 14 || at + total > end) {
          throw this.#fail(`code with scope length ${total} is out of bounds`, at);
        }
        const [s, e, next] = this.#string(at + 4, at + total);
        this.bytes(LIT.code);
        this.#quoted(s, e);
        this.bytes(LIT.scope);
        const after = this.#subdoc(next, at + total, false);
        if (after !== at + total) throw this.#fail("code with scope length mismatch", at);
        this.byte(0x7d);
        return after;
      }
      case 0x10: { // int32
        this.#need(at, 4, end, "int32");
        const v = this.#int32(at);
        if (this.#canonical) {
          this.bytes(LIT.numberInt);
          this.ascii(String(v));
          this.bytes(LIT.closeStr);
        } else {
          this.ascii(String(v));
        }
        return at + 4;
      }
      case 0x11: { // timestamp
        this.#need(at, 8, end, "timestamp");
        this.bytes(LIT.timestamp);
        this.ascii(String(this.#int32(at + 4) >>> 0));
        this.bytes(LIT.timestampI);
        this.ascii(String(this.#int32(at) >>> 0));
        this.bytes(LIT.close2);
        return at + 8;
      }
      case 0x12: { // int64
        this.#need(at, 8, end, "int64");
        const lo = this.#int32(at) >>> 0;
        const hi = this.#int32(at + 4);
        if (!this.#canonical && isSafe(hi, lo)) {
          this.ascii(String(hi * 4294967296 + lo));
        } else {
          this.bytes(LIT.numberLong);
          this.ascii(int64Text(hi, lo));
          this.bytes(LIT.closeStr);
        }
        return at + 8;
      }
      case 0x13: { // decimal128
        this.#need(at, 16, end, "decimal128");
        this.bytes(LIT.numberDecimal);
        this.ascii(new Decimal128(src.slice(at, at + 16)).toString());
        this.bytes(LIT.closeStr);
        return at + 16;
      }
      case 0xff:
        this.bytes(LIT.minKey);
        return at;
      case 0x7f:
        this.bytes(LIT.maxKey);
        return at;
      default:
        throw this.#fail(
          `unknown element type 0x${type.toString(16).padStart(2, "0")}`,
          this.#element,
        );
    }
  }

  #double(at: number): void {
    const s = this.#src;
    for (let k = 0; k < 8; k++) scratch.setUint8(k, s[at + k]!);
    const v = scratch.getFloat64(0, true);
    if (Number.isFinite(v) && !Object.is(v, -0) && !this.#canonical) {
      this.ascii(String(v));
      return;
    }
    this.bytes(LIT.numberDouble);
    if (Number.isNaN(v)) this.bytes(LIT.nan);
    else if (v === Infinity) this.bytes(LIT.inf);
    else if (v === -Infinity) this.bytes(LIT.ninf);
    else if (Object.is(v, -0)) this.bytes(LIT.negZero);
    else this.ascii(Number.isInteger(v) ? v.toFixed(1) : String(v));
    this.bytes(LIT.closeStr);
  }

  #date(at: number): void {
    const lo = this.#int32(at) >>> 0;
    const hi = this.#int32(at + 4);
    const ms = hi * 4294967296 + lo;
    if (this.#canonical || hi < 0 || ms >= MAX_RELAXED_DATE) {
      this.bytes(LIT.dateLong);
      this.ascii(int64Text(hi, lo));
      this.bytes(LIT.closeStr2);
      return;
    }
    this.bytes(LIT.dateIso);
    this.reserve(30);
    this.pos = writeIsoDate(this.buf, this.pos, ms);
    this.bytes(LIT.closeStr);
  }

  #hex(at: number, n: number): void {
    this.reserve(n * 2);
    const s = this.#src;
    const buf = this.buf;
    let p = this.pos;
    for (let k = at; k < at + n; k++) {
      const b = s[k]!;
      buf[p++] = HEX[b >> 4]!;
      buf[p++] = HEX[b & 15]!;
    }
    this.pos = p;
  }

  #base64(start: number, end: number): void {
    this.reserve(Math.ceil((end - start) / 3) * 4);
    const s = this.#src;
    const buf = this.buf;
    let p = this.pos;
    let i = start;
    for (; i + 2 < end; i += 3) {
      const n = (s[i]! << 16) | (s[i + 1]! << 8) | s[i + 2]!;
      buf[p++] = B64[n >> 18]!;
      buf[p++] = B64[(n >> 12) & 63]!;
      buf[p++] = B64[(n >> 6) & 63]!;
      buf[p++] = B64[n & 63]!;
    }
    if (i < end) {
      const two = i + 1 < end;
      const n = (s[i]! << 16) | (two ? s[i + 1]! << 8 : 0);
      buf[p++] = B64[n >> 18]!;
      buf[p++] = B64[(n >> 12) & 63]!;
      buf[p++] = two ? B64[(n >> 6) & 63]! : 0x3d;
      buf[p++] = 0x3d;
    }
    this.pos = p;
  }
}

/** True when the int64 (hi, lo) is a safe JavaScript integer (|n| ≤ 2^53 - 1). */
function isSafe(hi: number, lo: number): boolean {
  return hi < 0x200000 && (hi > -0x200000 || (hi === -0x200000 && lo !== 0));
}

function int64Text(hi: number, lo: number): string {
  if (isSafe(hi, lo)) return String(hi * 4294967296 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function two(buf: Uint8Array, p: number, n: number): number {
  buf[p] = 0x30 + ((n / 10) | 0);
  buf[p + 1] = 0x30 + (n % 10);
  return p + 2;
}

/** Writes `ms` (0 ≤ ms < year 10000) as `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, like npm:bson. */
function writeIsoDate(buf: Uint8Array, p: number, ms: number): number {
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  p = two(buf, p, Math.floor(year / 100));
  p = two(buf, p, year % 100);
  buf[p++] = 0x2d;
  p = two(buf, p, month);
  buf[p++] = 0x2d;
  p = two(buf, p, day);
  buf[p++] = 0x54;
  const hours = Math.floor(rest / 3600000);
  rest -= hours * 3600000;
  const minutes = Math.floor(rest / 60000);
  rest -= minutes * 60000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  p = two(buf, p, hours);
  buf[p++] = 0x3a;
  p = two(buf, p, minutes);
  buf[p++] = 0x3a;
  p = two(buf, p, seconds);
  if (millis !== 0) {
    buf[p++] = 0x2e;
    buf[p++] = 0x30 + Math.floor(millis / 100);
    p = two(buf, p, millis % 100);
  }
  buf[p++] = 0x5a;
  return p;
}

const decoder = new TextDecoder();

/** The relaxed EJSON text of one BSON document (JSONB-safe: U+0000 and bad UTF-8 → U+FFFD). */
export function toRelaxedEjson(bson: Uint8Array): string {
  const writer = new EjsonWriter({ initialSize: bson.length * 2 + 64 });
  writer.document(bson);
  return decoder.decode(writer.buf.subarray(0, writer.pos));
}

/** Where the `_id` element of a document is: its type and value offset, or undefined. */
export function findId(bson: Uint8Array, start = 0): { type: number; at: number } | undefined {
  const length = bson[start]! | (bson[start + 1]! << 8) | (bson[start + 2]! << 16) |
    (bson[start + 3]! << 24);
  const end = start + length - 1;
  let i = start + 4;
  while (i < end) {
    const type = bson[i]!;
    if (bson[i + 1] === 0x5f && bson[i + 2] === 0x69 && bson[i + 3] === 0x64 && bson[i + 4] === 0) {
      return { type, at: i + 5 };
    }
    let k = i + 1;
    while (k < end && bson[k] !== 0) k++;
    i = skipValue(bson, type, k + 1);
    if (i < 0) return undefined;
  }
  return undefined;
}

function readInt32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}

/** Offset after a value of `type` at `at`, or -1 for an unknown type. */
function skipValue(b: Uint8Array, type: number, at: number): number {
  switch (type) {
    case 0x01:
    case 0x09:
    case 0x11:
    case 0x12:
      return at + 8;
    case 0x02:
    case 0x0d:
    case 0x0e:
      return at + 4 + readInt32(b, at);
    case 0x03:
    case 0x04:
    case 0x0f:
      return at + readInt32(b, at);
    case 0x05:
      return at + 5 + readInt32(b, at);
    case 0x06:
    case 0x0a:
    case 0x7f:
    case 0xff:
      return at;
    case 0x07:
      return at + 12;
    case 0x08:
      return at + 1;
    case 0x0b: {
      let k = at;
      while (k < b.length && b[k] !== 0) k++;
      k++;
      while (k < b.length && b[k] !== 0) k++;
      return k + 1;
    }
    case 0x0c:
      return at + 4 + readInt32(b, at) + 12;
    case 0x10:
      return at + 4;
    case 0x13:
      return at + 16;
    default:
      return -1;
  }
}

/**
 * Writes the `_id` column text of a document found by {@linkcode findId}: 24 lower-case hex for
 * an ObjectId, the string itself for a string (as a quoted JSON string when it would print like
 * another type's id: 24 lower-case hex, `{...}`, `"..."`, true, false, null), canonical
 * Extended JSON for anything else. With
 * `copy` set on the writer the text is escaped for COPY's text format; otherwise it is written
 * as a JSON string (quoted).
 */
export function writeIdText(
  writer: EjsonWriter,
  bson: Uint8Array,
  id: { type: number; at: number },
): void {
  if (!writer.copy) {
    writer.jsonString(idText(bson, id));
    return;
  }
  if (id.type === 0x07) {
    writer.reserve(24);
    const buf = writer.buf;
    let p = writer.pos;
    for (let k = id.at; k < id.at + 12; k++) {
      buf[p++] = HEX[bson[k]! >> 4]!;
      buf[p++] = HEX[bson[k]! & 15]!;
    }
    writer.pos = p;
    return;
  }
  copyText(writer, idText(bson, id));
}

const encoder = new TextEncoder();

/** Appends `text` escaped as a COPY text-format field (\\ \t \n \r), U+0000 → U+FFFD. */
function copyText(writer: EjsonWriter, text: string): void {
  const clean = text.includes("\0") ? text.replaceAll("\0", "\ufffd") : text;
  const escaped = /[\\\t\n\r]/.test(clean)
    ? clean.replace(
      /[\\\t\n\r]/g,
      (c) => c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
    )
    : clean;
  writer.bytes(encoder.encode(escaped));
}

/**
 * The `_id` column text of the element at `id` in `bson` (see {@linkcode writeIdText}), as a
 * JavaScript string; U+0000 and invalid UTF-8 become U+FFFD.
 */
export function idText(bson: Uint8Array, id: { type: number; at: number }): string {
  if (id.type === 0x07) {
    return hex(bson.subarray(id.at, id.at + 12));
  }
  if (id.type === 0x02) {
    const length = readInt32(bson, id.at);
    const text = utf8Lenient.decode(bson.subarray(id.at + 4, id.at + 3 + length)).replaceAll(
      "\0",
      "\ufffd",
    );
    // A string that would print like another type's id (an ObjectId's hex, canonical Extended
    // JSON, true/false/null) is kept as its JSON string, quotes included: no two ids collide.
    return LOOKS_TYPED.test(text) ? JSON.stringify(text) : text;
  }
  const writer = new EjsonWriter({ initialSize: 256 });
  writer.value(bson, id.type, id.at, true);
  return decoder.decode(writer.buf.subarray(0, writer.pos));
}
