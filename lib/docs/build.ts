/**
 * `deno task docs`: the catalog site, plain files under reports/docs/ (no server needed, nothing
 * fetched from outside), and a small static server for it (`deno task serve --docs`).
 * @module
 */
import {
  DEFAULT_REPORTS,
  DEFAULTS,
  type Logger,
  type PipelineConfig,
  silentLogger,
  type Sql,
} from "../core/mod.ts";
import { SCRIPT, STYLE } from "./assets.ts";
import { lineageGraph } from "./lineage.ts";
import { collectModel, type DocsModel } from "./model.ts";
import { type Page, renderPages, schemaHref, tableHref } from "./pages.ts";

/** Options of {@linkcode buildDocs}. */
export interface DocsOptions {
  /** The reports folder (run reports are read from it; the site goes to `<it>/docs`). Default: "reports". */
  reportsDir?: string;
  /** Recent runs shown in charts and histories. Default: 30. */
  runs?: number;
  /** Progress. Default: silent. */
  logger?: Logger;
}

/** What {@linkcode buildDocs} wrote. */
export interface DocsResult {
  /** The site's folder. */
  dir: string;
  /** Its pages (file names). */
  pages: string[];
  /** Entries of the search index. */
  indexed: number;
}

/** A search index entry. */
interface IndexEntry {
  kind: "schema" | "table" | "column" | "check";
  name: string;
  detail: string;
  href: string;
}

/** Builds the site into `<reportsDir>/docs` (replacing the previous one whole). */
export async function buildDocs(
  sql: Sql,
  config: PipelineConfig,
  options: DocsOptions = {},
): Promise<DocsResult> {
  const logger = options.logger ?? silentLogger;
  const reportsDir = (options.reportsDir ?? DEFAULTS.reportsDir).replace(/\/+$/, "") || ".";
  const model = await collectModel(sql, config, { reportsDir, runs: options.runs ?? 30 });
  const { nodes, edges } = lineageGraph({
    rawSchema: config.rawSchema,
    utilSchema: config.utilSchema,
    collections: config.collections,
    tables: model.schemas.flatMap((s) => s.tables.map((t) => `${t.schema}.${t.name}`)),
    shared: model.shared,
    files: model.schemas.filter((s) => s.collection).map((s) => ({
      schema: s.name,
      files: s.files.filter((f) => f.kind === "transform"),
    })),
  });
  const pages = renderPages(model, edges);
  const tables = new Map(
    model.schemas.flatMap((s) => s.tables).map((t) => [`table:${t.schema}.${t.name}`, t]),
  );
  const lineage = {
    nodes: Object.fromEntries(nodes.map((n) => {
      const table = tables.get(n.id);
      const collection = config.collections.find((c) => `mongo:${c.name}` === n.id);
      return [n.id, {
        kind: n.kind,
        label: n.label,
        href: table
          ? tableHref(table.schema, table.name)
          : collection
          ? schemaHref(collection.schema)
          : "",
        description: table?.comment ?? collection?.description ?? "",
        columns: table?.columns.map((c) => ({ name: c.name, type: c.type, path: c.mongoPath })) ??
          [],
      }];
    })),
    edges,
  };
  const index = searchIndex(model);
  const data = `window.LML_DOCS = ${
    JSON.stringify({ index, lineage }).replace(/</g, "\\u003c")
  };\n`;

  // Check samples may hold personal data: owner-only, as the other reports (reports.private).
  const owner = (config.reports ?? DEFAULT_REPORTS).private;
  const dir = `${reportsDir}/docs`;
  const staging = `${reportsDir}/.docs.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.mkdir(`${staging}/assets`, { recursive: true, ...(owner ? { mode: 0o700 } : {}) });
  try {
    if (owner) {
      for (const folder of [staging, `${staging}/assets`]) await Deno.chmod(folder, 0o700);
    }
    const files: Page[] = [
      ...pages,
      { path: "assets/style.css", html: STYLE },
      { path: "assets/app.js", html: SCRIPT },
      { path: "assets/data.js", html: data },
    ];
    for (const file of files) {
      const path = `${staging}/${file.path}`;
      await Deno.writeTextFile(path, file.html, owner ? { mode: 0o600 } : {});
      if (owner) await Deno.chmod(path, 0o600);
    }
    await Deno.remove(dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await Deno.rename(staging, dir);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
  logger.info(`catalog written to ${dir}/index.html`, {
    pages: pages.length,
    indexed: index.length,
  });
  return { dir, pages: pages.map((p) => p.path), indexed: index.length };
}

function searchIndex(model: DocsModel): IndexEntry[] {
  const entries: IndexEntry[] = [];
  const trim = (text: string | null | undefined) => {
    const t = (text ?? "").replace(/\s+/g, " ").trim();
    return t.length > 140 ? `${t.slice(0, 139)}…` : t;
  };
  for (const schema of model.schemas) {
    if (schema.collection) {
      entries.push({
        kind: "schema",
        name: schema.name,
        detail: trim(`${schema.collection.name} · ${schema.collection.description}`),
        href: schemaHref(schema.name),
      });
    }
    for (const table of schema.tables) {
      const href = tableHref(table.schema, table.name);
      entries.push({
        kind: "table",
        name: `${table.schema}.${table.name}`,
        detail: trim(`${table.rows.toLocaleString("en-US")} rows · ${table.comment ?? ""}`),
        href,
      });
      for (const column of table.columns) {
        entries.push({
          kind: "column",
          name: `${table.schema}.${table.name}.${column.name}`,
          detail: trim(
            [column.type, column.mongoPath ? `from ${column.mongoPath}` : "", column.comment ?? ""]
              .filter(Boolean).join(" · "),
          ),
          href: `${href}#col-${column.name}`,
        });
      }
    }
  }
  const seen = new Set<string>();
  for (const check of model.checks) {
    if (seen.has(check.name)) continue;
    seen.add(check.name);
    entries.push({
      kind: "check",
      name: check.name,
      detail: trim(`${check.severity} · ${check.description ?? ""}`),
      href: `checks.html#${check.name}`,
    });
  }
  return entries;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
};

/**
 * Serves the site of `dir` on 127.0.0.1:`port` until the returned server is shut down (or the
 * process ends). Only files inside `dir` are served.
 */
export function serveDocs(
  dir: string,
  options: { port: number; logger?: Logger },
): Deno.HttpServer {
  const root = Deno.realPathSync(dir);
  return Deno.serve({
    hostname: "127.0.0.1",
    port: options.port,
    onListen: ({ port }) =>
      (options.logger ?? silentLogger).info(`catalog at http://127.0.0.1:${port}/`),
  }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const relative = path === "/" ? "index.html" : path.replace(/^\/+/, "");
    try {
      const file = await Deno.realPath(`${root}/${relative}`);
      if (!file.startsWith(`${root}/`)) return new Response("not found", { status: 404 });
      const type = TYPES[file.split(".").pop() ?? ""] ?? "application/octet-stream";
      return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}
