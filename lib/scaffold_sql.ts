/**
 * Renders a relational draft (scaffold_model.ts) as the files of sql/<schema>/: tables, the
 * main insert, one insert per array table, ghost users, constraints and example checks.
 * Pure: returns file names and texts.
 * @module
 */
import type { CollectionDraft, ColumnDraft, TableDraft } from "./scaffold_model.ts";

/** One file of the draft, relative to sql/<schema>/. */
export interface DraftFile {
  /** e.g. `010_tables.sql`, `checks/main_complete.sql`. */
  path: string;
  /** File text. */
  text: string;
}

/** Options of {@linkcode renderDraft}. */
export interface RenderOptions {
  /** Schema of the raw tables. Default: "lml_raw". */
  rawSchema?: string;
  /** Schema of the shared helpers. Default: "lml_util". */
  utilSchema?: string;
  /** Schema of the users (ghost users and user FKs); null when the pipeline has none.
   * Default: "lml_users". */
  usersSchema?: string | null;
}

/** A SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** `base -> 'a' -> 'b'`. */
function access(base: string, keys: readonly string[]): string {
  return keys.reduce((expr, key) => `${expr} -> ${literal(key)}`, base);
}

/** `case when jsonb_typeof(x) = 'array' then x else '[]' end`, safe for non-arrays. */
function asArray(expr: string): string {
  return `case when jsonb_typeof(${expr}) = 'array' then ${expr} else '[]' end`;
}

function constraintName(...parts: string[]): string {
  const name = parts.join("_");
  return name.length <= 63 ? name : name.slice(0, 63).replace(/_+$/, "");
}

interface Names {
  raw: string;
  util: string;
  users: string | null;
  schema: string;
}

function names(draft: CollectionDraft, options: RenderOptions): Names {
  return {
    raw: `${options.rawSchema ?? "lml_raw"}.${draft.collection}`,
    util: options.utilSchema ?? "lml_util",
    users: options.usersSchema === undefined ? "lml_users" : options.usersSchema,
    schema: draft.schema,
  };
}

/** The SQL reading `column` from the lateral `d` of its file (or the key / ordinal). */
function valueExpression(
  draft: CollectionDraft,
  table: TableDraft,
  column: ColumnDraft,
  n: Names,
): string {
  const v = `d.${column.name}`;
  switch (column.kind) {
    case "key":
      return "r._id";
    case "ordinal":
      return "e.ordinal";
    case "text":
      return `${v} #>> '{}'`;
    case "oid":
      return `${n.util}.oid(${v})`;
    case "user":
      return `${n.util}.user_id(${v})`;
    case "bool":
      return column.missingAs === undefined
        ? `${n.util}.bool(${v})`
        : `coalesce(${n.util}.bool(${v}), ${column.missingAs})`;
    case "long":
      return `${n.util}.long(${v})`;
    case "decimal":
      return `${n.util}.decimal(${v})`;
    case "double":
      return `${n.util}.num(${v})`;
    case "jsonb":
      return v;
    case "timestamp": {
      const ts = `${n.util}.ts(${v})`;
      if (column.fallback === "oid_time") return `coalesce(${ts}, ${n.util}.oid_time(r._id))`;
      if (column.fallback === "created_at") {
        const created = table.columns.find((c) => c.fallback === "oid_time");
        return created
          ? `coalesce(${ts}, ${n.util}.ts(d.${created.name}), ${n.util}.oid_time(r._id))`
          : ts;
      }
      return ts;
    }
  }
  void draft;
}

/** The JSON value columns of a table (what goes into the lateral `d`). */
function jsonColumns(table: TableDraft): ColumnDraft[] {
  return table.columns.filter((c) => c.kind !== "key" && c.kind !== "ordinal");
}

function mainFileName(): string {
  return "020_main.sql";
}

function arrayFileName(table: TableDraft, index: number): string {
  return `${String(30 + index).padStart(3, "0")}_${table.name}.sql`;
}

/** Renders every file of the draft. */
export function renderDraft(draft: CollectionDraft, options: RenderOptions = {}): DraftFile[] {
  const n = names(draft, options);
  const files: DraftFile[] = [
    { path: "010_tables.sql", text: renderTables(draft, n) },
    { path: mainFileName(), text: renderInsert(draft, draft.tables[0]!, n) },
  ];
  draft.tables.slice(1).forEach((table, i) => {
    files.push({ path: arrayFileName(table, i), text: renderInsert(draft, table, n) });
  });
  if (draft.userColumns.length > 0) {
    files.push({ path: "080_ghost_users.sql", text: renderGhostUsers(draft, n) });
  }
  files.push({ path: "090_constraints.sql", text: renderConstraints(draft, n) });
  files.push(...renderChecks(draft, n));
  return files;
}

function hasTimestamps(draft: CollectionDraft): boolean {
  return draft.tables.some((t) => t.columns.some((c) => c.kind === "timestamp"));
}

function columnComment(column: ColumnDraft): string {
  switch (column.kind) {
    case "key":
      return `Mongo _id of the document (raw _id text).`;
    case "ordinal":
      return `Position in the Mongo array ${column.mongoPath.slice(0, -2)}, from 1.`;
    case "user":
      return `Mongo ${column.mongoPath}: user snapshot, resolved to lml_users.main (ghost users included).`;
    case "timestamp":
      return `Mongo ${column.mongoPath}: any timestamp variant${
        column.fallback === "oid_time"
          ? "; when missing or garbage, the time inside the ObjectId _id"
          : column.fallback === "created_at"
          ? "; when missing or garbage, created_at"
          : ""
      }.`;
    default:
      return `Mongo ${column.mongoPath}.`;
  }
}

function renderTables(draft: CollectionDraft, n: Names): string {
  const s = n.schema;
  const tableNames = draft.tables.map((t) => t.name);
  if (hasTimestamps(draft)) tableNames.push("garbage_timestamps");
  if (draft.userColumns.length > 0 && n.users) tableNames.push("unresolvable_snapshots");
  const out = [
    `-- ${s} tables: ${
      tableNames.join(", ")
    } (drafted by \`scaffold\` from the profile of ${draft.collection}; review every TODO).`,
    "",
  ];
  for (const table of draft.tables) {
    const isMain = table.name === "main";
    out.push(`create table ${s}.${table.name} (`);
    const lines = table.columns.map((c) => {
      const todo = c.todo ? `  -- TODO: ${c.todo}\n` : "";
      const notNull = c.kind === "key" || c.kind === "ordinal" ? " not null" : "";
      return `${todo}  ${c.name} ${c.type}${notNull}`;
    });
    lines.push(
      isMain
        ? `  primary key (${draft.primaryKey})`
        : `  primary key (${draft.primaryKey}, ordinal)`,
    );
    out.push(lines.join(",\n"), ");");
    out.push(
      isMain
        ? `comment on table ${s}.main is ${
          literal(
            `One row per document of ${draft.collection} (soft-deleted ones too). TODO: say what a ${draft.entity} is.`,
          )
        };`
        : `comment on table ${s}.${table.name} is ${
          literal(`One row per element of the Mongo array ${table.mongoPath}, in array order.`)
        };`,
    );
    for (const c of table.columns) {
      out.push(`comment on column ${s}.${table.name}.${c.name} is ${literal(columnComment(c))};`);
    }
    out.push("");
  }
  if (hasTimestamps(draft)) {
    out.push(
      `create table ${s}.garbage_timestamps (`,
      "  document_id text not null,",
      "  path text not null,",
      "  value jsonb",
      ");",
      `comment on table ${s}.garbage_timestamps is ${
        literal("Timestamps no variant parses (stored as NULL): document, Mongo path, raw value.")
      };`,
      "",
    );
  }
  if (draft.userColumns.length > 0 && n.users) {
    out.push(
      `create table ${s}.unresolvable_snapshots (`,
      "  document_id text not null,",
      "  path text not null,",
      "  snapshot jsonb",
      ");",
      `comment on table ${s}.unresolvable_snapshots is ${
        literal("User snapshots without _id (their FK is NULL): document, Mongo path, snapshot.")
      };`,
      "",
    );
  }
  return out.join("\n");
}

function renderInsert(draft: CollectionDraft, table: TableDraft, n: Names): string {
  const s = n.schema;
  const isMain = table.name === "main";
  const json = jsonColumns(table);
  const base = isMain ? "r.doc" : "e.value";
  const out = [
    isMain
      ? `-- ${s}.main: one row per raw document of ${n.raw}.`
      : `-- ${s}.${table.name}: one row per element of ${table.mongoPath}, in array order.`,
    "",
    `insert into ${s}.${table.name} (`,
    table.columns.map((c) => `  ${c.name}`).join(",\n"),
    ")",
    "select",
    table.columns.map((c) => `  ${valueExpression(draft, table, c, n)}`).join(",\n"),
    `from ${n.raw} as r`,
  ];
  if (!isMain) {
    const array = access("r.doc", table.arrayKeys);
    out.push(
      "cross join lateral jsonb_array_elements(",
      `  ${asArray(array)}`,
      ") with ordinality as e(value, ordinal)",
    );
  }
  if (json.length > 0) {
    // Helpers are inlined SQL functions: hand them columns, so each path is read once.
    out.push(
      "cross join lateral (",
      "  select",
      json.map((c) => `    ${access(base, c.keys)} as ${c.name}`).join(",\n"),
      "  offset 0",
      ") as d",
    );
  }
  out[out.length - 1] += ";";
  const stamps = table.columns.filter((c) => c.kind === "timestamp");
  if (stamps.length > 0) {
    out.push(
      "",
      `-- Timestamps no variant parses: NULL above, recorded here.`,
      `insert into ${s}.garbage_timestamps (document_id, path, value)`,
      "select r._id, v.path, v.value",
      `from ${n.raw} as r`,
    );
    if (!isMain) {
      out.push(
        "cross join lateral jsonb_array_elements(",
        `  ${asArray(access("r.doc", table.arrayKeys))}`,
        ") as e(value)",
      );
    }
    out.push(
      "cross join lateral (",
      "  values",
      stamps.map((c) => `    (${literal(c.mongoPath)}, ${access(base, c.keys)})`).join(",\n"),
      ") as v(path, value)",
      `where ${n.util}.is_garbage_ts(v.value);`,
    );
  }
  return out.join("\n") + "\n";
}

function renderGhostUsers(draft: CollectionDraft, n: Names): string {
  const s = n.schema;
  if (!n.users) {
    return [
      `-- ${s}: user snapshots (TODO: the pipeline has no users schema; resolve them by hand).`,
      "select 1;",
      "",
    ].join("\n");
  }
  const refs = `${s}_user_refs`;
  const main = draft.tables[0]!;
  const seen = main.columns.find((c) => c.fallback === "created_at") ??
    main.columns.find((c) => c.fallback === "oid_time");
  const selects = draft.userColumns.map(({ table, column }) => {
    const t = draft.tables.find((x) => x.name === table)!;
    if (t.name === "main") {
      return `  select r._id, ${literal(column.mongoPath)}, ${access("r.doc", column.keys)}\n` +
        `  from ${n.raw} as r`;
    }
    return `  select r._id, ${literal(column.mongoPath)}, ${access("e.value", column.keys)}\n` +
      `  from ${n.raw} as r\n` +
      `  cross join lateral jsonb_array_elements(\n` +
      `    ${asArray(access("r.doc", t.arrayKeys))}\n` +
      "  ) as e(value)";
  });
  return [
    `-- ${s}: every user snapshot resolves to ${n.users}.main; missing users become ghosts, snapshots without _id are recorded.`,
    "",
    `drop table if exists pg_temp.${refs};`,
    `create temp table ${refs} as`,
    "with snapshots (document_id, path, snapshot) as (",
    selects.join("\n  union all\n"),
    ")",
    "select",
    "  s.document_id, s.path, s.snapshot,",
    `  ${n.util}.user_id(s.snapshot) as user_id,`,
    "  s.snapshot ->> 'username' as username,",
    "  s.snapshot ->> 'firstName' as first_name,",
    "  s.snapshot ->> 'lastName' as last_name,",
    "  s.snapshot ->> 'email' as email,",
    `  ${seen ? `m.${seen.name}` : "null::timestamptz"} as seen_at`,
    "from snapshots as s",
    `join ${s}.main as m on m.${draft.primaryKey} = s.document_id`,
    "where jsonb_typeof(s.snapshot) in ('object', 'string');",
    "",
    `insert into ${s}.unresolvable_snapshots (document_id, path, snapshot)`,
    `select document_id, path, snapshot from pg_temp.${refs}`,
    `where ${n.util}.is_unresolvable(snapshot);`,
    "",
    `call ${n.util}.add_ghost_users('pg_temp.${refs}');`,
    "",
    `drop table pg_temp.${refs};`,
    "",
  ].join("\n");
}

function renderConstraints(draft: CollectionDraft, n: Names): string {
  const s = n.schema;
  const out = [
    `-- ${s} constraints: FKs to main and to ${n.users ?? "the users"}.main, and their indexes.`,
    "",
  ];
  for (const table of draft.tables.slice(1)) {
    out.push(
      `alter table ${s}.${table.name}`,
      `  add constraint ${constraintName(table.name, draft.primaryKey, "fkey")}`,
      `  foreign key (${draft.primaryKey}) references ${s}.main (${draft.primaryKey}) on delete cascade;`,
    );
  }
  for (const { table, column } of draft.userColumns) {
    if (!n.users) {
      out.push(`-- TODO: ${s}.${table}.${column.name} has no users table to reference.`);
      continue;
    }
    out.push(
      `alter table ${s}.${table}`,
      `  add constraint ${constraintName(table, column.name, "fkey")}`,
      `  foreign key (${column.name}) references ${n.users}.main (user_id);`,
      `create index ${
        constraintName(table, column.name, "idx")
      } on ${s}.${table} (${column.name});`,
    );
  }
  const refs = draft.tables.flatMap((t) =>
    t.columns.filter((c) => c.kind === "oid" && c.todo).map((c) => `${s}.${t.name}.${c.name}`)
  );
  for (const ref of refs) {
    out.push(`-- TODO: ${ref} may reference another collection: add its FK here.`);
  }
  if (out.length === 2) {
    out.push("-- No foreign keys: main has no arrays and no user references.", "select 1;");
  }
  return out.join("\n") + "\n";
}

function renderChecks(draft: CollectionDraft, n: Names): DraftFile[] {
  const s = n.schema;
  const files: DraftFile[] = [];
  for (const table of draft.tables.slice(1)) {
    const array = access("r.doc", table.arrayKeys);
    files.push({
      path: `checks/${table.name}_complete.sql`,
      text: [
        `-- check: ${constraintName(s, table.name, "complete")}`,
        "-- severity: error",
        `-- description: every element of ${table.mongoPath} in ${n.raw} is one row of ${s}.${table.name}`,
        "with elements as (",
        "  select",
        "    r._id as document_id,",
        `    jsonb_array_length(${asArray(array)}) as elements`,
        `  from ${n.raw} as r`,
        "),",
        "landed as (",
        `  select ${draft.primaryKey} as document_id, count(*) as landed`,
        `  from ${s}.${table.name}`,
        `  group by ${draft.primaryKey}`,
        ")",
        "select e.document_id, e.elements, coalesce(l.landed, 0) as landed",
        "from elements as e",
        "left join landed as l using (document_id)",
        "where e.elements <> coalesce(l.landed, 0)",
        "",
      ].join("\n"),
    });
  }
  const created = draft.tables[0]!.columns.find((c) => c.fallback === "oid_time");
  if (created) {
    files.push({
      path: "checks/created_at_present.sql",
      text: [
        `-- check: ${constraintName(s, "created_at_present")}`,
        "-- severity: warn",
        `-- description: every ${s}.main row has a created_at (its own or the time inside its ObjectId)`,
        `select ${draft.primaryKey} from ${s}.main where ${created.name} is null`,
        "",
      ].join("\n"),
    });
  }
  if (files.length === 0) {
    files.push({
      path: "checks/main_not_empty.sql",
      text: [
        `-- check: ${constraintName(s, "main_not_empty")}`,
        "-- severity: warn",
        `-- description: ${s}.main has rows whenever ${n.raw} has documents (TODO: write real checks)`,
        `select 'no rows' as problem`,
        `where exists (select from ${n.raw}) and not exists (select from ${s}.main)`,
        "",
      ].join("\n"),
    });
  }
  return files;
}
