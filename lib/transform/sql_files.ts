/**
 * The SQL folder (sql/): discovering transform and check files in run order, splitting them
 * into statements like psql does, parsing check headers, and locating PostgreSQL errors in
 * the file that caused them.
 * @module
 */
import {
  type CollectionConfig,
  ConfigError,
  DERIVED_CHECK_SUFFIXES,
  didYouMean,
  displayPath,
  LmlError,
  type PipelineConfig,
  type Severity,
  sha256Hex,
  validateCheckNames,
} from "../core/mod.ts";

/** One SQL file of the pipeline. */
export interface SqlFile {
  /** Absolute (or as configured) path on disk. */
  path: string;
  /** Path relative to the SQL folder's parent, e.g. `sql/lml_users/010_main.sql` (ledger key). */
  relativePath: string;
  /** The file's text. */
  text: string;
  /** Hex SHA-256 of the file's bytes. */
  sha256: string;
  /** The leading `--` comment lines, joined with spaces ("" when none). */
  description: string;
}

/** A check file (`sql/<schema>/checks/*.sql` or `sql/_checks/*.sql`). */
export interface CheckFile extends SqlFile {
  /** Check name from the `-- check:` header; unique across the pipeline. */
  name: string;
  /** From the `-- severity:` header. */
  severity: Severity;
  /** Schema whose folder holds the check, or undefined for `sql/_checks/`. */
  schema: string | undefined;
  /** The single SELECT, without its trailing semicolon. */
  query: string;
  /** Offset of `query` in `text`, for locating errors. */
  queryOffset: number;
}

/** The transform files of one collection. */
export interface SchemaFiles {
  /** The collection. */
  collection: CollectionConfig;
  /** Its schema (folder name). */
  schema: string;
  /** `sql/<schema>/*.sql` in file-name order. */
  files: SqlFile[];
}

/** Everything {@linkcode discoverFiles} found. */
export interface SqlLayout {
  /** `sql/_shared/*.sql` in file-name order. */
  shared: SqlFile[];
  /** One entry per selected collection, in run (dependency) order. */
  schemas: SchemaFiles[];
  /** Check files of the selected schemas, then `sql/_checks/`. */
  checks: CheckFile[];
  /** Things worth a warning, e.g. a folder that matches no collection. */
  warnings: string[];
}

/** Options of {@linkcode discoverFiles}. */
export interface DiscoverOptions {
  /** Collections whose files to include, in run order. Default: all of the config. */
  collections?: readonly CollectionConfig[];
}

const SHARED = "_shared";
const GLOBAL_CHECKS = "_checks";
const CHECKS = "checks";

/**
 * Finds the SQL files of `config` (see the SQL layout contract in sql/README.md): shared files,
 * each collection's transforms, and the check files, whose headers are validated here.
 * Throws ConfigError for a bad check header or a check name used twice.
 */
export async function discoverFiles(
  config: PipelineConfig,
  options: DiscoverOptions = {},
): Promise<SqlLayout> {
  const collections = options.collections ?? config.collections;
  const root = config.sqlDir;
  const base = root.replace(/\/+$/, "").split("/").pop() || "sql";
  const warnings: string[] = [];
  const known = new Set(config.collections.map((c) => c.schema));
  for (const entry of await listDir(root)) {
    if (!entry.isDirectory || entry.name.startsWith(".") || entry.name.startsWith("_")) continue;
    if (!known.has(entry.name)) {
      warnings.push(
        `${displayPath(`${root}/${entry.name}`)}/ matches no collection of ${
          displayPath(config.file)
        }${didYouMean(entry.name, known)}; its files are not run`,
      );
    }
  }
  const shared = await readSqlFiles(root, base, SHARED);
  const schemas: SchemaFiles[] = [];
  const checks: CheckFile[] = [];
  for (const collection of collections) {
    const files = await readSqlFiles(root, base, collection.schema);
    if (files.length === 0) {
      warnings.push(`no SQL files in ${displayPath(`${root}/${collection.schema}`)}/`);
    }
    schemas.push({ collection, schema: collection.schema, files });
    for (const file of await readSqlFiles(root, base, `${collection.schema}/${CHECKS}`)) {
      checks.push(toCheckFile(file, collection.schema));
    }
  }
  for (const file of await readSqlFiles(root, base, GLOBAL_CHECKS)) {
    checks.push(toCheckFile(file, undefined));
  }
  for (const entry of schemas) {
    const own = checks.filter((c) => c.schema === entry.schema);
    warnings.push(...undeclaredReferences(config, entry.collection, [...entry.files, ...own]));
  }
  // Names must be unique across every check file, selected or not.
  const seen = new Map<string, string>();
  const everyCheck = [...checks];
  const selectedSchemas = new Set(collections.map((c) => c.schema));
  for (const c of config.collections) {
    if (selectedSchemas.has(c.schema)) continue;
    for (const file of await readSqlFiles(root, base, `${c.schema}/${CHECKS}`)) {
      everyCheck.push(toCheckFile(file, c.schema));
    }
  }
  for (const check of everyCheck) {
    const other = seen.get(check.name);
    if (other !== undefined) {
      throw new ConfigError(
        `duplicate check name "${check.name}" (also in ${other}); rename one of them`,
        { file: displayPath(check.path), line: headerLine(check.text, "check") },
      );
    }
    seen.set(check.name, displayPath(check.path));
  }
  const derived = config.collections.flatMap((c) =>
    DERIVED_CHECK_SUFFIXES.map((suffix) => `${c.schema}_${suffix}`)
  );
  validateCheckNames(config.checks ?? {}, [...seen.keys(), ...derived], {
    file: displayPath(config.file),
  });
  return { shared, schemas, checks, warnings };
}

/**
 * Warnings for every place where `collection`'s files read a schema that is not upstream of it
 * (not among its depends_on, directly or through others): such a file may run before the
 * schema it reads is rebuilt. Comments are ignored.
 */
function undeclaredReferences(
  config: PipelineConfig,
  collection: CollectionConfig,
  files: readonly SqlFile[],
): string[] {
  const byName = new Map(config.collections.map((c) => [c.name, c]));
  const upstream = new Set<string>();
  const visit = (name: string) => {
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (!upstream.has(dep)) (upstream.add(dep), visit(dep));
    }
  };
  visit(collection.name);
  const others = config.collections.filter((c) =>
    c.name !== collection.name && !upstream.has(c.name)
  );
  if (others.length === 0) return [];
  const pattern = new RegExp(`\\b(${others.map((c) => c.schema).join("|")})\\s*\\.`, "g");
  const warnings: string[] = [];
  for (const file of files) {
    // Comments blanked (newlines kept), so a mention in a comment is no reference.
    const code = file.text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
    const seen = new Set<string>();
    for (const match of code.matchAll(pattern)) {
      const schema = match[1]!;
      if (seen.has(schema)) continue;
      seen.add(schema);
      const line = code.slice(0, match.index).split("\n").length;
      const target = others.find((c) => c.schema === schema)!;
      warnings.push(
        `${displayPath(file.path)}:${line} reads ${schema}, which is not upstream of ` +
          `${collection.name}: add ${target.name} to its depends_on in ${displayPath(config.file)}`,
      );
    }
  }
  return warnings;
}

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function readSqlFiles(root: string, base: string, folder: string): Promise<SqlFile[]> {
  const names = (await listDir(`${root}/${folder}`))
    .filter((e) => e.isFile && e.name.endsWith(".sql"))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: SqlFile[] = [];
  for (const name of names) {
    const path = `${root}/${folder}/${name}`;
    const bytes = await Deno.readFile(path);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    files.push({
      path,
      relativePath: `${base}/${folder}/${name}`,
      text,
      sha256: await sha256Hex(bytes),
      description: leadingComment(text),
    });
  }
  return files;
}

function leadingComment(text: string): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("--")) break;
    lines.push(trimmed.replace(/^--+\s?/, "").trim());
  }
  return lines.filter((l) => l !== "").join(" ");
}

/** The header of a check file. */
export interface CheckHeader {
  /** `-- check: <snake_case_name>`. */
  name: string;
  /** `-- severity: error | warn`. */
  severity: Severity;
  /** `-- description: <one line>`. */
  description: string;
}

const HEADER_KEYS = ["check", "severity", "description"] as const;

/**
 * Parses the `-- key: value` header of a check file; `file` is used in errors.
 * Throws ConfigError (with the line) for a missing key, an unknown key, a bad name or severity.
 */
export function parseCheckHeader(text: string, file: string): CheckHeader {
  const values = new Map<string, { value: string; line: number }>();
  const lines = text.split("\n");
  let lineNo = 0;
  for (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === "") continue;
    if (!line.startsWith("--")) break;
    const match = /^--+\s*([A-Za-z_]+)\s*:\s*(.*)$/.exec(line);
    if (!match) continue; // free comment lines are allowed
    const key = match[1]!.toLowerCase();
    if (!(HEADER_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(
        `unknown check header "${key}"${didYouMean(key, HEADER_KEYS)}; expected ${
          HEADER_KEYS.map((k) => `-- ${k}:`).join(", ")
        }`,
        { file, line: lineNo },
      );
    }
    if (values.has(key)) {
      throw new ConfigError(`check header "${key}" given twice`, { file, line: lineNo });
    }
    values.set(key, { value: match[2]!.trim(), line: lineNo });
  }
  for (const key of HEADER_KEYS) {
    if (!values.has(key)) {
      throw new ConfigError(
        `missing check header "-- ${key}: ..." (a check file starts with -- check: <name>, ` +
          `-- severity: error|warn, -- description: <one line>)`,
        { file, line: 1 },
      );
    }
  }
  const name = values.get("check")!;
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name.value)) {
    throw new ConfigError(
      `check name "${name.value}" must be snake_case (lower-case letters, digits and _)`,
      { file, line: name.line },
    );
  }
  const severity = values.get("severity")!;
  if (severity.value !== "error" && severity.value !== "warn") {
    throw new ConfigError(
      `unknown severity "${severity.value}"${
        didYouMean(severity.value, ["error", "warn"])
      }; use error or warn`,
      { file, line: severity.line },
    );
  }
  const description = values.get("description")!;
  if (description.value === "") {
    throw new ConfigError("empty check description", { file, line: description.line });
  }
  return { name: name.value, severity: severity.value, description: description.value };
}

function headerLine(text: string, key: string): number | undefined {
  const index = text.split("\n").findIndex((l) => new RegExp(`^\\s*--+\\s*${key}\\s*:`).test(l));
  return index < 0 ? undefined : index + 1;
}

function toCheckFile(file: SqlFile, schema: string | undefined): CheckFile {
  const where = displayPath(file.path);
  const header = parseCheckHeader(file.text, where);
  const statements = splitStatements(file.text);
  if (statements.length !== 1) {
    throw new ConfigError(
      statements.length === 0
        ? "a check file needs one SELECT returning the offending rows"
        : `a check file holds exactly one SELECT, found ${statements.length} statements`,
      { file: where, line: statements[1]?.line ?? 1 },
    );
  }
  const statement = statements[0]!;
  return {
    ...file,
    description: header.description,
    name: header.name,
    severity: header.severity,
    schema,
    query: statement.text,
    queryOffset: statement.offset,
  };
}

/** One statement of a SQL file. */
export interface Statement {
  /** The statement's text, from its first token to before its `;`. */
  text: string;
  /** Offset (UTF-16 units) of `text` in the file. */
  offset: number;
  /** 1-based line of the statement's first token. */
  line: number;
}

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;

/**
 * Splits SQL text into statements at top-level semicolons, the way psql does: single-quoted,
 * E'' and double-quoted strings, dollar quotes with tags, `--` and nested block comments,
 * parentheses, and `BEGIN ATOMIC ... END` bodies of CREATE FUNCTION/PROCEDURE are respected.
 * Statements made only of comments and whitespace are dropped.
 */
export function splitStatements(text: string): Statement[] {
  const statements: Statement[] = [];
  let start = -1; // offset of the current statement's first token
  let parens = 0;
  let beginDepth = 0;
  let words: string[] = []; // leading keywords, to spot CREATE [OR REPLACE] FUNCTION|PROCEDURE
  let i = 0;
  const n = text.length;
  const finish = (end: number) => {
    if (start >= 0) {
      statements.push({ text: text.slice(start, end).trimEnd(), offset: start, line: 0 });
    }
    start = -1;
    parens = 0;
    beginDepth = 0;
    words = [];
  };
  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "-" && next === "-") {
      const end = text.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (text[i] === "/" && text[i + 1] === "*") [depth, i] = [depth + 1, i + 2];
        else if (text[i] === "*" && text[i + 1] === "/") [depth, i] = [depth - 1, i + 2];
        else i++;
      }
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === ";" && start < 0) {
      i++; // an empty statement
      continue;
    }
    if (start < 0) start = i;
    if (c === ";") {
      if (parens === 0 && beginDepth === 0) {
        finish(i);
        i++;
        continue;
      }
      i++;
      continue;
    }
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(text[i - 1]!) &&
        (i < 2 || !IDENT_CHAR.test(text[i - 2]!));
      i = skipQuoted(text, i, "'", escapes);
      continue;
    }
    if (c === '"') {
      i = skipQuoted(text, i, '"', false);
      continue;
    }
    if (c === "$") {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i));
      const previous = i > 0 ? text[i - 1]! : " ";
      if (tag && !IDENT_CHAR.test(previous)) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? n : close + tag[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (c === "(") parens++;
    else if (c === ")") parens = Math.max(0, parens - 1);
    if (IDENT_START.test(c) && (i === 0 || !IDENT_CHAR.test(text[i - 1]!))) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(text[j]!)) j++;
      const word = text.slice(i, j).toLowerCase();
      if (words.length < 4) words.push(word);
      const isRoutine = words[0] === "create" &&
        (words[1] === "function" || words[1] === "procedure" ||
          (words[1] === "or" && words[2] === "replace" &&
            (words[3] === "function" || words[3] === "procedure")));
      if (isRoutine && parens === 0) {
        if (word === "begin") beginDepth++;
        else if (word === "case" && beginDepth > 0) beginDepth++;
        else if (word === "end" && beginDepth > 0) beginDepth--;
      }
      i = j;
      continue;
    }
    i++;
  }
  finish(n);
  // Fill in line numbers in one pass.
  let line = 1;
  let at = 0;
  for (const s of statements) {
    for (; at < s.offset; at++) if (text.charCodeAt(at) === 10) line++;
    s.line = line;
  }
  return statements;
}

function skipQuoted(text: string, i: number, quote: string, escapes: boolean): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text[j]!;
    if (escapes && c === "\\") {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (text[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return j;
}

/** A 1-based line and column (in characters) within a text. */
export interface Location {
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in characters. */
  column: number;
}

/** The line and column of UTF-16 offset `offset` in `text`. */
export function locate(text: string, offset: number): Location {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lineStart = before.lastIndexOf("\n") + 1;
  const line = before.split("\n").length;
  return { line, column: [...before.slice(lineStart)].length + 1 };
}

/** Converts PostgreSQL's 1-based character `position` in `statement` to a UTF-16 offset. */
function characterOffset(statement: string, position: number): number {
  let offset = 0;
  let chars = 1;
  for (const ch of statement) {
    if (chars >= position) break;
    offset += ch.length;
    chars++;
  }
  return offset;
}

/** The subset of postgres.js' PostgresError fields used to locate errors. */
export interface PgErrorFields {
  /** The primary message. */
  message: string;
  /** SQLSTATE. */
  code?: string;
  /** DETAIL. */
  detail?: string;
  /** HINT. */
  hint?: string;
  /** 1-based character position in the statement, as a string. */
  position?: string;
}

/**
 * A PostgreSQL error located in a SQL file: the message reads
 * `sql/<schema>/<file>.sql:LINE:COL: <message>`, then the offending line with a caret under the
 * column, then DETAIL and HINT. `cause` is the PostgreSQL error.
 */
export class SqlFileError extends LmlError {
  /** The file, relative to the working directory when possible. */
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** 1-based column in the file. */
  column: number;
  /** SQLSTATE, e.g. "42601" for a syntax error. */
  code: string | undefined;
  /** PostgreSQL's DETAIL. */
  detail: string | undefined;
  /** The PostgreSQL message alone. */
  pgMessage: string;
  constructor(
    options: {
      file: string;
      line: number;
      column: number;
      sourceLine: string;
      pgMessage: string;
      code?: string | undefined;
      detail?: string | undefined;
      hint?: string | undefined;
      cause?: unknown;
    },
  ) {
    const caret = [...options.sourceLine].slice(0, options.column - 1)
      .map((ch) => (ch === "\t" ? "\t" : " ")).join("") + "^";
    const parts = [
      `${options.file}:${options.line}:${options.column}: ${options.pgMessage}`,
      `  ${options.sourceLine}`,
      `  ${caret}`,
    ];
    if (options.detail) parts.push(`DETAIL: ${options.detail}`);
    super(parts.join("\n"), { cause: options.cause, hint: options.hint });
    this.name = "SqlFileError";
    this.file = options.file;
    this.line = options.line;
    this.column = options.column;
    this.code = options.code;
    this.detail = options.detail;
    this.pgMessage = options.pgMessage;
  }
}

/**
 * Builds the SqlFileError for `error`, raised by the statement found at `statementOffset` in
 * `file`. `prefixLength` is the number of characters the engine put before the statement's
 * text when sending it (wrappers), subtracted from PostgreSQL's position. Errors without a
 * position (runtime errors) point at the statement's first character.
 */
export function locateError(
  file: { path: string; text: string },
  statementOffset: number,
  error: PgErrorFields,
  options: { sent?: string; prefixLength?: number } = {},
): SqlFileError {
  let offset = statementOffset;
  const position = Number(error.position);
  if (Number.isInteger(position) && position > 0) {
    const prefix = options.prefixLength ?? 0;
    const sent = options.sent ?? file.text.slice(statementOffset);
    const inSent = characterOffset(sent, position);
    const inStatement = inSent - prefix;
    if (inStatement >= 0) offset = statementOffset + inStatement;
  }
  const { line, column } = locate(file.text, offset);
  const sourceLine = file.text.split("\n")[line - 1]?.replace(/\r$/, "") ?? "";
  return new SqlFileError({
    file: displayPath(file.path),
    line,
    column,
    sourceLine,
    pgMessage: error.message,
    code: error.code,
    detail: error.detail,
    hint: error.hint,
    cause: error,
  });
}
