/**
 * The catalog site's content, without a browser: Mongo paths read from comments, lineage read
 * from the SQL files, and a site built after the demo that holds every table and column, its
 * foreign keys, the checks, the runs, the drift report, and nothing fetched from outside.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../../lib/core/config.ts";
import { lineageGraph, mongoPathOf } from "../../../lib/docs/mod.ts";
import { buildDocs } from "../../../lib/docs/mod.ts";
import { discoverFiles } from "../../../lib/transform/sql_files.ts";
import { demoDocsSite } from "../../support/docs_site.ts";

Deno.test("mongoPathOf() reads the MongoDB path the way sql/ writes column comments", () => {
  const cases: [string | null, string | null][] = [
    ["The document _id.", "_id"],
    ["The document _id (24-hex ObjectId, or the string id).", "_id"],
    ["Position (from 1) in movements[].", "movements[]"],
    ["Position (from 1) of the kept entry in emails[].", "emails[]"],
    ["createdAt, else the ObjectId time of _id.", "createdAt"],
    ["movements[].from._id (FK to lml_users.areas).", "movements[].from._id"],
    ["roles[]._id (24-hex).", "roles[]._id"],
    ["defaultSort.field.", "defaultSort.field"],
    [
      "legalRepresentative._id when that person exists (FK to lml_people.main).",
      "legalRepresentative._id",
    ],
    ["entity: the collection the list shows", "entity"],
    ["username; unique among non-deleted real users.", "username"],
    ["Mongo path: createdAt, updatedAt or lastLogin.", null],
    ["True for a user referenced by some snapshot", null],
    ["The person (FK).", null],
    [null, null],
  ];
  for (const [comment, path] of cases) assert.equal(mongoPathOf(comment), path, String(comment));
});

Deno.test("lineage is read from the SQL statements: raw → tables, lookups, ghosts and catalogs through the helpers", async () => {
  const config = await loadConfig();
  const layout = await discoverFiles(config);
  const tables = [
    ...config.collections.map((c) => `${config.rawSchema}.${c.name}`),
    "lml_users.main",
    "lml_users.areas",
    "lml_users.roles",
    "lml_users.user_roles",
    "lml_people.main",
    "lml_people.emails",
    "lml_processtypes.main",
    "lml_processes.main",
    "lml_processes.movements",
    "lml_processes.attachments",
  ];
  const { nodes, edges } = lineageGraph({
    rawSchema: config.rawSchema,
    utilSchema: config.utilSchema,
    collections: config.collections,
    tables,
    shared: layout.shared.map((f) => ({ path: f.relativePath, text: f.text })),
    files: layout.schemas.map((s) => ({
      schema: s.schema,
      files: s.files.map((f) => ({ path: f.relativePath, text: f.text })),
    })),
  });
  const has = (from: string, to: string, via?: string) =>
    edges.some((e) => e.from === from && e.to === to && (via === undefined || e.via.includes(via)));
  assert.ok(
    has("mongo:lml_processes_mesa4core", "table:lml_raw.lml_processes_mesa4core", "extract"),
  );
  assert.ok(
    has(
      "table:lml_raw.lml_processes_mesa4core",
      "table:lml_processes.main",
      "sql/lml_processes/010_main.sql",
    ),
  );
  assert.ok(has("table:lml_people.main", "table:lml_processes.main"), "the applicant lookup");
  assert.ok(
    has(
      "table:lml_processes.main",
      "table:lml_processes.movements",
      "sql/lml_processes/020_movements.sql",
    ),
  );
  assert.ok(
    has(
      "table:lml_raw.lml_processes_mesa4core",
      "table:lml_users.main",
      "sql/lml_processes/080_ghosts.sql",
    ),
    "ghost users",
  );
  assert.ok(
    has(
      "table:lml_raw.lml_processes_mesa4core",
      "table:lml_users.areas",
      "sql/lml_processes/080_ghosts.sql",
    ),
    "area catalog",
  );
  assert.ok(
    has(
      "table:lml_raw.lml_users_mesa4core",
      "table:lml_users.roles",
      "sql/lml_users/020_catalogs.sql",
    ),
    "through a temporary table",
  );
  assert.ok(
    !has("table:lml_people.main", "table:lml_processes.movements"),
    "a temporary table only written to is not read",
  );
  assert.ok(!edges.some((e) => e.from === e.to));
  assert.equal(nodes.filter((n) => n.kind === "collection").length, config.collections.length);
});

Deno.test("deno task docs after the demo: every table and column, keys, lineage, checks, runs, drift, offline", async () => {
  await using site = await demoDocsSite();
  const dir = site.docs.dir;
  const read = (page: string) => Deno.readTextFile(`${dir}/${page}`);
  const { db, config } = site;

  const tables = await db.sql<{ schema: string; name: string }[]>`
    select table_schema::text as schema, table_name::text as name from information_schema.tables
    where table_schema = any(${[
    config.rawSchema,
    ...config.collections.map((c) => c.schema),
  ]}::text[])`;
  for (const t of tables) {
    assert.ok(
      site.docs.pages.includes(`table-${t.schema}.${t.name}.html`),
      `${t.schema}.${t.name}`,
    );
  }
  for (const c of config.collections) {
    assert.ok(site.docs.pages.includes(`schema-${c.schema}.html`));
  }

  const movements = await read("table-lml_processes.movements.html");
  const [{ rows }] = await db.sql<
    [{ rows: string }]
  >`select count(*) as rows from lml_processes.movements`;
  assert.match(movements, new RegExp(`${Number(rows).toLocaleString("en-US")} rows`));
  assert.match(
    movements,
    /<b>moved_at<\/b><\/td><td class="mono">timestamp with time zone<\/td><td>yes<\/td><td><\/td><td><code class="path">movements\[\]\.at<\/code>/,
  );
  assert.match(
    movements,
    /<span class="tag">FK<\/span> → <a href="table-lml_users\.areas\.html">lml_users\.areas<\/a>\.area_id/,
  );
  assert.match(
    movements,
    /<a href="table-lml_processes\.main\.html">lml_processes\.main<\/a> <span class="muted">via sql\/lml_processes\/020_movements\.sql/,
  );

  // The ER diagram of a schema draws every foreign key of its tables.
  const [{ fks }] = await db.sql<[{ fks: number }]>`
    select count(*)::int as fks from pg_constraint c join pg_namespace n on n.oid = c.connamespace
    where c.contype = 'f' and n.nspname = 'lml_processes'`;
  const schemaPage = await read("schema-lml_processes.html");
  assert.equal((schemaPage.match(/<path class="edge fk"/g) ?? []).length, fks);
  assert.match(schemaPage, /data-table="lml_users\.main"/);

  // Search index: every column, with its Mongo path.
  const data = await read("assets/data.js");
  const docs = JSON.parse(data.replace(/^window\.LML_DOCS = /, "").replace(/;\n$/, ""));
  const [{ columns }] = await db.sql<[{ columns: number }]>`
    select count(*)::int as columns from information_schema.columns
    where table_schema = any(${[
    config.rawSchema,
    ...config.collections.map((c) => c.schema),
  ]}::text[])`;
  assert.equal(docs.index.filter((e: { kind: string }) => e.kind === "column").length, columns);
  assert.ok(
    docs.index.some((e: { name: string; detail: string }) =>
      e.name === "lml_people.main.legal_representative_ref" &&
      e.detail.includes("from legalRepresentative")
    ),
  );

  // Checks of the last run with history over both runs; the runs with their charts.
  const checks = await read("checks.html");
  const [{ count: lastChecks }] = await db.sql<[{ count: number }]>`
    select count(*)::int as count from lml_meta.check_results
    where run_id = (select run_id from lml_meta.runs order by started_at desc limit 1)`;
  assert.equal((checks.match(/ data-check="/g) ?? []).length, lastChecks);
  assert.equal(
    (checks.match(/<span class="strip">(?:<i class="[a-z]+ [a-z]+"[^>]*><\/i>){2}<\/span>/g) ?? [])
      .length,
    lastChecks,
  );
  const runs = await read("runs.html");
  assert.equal((runs.match(/data-chart="bars"/g) ?? []).length, 1);
  assert.ok((runs.match(/<rect class="bar"/g) ?? []).length >= 4, "two runs, stages stacked");
  assert.match(runs, /No drift report was recorded for the last run/);

  // Owner-only, as every report (reports.private defaults to true): samples may be personal.
  assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  assert.equal((await Deno.stat(`${dir}/checks.html`)).mode! & 0o777, 0o600);

  // Nothing is fetched from outside: no URL to another host in any file.
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile) continue;
    const text = await read(entry.name);
    assert.doesNotMatch(text, /(src|href)="(https?:)?\/\//, entry.name);
  }
  for (const asset of ["style.css", "app.js"]) {
    assert.doesNotMatch(await read(`assets/${asset}`), /https?:\/\/(?!www\.w3\.org)/, asset);
  }

  // A drift report in the last report.json is shown.
  const report = JSON.parse(await Deno.readTextFile(`${site.reports}/report.json`));
  report.drift = {
    new_paths: [{ collection: "lml_people_mesa4core", path: "nickname", documents: 3 }],
  };
  await Deno.writeTextFile(`${site.reports}/report.json`, JSON.stringify(report));
  await buildDocs(db.sql, config, { reportsDir: site.reports });
  const drifted = await read("runs.html");
  assert.match(
    drifted,
    /<div class="panel" data-drift><div[^>]*><b>new_paths<\/b> <table class="grid"><tr><th>collection<\/th><th>path<\/th><th>documents<\/th><\/tr><tr><td class="mono">lml_people_mesa4core<\/td><td class="mono">nickname<\/td>/,
  );
  assert.match(await read("index.html"), /recorded a <a href="runs\.html#drift">drift report<\/a>/);
});
