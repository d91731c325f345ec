/**
 * Publishing as the database's other users live with it: readers keep the previous data until
 * COMMIT, and what they built on the published tables (views, materialized views, foreign
 * keys, grants, default privileges, comments) survives a run.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { ConfigError, RunError } from "../../../lib/core/errors.ts";
import { parseConfig } from "../../../lib/core/config.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { swapStagingTables } from "../../../extract/load.ts";
import { freshDatabase, needsRealServer, TEST_DATABASE_URL } from "../../support/db.ts";
import {
  loadRaw,
  makeFixture,
  PIPELINE_YAML,
  RAW,
  reported,
} from "../../support/pipeline_fixture.ts";

/** The fixture's raw documents plus a fourth user and person: the new data. */
const NEXT: typeof RAW = {
  users_src: [...RAW.users_src!, ["u4", { name: "dee", created: "2024-04-04T00:00:00Z" }]],
  people_src: [...RAW.people_src!, ["p4", { name: "Max", owner: "u4" }]],
  orders_src: RAW.orders_src!,
};

/** Stages `raw` in lml_staging as an extraction would, ready for swapStagingTables. */
async function stage(sql: postgres.Sql, raw: typeof RAW): Promise<void> {
  await sql`create schema if not exists lml_staging`;
  for (const [name, docs] of Object.entries(raw)) {
    const table = `lml_staging."${name}__next"`;
    await sql.unsafe(`drop table if exists ${table}`);
    await sql.unsafe(
      `create table ${table} (_id text not null, doc jsonb not null, original bytea,
         extracted_at timestamptz not null, constraint "${name}__next_pkey" primary key (_id))`,
    );
    for (const [id, doc] of docs) {
      await sql.unsafe(`insert into ${table} (_id, doc, extracted_at) values ($1, $2, now())`, [
        id,
        doc as never,
      ]);
    }
  }
}

/** A role of the cluster for the test, dropped on dispose (declare it before the database). */
async function testRole(): Promise<{ name: string } & AsyncDisposable> {
  const name = `lml_test_reader_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create role ${name} nologin`);
  return {
    name,
    async [Symbol.asyncDispose]() {
      await admin.unsafe(`drop role if exists ${name}`).catch(() => {});
      await admin.end();
    },
  };
}

/** A session with a short statement_timeout: a reader kept waiting fails instead. */
function reader(url: string): postgres.Sql {
  return postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { statement_timeout: 2000, application_name: "lml test reader" },
  });
}

async function counts(sql: postgres.Sql): Promise<{ users: number; raw: number }> {
  const [row] = await sql<{ users: number; raw: number }[]>`
    select (select count(*)::int from f_users.main) as users,
           (select count(*)::int from lml_raw.users_src) as raw`;
  return row!;
}

Deno.test({
  name: "runTransforms() keeps a reader on the previous data at every point, the new after COMMIT",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await reported(runTransforms(db.sql, fx.config), fx.reports)).status, "succeeded");
  await stage(db.sql, NEXT);
  const other = reader(db.url);
  try {
    const seen: [string, { users: number; raw: number }][] = [];
    const result = await reported(
      runTransforms(db.sql, fx.config, {
        swapRaw: (tx) =>
          swapStagingTables(tx, { rawSchema: "lml_raw", collections: Object.keys(NEXT) }),
        pauseAt: async (point) => {
          seen.push([point, await counts(other)]);
        },
      }),
      fx.reports,
    );
    assert.equal(result.status, "succeeded", result.error?.message);
    const before = { users: 3, raw: 3 };
    assert.deepEqual(seen, [
      ["raw-swapped", before],
      ["mid-transforms", before],
      ["checks", before],
    ]);
    assert.deepEqual(await counts(other), { users: 4, raw: 4 });
    const left = await db.sql`
      select nspname from pg_namespace where nspname like 'lml\\_retired\\_%'`;
    assert.equal(left.length, 0, "the previous data is dropped after COMMIT");
  } finally {
    await other.end();
  }
});

Deno.test({
  name: "runTransforms() keeps others' views, foreign keys, grants and default privileges",
  ...needsRealServer,
}, async () => {
  await using role = await testRole();
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await reported(runTransforms(db.sql, fx.config), fx.reports)).status, "succeeded");
  const r = role.name;
  await db.sql.unsafe(`
    create schema reporting;
    create view reporting.people_named as
      select p.person_id, p.name, u.name as user_name
      from f_people.main p join f_users.main u on u.user_id = p.owner_user_id;
    comment on view reporting.people_named is 'People with their user';
    grant select on reporting.people_named to ${r};
    create view reporting.named_count as select count(*)::int as n from reporting.people_named;
    create materialized view reporting.user_count as select count(*)::int as n from f_users.main;
    create unique index on reporting.user_count (n);
    grant select on reporting.user_count to ${r};
    create table reporting.notes (
      user_id text constraint notes_user_fkey references f_users.main (user_id),
      note text);
    insert into reporting.notes values ('u1', 'first');
    grant usage on schema f_users to ${r};
    grant select on f_users.main to ${r};
    comment on table f_users.main is 'Users (commented by the analysts)';
    comment on schema f_users is 'Users, for the analysts';
    alter default privileges in schema f_people grant select on tables to ${r};
  `);
  await loadRaw(db.sql, NEXT);
  const result = await reported(runTransforms(db.sql, fx.config), fx.reports);
  assert.equal(result.status, "succeeded", result.error?.message);

  const [row] = await db.sql`
    select (select count(*)::int from reporting.people_named) as named,
           (select n from reporting.named_count) as named_count,
           (select n from reporting.user_count) as users,
           has_table_privilege(${r}, 'reporting.people_named', 'select') as view_grant,
           has_table_privilege(${r}, 'reporting.user_count', 'select') as matview_grant,
           has_schema_privilege(${r}, 'f_users', 'usage') as schema_grant,
           has_table_privilege(${r}, 'f_users.main', 'select') as table_grant,
           has_table_privilege(${r}, 'f_people.main', 'select') as default_grant,
           obj_description('f_users.main'::regclass, 'pg_class') as table_comment,
           obj_description('f_users'::regnamespace, 'pg_namespace') as schema_comment,
           obj_description('reporting.people_named'::regclass, 'pg_class') as view_comment,
           (select confrelid::regclass::text from pg_constraint
            where conname = 'notes_user_fkey') as fk_target,
           (select count(*)::int from pg_indexes where schemaname = 'reporting'
            and tablename = 'user_count') as matview_indexes`;
  assert.deepEqual({ ...row }, {
    named: 3,
    named_count: 3,
    users: 4,
    view_grant: true,
    matview_grant: true,
    schema_grant: true,
    table_grant: true,
    default_grant: true,
    table_comment: "Users (commented by the analysts)",
    schema_comment: "Users, for the analysts",
    view_comment: "People with their user",
    fk_target: "f_users.main",
    matview_indexes: 1,
  });
  // The foreign key holds on the new table.
  await assert.rejects(
    db.sql`insert into reporting.notes values ('u404', 'nobody')`,
    /foreign key/,
  );
  const left = await db
    .sql`select nspname from pg_namespace where nspname like 'lml\\_retired\\_%'`;
  assert.equal(left.length, 0);
  await db.sql`drop schema reporting cascade`;
});

Deno.test({
  name:
    "runTransforms() fails naming a view of another schema the new tables break; nothing changes",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await reported(runTransforms(db.sql, fx.config), fx.reports)).status, "succeeded");
  await db.sql`create schema reporting`;
  await db.sql`create view reporting.user_ages as select user_id, created_at from f_users.main`;
  await fx.write(
    "f_users/010_main.sql",
    `-- Users, without created_at.
create table f_users.main as select _id as user_id, doc->>'name' as name from lml_raw.users_src;
alter table f_users.main add primary key (user_id);
`,
  );
  await loadRaw(db.sql, NEXT);
  const result = await reported(runTransforms(db.sql, fx.config), fx.reports);
  assert.equal(result.status, "failed");
  assert.ok(result.error instanceof RunError, String(result.error));
  assert.match(result.error.message, /^view reporting\.user_ages: .*created_at.* does not exist/);
  const rows = await db.sql`select count(*)::int as n from reporting.user_ages`;
  assert.equal(rows[0]!.n, 3, "the view still reads the previous table");
  const [columns] = await db.sql`
    select count(*)::int as n from information_schema.columns
    where table_schema = 'f_users' and table_name = 'main' and column_name = 'created_at'`;
  assert.equal(columns!.n, 1);
});

Deno.test("the config refuses public, PostgreSQL's schemas and retired names", () => {
  for (const schema of ["public", "pg_catalog", "information_schema", "lml_retired_x"]) {
    assert.throws(
      () => parseConfig(PIPELINE_YAML.replace("schema: f_users", `schema: ${schema}`), "p.yaml"),
      (error) => error instanceof ConfigError && error.message.includes(`"${schema}"`),
    );
  }
  assert.throws(
    () => parseConfig(PIPELINE_YAML + "grants: {select: [a], drop: [b]}\n", "p.yaml"),
    /unknown privilege "drop"/,
  );
});

Deno.test({
  name: "runTransforms() refuses to replace a schema it did not create; the schema stays",
  ...needsRealServer,
}, async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  await db.sql`create schema f_people`;
  await db.sql`create table f_people.precious (x int)`;
  await assert.rejects(
    runTransforms(db.sql, fx.config),
    (error) =>
      error instanceof ConfigError && /schema "f_people" exists and was not created/.test(
        error.message,
      ),
  );
  const [kept] = await db.sql`select to_regclass('f_people.precious') is not null as ok`;
  assert.equal(kept!.ok, true);
});

Deno.test({
  name: "runTransforms() applies the config's grants each run; an unknown role is a ConfigError",
  ...needsRealServer,
}, async () => {
  await using role = await testRole();
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await fx.write("pipeline.yaml", `${PIPELINE_YAML}grants:\n  select: [${role.name}]\n`);
  const config = parseConfig(
    await Deno.readTextFile(`${fx.dir}/sql/pipeline.yaml`),
    `${fx.dir}/sql/pipeline.yaml`,
  );
  await loadRaw(db.sql);
  for (let run = 0; run < 2; run++) {
    const result = await reported(runTransforms(db.sql, config), fx.reports);
    assert.equal(result.status, "succeeded", result.error?.message);
    const [row] = await db.sql`
      select has_table_privilege(${role.name}, 'f_orders.totals', 'select') as ok,
             has_schema_privilege(${role.name}, 'f_orders', 'usage') as usage`;
    assert.deepEqual({ ...row }, { ok: true, usage: true });
  }
  const unknown = parseConfig(
    `${PIPELINE_YAML}grants:\n  select: [lml_no_such_role]\n`,
    `${fx.dir}/sql/pipeline.yaml`,
  );
  await assert.rejects(
    runTransforms(db.sql, unknown),
    (error) =>
      error instanceof ConfigError && /"lml_no_such_role" does not exist/.test(error.message),
  );
});
