import { freshDatabase } from "../support/db.ts";
import { loadConfig } from "../../lib/config.ts";
import { generateSample } from "../../lib/sample/mod.ts";
import { extractCollections } from "../../extract/extract.ts";
import { runTransforms } from "../../lib/runner.ts";
const scale = Number(Deno.args[0] ?? "0.01");
const dir = `/tmp/lmlsample_${scale}`;
let manifest;
try {
  manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
} catch {
  const t0 = performance.now();
  manifest = await generateSample(dir, { scale, seed: 1 });
  console.log("generated", ((performance.now() - t0) / 1000).toFixed(1));
}
const keep = Deno.args[1];
const db = await freshDatabase();
const config = await loadConfig();
let t0 = performance.now();
const ex = await extractCollections(db.sql, config, { source: dir });
console.log(
  "extract",
  ((performance.now() - t0) / 1000).toFixed(1),
  ex.map((e) => e.status + ":" + e.documents).join(" "),
);
t0 = performance.now();
const r = await runTransforms(db.sql, config, { reportsDir: false });
console.log("transform", r.status, r.seconds.toFixed(1), r.error?.message);
for (const f of r.files) if (f.kind !== "check") console.log("  ", f.path, f.seconds.toFixed(2));
for (const c of r.checks) {
  if (c.status !== "passed") {
    console.log("CHECK", c.name, c.severity, c.status, JSON.stringify(c).slice(0, 400));
  }
}
await Deno.writeTextFile(`/tmp/lml_checks_${scale}.json`, JSON.stringify(r.checks, null, 1));
console.log(db.name);
if (!keep) await db[Symbol.asyncDispose]();
else await db.sql.end();
