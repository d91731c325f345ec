/**
 * A small throwaway pipeline for the engine's tests: three collections (users ← people ←
 * orders, listed out of order in the config), their raw tables, and SQL files in a temp dir.
 * @module
 */
import { loadConfig, type PipelineConfig } from "../../lib/core/config.ts";
import type { RunResult } from "../../lib/core/result.ts";
import type { Sql } from "../../lib/core/db.ts";
import { createRawTables } from "./pipeline.ts";
import { writeReports } from "../../lib/report/write.ts";

/** The config, listed out of dependency order on purpose. */
export const PIPELINE_YAML = `meta_schema: lml_meta
collections:
  orders_src:
    schema: f_orders
    primary_key: order_id
    depends_on: [people_src]
  people_src:
    schema: f_people
    primary_key: person_id
    depends_on: [users_src]
  users_src:
    schema: f_users
    primary_key: user_id
`;

/** The SQL files of the fixture, by path under sql/. */
export const FILES: Record<string, string> = {
  "_shared/000_util.sql": `-- Shared helpers of the fixture.
create schema if not exists lml_util;
create or replace function lml_util.label(v text) returns text
language sql immutable as $$ select upper(v) $$;
`,
  "f_users/010_main.sql": `-- Users: one row per document.
create table f_users.main as
select _id as user_id,
       doc->>'name' as name,
       (doc->>'created')::timestamptz as created_at
from lml_raw.users_src;
alter table f_users.main add primary key (user_id);
`,
  "f_people/010_main.sql": `-- People, each pointing to a user.
create table f_people.main as
select p._id as person_id,
       p.doc->>'name' as name,
       u.user_id as owner_user_id,
       case when u.user_id is null then p.doc->'owner' end as owner_ref
from lml_raw.people_src p
left join f_users.main u on u.user_id = p.doc->>'owner';
`,
  "f_orders/010_main.sql": `-- Orders of people.
create table f_orders.main as
select o._id as order_id, pe.person_id, (o.doc->>'amount')::numeric as amount
from lml_raw.orders_src o
join f_people.main pe on pe.person_id = o.doc->>'person';
`,
  "f_orders/020_totals.sql": `-- Totals per person; the semicolon in ';' must not split.
create table f_orders.totals as
select person_id, sum(amount) as total, ';' as note
from f_orders.main
group by person_id;
`,
};

/** A fixture: its folder, config and a way to rewrite files. */
export interface Fixture extends AsyncDisposable {
  /** The temp folder (holding sql/ and reports/). */
  dir: string;
  /** The loaded config. */
  config: PipelineConfig;
  /** Reports folder inside `dir`. */
  reports: string;
  /** Writes (or overwrites) `sql/<path>`. */
  write(path: string, text: string): Promise<void>;
  /** Removes `sql/<path>`. */
  remove(path: string): Promise<void>;
}

/** Writes the fixture pipeline into a new temp folder (removed on dispose). */
export async function makeFixture(
  extra: Record<string, string> = {},
): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "lml_engine_" });
  const write = async (path: string, text: string) => {
    const full = `${dir}/sql/${path}`;
    await Deno.mkdir(full.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(full, text);
  };
  await write("pipeline.yaml", PIPELINE_YAML);
  for (const [path, text] of Object.entries({ ...FILES, ...extra })) await write(path, text);
  const config = await loadConfig(`${dir}/sql/pipeline.yaml`);
  return {
    dir,
    config,
    reports: `${dir}/reports`,
    write,
    remove: (path) => Deno.remove(`${dir}/sql/${path}`),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Raw documents of the fixture (3 users, 3 people, 3 orders). */
export const RAW: Record<string, [string, Record<string, unknown>][]> = {
  users_src: [
    ["u1", { name: "ana", created: "2021-01-01T00:00:00Z" }],
    ["u2", { name: "bob", created: "2022-02-02T00:00:00Z" }],
    ["u3", { name: "cy", created: "2023-03-03T00:00:00Z" }],
  ],
  people_src: [
    ["p1", { name: "Pat", owner: "u1" }],
    ["p2", { name: "Lee", owner: "u2" }],
    ["p3", { name: "Kim", owner: "u9" }],
  ],
  orders_src: [
    ["o1", { person: "p1", amount: "10.5" }],
    ["o2", { person: "p1", amount: "2" }],
    ["o3", { person: "p3", amount: "7" }],
  ],
};

/** Creates lml_raw and fills its tables with `raw` (default {@linkcode RAW}). */
export async function loadRaw(sql: Sql, raw = RAW): Promise<void> {
  await createRawTables(sql, "lml_raw", Object.keys(raw));
  for (const [table, docs] of Object.entries(raw)) {
    await sql`delete from ${sql("lml_raw")}.${sql(table)}`;
    for (const [id, doc] of docs) {
      await sql`
        insert into ${sql("lml_raw")}.${sql(table)} (_id, doc, extracted_at)
        values (${id}, ${sql.json(doc as never)}, now())
      `;
    }
  }
}

/** All rows of `schema.table` as JSON text, ordered, for before/after comparisons. */
export async function snapshot(sql: Sql, schema: string, table: string): Promise<string[]> {
  const rows = await sql<{ row: string }[]>`
    select to_jsonb(t)::text as row from ${sql(schema)}.${sql(table)} t order by 1
  `;
  return rows.map((r) => r.row);
}

/** Awaits a run and writes its reports into `dir`, as the commands do. */
export async function reported<R extends RunResult>(run: Promise<R>, dir: string): Promise<R> {
  const result = await run;
  await writeReports(result, { dir });
  return result;
}
