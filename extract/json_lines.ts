/**
 * mongoexport JSON lines (relaxed or canonical Extended JSON v2, and the v1 `$binary`/`$type`,
 * `$regex`/`$options` forms) → BSON bytes, so exports and dumps share one encoder.
 *
 * The parser keeps key order and duplicate keys, and never sends numbers through a JS double
 * when they are integers: `{"$numberLong": "..."}` is exact, and a plain integer beyond int32
 * becomes an Int64 with all its digits (beyond int64, a double).
 * @module
 */
import { LmlSyntaxError } from "../lib/core/mod.ts";
import { ByteBuffer } from "./byte_buffer.ts";
import { Decimal128 } from "bson";

/** A line that is not valid JSON or not a valid Extended JSON value. */
export class JsonLineError extends LmlSyntaxError {
  /** 1-based column (UTF-16 units) of the fault. */
  column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = "JsonLineError";
    this.column = column;
  }
}

type Node =
  | { k: "o"; e: [string, Node][] }
  | { k: "a"; v: Node[] }
  | { k: "s"; v: string }
  | { k: "n"; v: string }
  | { k: "b"; v: boolean }
  | { k: "z" };

class Parser {
  i = 0;
  constructor(readonly text: string) {}

  fail(message: string): JsonLineError {
    return new JsonLineError(message, this.i + 1);
  }

  ws(): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.i++;
    }
  }

  value(depth: number): Node {
    if (depth > 200) throw this.fail("nesting deeper than 200 levels");
    this.ws();
    const c = this.text[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return { k: "s", v: this.string() };
    if (c === "t" && this.text.startsWith("true", this.i)) {
      this.i += 4;
      return { k: "b", v: true };
    }
    if (c === "f" && this.text.startsWith("false", this.i)) {
      this.i += 5;
      return { k: "b", v: false };
    }
    if (c === "n" && this.text.startsWith("null", this.i)) {
      this.i += 4;
      return { k: "z" };
    }
    const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.i;
    const found = m.exec(this.text);
    if (!found || found[0] === "-" || found[0] === "") {
      throw this.fail(
        c === undefined ? "unexpected end of line" : `unexpected character ${JSON.stringify(c)}`,
      );
    }
    this.i += found[0].length;
    return { k: "n", v: found[0] };
  }

  object(depth: number): Node {
    this.i++;
    const e: [string, Node][] = [];
    this.ws();
    if (this.text[this.i] === "}") {
      this.i++;
      return { k: "o", e };
    }
    while (true) {
      this.ws();
      if (this.text[this.i] !== '"') throw this.fail("expected a quoted key");
      const key = this.string();
      this.ws();
      if (this.text[this.i] !== ":") throw this.fail('expected ":"');
      this.i++;
      e.push([key, this.value(depth + 1)]);
      this.ws();
      const c = this.text[this.i++];
      if (c === "}") return { k: "o", e };
      if (c !== ",") throw this.fail('expected "," or "}"');
    }
  }

  array(depth: number): Node {
    this.i++;
    const v: Node[] = [];
    this.ws();
    if (this.text[this.i] === "]") {
      this.i++;
      return { k: "a", v };
    }
    while (true) {
      v.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.i++];
      if (c === "]") return { k: "a", v };
      if (c !== ",") throw this.fail('expected "," or "]"');
    }
  }

  string(): string {
    const t = this.text;
    const start = ++this.i;
    // Fast path: no escapes.
    let j = start;
    while (j < t.length) {
      const c = t.charCodeAt(j);
      if (c === 0x22) {
        this.i = j + 1;
        return t.slice(start, j);
      }
      if (c === 0x5c || c < 0x20) break;
      j++;
    }
    let out = t.slice(start, j);
    this.i = j;
    while (this.i < t.length) {
      const c = t[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c.charCodeAt(0) < 0x20) throw this.fail("control character in a string");
      if (c !== "\\") {
        out += c;
        this.i++;
        continue;
      }
      const e = t[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = t.slice(this.i, this.i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 4;
          break;
        }
        default:
          throw this.fail("bad escape in a string");
      }
    }
    throw this.fail("unterminated string");
  }
}

const encoder = new TextEncoder();

/** A growable little-endian byte buffer for building BSON. */
class Builder extends ByteBuffer {
  int32(v: number, at = -1): void {
    const p = at >= 0 ? at : this.pos;
    if (at < 0) {
      this.reserve(4);
      this.pos += 4;
    }
    this.buf[p] = v & 255;
    this.buf[p + 1] = (v >> 8) & 255;
    this.buf[p + 2] = (v >> 16) & 255;
    this.buf[p + 3] = (v >>> 24) & 255;
  }

  int64(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.int32(Number(u & 0xffffffffn));
    this.int32(Number(u >> 32n));
  }

  double(v: number): void {
    this.reserve(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).setFloat64(0, v, true);
    this.pos += 8;
  }

  cstring(text: string): void {
    if (text.includes("\0")) {
      throw new JsonLineError("a key or pattern contains U+0000, which BSON cannot hold", 1);
    }
    this.bytes(encoder.encode(text));
    this.byte(0);
  }

  string(text: string): void {
    const b = encoder.encode(text);
    this.int32(b.length + 1);
    this.bytes(b);
    this.byte(0);
  }
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function keys(node: { e: [string, Node][] }): string {
  return node.e.map(([k]) => k).sort().join(",");
}

function field(node: { e: [string, Node][] }, key: string): Node | undefined {
  return node.e.find(([k]) => k === key)?.[1];
}

function str(node: Node | undefined): string | undefined {
  return node?.k === "s" ? node.v : undefined;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(hex.slice(k * 2, k * 2 + 2), 16);
  return out;
}

function base64Bytes(text: string): Uint8Array | undefined {
  try {
    const raw = atob(text);
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function uint32(node: Node | undefined): number | undefined {
  if (node?.k !== "n" || !/^\d+$/.test(node.v)) return undefined;
  const v = Number(node.v);
  return v <= 0xffffffff ? v : undefined;
}

function parseInt64(text: string): bigint | undefined {
  if (!/^-?\d{1,19}$/.test(text)) return undefined;
  const v = BigInt(text);
  return v >= INT64_MIN && v <= INT64_MAX ? v : undefined;
}

function parseDouble(text: string): number | undefined {
  if (text === "NaN") return NaN;
  if (text === "Infinity" || text === "+Infinity") return Infinity;
  if (text === "-Infinity") return -Infinity;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

type Typed = { type: number; write: (b: Builder) => void };

/** Recognizes an Extended JSON wrapper object; undefined when it is a plain document. */
function wrapper(node: { k: "o"; e: [string, Node][] }): Typed | undefined {
  const first = node.e[0]?.[0];
  if (first === undefined || first[0] !== "$") return undefined;
  const shape = keys(node);
  const one = node.e.length === 1 ? node.e[0]![1] : undefined;
  switch (shape) {
    case "$oid": {
      const hex = str(one);
      if (hex === undefined || !/^[0-9a-fA-F]{24}$/.test(hex)) return undefined;
      return { type: 0x07, write: (b) => b.bytes(hexBytes(hex)) };
    }
    case "$symbol": {
      const s = str(one);
      return s === undefined ? undefined : { type: 0x0e, write: (b) => b.string(s) };
    }
    case "$code": {
      const s = str(one);
      return s === undefined ? undefined : { type: 0x0d, write: (b) => b.string(s) };
    }
    case "$code,$scope": {
      const code = str(field(node, "$code"));
      const scope = field(node, "$scope");
      if (code === undefined || scope?.k !== "o") return undefined;
      return {
        type: 0x0f,
        write: (b) => {
          const start = b.pos;
          b.int32(0);
          b.string(code);
          writeDocument(b, scope.e);
          b.int32(b.pos - start, start);
        },
      };
    }
    case "$numberInt": {
      const s = str(one);
      if (s === undefined || !/^-?\d{1,10}$/.test(s)) return undefined;
      const v = Number(s);
      if (v < INT32_MIN || v > INT32_MAX) return undefined;
      return { type: 0x10, write: (b) => b.int32(v) };
    }
    case "$numberLong": {
      const v = parseInt64(str(one) ?? "");
      return v === undefined ? undefined : { type: 0x12, write: (b) => b.int64(v) };
    }
    case "$numberDouble": {
      const v = parseDouble(str(one) ?? "");
      return v === undefined ? undefined : { type: 0x01, write: (b) => b.double(v) };
    }
    case "$numberDecimal": {
      const s = str(one);
      if (s === undefined) return undefined;
      let bytes: Uint8Array;
      try {
        bytes = Decimal128.fromString(s).bytes;
      } catch {
        return undefined;
      }
      return { type: 0x13, write: (b) => b.bytes(bytes) };
    }
    case "$binary": {
      if (one?.k !== "o" || keys(one) !== "base64,subType") return undefined;
      return binary(str(field(one, "base64")), str(field(one, "subType")));
    }
    case "$binary,$type":
      return binary(str(field(node, "$binary")), str(field(node, "$type")));
    case "$uuid": {
      const s = str(one)?.replaceAll("-", "");
      if (s === undefined || !/^[0-9a-fA-F]{32}$/.test(s)) return undefined;
      const data = hexBytes(s);
      return { type: 0x05, write: (b) => (b.int32(16), b.byte(4), b.bytes(data)) };
    }
    case "$timestamp": {
      if (one?.k !== "o" || keys(one) !== "i,t") return undefined;
      const t = uint32(field(one, "t"));
      const i = uint32(field(one, "i"));
      if (t === undefined || i === undefined) return undefined;
      return { type: 0x11, write: (b) => (b.int32(i), b.int32(t)) };
    }
    case "$regularExpression": {
      if (one?.k !== "o" || keys(one) !== "options,pattern") return undefined;
      return regex(str(field(one, "pattern")), str(field(one, "options")));
    }
    case "$options,$regex":
      return regex(str(field(node, "$regex")), str(field(node, "$options")));
    case "$dbPointer": {
      if (one?.k !== "o" || keys(one) !== "$id,$ref") return undefined;
      const ref = str(field(one, "$ref"));
      const id = field(one, "$id");
      const oid = id?.k === "o" ? wrapper(id) : undefined;
      if (ref === undefined || oid?.type !== 0x07) return undefined;
      return { type: 0x0c, write: (b) => (b.string(ref), oid.write(b)) };
    }
    case "$date":
      return date(one!);
    case "$minKey":
      return one?.k === "n" && one.v === "1" ? { type: 0xff, write: () => {} } : undefined;
    case "$maxKey":
      return one?.k === "n" && one.v === "1" ? { type: 0x7f, write: () => {} } : undefined;
    case "$undefined":
      return one?.k === "b" && one.v ? { type: 0x06, write: () => {} } : undefined;
    default:
      return undefined;
  }
}

function binary(base64: string | undefined, subType: string | undefined): Typed | undefined {
  if (base64 === undefined || subType === undefined || !/^[0-9a-fA-F]{1,2}$/.test(subType)) {
    return undefined;
  }
  const data = base64Bytes(base64);
  if (!data) return undefined;
  const sub = parseInt(subType, 16);
  return {
    type: 0x05,
    write: (b) => {
      if (sub === 2) {
        b.int32(data.length + 4);
        b.byte(2);
        b.int32(data.length);
      } else {
        b.int32(data.length);
        b.byte(sub);
      }
      b.bytes(data);
    },
  };
}

function regex(pattern: string | undefined, options: string | undefined): Typed | undefined {
  if (pattern === undefined || options === undefined) return undefined;
  const sorted = [...options].sort().join("");
  return { type: 0x0b, write: (b) => (b.cstring(pattern), b.cstring(sorted)) };
}

function date(value: Node): Typed | undefined {
  let ms: bigint | undefined;
  if (value.k === "s") {
    if (!ISO_DATE.test(value.v)) return undefined;
    const parsed = Date.parse(value.v);
    if (Number.isNaN(parsed)) return undefined;
    ms = BigInt(parsed);
  } else if (value.k === "n") {
    ms = parseInt64(value.v);
  } else if (value.k === "o" && keys(value) === "$numberLong") {
    ms = parseInt64(str(value.e[0]![1]) ?? "");
  }
  if (ms === undefined) return undefined;
  const v = ms;
  return { type: 0x09, write: (b) => b.int64(v) };
}

function number(text: string): Typed {
  if (/^-?\d+$/.test(text)) {
    const v = Number(text);
    if (v >= INT32_MIN && v <= INT32_MAX) return { type: 0x10, write: (b) => b.int32(v) };
    const big = parseInt64(text);
    if (big !== undefined) return { type: 0x12, write: (b) => b.int64(big) };
  }
  const v = Number(text);
  return { type: 0x01, write: (b) => b.double(v) };
}

function typed(node: Node): Typed {
  switch (node.k) {
    case "o":
      return wrapper(node) ?? { type: 0x03, write: (b) => writeDocument(b, node.e) };
    case "a":
      return {
        type: 0x04,
        write: (b) => writeDocument(b, node.v.map((v, k) => [String(k), v])),
      };
    case "s":
      return { type: 0x02, write: (b) => b.string(node.v) };
    case "n":
      return number(node.v);
    case "b":
      return { type: 0x08, write: (b) => b.byte(node.v ? 1 : 0) };
    case "z":
      return { type: 0x0a, write: () => {} };
  }
}

function writeDocument(b: Builder, entries: [string, Node][]): void {
  const start = b.pos;
  b.int32(0);
  for (const [key, value] of entries) {
    const t = typed(value);
    b.byte(t.type);
    b.cstring(key);
    t.write(b);
  }
  b.byte(0);
  b.int32(b.pos - start, start);
}

/**
 * Converts one line of a mongoexport file (a JSON object in relaxed or canonical Extended JSON)
 * to the BSON bytes of that document. Throws {@linkcode JsonLineError} when malformed.
 */
export function jsonLineToBson(line: string): Uint8Array {
  const parser = new Parser(line);
  parser.ws();
  if (parser.text[parser.i] !== "{") throw parser.fail("a line must hold one JSON object");
  const root = parser.value(0);
  parser.ws();
  if (parser.i !== line.length) throw parser.fail("unexpected text after the document");
  if (root.k !== "o") throw parser.fail("a line must hold one JSON object");
  const b = new Builder();
  writeDocument(b, root.e);
  return b.buf.slice(0, b.pos);
}
