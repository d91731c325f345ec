/**
 * PostgreSQL connections (postgres.js), identifier quoting and password redaction.
 * @module
 */
import postgres from "postgres";
import { UsageError } from "./errors.ts";
import { redactUrl } from "./redact.ts";

/** A postgres.js connection pool. */
export type Sql = postgres.Sql;

/** Options of {@linkcode connect}. */
export interface ConnectOptions {
  /** Shown in pg_stat_activity.application_name. Default: "lml". */
  application?: string;
  /** Pool size. Default: 2. */
  max?: number;
}

/** Opens a pool on `url`; notices are dropped, dates stay strings where asked by the caller. */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  guardClosedSocketWrites();
  try {
    return postgres(url, {
      max: options.max ?? 2,
      onnotice: () => {},
      connection: { application_name: options.application ?? "lml" },
      idle_timeout: 30,
      connect_timeout: 10,
    });
  } catch {
    // postgres.js says `Invalid URL: '<the whole url>'`: never let that text out.
    throw new UsageError(`cannot read the database URL ${redactUrl(url)}`, {
      hint: "percent-encode special characters of the user and password (/ %2F, @ %40, : %3A, " +
        "space %20)",
      cause: new Error("the URL could not be parsed"),
    });
  }
}

/**
 * A client of one connection with the options of pool `sql` (server, credentials, application
 * name), for a session that must stay apart from the pool: postgres.js 3.4 may reconnect a
 * reserved connection the server ended and hand it to the next caller of the pool while its
 * holder still uses it. Never closed for idleness or age (as postgres.js's own `listen`
 * connection); end it with `end()`.
 */
export function ownConnection(sql: Sql): Sql {
  const options = {
    ...sql.options,
    max: 1,
    idle_timeout: null,
    max_lifetime: null,
    fetch_types: false,
    shared: undefined,
  };
  return postgres(options as unknown as postgres.Options<Record<string, never>>);
}

let guarded = false;

/**
 * postgres.js 3.4.9 throws from a timer (porsager/postgres#1154, #1208) when a query is sent on
 * a connection the server has just closed, e.g. the `rollback` sql.begin() sends after
 * pg_terminate_backend: uncaught, it would end the process. That query's transaction has
 * already failed with CONNECTION_CLOSED, so exactly that error is dropped.
 */
function guardClosedSocketWrites(): void {
  if (guarded) return;
  guarded = true;
  globalThis.addEventListener("error", (event) => {
    const error: unknown = event.error;
    if (
      error instanceof TypeError && error.message.includes("reading 'write'") &&
      /at (Immediate\.)?nextWrite \(.*\/postgres\/[^/]+\/src\/connection\.js/.test(
        error.stack ?? "",
      )
    ) {
      event.preventDefault();
    }
  });
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** True when `name` is a plain lower-case PostgreSQL identifier (the only kind config may name). */
export function isIdentifier(name: string): boolean {
  return IDENT.test(name);
}

/**
 * Validates `name` as an identifier and returns it double-quoted, for SQL *text* that is stored,
 * reported or run as a whole (derived check queries, DDL scripts). A query the toolkit runs itself
 * names identifiers with postgres.js's own `sql(name)` instead.
 */
export function quoteIdent(name: string): string {
  if (!isIdentifier(name)) {
    throw new TypeError(
      `Invalid identifier "${name}": use lower-case letters, digits and _ (at most 63)`,
    );
  }
  return `"${name}"`;
}

export { redactText, redactUrl } from "./redact.ts";
