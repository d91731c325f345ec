import assert from "node:assert/strict";
import { BSON } from "bson";
import { loadConfig } from "../../lib/core/config.ts";
import { generateSample } from "../../lib/sample/mod.ts";
import { extractCollections } from "../../extract/extract.ts";
import { freshDatabase } from "../support/db.ts";

const config = await loadConfig();

/** Whether a deserialized BSON document holds a sub-document with a `$date` key. */
function hasLiteralDate(value: unknown): boolean {
  if (value === null || typeof value !== "object" || value instanceof Date) return false;
  if (Array.isArray(value)) return value.some(hasLiteralDate);
  return Object.entries(value).some(([k, v]) => k === "$date" || hasLiteralDate(v));
}

/**
 * Sub-documents stored literally as `{"$date": "<ISO>"}` or `{"$date": {"$numberLong": ".."}}`
 * (variants of the data) are exported by mongoexport exactly like real dates, so from JSON
 * lines they come back as dates: Extended JSON cannot tell them apart. This folds every
 * `$date` spelling into epoch milliseconds.
 */
function foldDates(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(foldDates);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && entries[0]![0] === "$date") {
    const inner = entries[0]![1];
    if (typeof inner === "string" && !Number.isNaN(Date.parse(inner))) {
      return { $date: Date.parse(inner) };
    }
    if (typeof inner === "object" && inner !== null && "$numberLong" in inner) {
      return { $date: Number(inner.$numberLong) };
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, foldDates(v)]));
}

Deno.test("a generated sample dump loads completely, the same from BSON and from JSON lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lml_extract_sample_test_" });
  try {
    const manifest = await generateSample(`${dir}/bson`, { scale: 0.01, seed: 7 });
    await generateSample(`${dir}/json`, { scale: 0.01, seed: 7, format: "json" });
    await using db = await freshDatabase();
    const snapshot = async () => {
      const rows: Record<string, unknown[]> = {};
      for (const c of config.collections) {
        rows[c.name] = (await db.sql.unsafe(
          `select _id, doc::text as doc, original
           from lml_raw.${c.name} order by _id`,
        )).map((r) => ({
          _id: r._id,
          doc: foldDates(JSON.parse(r.doc)),
          // From JSON lines the kept original is the re-encoded BSON, where literal
          // `$date` sub-documents have become dates: compare that one was kept.
          has_original: r.original !== null,
          literal_date: r.original !== null && hasLiteralDate(BSON.deserialize(r.original)),
        }));
      }
      return rows;
    };

    const results = await extractCollections(db.sql, config, { source: `${dir}/bson` });
    for (const result of results) {
      assert.equal(result.status, "succeeded", result.error);
      const expected = manifest.collections[result.collection]?.documents;
      assert.equal(result.documents, expected, result.collection);
      const [row] = await db.sql.unsafe(
        `select count(*)::int as n from lml_raw.${result.collection}`,
      );
      assert.equal(row!.n, expected, result.collection);
    }
    assert.deepEqual(results.map((r) => r.collection), config.collections.map((c) => c.name));
    const fromBson = await snapshot();

    const again = await extractCollections(db.sql, config, { source: `${dir}/json` });
    assert.deepEqual(again.map((r) => r.status), results.map(() => "succeeded"));
    const fromJson = await snapshot();
    // From BSON a literal `$date` sub-document is itself an anomaly (its original is kept), which
    // JSON lines cannot see: such a document counts as kept either way.
    type Row = { _id: unknown; doc: unknown; has_original: boolean; literal_date: boolean };
    for (const c of config.collections) {
      const json = fromJson[c.name] as Row[];
      const bson = (fromBson[c.name] as Row[]).map((row, i) => ({
        ...row,
        has_original: row.has_original && !(row.literal_date && !json[i]?.has_original),
      }));
      const strip = (rows: Row[]) => rows.map(({ literal_date: _, ...rest }) => rest);
      assert.deepEqual(strip(json), strip(bson), c.name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
