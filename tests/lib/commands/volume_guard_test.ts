/**
 * The volume guard of the refresh: a collection that shrank by more than the allowed share, or
 * came back empty, stops the refresh before anything is swapped; --allow-shrink accepts it once.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../../lib/core/config.ts";
import { VolumeGuardError } from "../../../lib/core/volume_guard.ts";
import { refresh } from "../../../lib/commands/refresh.ts";
import { generateSample } from "../../../lib/sample/mod.ts";
import { schemaChecksums } from "../../support/checksum.ts";
import { freshDatabase } from "../../support/db.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const config = await loadConfig(`${ROOT}sql/pipeline.yaml`);
const SCHEMAS = [config.rawSchema, ...config.collections.map((c) => c.schema)];
const PROCESSES = "lml_processes_mesa4core";
const GROUPS = "lml_usersgroups_mesa4core";

/** The first `keep` documents of a .bson dump file. */
function firstDocuments(bytes: Uint8Array, keep: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (let i = 0; i < keep && offset < bytes.length; i++) offset += view.getInt32(offset, true);
  return bytes.subarray(0, offset);
}

Deno.test("refresh() stops on a collection that shrank or emptied, changing nothing, unless allowed", async () => {
  await using db = await freshDatabase();
  const dir = await Deno.makeTempDir({ prefix: "lml_volume_guard_" });
  try {
    const manifest = await generateSample(`${dir}/first`, { scale: 0.01, seed: 1 });
    const first = await refresh(db.sql, config, {
      source: `${dir}/first`,
      reportsDir: `${dir}/reports`,
      lock: false,
    });
    assert.equal(first.status, "succeeded", first.error?.message);
    const before = await schemaChecksums(db.sql, SCHEMAS);

    // The same dump, processes cut to a quarter and groups empty.
    await Deno.mkdir(`${dir}/second/mesa4core`, { recursive: true });
    for await (const entry of Deno.readDir(`${dir}/first/mesa4core`)) {
      let bytes: Uint8Array = await Deno.readFile(`${dir}/first/mesa4core/${entry.name}`);
      const processes = manifest.collections[PROCESSES]!.documents;
      if (entry.name === `${PROCESSES}.bson`) bytes = firstDocuments(bytes, processes >> 2);
      if (entry.name === `${GROUPS}.bson`) bytes = new Uint8Array();
      await Deno.writeFile(`${dir}/second/mesa4core/${entry.name}`, bytes);
    }
    const stopped = await refresh(db.sql, config, {
      source: `${dir}/second`,
      reportsDir: `${dir}/reports`,
      lock: false,
    });
    assert.equal(stopped.status, "failed");
    assert.ok(stopped.error instanceof VolumeGuardError, String(stopped.error));
    const processes = manifest.collections[PROCESSES]!.documents;
    const groups = manifest.collections[GROUPS]!.documents;
    assert.match(
      stopped.error.message,
      new RegExp(
        `${PROCESSES}: ${processes} documents published, ${processes >> 2} now \\(-7\\d%\\)`,
      ),
    );
    assert.match(
      stopped.error.message,
      new RegExp(`${GROUPS}: ${groups} documents .*, 0 now \\(empty\\)`),
    );
    assert.match(stopped.error.message, /nothing was changed/);
    assert.deepEqual(await schemaChecksums(db.sql, SCHEMAS), before);

    const allowed = await refresh(db.sql, config, {
      source: `${dir}/second`,
      reportsDir: `${dir}/reports`,
      lock: false,
      allowShrink: true,
    });
    assert.equal(allowed.status, "succeeded", allowed.error?.message);
    const [row] = await db.sql`select count(*)::int as n from lml_usersgroups.main`;
    assert.equal(row!.n, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
