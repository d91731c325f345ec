import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BSON } from "bson";
import type { Sql } from "../../lib/core/db.ts";
import { connect } from "../../lib/core/db.ts";
import { startEmbedded } from "../../lib/embedded/database.ts";
import {
  createStaging,
  finishStaging,
  loadDocuments,
  type LoadMethod,
} from "../../extract/load.ts";
import type { DocumentBatch } from "../../extract/source.ts";
import { freshDatabase } from "../support/db.ts";
import { NASTY_STRINGS } from "../support/nasty.ts";

/** The largest document MongoDB stores (maxBsonObjectSize). */
const MAX_BSON = 16 * 1024 * 1024;
/** What the loader's encoder may keep between rows. */
const KEPT_BYTES = 4 * 1024 * 1024;
const COLLECTION = "huge_docs";
const MIB = 1024 * 1024;

/**
 * `{_id: id, s: <control characters>}` of exactly 16 MiB: every character of `s` is U+0001
 * (escaped as `\u0001`, 6 bytes of JSON, 7 of COPY text), with a U+0000 at `nulAt` if given.
 */
function hugeDocument(
  id: string,
  nulAt?: number,
): { id: string; bson: Uint8Array; text: string; nul: boolean } {
  const idBytes = new TextEncoder().encode(id);
  const head = 4 + (1 + 4 + 4 + idBytes.length + 1) + (1 + 2 + 4);
  const textLength = MAX_BSON - head - 1 - 1;
  const bson = new Uint8Array(MAX_BSON);
  const view = new DataView(bson.buffer);
  let at = 0;
  view.setInt32(at, MAX_BSON, true);
  at += 4;
  bson[at++] = 0x02;
  bson.set(new TextEncoder().encode("_id\0"), at);
  at += 4;
  view.setInt32(at, idBytes.length + 1, true);
  at += 4;
  bson.set(idBytes, at);
  at += idBytes.length + 1;
  bson[at++] = 0x02;
  bson[at++] = 0x73; // "s"
  bson[at++] = 0;
  view.setInt32(at, textLength + 1, true);
  at += 4;
  bson.fill(0x01, at, at + textLength);
  if (nulAt !== undefined) bson[at + nulAt] = 0;
  at += textLength + 1;
  assert.equal(at + 1, MAX_BSON);
  let text = "\u0001".repeat(textLength);
  if (nulAt !== undefined) text = text.slice(0, nulAt) + "\ufffd" + text.slice(nulAt + 1);
  return { id, bson, text, nul: nulAt !== undefined };
}

function small(k: number): Uint8Array {
  return BSON.serialize({ _id: `small-${k}`, k, note: 'tab\there \\ "quoted"' });
}

function md5(text: string | Uint8Array): string {
  return createHash("md5").update(text).digest("hex");
}

function rssMiB(): number {
  return Math.round(Deno.memoryUsage().rss / MIB);
}

interface Loaded {
  /** Encoder capacity after each batch. */
  capacities: number[];
  /** RSS (MiB) before, at its highest after a batch, and at the end: diagnostics only. */
  rss: { before: number; peak: number; after: number };
}

type Huge = ReturnType<typeof hugeDocument>;

/** Loads batches of small documents with each huge one in a batch of its own between them. */
async function loadHuge(sql: Sql, method: LoadMethod, huge: Huge[]): Promise<Loaded> {
  let ordinal = 0;
  const batches: Uint8Array[][] = [[small(1), small(2), small(3)]];
  for (const [k, doc] of huge.entries()) batches.push([doc.bson], [small(4 + k)]);
  batches.push([small(4 + huge.length)]);
  const smalls = batches.flat().filter((d) => d.length < MAX_BSON);
  async function* read(): AsyncIterable<DocumentBatch> {
    for (const docs of batches) {
      const offsets = docs.map(() => ordinal++);
      yield { docs, offsets: offsets.map((o) => o * 100), consumed: ordinal };
    }
  }
  const rss = { before: rssMiB(), peak: 0, after: 0 };
  const capacities: number[] = [];
  const reserved = await sql.reserve();
  try {
    await createStaging(reserved, { collection: COLLECTION });
    const counts = await loadDocuments(reserved, read(), {
      collection: COLLECTION,
      extractedAt: "2024-05-01T00:00:00Z",
      method,
      onProgress: (_counts, _consumed, encoderBytes) => {
        capacities.push(encoderBytes);
        rss.peak = Math.max(rss.peak, rssMiB());
      },
    });
    assert.deepEqual(counts, {
      documents: smalls.length + huge.length,
      bytes: huge.length * MAX_BSON + smalls.reduce((n, d) => n + d.length, 0),
      anomalies: huge.filter((d) => d.nul).length,
    });
    await finishStaging(reserved, { collection: COLLECTION });
  } finally {
    reserved.release();
  }
  rss.after = rssMiB();
  return { capacities, rss };
}

/** Checks every stored row: the 16 MiB documents exactly, the small ones around them. */
async function assertStored(sql: Sql, huge: Huge[]): Promise<void> {
  const rows = await sql`
    select _id, length(doc->>'s') as chars, md5(doc->>'s') as text_md5,
           (select array_agg(k order by k) from jsonb_object_keys(doc) k) as keys,
           doc->>'_id' as doc_id, md5(original) as original_md5, length(original) as original_bytes
    from lml_staging.huge_docs__next
    where _id like 'huge-%'
    order by _id`;
  assert.deepEqual(
    rows.map((r) => ({ ...r })),
    [...huge].sort((a, b) => a.id < b.id ? -1 : 1).map((d) => ({
      _id: d.id,
      chars: d.text.length,
      text_md5: md5(d.text),
      keys: ["_id", "s"],
      doc_id: d.id,
      original_md5: d.nul ? md5(d.bson) : null,
      original_bytes: d.nul ? MAX_BSON : null,
    })),
  );
  const smalls = await sql`
    select _id, doc, original from lml_staging.huge_docs__next where _id like 'small-%' order by _id`;
  assert.deepEqual(
    smalls.map((r) => [r._id, r.doc, r.original]),
    Array.from({ length: huge.length + 4 }, (_, k) => [
      `small-${k + 1}`,
      { _id: `small-${k + 1}`, k: k + 1, note: 'tab\there \\ "quoted"' },
      null,
    ]),
  );
}

function report(label: string, loaded: Loaded): void {
  const mib = loaded.capacities.map((c) => (c / MIB).toFixed(2)).join(", ");
  console.log(
    `${label}: encoder MiB after each batch [${mib}]; RSS MiB before ${loaded.rss.before}, ` +
      `peak ${loaded.rss.peak}, after ${loaded.rss.after}`,
  );
}

function assertBounded(loaded: Loaded): void {
  assert.ok(loaded.capacities.length >= 4);
  for (const [k, capacity] of loaded.capacities.entries()) {
    assert.ok(
      capacity <= KEPT_BYTES,
      `after batch ${k + 1} the encoder keeps ${capacity} bytes (more than ${KEPT_BYTES})`,
    );
  }
}

Deno.test("rows over copyBytes take their own INSERT and store exactly what COPY stores", async () => {
  await using db = await freshDatabase();
  // Hostile text (backslashes, quotes, controls, U+0000, lone surrogates) in rows of ~2 KiB.
  const docs = NASTY_STRINGS.map((text, k) =>
    BSON.serialize({ _id: `n${k}`, text, pad: "\\".repeat(600), nested: { text, list: [text] } })
  );
  const rowsOf = async (method: LoadMethod, copyBytes: number, options: { lanes?: 2 } = {}) => {
    const reserved = await db.sql.reserve();
    const extra = options.lanes ? await db.sql.reserve() : undefined;
    let asked = 0;
    try {
      await createStaging(reserved, { collection: COLLECTION });
      // Each statement that writes the staging table notes its server process.
      await reserved.unsafe(`
        create table if not exists public.writers (pid integer);
        truncate public.writers;
        create or replace function public.note_writer() returns trigger language plpgsql as
          $f$ begin insert into public.writers values (pg_backend_pid()); return null; end $f$;
        create trigger note_writer after insert on lml_staging.huge_docs__next
          for each statement execute function public.note_writer()`);
      const batches: AsyncIterable<DocumentBatch> = (async function* () {
        yield { docs, offsets: undefined, consumed: 0 };
      })();
      const counts = await loadDocuments(reserved, batches, {
        collection: COLLECTION,
        extractedAt: "2024-05-01T00:00:00Z",
        method,
        copyBytes,
        ...(extra ? { batchBytes: 1024, extraLane: () => (asked++, Promise.resolve(extra)) } : {}),
      });
      assert.equal(counts.documents, docs.length);
      const [writers] = await reserved`select count(distinct pid)::int as n from public.writers`;
      assert.equal(writers!.n, extra ? 2 : 1, "server processes that wrote the rows");
      if (extra) assert.equal(asked, 1, "a second connection is asked for once");
      return await reserved`
        select _id, doc::text as doc, encode(original, 'hex') as original, source_ordinal
        from lml_staging.huge_docs__next order by source_ordinal`;
    } finally {
      reserved.release();
      extra?.release();
    }
  };
  const copied = await rowsOf("copy", 32 * MIB);
  assert.equal(copied.length, docs.length);
  assert.ok(copied.some((r) => r.original !== null), "the U+0000 document keeps its BSON");
  assert.deepEqual(await rowsOf("copy", 1024), copied);
  assert.deepEqual(await rowsOf("insert", 1024), copied);
  // Spread over two connections in turns (several COPY statements each, outsized rows between);
  // the embedded engine has one connection and no COPY FROM STDIN.
  if (!db.embedded) assert.deepEqual(await rowsOf("copy", 4096, { lanes: 2 }), copied);
});

const plain = hugeDocument("huge-plain");
const anomalous = hugeDocument("huge-nul", 1000);

Deno.test("16 MiB documents of control characters load exactly by COPY and the encoder shrinks back", async () => {
  await using db = await freshDatabase();
  const loaded = await loadHuge(db.sql, "copy", [plain, anomalous]);
  report(`copy into ${db.embedded ? "the embedded engine" : "PostgreSQL"}`, loaded);
  assertBounded(loaded);
  await assertStored(db.sql, [plain, anomalous]);
});

Deno.test("a 16 MiB document of control characters loads exactly by INSERT batches too", async () => {
  await using db = await freshDatabase();
  const loaded = await loadHuge(db.sql, "insert", [plain]);
  report(`insert into ${db.embedded ? "the embedded engine" : "PostgreSQL"}`, loaded);
  assertBounded(loaded);
  await assertStored(db.sql, [plain]);
});

Deno.test("16 MiB documents of control characters load into the embedded engine (64 MiB COPY limit)", async () => {
  await using server = await startEmbedded({ dataDir: "memory://" });
  const sql = connect(server.url, { max: 1 });
  try {
    const loaded = await loadHuge(sql, "copy", [plain, anomalous]);
    report("copy into the embedded engine", loaded);
    assertBounded(loaded);
    await assertStored(sql, [plain, anomalous]);
  } finally {
    await sql.end();
  }
});
