/**
 * A fresh PostgreSQL database per test, dropped afterwards (`await using`).
 * @module
 */
import postgres from "postgres";
import { connect, type Sql } from "../../lib/db.ts";

/** The server tests run against. */
export const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/postgres";

/** A disposable test database. */
export interface TestDatabase extends AsyncDisposable {
  /** Its name. */
  name: string;
  /** Its connection URL. */
  url: string;
  /** A pool on it (closed on dispose). */
  sql: Sql;
}

let counter = 0;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates an empty database with a unique name; disposing it drops it. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `lml_test_${Deno.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template template0 encoding 'UTF8'`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(TEST_DATABASE_URL, name);
  const sql = connect(url, { application: "lml test", max: 4 });
  return {
    name,
    url,
    sql,
    async [Symbol.asyncDispose]() {
      await sql.end({ timeout: 5 });
      const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
