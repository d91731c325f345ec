/**
 * A fresh PostgreSQL database per test, dropped afterwards (`await using`).
 *
 * With a server at TEST_DATABASE_URL (checked once per process), each test gets a new database
 * on it. Without one, each test gets its own in-memory embedded PostgreSQL (PGlite) served on a
 * free port, and tests that need a real server are reported as ignored ({@linkcode needsRealServer}).
 * @module
 */
import postgres from "postgres";
import { connect, redactUrl, type Sql } from "../../lib/core/db.ts";
import { type EmbeddedServer, startEmbedded } from "../../lib/embedded/database.ts";

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
  /** True when it lives in an embedded PostgreSQL (no server at TEST_DATABASE_URL). */
  embedded: boolean;
}

const probes = new Map<string, Promise<boolean>>();

/** True when a PostgreSQL server answers at `url` (cached per URL for the process). */
export function probeServer(url: string): Promise<boolean> {
  let probe = probes.get(url);
  if (!probe) {
    probe = (async () => {
      const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
      try {
        await sql`select 1`;
        return true;
      } catch {
        return false;
      } finally {
        await sql.end({ timeout: 1 });
      }
    })();
    probes.set(url, probe);
  }
  return probe;
}

/** True when a PostgreSQL server answers at TEST_DATABASE_URL. */
export const REAL_POSTGRES: boolean = await probeServer(TEST_DATABASE_URL);

let reasonShown = false;

/**
 * Spread into Deno.test options of tests that need a real server (e.g. several truly concurrent
 * sessions): `Deno.test({ name, ...needsRealServer, fn })`. Ignored, with the reason printed
 * once, when no server answers at TEST_DATABASE_URL.
 */
export const needsRealServer: { readonly ignore: boolean } = {
  get ignore(): boolean {
    if (!REAL_POSTGRES && !reasonShown) {
      reasonShown = true;
      console.error(
        `skipped: needs a real PostgreSQL server (none at TEST_DATABASE_URL ${
          redactUrl(TEST_DATABASE_URL)
        })`,
      );
    }
    return !REAL_POSTGRES;
  },
};

let counter = 0;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Options of {@linkcode freshDatabase}. */
export interface FreshDatabaseOptions {
  /** The server to create the database on, when it answers. Default: TEST_DATABASE_URL. */
  serverUrl?: string;
}

/**
 * Creates an empty database with a unique name; disposing it drops it. Falls back to a fresh
 * in-memory embedded PostgreSQL when no server answers at `serverUrl`.
 */
export async function freshDatabase(options: FreshDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = options.serverUrl ?? TEST_DATABASE_URL;
  const name = `lml_test_${Deno.pid}_${Date.now().toString(36)}_${counter++}`;
  if (!(await probeServer(serverUrl))) return await embeddedDatabase(name);
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template template0 encoding 'UTF8'`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const sql = connect(url, { application: "lml test", max: 4 });
  return {
    name,
    url,
    sql,
    embedded: false,
    async [Symbol.asyncDispose]() {
      await sql.end({ timeout: 5 });
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function embeddedDatabase(name: string): Promise<TestDatabase> {
  const server: EmbeddedServer = await startEmbedded({ dataDir: "memory://" });
  const sql = connect(server.url, { application: "lml test", max: 4 });
  return {
    name,
    url: server.url,
    sql,
    embedded: true,
    async [Symbol.asyncDispose]() {
      try {
        await sql.end({ timeout: 5 });
      } finally {
        await server.close();
      }
    },
  };
}
