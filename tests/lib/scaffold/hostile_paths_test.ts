import assert from "node:assert/strict";
import { ObjectId } from "bson";
import { loadConfig } from "../../../lib/core/config.ts";
import { createLogger } from "../../../lib/core/log.ts";
import { scaffoldCollection } from "../../../lib/scaffold/scaffold.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { freshDatabase } from "../../support/db.ts";
import { hasControl, NASTY } from "../../support/nasty.ts";

const REPO_SQL = new URL("../../../sql/", import.meta.url).pathname;
const COLLECTION = "lml_hostile_mesa4core";

/** Documents whose keys try to break out of the comments scaffold writes. */
function hostileDocuments(): Record<string, unknown>[] {
  return [1, 2, 3].map((i) => ({
    _id: new ObjectId(),
    name: `doc ${i}`,
    [NASTY.newline]: `owner ${i}`,
    ["cr\rdrop schema lml_util cascade;"]: i,
    [NASTY.comment]: "c",
    [NASTY.quotes]: "q",
    ["back\\slash'; drop table x; --"]: "b",
    [NASTY.terminal]: "t",
    nested: { [NASTY.newline]: i, [NASTY.script]: true },
    items: [{ [NASTY.newline]: "e", label: "ok" }],
  }));
}

Deno.test("scaffold makes document keys inert: a key holding SQL never runs on transform", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lml_hostile_" });
  try {
    await Deno.mkdir(`${dir}/sql/_shared`, { recursive: true });
    for await (const entry of Deno.readDir(`${REPO_SQL}_shared`)) {
      await Deno.copyFile(`${REPO_SQL}_shared/${entry.name}`, `${dir}/sql/_shared/${entry.name}`);
    }
    const configPath = `${dir}/sql/pipeline.yaml`;
    await Deno.writeTextFile(
      configPath,
      "source_database: mesa4core\ncollections:\n" +
        "  lml_plain_mesa4core:\n    schema: lml_plain\n    primary_key: plain_id\n",
    );
    await Deno.mkdir(`${dir}/sql/lml_plain`);
    await Deno.writeTextFile(
      `${dir}/sql/lml_plain/010_main.sql`,
      "-- Plain: one row per document.\ncreate table lml_plain.main as\n" +
        "select _id as plain_id from lml_raw.lml_plain_mesa4core;\n",
    );
    await using db = await freshDatabase();
    const docs = hostileDocuments();
    await db.sql`create schema lml_raw`;
    for (const table of [COLLECTION, "lml_plain_mesa4core"]) {
      await db.sql`
        create table lml_raw.${db.sql(table)} (
          _id text primary key, doc jsonb not null, original bytea,
          extracted_at timestamptz not null default now())`;
    }
    for (const doc of docs) {
      const { _id, ...rest } = doc;
      await db.sql`
        insert into lml_raw.${db.sql(COLLECTION)} (_id, doc)
        values (${(_id as ObjectId).toHexString()}, ${db.sql.json(rest as never)})`;
    }
    const result = await scaffoldCollection(db.sql, COLLECTION, { configPath });
    const texts: string[] = [];
    for (const path of result.written) texts.push(await Deno.readTextFile(path));
    for (const text of texts) {
      assert.doesNotMatch(text, /^\s*(create table public\.pwned|drop)/m, text);
      assert.ok(!hasControl(text.replace(/\n/g, "")), "no control character in a drafted file");
    }
    assert.ok(texts.some((t) => t.includes("owner\\\\x0acreate table public.pwned")), "path shown");

    const config = await loadConfig(configPath);
    const run = await runTransforms(db.sql, config, {
      logger: createLogger({ write: () => {} }),
    });
    assert.equal(run.status, "succeeded", run.error?.message);
    const [pwned] = await db.sql`select to_regclass('public.pwned') as t`;
    assert.equal(pwned!.t, null, "the key's SQL did not run");
    const [util] = await db
      .sql`select count(*)::int as n from pg_namespace where nspname = 'lml_util'`;
    assert.equal(util!.n, 1);
    // The values under hostile keys were still read, through properly quoted literals.
    const columns = await db.sql<{ column_name: string; comment: string | null }[]>`
      select column_name, col_description('lml_hostile.main'::regclass, ordinal_position) as comment
      from information_schema.columns
      where table_schema = 'lml_hostile' and table_name = 'main'`;
    const owner = columns.find((c) => c.comment?.includes("owner\\x0acreate"));
    assert.ok(owner, JSON.stringify(columns));
    const values = await db.sql.unsafe(
      `select ${owner.column_name} as v from lml_hostile.main order by 1`,
    );
    assert.deepEqual(values.map((r) => r.v), ["owner 1", "owner 2", "owner 3"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
