import assert from "node:assert/strict";
import {
  Binary,
  BSON,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  EJSON,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
} from "bson";
import { BsonError, EjsonWriter, findId, idText, toRelaxedEjson } from "../../extract/ejson.ts";

/** Builds a document by hand from elements: [type, key, payload bytes]. */
function rawDoc(...elements: [number, string, number[]][]): Uint8Array {
  const body: number[] = [];
  for (const [type, key, payload] of elements) {
    body.push(type, ...new TextEncoder().encode(key), 0, ...payload);
  }
  const length = body.length + 5;
  return new Uint8Array([length & 255, (length >> 8) & 255, 0, 0, ...body, 0]);
}

function int32(n: number): number[] {
  return [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
}

function bsonString(bytes: number[]): number[] {
  return [...int32(bytes.length + 1), ...bytes, 0];
}

Deno.test("toRelaxedEjson() prints every BSON type in its relaxed EJSON v2 form", () => {
  const oid = new ObjectId("62a0f1c2e4b0a1b2c3d4e5f6");
  const doc = {
    _id: oid,
    double: new Double(1.5),
    wholeDouble: new Double(3),
    bigDouble: new Double(1e21),
    tinyDouble: new Double(1.5e-7),
    negZero: new Double(-0),
    nan: new Double(NaN),
    inf: new Double(Infinity),
    ninf: new Double(-Infinity),
    string: 'a"b\\c\n\t\u0001é€😀',
    sub: { x: 1, "": null },
    array: [1, "two", [3]],
    binary: new Binary(new Uint8Array([1, 2, 3, 4, 5]), 0),
    uuid: new Binary(new Uint8Array(16).fill(0xab), 4),
    oid,
    yes: true,
    no: false,
    date: new Date("2022-03-01T12:00:00Z"),
    dateMs: new Date("2022-03-01T12:00:00.123Z"),
    date1969: new Date(-1),
    date10000: new Date(253402300800000),
    epoch: new Date(0),
    lastDay: new Date(253402300799999),
    nil: null,
    regex: new BSONRegExp("^a.*b$", "mi"),
    code: new Code("function () { return 1; }"),
    scoped: new Code("x + 1", { x: 41 }),
    symbol: new BSONSymbol("sym"),
    int32: new Int32(-2147483648),
    timestamp: new Timestamp({ t: 4294967295, i: 7 }),
    smallLong: Long.fromString("9007199254740991"),
    negLong: Long.fromString("-9007199254740991"),
    bigLong: Long.fromString("9007199254740993"),
    minLong: Long.fromString("-9223372036854775808"),
    decimal: Decimal128.fromString("1.10"),
    decimalBig: Decimal128.fromString("-1.234567890123456789012345678901234E+6000"),
    min: new MinKey(),
    max: new MaxKey(),
  };
  const expected = '{"_id":{"$oid":"62a0f1c2e4b0a1b2c3d4e5f6"},"double":1.5,"wholeDouble":3,' +
    '"bigDouble":1e+21,"tinyDouble":1.5e-7,"negZero":{"$numberDouble":"-0.0"},' +
    '"nan":{"$numberDouble":"NaN"},"inf":{"$numberDouble":"Infinity"},' +
    '"ninf":{"$numberDouble":"-Infinity"},' +
    '"string":"a\\"b\\\\c\\n\\t\\u0001é€😀","sub":{"x":1,"":null},"array":[1,"two",[3]],' +
    '"binary":{"$binary":{"base64":"AQIDBAU=","subType":"00"}},' +
    '"uuid":{"$binary":{"base64":"q6urq6urq6urq6urq6urqw==","subType":"04"}},' +
    '"oid":{"$oid":"62a0f1c2e4b0a1b2c3d4e5f6"},"yes":true,"no":false,' +
    '"date":{"$date":"2022-03-01T12:00:00Z"},"dateMs":{"$date":"2022-03-01T12:00:00.123Z"},' +
    '"date1969":{"$date":{"$numberLong":"-1"}},' +
    '"date10000":{"$date":{"$numberLong":"253402300800000"}},' +
    '"epoch":{"$date":"1970-01-01T00:00:00Z"},"lastDay":{"$date":"9999-12-31T23:59:59.999Z"},' +
    '"nil":null,"regex":{"$regularExpression":{"pattern":"^a.*b$","options":"im"}},' +
    '"code":{"$code":"function () { return 1; }"},' +
    '"scoped":{"$code":"x + 1","$scope":{"x":41}},"symbol":{"$symbol":"sym"},' +
    '"int32":-2147483648,"timestamp":{"$timestamp":{"t":4294967295,"i":7}},' +
    '"smallLong":9007199254740991,"negLong":-9007199254740991,' +
    '"bigLong":{"$numberLong":"9007199254740993"},' +
    '"minLong":{"$numberLong":"-9223372036854775808"},' +
    '"decimal":{"$numberDecimal":"1.10"},' +
    '"decimalBig":{"$numberDecimal":"-1.234567890123456789012345678901234E+6000"},' +
    '"min":{"$minKey":1},"max":{"$maxKey":1}}';
  assert.equal(toRelaxedEjson(BSON.serialize(doc)), expected);
});

Deno.test("toRelaxedEjson() prints the deprecated types undefined, DBPointer and binary subtype 2", () => {
  const bytes = rawDoc(
    [0x06, "u", []],
    [0x0c, "p", [...bsonString([0x64, 0x62, 0x2e, 0x63]), ...new Array(12).fill(0x11)]],
    [0x05, "old", [...int32(6), 2, ...int32(2), 0xff, 0xff]],
    [0x0b, "r", [0x61, 0, 0x78, 0x69, 0]],
  );
  assert.equal(
    toRelaxedEjson(bytes),
    '{"u":{"$undefined":true},' +
      '"p":{"$dbPointer":{"$ref":"db.c","$id":{"$oid":"111111111111111111111111"}}},' +
      '"old":{"$binary":{"base64":"//8=","subType":"02"}},' +
      '"r":{"$regularExpression":{"pattern":"a","options":"ix"}}}',
  );
});

Deno.test("EjsonWriter replaces U+0000 and invalid UTF-8 with U+FFFD and flags an anomaly", () => {
  const writer = new EjsonWriter();
  writer.document(BSON.serialize({ a: "x\u0000y" }));
  assert.equal(new TextDecoder().decode(writer.take()), '{"a":"x\ufffdy"}');
  assert.equal(writer.anomaly, true);

  const clean = new EjsonWriter();
  clean.document(BSON.serialize({ a: "plain é" }));
  assert.equal(clean.anomaly, false);

  const bad = new EjsonWriter();
  bad.document(rawDoc([0x02, "k\xff", bsonString([0x61, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x62])]));
  // Key "k" + 0xC3 0xBF (the encoder wrote ÿ as UTF-8, valid) and a value with a broken pair,
  // a surrogate encoded in UTF-8, both invalid.
  assert.equal(
    new TextDecoder().decode(bad.take()),
    '{"kÿ":"a\ufffd(\ufffd\ufffd\ufffdb"}',
  );
  assert.equal(bad.anomaly, true);
});

Deno.test("EjsonWriter doubles backslashes in COPY mode only", () => {
  const copy = new EjsonWriter({ copy: true });
  copy.document(BSON.serialize({ "k\\": 'a\\b"\n\u0000' }));
  assert.equal(new TextDecoder().decode(copy.take()), '{"k\\\\\\\\":"a\\\\\\\\b\\\\"\\\\n\ufffd"}');
});

Deno.test("EjsonWriter rejects malformed BSON with the byte offset and writes nothing", () => {
  const writer = new EjsonWriter();
  writer.ascii("kept");
  const good = BSON.serialize({ a: "hello", b: 1 });
  const truncated = good.slice(0, good.length - 3);
  assert.throws(() => writer.document(truncated), (e) => e instanceof BsonError);
  const unknownType = rawDoc([0x42, "x", []]);
  assert.throws(
    () => writer.document(unknownType),
    (e) => e instanceof BsonError && e.offset === 4 && /unknown element type 0x42/.test(e.message),
  );
  const badString = rawDoc([0x02, "s", [...int32(100), 0x61, 0]]);
  assert.throws(
    () => writer.document(badString),
    (e) => e instanceof BsonError && e.offset === 7 && /string length 100/.test(e.message),
  );
  assert.equal(new TextDecoder().decode(writer.take()), "kept");
});

Deno.test("idText() gives hex for ObjectIds, the string for strings, canonical EJSON otherwise", () => {
  const cases: [unknown, string][] = [
    [new ObjectId("62a0f1c2e4b0a1b2c3d4e5f6"), "62a0f1c2e4b0a1b2c3d4e5f6"],
    ["user-7\tx", "user-7\tx"],
    [42, '{"$numberInt":"42"}'],
    [Long.fromString("42"), '{"$numberLong":"42"}'],
    [new Double(2), '{"$numberDouble":"2.0"}'],
    [new Double(2.5), '{"$numberDouble":"2.5"}'],
    [new Date(0), '{"$date":{"$numberLong":"0"}}'],
    [{ a: 1, b: "x" }, '{"a":{"$numberInt":"1"},"b":"x"}'],
  ];
  for (const [value, expected] of cases) {
    const bytes = BSON.serialize({ before: 1, _id: value });
    const id = findId(bytes);
    assert.ok(id);
    assert.equal(idText(bytes, id), expected);
  }
  assert.equal(findId(BSON.serialize({ a: 1 })), undefined);
});

// A small deterministic generator of random documents.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(rand: () => number, depth: number): unknown {
  const int = (n: number) => Math.floor(rand() * n);
  const chars = [
    "a",
    "Z",
    " ",
    '"',
    "\\",
    "\n",
    "\t",
    "\u0001",
    "\u001f",
    "é",
    "€",
    "😀",
    "ñ",
    "/",
    "\u2028",
  ];
  const str = () => Array.from({ length: int(12) }, () => chars[int(chars.length)]).join("");
  switch (int(depth > 3 ? 15 : 17)) {
    case 0:
      return str();
    case 1:
      return int(2 ** 31) - 2 ** 30;
    case 2:
      return new Double((rand() - 0.5) * 10 ** (int(40) - 20));
    case 3:
      return new Double(int(100000) - 50000 || 1);
    case 4:
      return Long.fromNumber(Math.floor((rand() - 0.5) * 2 * Number.MAX_SAFE_INTEGER));
    case 5:
      return new Date(int(2 ** 48) % 253402300800000 - (int(2) ? 0 : int(1000) * 1000));
    case 6:
      return ObjectId.createFromTime(int(2 ** 31));
    case 7:
      return rand() < 0.5;
    case 8:
      return null;
    case 9:
      return new Binary(
        Uint8Array.from({ length: int(20) }, () => int(256)),
        [0, 3, 4, 5, 0x80][int(5)],
      );
    case 10:
      return new BSONRegExp(str(), ["", "i", "im", "imsx"][int(4)]);
    case 11:
      return new Timestamp({ t: int(2 ** 32), i: int(2 ** 32) });
    case 12:
      return Decimal128.fromString(
        `${int(2) ? "-" : ""}${int(10 ** 9)}.${int(1000)}E${int(20) - 10}`,
      );
    case 13:
      return [new MinKey(), new MaxKey(), new Code(str())][int(3)];
    case 14:
      return new Date(int(2 ** 40));
    case 15:
      return Array.from({ length: int(5) }, () => randomValue(rand, depth + 1));
    default: {
      const doc: Record<string, unknown> = {};
      for (let k = int(6); k > 0; k--) doc[str() || "k"] = randomValue(rand, depth + 1);
      return doc;
    }
  }
}

Deno.test("toRelaxedEjson() matches npm:bson's EJSON.stringify on 3,000 random documents", () => {
  const rand = prng(20240611);
  for (let n = 0; n < 3000; n++) {
    const doc: Record<string, unknown> = { _id: new ObjectId() };
    for (let k = Math.floor(rand() * 12); k > 0; k--) {
      doc[`f${k}`] = randomValue(rand, 0);
    }
    const bytes = BSON.serialize(doc);
    const expected = EJSON.stringify(
      BSON.deserialize(bytes, { bsonRegExp: true, promoteValues: true }),
      { relaxed: true },
    );
    assert.equal(toRelaxedEjson(bytes), expected, `document ${n}`);
  }
});

Deno.test("EjsonWriter flags a repeated field name and an Extended JSON keyword as anomalies", () => {
  const dup = new EjsonWriter();
  dup.document(rawDoc([0x10, "a", int32(1)], [0x10, "b", int32(2)], [0x10, "a", int32(3)]));
  assert.equal(new TextDecoder().decode(dup.take()), '{"a":1,"b":2,"a":3}');
  assert.equal(dup.anomaly, true);

  const nested = new EjsonWriter();
  nested.document(BSON.serialize({ at: { $date: "2024-01-01T00:00:00Z" } }));
  assert.equal(nested.anomaly, true, "a user sub-document {$date} reads like a BSON date");

  const many = new EjsonWriter();
  const wide: Record<string, number> = {};
  for (let i = 0; i < 100; i++) wide[`k${i}`] = i;
  many.document(BSON.serialize(wide));
  assert.equal(many.anomaly, false);
  const manyDup = new EjsonWriter();
  const elements: [number, string, number[]][] = Object.keys(wide).map((k) => [0x10, k, int32(1)]);
  manyDup.document(rawDoc(...elements, [0x10, "k7", int32(2)]));
  assert.equal(manyDup.anomaly, true);

  const operators = new EjsonWriter();
  operators.document(BSON.serialize({ filters: { status: { $in: ["a"] }, n: { $gte: 1 } } }));
  assert.equal(operators.anomaly, false, "query operators are kept as they are");
  const dates = new EjsonWriter();
  dates.document(BSON.serialize({ at: new Date(0), id: new ObjectId() }));
  assert.equal(dates.anomaly, false, "our own Extended JSON forms are no anomaly");
});

Deno.test("EjsonWriter refuses nesting deeper than it handles with a located BsonError", () => {
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < 5000; i++) deep = { d: deep };
  const bytes = BSON.serialize(deep, { checkKeys: false });
  const writer = new EjsonWriter();
  assert.throws(
    () => writer.document(bytes),
    (error: Error) => {
      assert.ok(error instanceof BsonError, String(error));
      assert.match(
        error.message,
        /^invalid BSON at byte \d+ of the document: documents nested deeper than 200 levels/,
      );
      return true;
    },
  );
  assert.equal(writer.pos, 0);
});

Deno.test("idText() never prints two _ids of different BSON types alike", () => {
  const hexText = "62a0f1c2e4b0a1b2c3d4e5f6";
  const ids = [
    new ObjectId(hexText),
    hexText,
    "true",
    true,
    '{"$numberInt":"12"}',
    new Int32(12),
    '"quoted"',
    "plain",
  ];
  const texts = ids.map((_id) => {
    const bson = BSON.serialize({ _id });
    return idText(bson, findId(bson)!);
  });
  assert.deepEqual(texts, [
    hexText,
    `"${hexText}"`,
    '"true"',
    "true",
    '"{\\"$numberInt\\":\\"12\\"}"',
    '{"$numberInt":"12"}',
    '"\\"quoted\\""',
    "plain",
  ]);
  assert.equal(new Set(texts).size, texts.length);
});
