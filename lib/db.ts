/**
 * PostgreSQL connections (postgres.js), identifier quoting and password redaction.
 * @module
 */
import postgres from "postgres";

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
  return postgres(url, {
    max: options.max ?? 2,
    onnotice: () => {},
    connection: { application_name: options.application ?? "lml" },
    idle_timeout: 30,
    connect_timeout: 10,
  });
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** True when `name` is a plain lower-case PostgreSQL identifier (the only kind config may name). */
export function isIdentifier(name: string): boolean {
  return IDENT.test(name);
}

/** Validates `name` as an identifier and returns it double-quoted, for `sql.unsafe`. */
export function quoteIdent(name: string): string {
  if (!isIdentifier(name)) {
    throw new TypeError(
      `Invalid identifier "${name}": use lower-case letters, digits and _ (at most 63)`,
    );
  }
  return `"${name}"`;
}

/** Returns `url` with its password replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/?#@\s]*:)[^@/\s]*@/g, "$1***@");
}

/** Redacts every URL password and `password=` pair found in `text`. */
export function redactText(text: string): string {
  return redactUrl(text).replace(/(password\s*=\s*)('[^']*'|\S+)/gi, "$1***");
}
