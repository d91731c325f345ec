/**
 * From a collection profile to a relational draft: the schema and key names, the tables
 * (main, one per array) and their typed columns, each with its Mongo path, how to read it and
 * what a person still has to decide. Pure: no database, no files.
 * @module
 */
import { isIdentifier } from "../core/mod.ts";
import {
  type CollectionProfile,
  type FieldProfile,
  hasHint,
  USER_SNAPSHOT_KEYS,
} from "../profile/mod.ts";

/** How a column's value is read from its JSON value. */
export type ColumnKind =
  | "text"
  | "oid"
  | "bool"
  | "long"
  | "decimal"
  | "double"
  | "timestamp"
  | "jsonb"
  | "user"
  | "key"
  | "position";

/** One column of a drafted table. */
export interface ColumnDraft {
  /** snake_case column name. */
  name: string;
  /** PostgreSQL type. */
  type: string;
  /** How the value is read (which lml_util helper). */
  kind: ColumnKind;
  /** JSON keys from the row's object (the document or the array element) to the value;
   * empty for the array element itself. */
  keys: string[];
  /** Mongo path, for COMMENT ON (e.g. `channels[].type`). */
  mongoPath: string;
  /** What a person must decide, when something is uncertain. */
  todo?: string;
  /** Fallback of created_at / updated_at in main. */
  fallback?: "oid_time" | "created_at";
  /** For booleans: what a missing value means (e.g. `deleted` missing = false). */
  missingAs?: boolean;
}

/** A table of the draft: `main` or one per array. */
export interface TableDraft {
  /** Table name inside the schema. */
  name: string;
  /** Mongo path of the array (`channels`), or "" for main. */
  mongoPath: string;
  /** JSON keys from the document to the array; empty for main. */
  arrayKeys: string[];
  /** True when the array holds scalars (one `value` column). */
  scalarElements: boolean;
  /** Columns, keys first. */
  columns: ColumnDraft[];
}

/** The relational draft of a collection. */
export interface CollectionDraft {
  /** MongoDB collection. */
  collection: string;
  /** Target schema. */
  schema: string;
  /** Primary key of main (`<entity>_id`). */
  primaryKey: string;
  /** Entity name, singular (`notification`). */
  entity: string;
  /** main first, then the array tables. */
  tables: TableDraft[];
  /** Paths with a user snapshot (columns of kind "user"), for the ghost-user file. */
  userColumns: { table: string; column: ColumnDraft }[];
  /** Things a person must look at, one line each. */
  todos: string[];
}

/** Options of {@linkcode draftCollection}. */
export interface DraftOptions {
  /** Target schema. Default: the collection name without its `_<sourceDatabase>` suffix. */
  schema?: string;
  /** Primary key of main. Default: `<singular entity>_id`, e.g. notification_id. */
  primaryKey?: string;
  /** Source database, stripped from the collection name. Default: "mesa4core". */
  sourceDatabase?: string;
}

/** Names PostgreSQL reserves as column names; such fields get a `_value` suffix. */
const RESERVED = new Set([
  "all",
  "analyse",
  "analyze",
  "and",
  "any",
  "array",
  "as",
  "asc",
  "both",
  "case",
  "cast",
  "check",
  "collate",
  "column",
  "constraint",
  "create",
  "default",
  "desc",
  "distinct",
  "do",
  "else",
  "end",
  "except",
  "false",
  "for",
  "foreign",
  "from",
  "grant",
  "group",
  "having",
  "in",
  "into",
  "is",
  "join",
  "leading",
  "limit",
  "not",
  "null",
  "offset",
  "on",
  "only",
  "or",
  "order",
  "primary",
  "references",
  "select",
  "table",
  "then",
  "to",
  "true",
  "union",
  "unique",
  "user",
  "using",
  "when",
  "where",
  "with",
]);

/** Table names the draft uses for itself. */
const OWN_TABLES = new Set(["main", "unmapped_values", "unresolvable_snapshots", "user_refs"]);

/** Fields of a user snapshot live in lml_users.main, not in the referencing table. */
const SNAPSHOT_KEYS = USER_SNAPSHOT_KEYS;

/** `createdBy` → `created_by`, `mimeType` → `mime_type`, `_id` → `id`. */
function snakeCase(name: string): string {
  const snake = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (snake === "") return "field";
  return /^[0-9]/.test(snake) ? `f_${snake}` : snake;
}

/** `notifications` → `notification`, `processes` → `process`, `people` → `person`. */
export function singular(word: string): string {
  const irregular: Record<string, string> = { people: "person", children: "child", data: "data" };
  if (irregular[word]) return irregular[word];
  if (/ies$/.test(word)) return word.slice(0, -3) + "y";
  if (/(ss|sh|ch|x|z)es$/.test(word)) return word.slice(0, -2);
  if (/ss$/.test(word)) return word;
  if (/s$/.test(word)) return word.slice(0, -1);
  return word;
}

/** The default schema of a collection: `lml_notifications_mesa4core` → `lml_notifications`. */
export function defaultSchema(collection: string, sourceDatabase = "mesa4core"): string {
  const suffix = `_${sourceDatabase}`;
  const base = collection.endsWith(suffix) && collection.length > suffix.length
    ? collection.slice(0, -suffix.length)
    : collection;
  return snakeCase(base).slice(0, 63);
}

/** The default primary key of a schema: `lml_notifications` → `notification_id`. */
export function defaultPrimaryKey(schema: string): string {
  const entity = schema.replace(/^lml_/, "");
  const last = entity.split("_").at(-1)!;
  return `${entity.slice(0, entity.length - last.length)}${singular(last)}_id`;
}

interface Context {
  profile: CollectionProfile;
  primaryKey: string;
  byPath: Map<string, FieldProfile>;
  children: Map<string, FieldProfile[]>;
  todos: string[];
}

/** Builds the relational draft of a profiled collection. */
export function draftCollection(
  profile: CollectionProfile,
  options: DraftOptions = {},
): CollectionDraft {
  const schema = options.schema ?? defaultSchema(profile.collection, options.sourceDatabase);
  if (!isIdentifier(schema)) {
    throw new TypeError(
      `Invalid schema name "${schema}": use lower-case letters, digits and _ (at most 63)`,
    );
  }
  const primaryKey = options.primaryKey ?? defaultPrimaryKey(schema);
  if (!isIdentifier(primaryKey)) {
    throw new TypeError(`Invalid primary key name "${primaryKey}"`);
  }
  const entity = primaryKey.replace(/_id$/, "");
  const byPath = new Map(profile.fields.map((f) => [f.path, f]));
  const children = new Map<string, FieldProfile[]>();
  for (const f of profile.fields) {
    const parent = parentPath(f.path);
    if (parent === null) continue;
    const list = children.get(parent) ?? [];
    list.push(f);
    children.set(parent, list);
  }
  const ctx: Context = { profile, byPath, children, primaryKey, todos: [] };

  const main: TableDraft = {
    name: "main",
    mongoPath: "",
    arrayKeys: [],
    scalarElements: false,
    columns: [{ name: primaryKey, type: "text", kind: "key", keys: ["_id"], mongoPath: "_id" }],
  };
  const tables: TableDraft[] = [main];
  const topLevel = profile.fields.filter((f) => f.depth === 1 && f.path !== "_id");
  const audit = ["createdAt", "updatedAt", "createdBy", "updatedBy", "deleted"];
  topLevel.sort((a, b) => audit.indexOf(a.path) - audit.indexOf(b.path));
  for (const field of topLevel) {
    addField(ctx, main, field, [field.path], "", tables);
  }
  for (const column of main.columns) {
    if (column.mongoPath === "createdAt" && column.kind === "timestamp") {
      column.name = "created_at";
      column.fallback = "oid_time";
    }
    if (column.mongoPath === "updatedAt" && column.kind === "timestamp") {
      column.name = "updated_at";
      if (main.columns.some((c) => c.mongoPath === "createdAt")) column.fallback = "created_at";
    }
    if (column.mongoPath === "deleted" && column.kind === "bool") column.missingAs = false;
  }
  for (const table of tables) dedupeColumns(table);
  dedupeTables(tables);
  const userColumns = tables.flatMap((table) =>
    table.columns.filter((c) => c.kind === "user").map((column) => ({ table: table.name, column }))
  );
  return {
    collection: profile.collection,
    schema,
    primaryKey,
    entity,
    tables,
    userColumns,
    todos: ctx.todos,
  };
}

/** The path of the parent of `path` (`a.b[]` → `a.b`, `a.b` → `a`), null at the top. */
function parentPath(path: string): string | null {
  if (path.endsWith("[]")) return path.slice(0, -2);
  const dot = path.lastIndexOf(".");
  return dot < 0 ? null : path.slice(0, dot);
}

/** Types seen at a field, nulls left out. */
function valueTypes(field: FieldProfile): string[] {
  return field.types.filter((t) => t.type !== "null").map((t) => t.type);
}

/** Count of non-null values of `type` at a field. */
function countOf(field: FieldProfile, type: string): number {
  return field.types.find((t) => t.type === type)?.count ?? 0;
}

function typesText(field: FieldProfile): string {
  return field.types.map((t) => `${t.type} ${t.count}`).join(", ");
}

const NUMERIC_TYPES = new Set(["number", "int", "long", "decimal", "double"]);

/**
 * Adds the column(s) of `field` to `table`; arrays of the document's top level become tables.
 * `keys` lead from the table's row object to the value; `prefix` names nested columns.
 */
function addField(
  ctx: Context,
  table: TableDraft,
  field: FieldProfile,
  keys: string[],
  prefix: string,
  tables: TableDraft[],
): void {
  const key = keys.at(-1)!;
  const base = prefix + snakeCase(key);
  const types = valueTypes(field);
  const nonNull = types.reduce((n, t) => n + countOf(field, t), 0);
  const push = (column: Omit<ColumnDraft, "keys" | "mongoPath">) => {
    table.columns.push({ ...column, keys, mongoPath: field.path });
    if (column.todo) ctx.todos.push(`${field.path}: ${column.todo}`);
  };

  if (hasHint(field, "user_snapshot")) {
    push({
      name: `${base}_user_id`,
      type: "text",
      kind: "user",
      ...(types.length > 1
        ? { todo: `also holds ${typesText(field)}: only objects with _id resolve` }
        : {}),
    });
    for (const child of ctx.children.get(field.path) ?? []) {
      const childKey = child.path.slice(field.path.length + 1);
      if (SNAPSHOT_KEYS.has(childKey)) continue;
      addField(ctx, table, child, [...keys, childKey], `${base}_`, tables);
    }
    return;
  }
  if (hasHint(field, "variable_structure")) {
    push({ name: base, type: "jsonb", kind: "jsonb" });
    return;
  }
  if (hasHint(field, "timestamp") || (types.length > 0 && types.every((t) => t === "date"))) {
    const garbage = field.timestampFormats?.garbage ?? 0;
    push({
      name: base === "at" || base.endsWith("_at") ? base : `${base}_at`,
      type: "timestamptz",
      kind: "timestamp",
      ...(garbage > 0
        ? {
          todo: `${garbage} unparseable values in the sample become NULL (see unmapped_values)`,
        }
        : {}),
    });
    return;
  }
  if (types.length === 0) {
    push({
      name: base,
      type: "jsonb",
      kind: "jsonb",
      todo: "always null in the sample: choose a type or drop the column",
    });
    return;
  }
  if (hasHint(field, "embedded_catalog")) {
    push({
      name: `${base}_id`,
      type: "text",
      kind: "oid",
      todo: "embedded catalog: add it to a catalog table (like lml_users.areas) and an FK",
    });
    table.columns.at(-1)!.keys = [...keys, "_id"];
    table.columns.at(-1)!.mongoPath = `${field.path}._id`;
    if (ctx.byPath.has(`${field.path}.name`)) {
      table.columns.push({
        name: `${base}_name`,
        type: "text",
        kind: "text",
        keys: [...keys, "name"],
        mongoPath: `${field.path}.name`,
      });
    }
    return;
  }
  if (types.length === 1 && types[0] === "array") {
    addArray(ctx, table, field, keys, base, tables);
    return;
  }
  if (types.length === 1 && types[0] === "object") {
    const nested = ctx.children.get(field.path) ?? [];
    if (nested.length === 0 || field.depth >= 3) {
      push({
        name: base,
        type: "jsonb",
        kind: "jsonb",
        todo: nested.length === 0 ? "always an empty object" : "nested object kept whole",
      });
      return;
    }
    for (const child of nested) {
      const childKey = child.path.slice(field.path.length + 1);
      addField(ctx, table, child, [...keys, childKey], `${base}_`, tables);
    }
    return;
  }
  if (countOf(field, "bool") > 0 && field.booleanLike >= nonNull * 0.95) {
    const name = /^(is|has)_/.test(base) ? base : `is_${base}`;
    push({
      name,
      type: "boolean",
      kind: "bool",
      ...(types.length > 1
        ? { todo: `spelled as ${typesText(field)}: lml_util.bool() reads them all` }
        : {}),
    });
    return;
  }
  if (types.every((t) => t === "objectId" || t === "string") && types.includes("objectId")) {
    push({
      name: /(^|_)id$/.test(base) ? base : `${base}_id`,
      type: "text",
      kind: "oid",
      todo: "reference to another collection? add the FK (and a *_ref column for dangling ones)",
    });
    return;
  }
  if (types.every((t) => NUMERIC_TYPES.has(t))) {
    if (types.includes("double")) {
      push({ name: base, type: "double precision", kind: "double" });
    } else if (field.integral === true && !types.includes("decimal")) {
      push({ name: base, type: "bigint", kind: "long" });
    } else {
      push({ name: base, type: "numeric", kind: "decimal" });
    }
    return;
  }
  if (types.includes("string") && types.every((t) => ["string", "number", "bool"].includes(t))) {
    push({
      name: RESERVED.has(base) ? `${base}_value` : base,
      type: "text",
      kind: "text",
      ...(types.length > 1 ? { todo: `mixed types (${typesText(field)}) read as text` } : {}),
    });
    return;
  }
  push({
    name: base,
    type: "jsonb",
    kind: "jsonb",
    todo: `mixed types (${typesText(field)}): kept as JSONB, decide a type`,
  });
}

/** Arrays of the top level become tables; deeper ones stay JSONB columns. */
function addArray(
  ctx: Context,
  table: TableDraft,
  field: FieldProfile,
  keys: string[],
  base: string,
  tables: TableDraft[],
): void {
  const element = ctx.byPath.get(`${field.path}[]`);
  const nested = table.name !== "main" || keys.length > 1;
  const elementTypes = element ? valueTypes(element) : [];
  if (!element || elementTypes.length === 0) {
    table.columns.push({
      name: base,
      type: "jsonb",
      kind: "jsonb",
      keys,
      mongoPath: field.path,
      todo: "always an empty array in the sample: decide its element shape",
    });
    ctx.todos.push(`${field.path}: always an empty array in the sample`);
    return;
  }
  const mixed = elementTypes.length > 1 &&
    !elementTypes.every((t) => t !== "object" && t !== "array");
  if (nested || mixed || hasHint(element, "variable_structure") || elementTypes[0] === "array") {
    const why = nested
      ? "nested array kept as JSONB: consider a table of its own"
      : `array of ${elementTypes.join(" and ")} kept as JSONB: decide its shape`;
    table.columns.push({
      name: base,
      type: "jsonb",
      kind: "jsonb",
      keys,
      mongoPath: field.path,
      todo: why,
    });
    ctx.todos.push(`${field.path}: ${why}`);
    return;
  }
  const child: TableDraft = {
    name: OWN_TABLES.has(base) ? `${base}_items` : base,
    mongoPath: field.path,
    arrayKeys: keys,
    scalarElements: elementTypes[0] !== "object",
    columns: [
      { name: ctx.primaryKey, type: "text", kind: "key", keys: ["_id"], mongoPath: "_id" },
      {
        name: "position",
        type: "integer",
        kind: "position",
        keys: [],
        mongoPath: `${field.path}[]`,
      },
    ],
  };
  tables.push(child);
  if (child.scalarElements) {
    addField(ctx, child, element, [], "", tables);
    const value = child.columns.at(-1)!;
    if (value.kind !== "user") value.name = "value";
    value.keys = [];
    return;
  }
  if (hasHint(element, "user_snapshot")) {
    child.columns.push({
      name: "user_id",
      type: "text",
      kind: "user",
      keys: [],
      mongoPath: element.path,
    });
    for (const c of ctx.children.get(element.path) ?? []) {
      const childKey = c.path.slice(element.path.length + 1);
      if (SNAPSHOT_KEYS.has(childKey)) continue;
      addField(ctx, child, c, [childKey], "", tables);
    }
    return;
  }
  for (const c of ctx.children.get(element.path) ?? []) {
    const childKey = c.path.slice(element.path.length + 1);
    addField(ctx, child, c, [childKey], "", tables);
  }
}

function dedupeColumns(table: TableDraft): void {
  const seen = new Set<string>();
  for (const column of table.columns) {
    let name = column.name.slice(0, 63);
    for (let i = 2; seen.has(name); i++) name = `${column.name.slice(0, 60)}_${i}`;
    column.name = name;
    seen.add(name);
  }
}

function dedupeTables(tables: TableDraft[]): void {
  const seen = new Set<string>();
  for (const table of tables) {
    let name = table.name.slice(0, 63);
    for (let i = 2; seen.has(name); i++) name = `${table.name.slice(0, 60)}_${i}`;
    table.name = name;
    seen.add(name);
  }
}
