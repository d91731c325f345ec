/**
 * Renders a relational draft (scaffold_model.ts) as the files of sql/<schema>/: tables, the
 * main insert, one insert per array table, ghost users, constraints and example checks.
 * Pure: returns file names and texts.
 * @module
 */
import { inertDraft, sqlLiteral } from "./inert.ts";
import type { CollectionDraft, ColumnDraft, TableDraft } from "./model.ts";

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
  return sqlLiteral(text);
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

/** The SQL reading `column` from the lateral `d` of its file (or the key / position). */
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
    case "position":
      return "e.position";
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
  return table.columns.filter((c) => c.kind !== "key" && c.kind !== "position");
}

/** A Mongo path as the conventions' tables record it: `channels[].at` → `channels.at`. */
function mongoPath(path: string): string {
  return path.replaceAll("[]", "");
}

/** Renders every file of the draft. */
export function renderDraft(raw: CollectionDraft, options: RenderOptions = {}): DraftFile[] {
  const draft = inertDraft(raw);
  const n = names(draft, options);
  const files: DraftFile[] = [
    { path: "010_tables.sql", text: renderTables(draft, n) },
    { path: "020_main.sql", text: renderInsert(draft, draft.tables[0]!, n) },
  ];
  draft.tables.slice(1).forEach((table, i) => {
    const path = `${String(30 + i).padStart(3, "0")}_${table.name}.sql`;
    files.push({ path, text: renderInsert(draft, table, n) });
  });
  if (draft.userColumns.length > 0) {
    files.push({ path: "080_ghosts.sql", text: renderGhosts(draft, n) });
  }
  files.push({ path: "090_constraints.sql", text: renderConstraints(draft, n) });
  files.push(...renderChecks(draft, n));
  return files;
}

function hasTimestamps(draft: CollectionDraft): boolean {
  return draft.tables.some((t) => t.columns.some((c) => c.kind === "timestamp"));
}

function hasSnapshotTable(draft: CollectionDraft, n: Names): boolean {
  return draft.userColumns.length > 0 && n.users !== null;
}

/**
 * `comment` followed by the document path the column reads, `Mongo path: <path>.` (the declared
 * read paths of the drift report and of `plan`).
 */
function withReadPath(comment: string, column: ColumnDraft): string {
  const path = column.kind === "key"
    ? "_id"
    : column.kind === "position"
    ? (column.mongoPath ? `${column.mongoPath}[]` : "")
    : column.kind === "user"
    ? (column.mongoPath ? `${column.mongoPath}._id` : "")
    : column.mongoPath;
  return path ? `${comment} Mongo path: ${path}.` : comment;
}

function columnComment(draft: CollectionDraft, column: ColumnDraft, n: Names): string {
  const path = mongoPath(column.mongoPath);
  switch (column.kind) {
    case "key":
      return "The document _id.";
    case "position":
      return `Position (from 1) of the element in ${column.mongoPath}.`;
    case "user":
      return `${path === "" ? "The element" : path}._id (FK to ${
        n.users ?? "the users"
      }.main, ghosts included; NULL when the snapshot has no _id).`;
    case "timestamp":
      return column.fallback === "oid_time"
        ? `${path}, else the ObjectId time of _id.`
        : column.fallback === "created_at"
        ? `${path}, else created_at.`
        : `${path}, any timestamp variant; NULL when missing or garbage.`;
    case "bool":
      return column.missingAs === undefined
        ? `${path} in any spelling.`
        : `${path} in any spelling, missing = ${column.missingAs}.`;
    default:
      return path === "" ? `The element of ${draft.collection}.${column.mongoPath}.` : `${path}.`;
  }
}

function renderTables(draft: CollectionDraft, n: Names): string {
  const s = n.schema;
  const names = draft.tables.map((t) => t.name);
  if (hasTimestamps(draft)) names.push("unmapped_values");
  if (hasSnapshotTable(draft, n)) names.push("unresolvable_snapshots");
  const out = [
    `-- ${s} tables: ${
      names.join(", ")
    }. Drafted by scaffold from the profile of ${draft.collection}: review every TODO.`,
    "",
  ];
  const comments: string[] = [];
  for (const table of draft.tables) {
    out.push(`create table ${s}.${table.name} (`);
    out.push(
      table.columns.map((c) => {
        const todo = c.todo ? `  -- TODO: ${c.todo}\n` : "";
        const notNull = c.kind === "key" || c.kind === "position" || c.missingAs !== undefined
          ? " not null"
          : "";
        return `${todo}  ${c.name} ${c.type}${notNull}`;
      }).join(",\n"),
      ");",
      "",
    );
    comments.push(
      `comment on table ${s}.${table.name} is ${
        literal(
          table.name === "main"
            ? `One row per document of ${draft.collection} (soft-deleted ones included). TODO: say what a ${draft.entity} is.`
            : `${table.mongoPath}[]: one row per element, in array order.`,
        )
      };`,
    );
    for (const c of table.columns) {
      comments.push(
        `comment on column ${s}.${table.name}.${c.name} is ${
          literal(withReadPath(columnComment(draft, c, n), c))
        };`,
      );
    }
    comments.push("");
  }
  if (hasTimestamps(draft)) {
    const paths = draft.tables.flatMap((t) =>
      t.columns.filter((c) => c.kind === "timestamp").map((c) => mongoPath(c.mongoPath))
    );
    out.push(
      `create table ${s}.unmapped_values (`,
      "  document_id text not null,",
      "  path text not null,",
      "  raw_value jsonb not null,",
      "  reason text not null",
      ");",
      "",
    );
    comments.push(
      `comment on table ${s}.unmapped_values is ${
        literal(`Raw values read and not mapped (${paths.join(", ")}), stored as NULL.`)
      };`,
      `comment on column ${s}.unmapped_values.document_id is 'The document _id.';`,
      `comment on column ${s}.unmapped_values.path is ${
        literal(`Mongo path: ${paths.join(", ")}.`)
      };`,
      `comment on column ${s}.unmapped_values.raw_value is 'The value as found.';`,
      `comment on column ${s}.unmapped_values.reason is 'Why it was not mapped.';`,
      "",
    );
  }
  if (hasSnapshotTable(draft, n)) {
    const paths = draft.userColumns.map(({ column }) => mongoPath(column.mongoPath));
    out.push(
      `create table ${s}.unresolvable_snapshots (`,
      "  document_id text not null,",
      "  path text not null,",
      "  snapshot jsonb not null",
      ");",
      "",
    );
    comments.push(
      `comment on table ${s}.unresolvable_snapshots is ${
        literal(`User snapshots without _id (${paths.join(", ")}).`)
      };`,
      `comment on column ${s}.unresolvable_snapshots.document_id is 'The document _id.';`,
      `comment on column ${s}.unresolvable_snapshots.path is ${
        literal(`Mongo path: ${paths.join(", ")}.`)
      };`,
      `comment on column ${s}.unresolvable_snapshots.snapshot is 'The snapshot as found.';`,
      "",
    );
  }
  return [...out, ...comments].join("\n").replace(/\n+$/, "\n");
}

function renderInsert(draft: CollectionDraft, table: TableDraft, n: Names): string {
  const s = n.schema;
  const isMain = table.name === "main";
  const json = jsonColumns(table);
  const base = isMain ? "r.doc" : "e.value";
  const elements = (alias: string) => [
    "cross join lateral jsonb_array_elements(",
    `  ${asArray(access("r.doc", table.arrayKeys))}`,
    `) ${alias}`,
  ];
  const out = [
    isMain
      ? `-- ${s}.main: one row per document of ${n.raw}.`
      : `-- ${s}.${table.name}: one row per element of ${table.mongoPath}, in array order.`,
    "",
    `insert into ${s}.${table.name} (`,
    table.columns.map((c) => `  ${c.name}`).join(",\n"),
    ")",
    "select",
    table.columns.map((c) => `  ${valueExpression(draft, table, c, n)}`).join(",\n"),
    `from ${n.raw} as r`,
  ];
  if (!isMain) out.push(...elements("with ordinality as e(value, position)"));
  if (json.length > 0) {
    // The helpers are inlined SQL functions: hand them columns, so each path is read once.
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
      "-- Timestamps no variant parses: NULL above, recorded here.",
      `insert into ${s}.unmapped_values (document_id, path, raw_value, reason)`,
      `select r._id, v.path, v.value, ${n.util}.unmapped_reason(v.value, 'timestamp')`,
      `from ${n.raw} as r`,
    );
    if (!isMain) out.push(...elements("as e(value)"));
    out.push(
      "cross join lateral (",
      "  values",
      stamps.map((c) => `    (${literal(mongoPath(c.mongoPath))}, ${access(base, c.keys)})`).join(
        ",\n",
      ),
      ") as v(path, value)",
      `where ${n.util}.is_garbage_ts(v.value);`,
    );
  }
  return out.join("\n") + "\n";
}

function renderGhosts(draft: CollectionDraft, n: Names): string {
  const s = n.schema;
  const paths = draft.userColumns.map(({ column }) => mongoPath(column.mongoPath));
  if (!n.users) {
    return [
      `-- User snapshots of ${s} (${paths.join(", ")}).`,
      "-- TODO: the pipeline has no lml_users schema, so they are not resolved to users.",
      "select 1;",
      "",
    ].join("\n");
  }
  const refs = `${s}_user_refs`;
  const main = draft.tables[0]!;
  const seen = main.columns.find((c) => c.fallback === "created_at") ??
    main.columns.find((c) => c.fallback === "oid_time");
  const selects = draft.userColumns.map(({ table, column }) => {
    const path = literal(mongoPath(column.mongoPath));
    if (table === "main") {
      return `  select r._id, ${path}, ${access("r.doc", column.keys)}\n  from ${n.raw} as r`;
    }
    const t = draft.tables.find((x) => x.name === table)!;
    return [
      `  select r._id, ${path}, ${access("e.value", column.keys)}`,
      `  from ${n.raw} as r`,
      "  cross join lateral jsonb_array_elements(",
      `    ${asArray(access("r.doc", t.arrayKeys))}`,
      "  ) as e(value)",
    ].join("\n");
  });
  return [
    `-- Ghost users referenced by ${s} (${paths.join(", ")}); snapshots without _id are recorded.`,
    "",
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
    `select document_id, path, snapshot from ${refs}`,
    `where ${n.util}.is_unresolvable(snapshot);`,
    "",
    `call ${n.util}.add_ghost_users('${refs}');`,
    `drop table ${refs};`,
    "",
  ].join("\n");
}

function renderConstraints(draft: CollectionDraft, n: Names): string {
  const s = n.schema;
  const pk = draft.primaryKey;
  const out = [
    `-- Primary keys, foreign keys and indexes of ${s}, added once the rows (ghosts included) exist.`,
    "",
    `alter table ${s}.main add constraint main_pkey primary key (${pk});`,
  ];
  for (const table of draft.tables.slice(1)) {
    out.push(
      `alter table ${s}.${table.name} add primary key (${pk}, position);`,
      `alter table ${s}.${table.name} add foreign key (${pk}) references ${s}.main (${pk});`,
    );
  }
  const indexes: string[] = [];
  for (const { table, column } of draft.userColumns) {
    if (!n.users) {
      out.push(`-- TODO: ${s}.${table}.${column.name} has no users table to reference.`);
      continue;
    }
    out.push(
      `alter table ${s}.${table}`,
      `  add constraint ${constraintName(table, column.name, "fkey")}`,
      `    foreign key (${column.name}) references ${n.users}.main (user_id);`,
    );
    indexes.push(`create index on ${s}.${table} (${column.name});`);
  }
  for (const t of draft.tables) {
    for (const c of t.columns.filter((c) => c.kind === "oid" && c.todo)) {
      out.push(`-- TODO: ${s}.${t.name}.${c.name} may reference another collection: add its FK.`);
    }
  }
  const main = draft.tables[0]!;
  for (const name of ["is_deleted", "created_at"]) {
    if (main.columns.some((c) => c.name === name)) {
      indexes.push(`create index on ${s}.main (${name});`);
    }
  }
  if (hasTimestamps(draft)) indexes.push(`create index on ${s}.unmapped_values (document_id);`);
  if (hasSnapshotTable(draft, n)) {
    indexes.push(`create index on ${s}.unresolvable_snapshots (document_id);`);
  }
  out.push("", ...indexes, "", `analyze ${s}.main;`);
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
        "select 'no rows' as problem",
        `where exists (select from ${n.raw}) and not exists (select from ${s}.main)`,
        "",
      ].join("\n"),
    });
  }
  return files;
}
