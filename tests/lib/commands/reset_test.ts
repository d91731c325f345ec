import assert from "node:assert/strict";
import { loadConfig } from "../../../lib/core/config.ts";
import { managedSchemas, resetDatabase } from "../../../lib/commands/reset.ts";
import { ensureMeta } from "../../../lib/core/ledger.ts";
import { ConfigError } from "../../../lib/core/errors.ts";
import { freshDatabase } from "../../support/db.ts";

Deno.test("resetDatabase() drops the schemas the config names and nothing else", async () => {
  await using db = await freshDatabase();
  const config = await loadConfig();
  await db.sql.unsafe(`
    create schema lml_raw; create table lml_raw.t (x int);
    create schema lml_users; create table lml_users.main (user_id text primary key);
    create schema lml_meta;
    create schema analyst_work; create table analyst_work.notes (x int);
    insert into analyst_work.notes values (1);`);
  await ensureMeta(db.sql, config.metaSchema);
  await db.sql`insert into lml_meta.owned_schemas (schema_name, role)
    values ('lml_raw', 'published'), ('lml_users', 'published')`;
  const dropped = await resetDatabase(db.sql, config);
  assert.deepEqual(dropped, ["lml_meta", "lml_raw", "lml_users"]);
  const left = await db
    .sql`select nspname from pg_namespace where nspname like 'lml%' or nspname = 'analyst_work'`;
  assert.deepEqual(left.map((r) => r.nspname), ["analyst_work"]);
  const [notes] = await db.sql`select count(*)::int as n from analyst_work.notes`;
  assert.equal(notes?.n, 1);
  assert.deepEqual(await resetDatabase(db.sql, config), []);
  assert.ok(managedSchemas(config).includes("lml_processes"));
});

Deno.test("resetDatabase() refuses a schema of the config it did not create, dropping nothing", async () => {
  await using db = await freshDatabase();
  const config = await loadConfig();
  await db.sql.unsafe(`
    create schema lml_raw; create table lml_raw.t (x int);
    create schema lml_users; create table lml_users.main (user_id text primary key);`);
  await assert.rejects(
    resetDatabase(db.sql, config),
    (error) =>
      error instanceof ConfigError &&
      /schema "lml_\w+" exists and was not created/.test(error.message),
  );
  const left = await db
    .sql`select nspname from pg_namespace where nspname in ('lml_raw', 'lml_users')`;
  assert.equal(left.length, 2);
});
