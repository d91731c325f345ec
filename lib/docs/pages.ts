/**
 * The pages of the catalog site, as HTML text: overview, one page per schema and per table,
 * the lineage explorer, checks (last run and history) and runs (charts and the drift report).
 * Every page links to the others by relative paths, so the folder works from file:// too.
 * @module
 */
import type { LineageEdge } from "./lineage.ts";
import type { CheckDoc, DocsModel, SchemaDoc, TableDoc } from "./model.ts";
import {
  erDiagram,
  type ErLink,
  type ErTable,
  esc,
  layeredGraph,
  lineChart,
  type Series,
  short,
  sparkline,
  stackedBars,
} from "./svg.ts";

/** A page: its file name and HTML. */
export interface Page {
  path: string;
  html: string;
}

/** The file name of a schema's page. */
export function schemaHref(schema: string): string {
  return `schema-${schema}.html`;
}

/** The file name of a table's page. */
export function tableHref(schema: string, table: string): string {
  return `table-${schema}.${table}.html`;
}

const NAV = [
  ["index.html", "Overview"],
  ["lineage.html", "Lineage"],
  ["checks.html", "Checks"],
  ["runs.html", "Runs"],
] as const;

function layout(model: DocsModel, title: string, active: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · ${esc(model.database)} catalog</title>
<link rel="stylesheet" href="assets/style.css">
</head><body>
<header class="top"><a class="brand" href="index.html">${
    esc(model.database)
  }<small>data catalog</small></a>
<nav>${
    NAV.map(([href, label]) =>
      `<a href="${href}"${href === active ? ' class="active"' : ""}>${label}</a>`
    )
      .join("")
  }</nav>
<div class="search"><input id="search" type="search" placeholder="Search tables, columns, Mongo paths…" autocomplete="off" aria-label="Search tables and columns"><div id="search-results" class="results"></div></div>
</header>
<main>${body}
<footer>Generated ${esc(model.generatedAt.replace("T", " ").slice(0, 19))} UTC from database <b>${
    esc(model.database)
  }</b>, ${
    esc(model.config.file.split("/").slice(-2).join("/"))
  } and the SQL files; run history from ${
    esc(model.config.metaSchema)
  }. Rebuild with <code>deno task docs</code>.</footer>
</main>
<script src="assets/data.js"></script>
<script src="assets/app.js"></script>
</body></html>
`;
}

function num(n: number | null | undefined): string {
  return n === null || n === undefined ? "" : n.toLocaleString("en-US");
}

function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return "";
  return s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

function when(iso: string | null): string {
  return iso ? esc(iso.replace("T", " ").slice(0, 19)) : "";
}

function badge(status: string): string {
  return `<span class="badge ${esc(status)}">${esc(status)}</span>`;
}

function checkStatus(c: { status: string; severity: string }): string {
  return c.status === "failed" && c.severity === "warn" ? "warned" : c.status;
}

function tableLink(schema: string, table: string): string {
  return `<a href="${tableHref(schema, table)}">${esc(schema)}.${esc(table)}</a>`;
}

function nodeLink(id: string): string {
  if (id.startsWith("mongo:")) return `<span class="tag">MongoDB</span> ${esc(id.slice(6))}`;
  const [schema, table] = id.slice(6).split(".");
  return tableLink(schema!, table!);
}

function lastRun(model: DocsModel) {
  return model.runs.find((r) => r.command !== "extract" && r.status !== "running");
}

function allTables(model: DocsModel): TableDoc[] {
  return model.schemas.flatMap((s) => s.tables);
}

/** Every page of the site. */
export function renderPages(model: DocsModel, edges: LineageEdge[]): Page[] {
  return [
    { path: "index.html", html: overview(model) },
    ...model.schemas.filter((s) => s.collection).map((s) => ({
      path: schemaHref(s.name),
      html: schemaPage(model, s),
    })),
    ...allTables(model).map((t) => ({
      path: tableHref(t.schema, t.name),
      html: tablePage(model, t, edges),
    })),
    { path: "lineage.html", html: lineagePage(model) },
    { path: "checks.html", html: checksPage(model) },
    { path: "runs.html", html: runsPage(model) },
  ];
}

function overview(model: DocsModel): string {
  const run = lastRun(model);
  const runChecks = run ? model.checks.filter((c) => c.runId === run.runId) : [];
  const count = (s: string) => runChecks.filter((c) => checkStatus(c) === s).length;
  const collections = model.schemas.filter((s) => s.collection);
  const tables = allTables(model).filter((t) => t.schema !== model.config.rawSchema);
  const graph = layeredGraph(
    collections.map((s) => ({
      id: s.name,
      label: s.name,
      note: `${num(s.tables.find((t) => t.name === "main")?.rows)} rows in main`,
      href: schemaHref(s.name),
    })),
    collections.flatMap((s) =>
      s.collection!.dependsOn.map((d) => {
        const dep = model.config.collections.find((c) => c.name === d)!;
        return [dep.schema, s.name] as [string, string];
      })
    ),
    { title: "Schemas and what they depend on" },
  );
  return layout(
    model,
    "Overview",
    "index.html",
    `<h1>${esc(model.database)} <small>the relational model built from MongoDB</small></h1>
<p class="lead">Each MongoDB collection lands untouched in <a href="${
      schemaHref(model.config.rawSchema)
    }">${esc(model.config.rawSchema)}</a> (one table per collection, the documents as JSONB), then
the SQL files under <code>sql/</code> build one schema per collection, with a table per repeated
structure, typed columns and foreign keys. Every column says which MongoDB path it comes from. Start
from a schema below, search for a column or a Mongo path above, or follow the data in <a href="lineage.html">Lineage</a>.</p>
<div class="cards">
<div class="card"><div class="n">${collections.length}</div><div class="l">collections / schemas</div></div>
<div class="card"><div class="n">${tables.length}</div><div class="l">tables</div></div>
<div class="card"><div class="n">${
      num(tables.reduce((n, t) => n + t.rows, 0))
    }</div><div class="l">rows</div></div>
${
      run
        ? `<div class="card"><div class="n">${badge(run.status)}</div><div class="l">last ${
          esc(run.command)
        }, ${when(run.startedAt)} UTC, ${seconds(run.seconds)}</div></div>
<div class="card"><div class="n"><a href="checks.html">${count("passed")} · ${count("warned")} · ${
          count("failed") + count("errored")
        }</a></div><div class="l">checks passed · warned · failed</div></div>`
        : `<div class="card"><div class="n">–</div><div class="l">no run recorded yet</div></div>`
    }
</div>
${
      model.drift
        ? `<p>The last run recorded a <a href="runs.html#drift">drift report</a> (${
          esc(model.drift.source)
        }).</p>`
        : ""
    }
<h2>Schemas</h2>
<table class="grid"><tr><th>schema</th><th>MongoDB collection</th><th>what it holds</th><th class="num">tables</th><th class="num">rows in main</th><th class="num">checks</th><th class="num">SQL tests</th></tr>
${
      collections.map((s) =>
        `<tr><td><a href="${schemaHref(s.name)}"><b>${esc(s.name)}</b></a></td><td><a href="${
          tableHref(model.config.rawSchema, s.collection!.name)
        }">${esc(s.collection!.name)}</a></td><td>${
          esc(s.collection!.description)
        }</td><td class="num">${s.tables.length}</td><td class="num">${
          num(s.tables.find((t) => t.name === "main")?.rows)
        }</td><td class="num">${
          s.files.filter((f) => f.kind === "check").length
        }</td><td class="num">${s.tests.length}</td></tr>`
      ).join("\n")
    }
</table>
<h2>How the schemas depend on each other</h2>
<p class="muted">An arrow from A to B: B's foreign keys point into A, so A is built first (<code>depends_on</code> in ${
      esc(model.config.file.split("/").pop())
    }).</p>
<div class="panel">${graph}</div>
<h2>Shared helpers (${esc(model.config.utilSchema)})</h2>
<details><summary>${model.helpers.length} functions and procedures the SQL files use</summary>
<table class="grid"><tr><th>name</th><th>arguments</th><th>what it does</th></tr>${
      model.helpers.map((h) =>
        `<tr><td class="mono">${esc(h.name)}</td><td class="mono">${esc(h.arguments)}</td><td>${
          esc(h.comment ?? "")
        }</td></tr>`
      ).join("")
    }</table></details>`,
  );
}

function schemaPage(model: DocsModel, schema: SchemaDoc): string {
  const collection = schema.collection!;
  const raw = model.config.rawSchema;
  const upstream = collection.dependsOn.map((d) =>
    model.config.collections.find((c) => c.name === d)!
  );
  const downstream = model.config.collections.filter((c) => c.dependsOn.includes(collection.name));
  const run = lastRun(model);
  const checks = schema.files.filter((f) => f.kind === "check");
  const lastChecks = run
    ? model.checks.filter((c) => c.runId === run.runId && c.schema === schema.name)
    : [];
  const er = erFor(model, schema);
  const history = model.counts.length > 0
    ? lineChart(
      model.counts.map((c) => c.startedAt.slice(5, 16).replace("T", " ")),
      schema.tables.map((t) => ({
        name: t.name,
        values: model.counts.map((c) => c.tables[`${t.schema}.${t.name}`] ?? null),
      })),
      { title: `Rows per table of ${schema.name} over the last runs`, unit: "rows" },
    )
    : `<p class="muted">No run reports yet (reports/runs/*/report.json).</p>`;
  return layout(
    model,
    schema.name,
    "",
    `<div class="crumbs"><a href="index.html">Overview</a> / schema</div>
<h1>${esc(schema.name)} <small>from MongoDB collection ${esc(collection.name)}</small></h1>
<p class="lead">${esc(collection.description)}${schema.comment ? ` ${esc(schema.comment)}` : ""}</p>
<div class="cols2"><div class="panel"><b>Comes from</b><ul>
<li>${tableLink(raw, collection.name)} <span class="muted">(the raw documents)</span></li>
${
      upstream.map((u) =>
        `<li><a href="${schemaHref(u.schema)}">${
          esc(u.schema)
        }</a> <span class="muted">(depends_on)</span></li>`
      ).join("")
    }
</ul></div><div class="panel"><b>Feeds</b><ul>${
      downstream.map((d) => `<li><a href="${schemaHref(d.schema)}">${esc(d.schema)}</a></li>`).join(
        "",
      ) ||
      '<li class="muted">no other schema</li>'
    }</ul><a href="lineage.html#${
      encodeURIComponent(`table:${schema.name}.main`)
    }">Explore its lineage</a></div></div>
<h2>Tables</h2>
<table class="grid"><tr><th>table</th><th class="num">rows</th><th class="num">columns</th><th>what it holds</th></tr>${
      schema.tables.map((t) =>
        `<tr><td><a href="${tableHref(t.schema, t.name)}"><b>${
          esc(t.name)
        }</b></a></td><td class="num">${
          num(t.rows)
        }</td><td class="num">${t.columns.length}</td><td>${esc(t.comment ?? "")}</td></tr>`
      ).join("")
    }</table>
<h2>Foreign keys (ER diagram)</h2>
<p class="muted">Boxes list every column (PK primary key, FK foreign key); grey boxes are tables of other schemas. Click a table to open it.</p>
<div class="panel">${er}</div>
<h2>Rows over time</h2>
<div class="panel">${history}</div>
<h2>SQL files</h2>
<table class="grid"><tr><th>file</th><th>what it does</th></tr>${
      schema.files.filter((f) => f.kind === "transform").map((f) =>
        `<tr><td class="mono">${esc(f.path)}</td><td>${
          esc(f.description)
        }<details><summary class="muted">SQL</summary><pre>${esc(f.text)}</pre></details></td></tr>`
      ).join("")
    }</table>
<h2>Checks</h2>
<table class="grid"><tr><th>check</th><th>severity</th><th>what it asserts</th><th>last run</th></tr>${
      [
        ...checks.map((f) => ({
          name: f.check!,
          severity: f.severity!,
          description: f.description,
          source: f.path,
        })),
        ...lastChecks.filter((c) => !checks.some((f) => f.check === c.name)).map((c) => ({
          name: c.name,
          severity: c.severity,
          description: c.description ?? "",
          source: "derived",
        })),
      ].map((c) => {
        const last = lastChecks.find((r) => r.name === c.name);
        return `<tr><td><a href="checks.html#${esc(c.name)}">${
          esc(c.name)
        }</a><br><span class="muted mono">${esc(c.source)}</span></td><td>${
          esc(c.severity)
        }</td><td>${esc(c.description)}</td><td>${
          last
            ? `${badge(checkStatus(last))} ${last.offending ? `${num(last.offending)} rows` : ""}`
            : ""
        }</td></tr>`;
      }).join("")
    }</table>
<h2>SQL unit tests</h2>
${
      schema.tests.length
        ? `<ul>${schema.tests.map((t) => `<li class="mono">${esc(t)}</li>`).join("")}</ul>
<p class="muted">Run them with <code>deno task test-sql --select ${esc(schema.name)}</code>.</p>`
        : `<p class="muted">None yet: <code>deno task test-sql --new ${
          esc(collection.name)
        } &lt;_id&gt;</code> writes one from a real document.</p>`
    }`,
  );
}

function erFor(model: DocsModel, schema: SchemaDoc): string {
  const tables: ErTable[] = schema.tables.map((t) => ({
    id: `${t.schema}.${t.name}`,
    label: t.name,
    href: tableHref(t.schema, t.name),
    columns: t.columns.map((c) => ({
      name: c.name,
      type: c.type,
      key: c.isKey,
      fk: c.references !== null,
    })),
    external: false,
  }));
  const links: ErLink[] = schema.tables.flatMap((t) =>
    t.foreignKeys.map((k) => ({
      from: `${t.schema}.${t.name}`,
      fromColumns: k.columns,
      to: `${k.refSchema}.${k.refTable}`,
      toColumns: k.refColumns,
      name: k.name,
    }))
  );
  for (const link of links) {
    if (tables.some((t) => t.id === link.to)) continue;
    const target = allTables(model).find((t) => `${t.schema}.${t.name}` === link.to);
    tables.push({
      id: link.to,
      label: link.to,
      href: target ? tableHref(target.schema, target.name) : "",
      columns: (target?.columns ?? []).filter((c) => c.isKey).map((c) => ({
        name: c.name,
        type: c.type,
        key: true,
        fk: false,
      })),
      external: true,
    });
  }
  if (links.length === 0) return `<p class="muted">No foreign keys.</p>`;
  return erDiagram(tables, links, { title: `Foreign keys of ${schema.name}` });
}

function tablePage(model: DocsModel, table: TableDoc, edges: LineageEdge[]): string {
  const id = `table:${table.schema}.${table.name}`;
  const up = edges.filter((e) => e.to === id);
  const down = edges.filter((e) => e.from === id);
  const schema = model.schemas.find((s) => s.name === table.schema)!;
  const isRaw = table.schema === model.config.rawSchema;
  const collection = isRaw
    ? model.config.collections.find((c) => c.name === table.name)
    : schema.collection;
  const history = model.counts.filter((c) =>
    c.tables[`${table.schema}.${table.name}`] !== undefined
  );
  return layout(
    model,
    `${table.schema}.${table.name}`,
    "",
    `<div class="crumbs"><a href="index.html">Overview</a> / ${
      isRaw ? esc(table.schema) : `<a href="${schemaHref(table.schema)}">${esc(table.schema)}</a>`
    } / table</div>
<h1>${esc(table.schema)}.${esc(table.name)} <small>${esc(table.kind)}, ${
      num(table.rows)
    } rows</small></h1>
<p class="lead">${esc(table.comment ?? "")}</p>
<h2>Lineage <small class="muted">one hop</small></h2>
<div class="cols2"><div class="panel"><b>Comes from</b><ul>${
      up.map((e) =>
        `<li>${nodeLink(e.from)} <span class="muted">via ${esc(e.via.join(", "))}</span></li>`
      ).join("") ||
      '<li class="muted">nothing upstream</li>'
    }</ul></div><div class="panel"><b>Feeds</b><ul>${
      down.map((e) =>
        `<li>${nodeLink(e.to)} <span class="muted">via ${esc(e.via.join(", "))}</span></li>`
      ).join("") ||
      '<li class="muted">nothing downstream</li>'
    }</ul><a href="lineage.html#${
      encodeURIComponent(id)
    }">Explore in the lineage view</a></div></div>
<h2>Columns</h2>
<table class="grid"><tr><th class="num">#</th><th>column</th><th>type</th><th>null</th><th>key</th><th>MongoDB path${
      collection ? ` <span class="muted">(${esc(collection.name)})</span>` : ""
    }</th><th>what it holds</th></tr>${
      table.columns.map((c, i) =>
        `<tr id="col-${esc(c.name)}"><td class="num">${i + 1}</td><td class="mono"><b>${
          esc(c.name)
        }</b></td><td class="mono">${esc(c.type)}</td><td>${
          c.nullable ? "yes" : "<b>not null</b>"
        }</td><td>${c.isKey ? '<span class="tag">PK</span> ' : ""}${
          c.references
            ? `<span class="tag">FK</span> → ${
              tableLink(c.references.refSchema, c.references.refTable)
            }.${esc(c.references.refColumns[c.references.columns.indexOf(c.name)] ?? "")}`
            : ""
        }</td><td>${
          c.mongoPath
            ? `<code class="path">${esc(c.mongoPath)}</code>`
            : '<span class="muted">—</span>'
        }</td><td>${esc(c.comment ?? "")}${
          c.default ? ` <span class="muted mono">default ${esc(c.default)}</span>` : ""
        }</td></tr>`
      ).join("")
    }</table>
${
      table.referencedBy.length
        ? `<h2>Referenced by</h2><ul>${
          table.referencedBy.map((k) =>
            `<li>${tableLink(k.schema, k.table)} (${
              esc(k.columns.join(", "))
            }) <span class="muted">${esc(k.name)}</span></li>`
          ).join("")
        }</ul>`
        : ""
    }
<h2>Rows over time</h2>
<div class="panel">${
      history.length
        ? lineChart(history.map((c) => c.startedAt.slice(5, 16).replace("T", " ")), [{
          name: `${table.schema}.${table.name}`,
          values: history.map((c) => c.tables[`${table.schema}.${table.name}`]!),
        }], { title: `Rows of ${table.schema}.${table.name} per run`, unit: "rows", height: 200 })
        : '<p class="muted">No run reports count this table yet.</p>'
    }</div>
${
      table.indexes.length || table.constraints.length
        ? `<h2>Indexes and constraints</h2><pre>${
          esc([...table.indexes, ...table.constraints].join("\n"))
        }</pre>`
        : ""
    }`,
  );
}

function lineagePage(model: DocsModel): string {
  return layout(
    model,
    "Lineage",
    "lineage.html",
    `<h1>Lineage <small>one hop at a time</small></h1>
<p class="lead">Where the rows of a table come from and where they go, read from the SQL files: the
table in focus is in the middle, what feeds it on the left, what it feeds on the right. Click any box
to move there; hover an arrow for the SQL files that make the link. A table's columns and their
MongoDB paths are listed below the drawing.</p>
<p class="legend-keys"><span><i style="background:#ecfdf5;border-color:#059669"></i>MongoDB collection</span><span><i style="background:#fffbeb;border-color:#d97706"></i>raw table (${
      esc(model.config.rawSchema)
    })</span><span><i style="background:#eff6ff;border-color:#2563eb"></i>table of the model</span></p>
<div id="lineage-view"><noscript>The lineage view needs JavaScript; every table page lists its lineage too.</noscript></div>
<div id="lineage-info" class="panel" style="margin-top:12px"></div>`,
  );
}

function statusStrip(history: CheckDoc[], runs: string[]): string {
  return `<span class="strip">${
    runs.map((runId) => {
      const c = history.find((h) => h.runId === runId);
      return c
        ? `<i class="${esc(c.status)} ${esc(c.severity)}" title="${
          esc(`${runId}: ${checkStatus(c)}, ${c.offending} rows`)
        }"></i>`
        : `<i title="${esc(`${runId}: not run`)}"></i>`;
    }).join("")
  }</span>`;
}

function samplesTable(samples: Record<string, unknown>[]): string {
  if (samples.length === 0) return "";
  const keys = [...new Set(samples.flatMap((s) => Object.keys(s)))];
  return `<details><summary>${samples.length} sample row(s)</summary><table class="grid"><tr>${
    keys.map((k) => `<th>${esc(k)}</th>`).join("")
  }</tr>${
    samples.map((s) =>
      `<tr>${
        keys.map((k) =>
          `<td class="mono">${esc(typeof s[k] === "object" ? JSON.stringify(s[k]) : s[k])}</td>`
        ).join("")
      }</tr>`
    ).join("")
  }</table></details>`;
}

function checksPage(model: DocsModel): string {
  const run = lastRun(model);
  const recent = model.runs.filter((r) => model.checks.some((c) => c.runId === r.runId)).slice(
    0,
    20,
  ).reverse();
  const runIds = recent.map((r) => r.runId);
  const last = run ? model.checks.filter((c) => c.runId === run.runId) : [];
  const order = { failed: 0, errored: 0, warned: 1, passed: 2 } as Record<string, number>;
  last.sort((a, b) =>
    (order[checkStatus(a)] ?? 3) - (order[checkStatus(b)] ?? 3) ||
    (a.severity === "error" ? 0 : 1) - (b.severity === "error" ? 0 : 1) ||
    a.name.localeCompare(b.name)
  );
  return layout(
    model,
    "Checks",
    "checks.html",
    `<h1>Checks <small>${
      run ? `last ${esc(run.command)} ${esc(run.runId)}, ${when(run.startedAt)} UTC` : "no run yet"
    }</small></h1>
<p class="lead">Every run ends with checks: each is a query returning the rows that break a rule. An
<b>error</b> check with rows fails the run (nothing is published); a <b>warn</b> check only reports.
The strip shows the last ${runIds.length} runs, oldest first (green passed, amber warned, red failed);
the line, the offending rows over those runs.</p>
${
      last.length
        ? `<table class="grid" id="checks"><tr><th>status</th><th>check</th><th>severity</th><th class="num">offending rows</th><th>history</th><th>what it asserts</th></tr>${
          last.map((c) => {
            const history = model.checks.filter((h) => h.name === c.name);
            return `<tr id="${esc(c.name)}" data-check="${esc(c.name)}"><td>${
              badge(checkStatus(c))
            }</td><td><b>${esc(c.name)}</b><br><span class="muted">${
              c.schema ? `<a href="${schemaHref(c.schema)}">${esc(c.schema)}</a>` : "across schemas"
            }</span></td><td>${esc(c.severity)}</td><td class="num">${num(c.offending)}</td><td>${
              statusStrip(history, runIds)
            }<br>${
              sparkline(
                runIds.map((id) => history.find((h) => h.runId === id)?.offending ?? null),
                {
                  title: `${c.name}: offending rows per run`,
                },
              )
            }</td><td>${esc(c.description ?? "")}${samplesTable(c.samples)}</td></tr>`;
          }).join("")
        }</table>`
        : `<p class="muted">No check results in ${
          esc(model.config.metaSchema)
        }.check_results yet: run <code>deno task transform</code> or <code>deno task demo</code>.</p>`
    }`,
  );
}

function runsPage(model: DocsModel): string {
  const runs = [...model.runs].reverse();
  const labels = runs.map((r) => r.startedAt.slice(5, 16).replace("T", " "));
  const stages = stackedBars(labels, [
    { name: "extract", values: runs.map((r) => r.stages.extract) },
    { name: "transform", values: runs.map((r) => r.stages.transform) },
    { name: "checks", values: runs.map((r) => r.stages.checks) },
  ], { title: "Duration per stage, per run", unit: "seconds" });
  const schemas = model.config.collections.map((c) => c.schema);
  const perSchema = lineChart(
    labels,
    schemas.map((s) => ({ name: s, values: runs.map((r) => r.schemaSeconds[s] ?? null) })),
    { title: "Transform time per schema, per run", unit: "seconds" },
  );
  const batches = [...new Set(model.extracts.map((e) => e.runId ?? e.startedAt.slice(0, 16)))]
    .reverse();
  const batchOf = (e: DocsModel["extracts"][number]) => e.runId ?? e.startedAt.slice(0, 16);
  const extractLabels = batches.map((b) =>
    (model.extracts.find((e) => batchOf(e) === b)?.startedAt ?? "").slice(5, 16).replace("T", " ")
  );
  const perCollection: Series[] = model.config.collections.map((c) => ({
    name: c.name.replace(/_mesa4core$/, ""),
    values: batches.map((b) =>
      model.extracts.find((e) => batchOf(e) === b && e.collection === c.name)?.seconds ?? null
    ),
  }));
  const countLabels = model.counts.map((c) => c.startedAt.slice(5, 16).replace("T", " "));
  const rowsCharts = model.config.collections.map((c) => {
    const tables = model.schemas.find((s) => s.name === c.schema)?.tables ?? [];
    return `<div class="panel"><b><a href="${schemaHref(c.schema)}">${esc(c.schema)}</a></b>${
      lineChart(
        countLabels,
        tables.filter((t) =>
          !["unmapped_values", "unresolvable_snapshots", "resolved_snapshots"].includes(t.name)
        )
          .map((t) => ({
            name: t.name,
            values: model.counts.map((r) => r.tables[`${t.schema}.${t.name}`] ?? null),
          })),
        { title: `Rows per table of ${c.schema} over time`, unit: "rows", width: 600, height: 200 },
      )
    }</div>`;
  });
  return layout(
    model,
    "Runs",
    "runs.html",
    `<h1>Runs <small>the last ${runs.length} recorded in ${
      esc(model.config.metaSchema)
    }</small></h1>
<p class="lead">How long each stage took, which schema or collection takes the time, and how many rows
each table holds from run to run: a slow creep or a sudden drop shows here first.</p>
<h2>Duration per stage</h2><div class="panel">${
      runs.length ? stages : '<p class="muted">No runs yet.</p>'
    }</div>
<h2>Transform time per schema</h2><div class="panel">${
      runs.length ? perSchema : '<p class="muted">No runs yet.</p>'
    }</div>
<h2>Extraction time per collection</h2><div class="panel">${
      batches.length
        ? lineChart(extractLabels, perCollection, {
          title: "Extraction time per collection",
          unit: "seconds",
        })
        : '<p class="muted">No extraction recorded yet.</p>'
    }</div>
<h2>Rows per table over time</h2>${
      model.counts.length
        ? `<div class="cols2">${rowsCharts.join("")}</div>`
        : '<p class="muted">No run reports yet (reports/runs/*/report.json).</p>'
    }
<h2 id="drift">Drift report of the last run</h2>${driftSection(model)}
<h2>Recent runs</h2>
<table class="grid"><tr><th>run</th><th>command</th><th>status</th><th>started (UTC)</th><th class="num">duration</th><th>schemas</th><th>error</th></tr>${
      model.runs.map((r) =>
        `<tr><td class="mono">${esc(r.runId)}</td><td>${esc(r.command)}</td><td>${
          badge(r.status)
        }</td><td>${when(r.startedAt)}</td><td class="num">${seconds(r.seconds)}</td><td>${
          esc(r.selected.length)
        }</td><td>${esc((r.error ?? "").split("\n")[0])}</td></tr>`
      ).join("")
    }</table>`,
  );
}

function driftSection(model: DocsModel): string {
  if (!model.drift) {
    return `<p class="muted">No drift report was recorded for the last run (no <code>drift</code> section in reports/report.json, no drift table in ${
      esc(model.config.metaSchema)
    }).</p>`;
  }
  const render = (value: unknown, depth: number): string => {
    if (Array.isArray(value)) {
      if (value.length === 0) return '<span class="muted">none</span>';
      if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
        const keys = [...new Set(value.flatMap((v) => Object.keys(v as object)))];
        return `<table class="grid"><tr>${keys.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>${
          value.slice(0, 200).map((v) =>
            `<tr>${
              keys.map((k) => {
                const cell = (v as Record<string, unknown>)[k];
                return `<td class="mono">${
                  esc(typeof cell === "object" && cell !== null ? JSON.stringify(cell) : cell)
                }</td>`;
              }).join("")
            }</tr>`
          ).join("")
        }</table>`;
      }
      return `<span class="mono">${esc(JSON.stringify(value))}</span>`;
    }
    if (value && typeof value === "object") {
      return Object.entries(value).map(([k, v]) =>
        `<div style="margin-left:${depth * 12}px"><b>${esc(k)}</b> ${render(v, depth + 1)}</div>`
      ).join("");
    }
    return `<span class="mono">${esc(typeof value === "number" ? short(value) : value)}</span>`;
  };
  return `<p class="muted">From ${esc(model.drift.source)}${
    model.drift.runId ? `, run ${esc(model.drift.runId)}` : ""
  }.</p><div class="panel" data-drift>${render(model.drift.value, 0)}</div>`;
}
