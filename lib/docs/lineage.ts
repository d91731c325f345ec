/**
 * Lineage, read from what the analysts already write: the MongoDB path of a column from its
 * `COMMENT ON` text, and table-to-table edges from the SQL files themselves (each statement's
 * targets — `create table`, `insert into`, procedures of lml_util that insert — and the tables
 * it reads, temporary tables followed through to what filled them).
 * @module
 */

const PATH = String.raw`[A-Za-z_$][\w$]*(?:\[\])?(?:\.[A-Za-z_$][\w$]*(?:\[\])?)*`;

/**
 * The MongoDB path a column comment names, the way sql/ writes them: `The document _id.` is
 * `_id`; `Position (from 1) in movements[].` is `movements[]`; a comment starting with a
 * lower-case path (`createdAt, else ...`, `roles[]._id (24-hex).`, `defaultSort.field.`) is that
 * path. Null for anything else.
 */
export function mongoPathOf(comment: string | null): string | null {
  if (!comment) return null;
  const text = comment.trim();
  if (/^the document _id\b/i.test(text)) return "_id";
  const position = new RegExp(`^Position \\(from 1\\)(?: of the kept entry)? in (${PATH})`)
    .exec(text);
  if (position) return position[1]!;
  const path = new RegExp(
    `^([a-z_$][\\w$]*(?:\\[\\])?(?:\\.[A-Za-z_$][\\w$]*(?:\\[\\])?)*)(?=$|[\\s.,:;(])`,
  )
    .exec(text);
  return path ? path[1]! : null;
}

/** A node of the lineage graph. */
export interface LineageNode {
  /** `mongo:<collection>` or `table:<schema>.<table>`. */
  id: string;
  /** A MongoDB collection, a raw table, or a table of the model. */
  kind: "collection" | "raw" | "table";
  /** Display name. */
  label: string;
  /** Its schema (tables). */
  schema?: string;
}

/** An edge: rows of `to` come from (or are looked up in) `from`. */
export interface LineageEdge {
  from: string;
  to: string;
  /** The SQL files (or "extract") where it happens. */
  via: string[];
}

/** A SQL file as lineage reads it. */
export interface LineageFile {
  /** e.g. `sql/lml_processes/010_main.sql`. */
  path: string;
  /** The SQL text. */
  text: string;
}

/** Options of {@linkcode lineageGraph}. */
export interface LineageInput {
  /** Raw schema (lml_raw). */
  rawSchema: string;
  /** Schema of the shared helpers (lml_util). */
  utilSchema: string;
  /** Collection name → its schema, in run order. */
  collections: { name: string; schema: string }[];
  /** Every table that exists, as `schema.table`. */
  tables: string[];
  /** The shared files (procedures of the helpers schema). */
  shared: LineageFile[];
  /** Transform files per schema, in run order. */
  files: { schema: string; files: LineageFile[] }[];
}

/** Blanks `--` and block comments, keeping offsets and newlines. */
function stripComments(text: string): string {
  return text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "));
}

/** Blanks single-quoted literals and dollar-quoted bodies' quotes are left: only '...' go. */
function blankStrings(text: string): string {
  return text.replace(/'(?:[^']|'')*'/g, (s) => `'${" ".repeat(Math.max(0, s.length - 2))}'`);
}

/** Splits at semicolons outside quotes and dollar quotes (enough for reading references). */
function statements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      i = text.indexOf("'", i + 1);
      while (i >= 0 && text[i + 1] === "'") i = text.indexOf("'", i + 2);
      if (i < 0) break;
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        if (end < 0) break;
        i = end + tag[0].length - 1;
      }
    } else if (c === ";") {
      out.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  out.push(text.slice(start));
  return out.filter((s) => s.trim() !== "");
}

/**
 * The lineage graph of the pipeline: each collection feeds its raw table; each statement of a
 * schema's SQL files feeds the tables it creates or inserts into (directly, or through a
 * procedure of the helpers schema) from the tables it reads.
 */
export function lineageGraph(input: LineageInput): { nodes: LineageNode[]; edges: LineageEdge[] } {
  const known = new Set(input.tables);
  const nodes: LineageNode[] = [];
  const edges = new Map<string, LineageEdge>();
  const edge = (from: string, to: string, via: string) => {
    if (from === to) return;
    const key = `${from} ${to}`;
    const found = edges.get(key);
    if (found) {
      if (!found.via.includes(via)) found.via.push(via);
    } else edges.set(key, { from, to, via: [via] });
  };
  for (const c of input.collections) {
    nodes.push({ id: `mongo:${c.name}`, kind: "collection", label: c.name });
    if (known.has(`${input.rawSchema}.${c.name}`)) {
      edge(`mongo:${c.name}`, `table:${input.rawSchema}.${c.name}`, "extract");
    }
  }
  for (const table of input.tables) {
    const [schema, name] = table.split(".");
    nodes.push({
      id: `table:${table}`,
      kind: schema === input.rawSchema ? "raw" : "table",
      label: table,
      schema: schema!,
    });
    void name;
  }

  // Procedures of the helpers schema and the tables they insert into.
  const procedures = new Map<string, string[]>();
  const util = input.utilSchema.replace(/[^a-z0-9_]/g, "");
  for (const file of input.shared) {
    const code = stripComments(file.text);
    const pattern = new RegExp(
      `create\\s+(?:or\\s+replace\\s+)?procedure\\s+${util}\\.(\\w+)[\\s\\S]*?(?=create\\s+(?:or\\s+replace\\s+)?(?:procedure|function)|$)`,
      "gi",
    );
    for (const match of code.matchAll(pattern)) {
      const targets = [...match[0].matchAll(/insert\s+into\s+(\w+\.\w+)/gi)].map((m) => m[1]!)
        .filter((t) => known.has(t));
      procedures.set(match[1]!.toLowerCase(), targets);
    }
  }

  const reference = /\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b/gi;
  for (const { files } of input.files) {
    const temps = new Map<string, Set<string>>(); // temporary table → real tables behind it
    for (const file of files) {
      for (const raw of statements(stripComments(file.text))) {
        const text = blankStrings(raw);
        const lower = text.toLowerCase();
        const created = [
          ...lower.matchAll(
            /create\s+(?:temp|temporary)\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)/g,
          ),
        ]
          .map((m) => m[1]!);
        for (const t of created) if (!temps.has(t)) temps.set(t, new Set());
        const targets = new Set<string>();
        const tempTargets = new Set<string>(created);
        const target =
          /(?:create\s+(?:(?:temp|temporary)\s+)?table\s+(?:if\s+not\s+exists\s+)?|insert\s+into\s+)(\w+(?:\.\w+)?)/g;
        for (const m of lower.matchAll(target)) {
          const name = m[1]!;
          if (known.has(name)) targets.add(name);
          else if (temps.has(name)) tempTargets.add(name);
        }
        // What the statement reads: every table named once its targets are taken out.
        const read = lower.replace(target, " ");
        const sources = new Set<string>();
        for (const m of read.matchAll(reference)) {
          const name = `${m[1]}.${m[2]}`;
          if (known.has(name)) sources.add(name);
        }
        for (const [temp, behind] of temps) {
          if (new RegExp(`\\b${temp}\\b`).test(read)) { for (const b of behind) sources.add(b); }
        }
        for (
          const m of raw.toLowerCase().matchAll(
            new RegExp(`call\\s+${util}\\.(\\w+)\\s*\\(\\s*'(\\w+)'`, "g"),
          )
        ) {
          const behind = temps.get(m[2]!) ?? new Set<string>();
          for (const t of procedures.get(m[1]!) ?? []) {
            for (const b of behind) edge(`table:${b}`, `table:${t}`, file.path);
          }
        }
        for (const t of targets) sources.delete(t);
        for (const t of targets) {
          for (const s of sources) edge(`table:${s}`, `table:${t}`, file.path);
        }
        for (const t of tempTargets) {
          for (const s of sources) temps.get(t)!.add(s);
        }
      }
    }
  }
  return { nodes, edges: [...edges.values()] };
}
