/**
 * The shared value helpers of sql/_shared: timestamp parser, garbage detection, ObjectId time,
 * Extended JSON accessors, booleans and digits.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/core/config.ts";
import type { Sql } from "../../lib/core/db.ts";
import { freshDatabase } from "../support/db.ts";

async function applyShared(sql: Sql): Promise<void> {
  const config = await loadConfig();
  const dir = `${config.sqlDir}/_shared`;
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".sql"));
  for (const name of names.sort()) await sql.unsafe(await Deno.readTextFile(`${dir}/${name}`));
}

/** [relaxed Extended JSON value, expected ISO instant or null]. */
const TIMESTAMPS: [string, string | null][] = [
  ['{"$date": "2021-05-04T10:20:30.123Z"}', "2021-05-04T10:20:30.123Z"],
  ['{"$date": {"$numberLong": "1620123630123"}}', "2021-05-04T10:20:30.123Z"],
  ['{"$date": "1899-12-31T23:59:59.999Z"}', "1899-12-31T23:59:59.999Z"],
  ['{"$date": "2024-02-29T00:00:00.000Z"}', "2024-02-29T00:00:00.000Z"],
  ['{"$date": "2023-02-29T00:00:00.000Z"}', null],
  ['{"$date": "2021-05-04T10:20:60.000Z"}', null],
  ['{"$date": "0000-01-01T00:00:00.000Z"}', null],
  ['{"$date": "N/A"}', null],
  ['{"$date": {"$numberLong": "-86400000"}}', "1969-12-31T00:00:00.000Z"],
  ['{"$date": 1620123630123}', "2021-05-04T10:20:30.123Z"],
  ['"2021-05-04T10:20:30Z"', "2021-05-04T10:20:30.000Z"],
  ['"2021-05-04T10:20:30.5Z"', "2021-05-04T10:20:30.500Z"],
  ['"2021-05-04T07:20:30.123-03:00"', "2021-05-04T10:20:30.123Z"],
  ['"2021-05-04T15:50:30+05:30"', "2021-05-04T10:20:30.000Z"],
  ['"2021-05-04T07:20:30-0300"', "2021-05-04T10:20:30.000Z"],
  ['"2021-05-04 10:20:30"', "2021-05-04T10:20:30.000Z"],
  ['"2021-05-04 10:20:30.250"', "2021-05-04T10:20:30.250Z"],
  ['"2021-05-04T10:20:30"', "2021-05-04T10:20:30.000Z"],
  ['"2024-02-29"', "2024-02-29T00:00:00.000Z"],
  ["1620123630123", "2021-05-04T10:20:30.123Z"],
  ["1620123630123.0", "2021-05-04T10:20:30.123Z"],
  ['{"$numberLong": "1620123630123"}', "2021-05-04T10:20:30.123Z"],
  ['{"$numberDouble": "1620123630123.0"}', "2021-05-04T10:20:30.123Z"],
  ["null", null],
  ['""', null],
  ['"N/A"', null],
  ['"0000-00-00"', null],
  ['"2021-02-29"', null],
  ['"2021-04-31T00:00:00Z"', null],
  ['"2021-05-04T24:00:00Z"', null],
  ['"2021-05-04T10:60:00Z"', null],
  ['"2021-05-04T10:20:30+16:00"', null],
  ['"2021-05-04T10:20:30.123ZZ"', null],
  ['"now"', null],
  ['"1620123630123"', null],
  ['{"$numberDouble": "NaN"}', null],
  ['{"$numberDouble": "Infinity"}', null],
  ["1e300", null],
  ["true", null],
  ['{"a": 1}', null],
  ["[]", null],
];

const GARBAGE = new Set(['""', '"N/A"', '"0000-00-00"']);

for (const zone of ["UTC", "America/Argentina/Cordoba", "Asia/Kathmandu", "Pacific/Kiritimati"]) {
  Deno.test(`lml_util.ts() parses every variant the same way under TimeZone ${zone}`, async () => {
    await using db = await freshDatabase();
    await applyShared(db.sql);
    await db.sql.begin(async (tx) => {
      await tx`select set_config('TimeZone', ${zone}, true)`;
      for (const [value, expected] of TIMESTAMPS) {
        const [row] = await tx`
          select to_char(lml_util.ts(${value}::text::jsonb) at time zone 'UTC',
                   'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as iso,
                 lml_util.is_garbage_ts(${value}::text::jsonb) as garbage`;
        assert.equal(row!.iso, expected, `ts(${value})`);
        assert.equal(row!.garbage, expected === null && value !== "null", `is_garbage(${value})`);
        if (GARBAGE.has(value)) assert.equal(row!.garbage, true);
      }
      const [missing] = await tx`
        select lml_util.ts(null) as ts, lml_util.is_garbage_ts(null) as garbage`;
      assert.deepEqual({ ...missing }, { ts: null, garbage: false });
    });
  });
}

Deno.test("lml_util.ts() agrees with PostgreSQL's own parser on canonical dates", async () => {
  await using db = await freshDatabase();
  await applyShared(db.sql);
  const [row] = await db.sql`
    with v as (
      select timestamptz '1970-01-01 00:00:00Z' + i * interval '7919 seconds 123 milliseconds' as t
      from generate_series(0, 20000) as i
    )
    select count(*) filter (where lml_util.ts(jsonb_build_object('$date',
             to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))) is distinct from t)::int
             as iso_mismatches,
           count(*) filter (where lml_util.ts(to_jsonb(extract(epoch from t) * 1000))
             is distinct from t)::int as epoch_mismatches
    from v`;
  assert.deepEqual({ ...row }, { iso_mismatches: 0, epoch_mismatches: 0 });
});

Deno.test("lml_util.oid_time() reads the ObjectId timestamp and rejects other ids", async () => {
  await using db = await freshDatabase();
  await applyShared(db.sql);
  const [row] = await db.sql`
    select lml_util.oid_time('62a0f1c2e4b0a1b2c3d4e5f6') = to_timestamp(${0x62a0f1c2}) as hex,
           lml_util.oid_time('62A0F1C2E4B0A1B2C3D4E5F6') = to_timestamp(${0x62a0f1c2}) as upper,
           lml_util.oid_time('ffffffff0000000000000000') = to_timestamp(4294967295) as unsigned,
           lml_util.oid_time('legacy-42') as string_id,
           lml_util.oid_time('62a0f1c2e4b0a1b2c3d4e5') as short`;
  assert.deepEqual({ ...row }, {
    hex: true,
    upper: true,
    unsigned: true,
    string_id: null,
    short: null,
  });
});

Deno.test("lml_util.oid(), long(), num(), decimal() read Extended JSON values", async () => {
  await using db = await freshDatabase();
  await applyShared(db.sql);
  const [row] = await db.sql`
    select lml_util.oid('{"$oid": "62A0F1C2E4B0A1B2C3D4E5F6"}') as oid,
           lml_util.oid('"62A0F1C2E4B0A1B2C3D4E5F6"') as hex_string,
           lml_util.oid('"legacy-42"') as other_string,
           lml_util.oid('null') as json_null,
           lml_util.long('{"$numberLong": "9007199254740993"}')::text as long,
           lml_util.long('42') as plain,
           lml_util.long('4.5') as fraction,
           lml_util.num('{"$numberDouble": "NaN"}')::text as nan,
           lml_util.num('{"$numberDouble": "-Infinity"}')::text as minus_infinity,
           lml_util.num('85.5') as double,
           lml_util.decimal('{"$numberDecimal": "1.10"}')::text as decimal,
           lml_util.decimal('"12"') as string_number,
           lml_util.digits('20-12345678-9') as cuit,
           lml_util.digits('30.123.456') as dni,
           lml_util.digits('N/A') as no_digits`;
  assert.deepEqual({ ...row }, {
    oid: "62a0f1c2e4b0a1b2c3d4e5f6",
    hex_string: "62a0f1c2e4b0a1b2c3d4e5f6",
    other_string: "legacy-42",
    json_null: null,
    long: "9007199254740993",
    plain: "42",
    fraction: null,
    nan: "NaN",
    minus_infinity: "-Infinity",
    double: 85.5,
    decimal: "1.10",
    string_number: null,
    cuit: "20123456789",
    dni: "30123456",
    no_digits: null,
  });
});

Deno.test("lml_util.bool() reads booleans in any spelling and NULL for the unknown", async () => {
  await using db = await freshDatabase();
  await applyShared(db.sql);
  const cases: [string, boolean | null][] = [
    ["true", true],
    ["false", false],
    ['"true"', true],
    ['"FALSE"', false],
    ["1", true],
    ["0", false],
    ['"1"', true],
    ['"0"', false],
    ['"si"', true],
    ['"Sí"', true],
    ['"no"', false],
    ['{"$numberInt": "1"}', true],
    ["2", null],
    ['"quizás"', null],
    ["null", null],
    ["{}", null],
  ];
  for (const [value, expected] of cases) {
    const [row] = await db.sql`select lml_util.bool(${value}::text::jsonb) as b`;
    assert.equal(row!.b, expected, `bool(${value})`);
  }
});
