/**
 * Document-derived text made inert before it is rendered into SQL: Mongo paths and TODO notes
 * go into `--` comments and file headers, where a line break would end the comment and let the
 * rest of a field name run as SQL on the next transform.
 * @module
 */
import { escapeControl } from "../core/mod.ts";
import type { CollectionDraft, ColumnDraft } from "./model.ts";

/** `text` on one line: line breaks and every other control character written as `\xNN`. */
export function inertText(text: string): string {
  return escapeControl(text, { newlines: false });
}

/**
 * A SQL string literal of `text`, right whatever `standard_conforming_strings` says: plain
 * `'…'` for ordinary text, an `E'…'` escape string when it holds a backslash or a control
 * character (so the file never holds a raw line break inside a literal either).
 */
export function sqlLiteral(text: string): string {
  // deno-lint-ignore no-control-regex
  if (!/[\\\u0000-\u001f\u007f-\u009f]/.test(text)) return `'${text.replaceAll("'", "''")}'`;
  const body = text
    .replaceAll("\\", "\\\\")
    .replaceAll("'", "''")
    .replace(
      // deno-lint-ignore no-control-regex
      /[\u0000-\u001f\u007f-\u009f]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  return `E'${body}'`;
}

/** A copy of `draft` whose Mongo paths, TODO notes and collection name are {@linkcode inertText}. */
export function inertDraft(draft: CollectionDraft): CollectionDraft {
  const columns = new Map<ColumnDraft, ColumnDraft>();
  const column = (c: ColumnDraft): ColumnDraft => {
    const copy: ColumnDraft = { ...c, mongoPath: inertText(c.mongoPath) };
    if (c.todo !== undefined) copy.todo = inertText(c.todo);
    columns.set(c, copy);
    return copy;
  };
  return {
    ...draft,
    collection: inertText(draft.collection),
    tables: draft.tables.map((t) => ({
      ...t,
      mongoPath: inertText(t.mongoPath),
      columns: t.columns.map(column),
    })),
    userColumns: draft.userColumns.map((u) => ({
      table: u.table,
      column: columns.get(u.column) ?? column(u.column),
    })),
    todos: draft.todos.map(inertText),
  };
}
