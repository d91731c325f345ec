/**
 * The catalog site in a real browser (Debian's Chromium, headless, driven by playwright-core):
 * built after the demo, opened from file:// and over `serve --docs`; pages, search, lineage and
 * charts render with the expected content and no console error. Screenshots go to
 * reports/screenshots/ for people to look at.
 */
import assert from "node:assert/strict";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { serveDocs } from "../../../lib/docs/mod.ts";
import { CHROMIUM_ARGS, findChromium } from "../../support/chromium.ts";
import { demoDocsSite } from "../../support/docs_site.ts";

const browser = await findChromium();
const SHOTS = new URL("../../../reports/screenshots/", import.meta.url).pathname;

if ("reason" in browser) {
  console.error(`skipped: the browser test needs Chromium: ${browser.reason}`);
}

/** A headless Chromium with a fresh profile; every console error and page error is collected. */
async function openBrowser(): Promise<
  { context: BrowserContext; page: Page; errors: string[] } & AsyncDisposable
> {
  const profile = await Deno.makeTempDir({ prefix: "lml_chromium_" });
  const context = await chromium.launchPersistentContext(profile, {
    headless: true,
    executablePath: (browser as { path: string }).path,
    args: CHROMIUM_ARGS,
    viewport: { width: 1360, height: 900 },
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
  page.on("requestfailed", (request) => errors.push(`${request.url()}: request failed`));
  return {
    context,
    page,
    errors,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SHOTS, { recursive: true });
  await page.evaluate("window.scrollTo(0, 0)"); // the sticky header stays on top
  await page.screenshot({ path: `${SHOTS}docs-${name}.png`, fullPage: true });
}

Deno.test({
  name:
    "the catalog site renders in Chromium: pages, search, lineage one hop at a time, charts, no console error",
  ignore: "reason" in browser,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using site = await demoDocsSite();
    await using b = await openBrowser();
    const { page, errors } = b;
    const base = `file://${await Deno.realPath(site.docs.dir)}`;
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));

    // Overview: the schemas, the dependency graph, the last run.
    await page.goto(`${base}/index.html`);
    assert.equal(
      await page.locator("h1").first().innerText().then((t) => t.split("\n")[0]),
      site.db.name + " the relational model built from MongoDB",
    );
    const schemaRows = page.locator("table.grid tr td:first-child a b");
    assert.deepEqual(
      await schemaRows.allInnerTexts(),
      site.config.collections.map((c) => c.schema),
    );
    assert.equal(
      await page.locator('svg[data-chart="graph"] g.node').count(),
      site.config.collections.length,
    );
    assert.match(await page.locator(".cards").innerText(), /succeeded/);
    await shot(page, "overview");

    // Search: a table by name, a column by its Mongo path; Enter opens the first hit.
    await page.fill("#search", "movements");
    await page.waitForSelector("#search-results.open a");
    const hits = await page.locator("#search-results a").allInnerTexts();
    assert.match(hits[0]!, /^table\s*lml_processes\.movements/i);
    await page.fill("#search", "legalRepresentative");
    await page.waitForSelector("#search-results.open a");
    const byPath = await page.locator("#search-results a").allInnerTexts();
    assert.ok(
      byPath.some((h) => /lml_people\.main\.legal_representative_ref/.test(h)),
      byPath.join("\n"),
    );
    await shot(page, "search");
    await page.fill("#search", "moved_at");
    await page.waitForSelector("#search-results.open a");
    await page.press("#search", "Enter");
    await page.waitForURL(/table-lml_processes\.movements\.html#col-moved_at$/);
    const row = page.locator("#col-moved_at");
    assert.match(
      await row.innerText(),
      /moved_at\s+timestamp with time zone\s+yes\s+movements\[\]\.at/,
    );
    assert.ok((await page.locator('svg[data-chart="line"] circle').count()) >= 2, "rows over time");
    await shot(page, "table");

    // Schema page: the ER diagram with every table of the schema and the tables it points to.
    await page.goto(`${base}/schema-lml_processes.html`);
    const er = page.locator('svg[data-chart="er"]');
    assert.deepEqual(
      (await er.locator("g.er-table").evaluateAll((gs) =>
        gs.map((g) => g.getAttribute("data-table"))
      )).sort(),
      [
        "lml_people.main",
        "lml_processes.attachments",
        "lml_processes.main",
        "lml_processes.movements",
        "lml_processes.resolved_snapshots",
        "lml_processes.unmapped_values",
        "lml_processes.unresolvable_snapshots",
        "lml_processtypes.main",
        "lml_users.areas",
        "lml_users.main",
      ],
    );
    assert.ok((await er.locator("path.fk").count()) >= 10);
    await shot(page, "schema");

    // Lineage, one hop at a time: movements ← raw ← MongoDB collection, by clicking.
    await page.goto(`${base}/lineage.html#${encodeURIComponent("table:lml_processes.movements")}`);
    const view = page.locator('#lineage-view svg[data-chart="lineage"]');
    await view.waitFor();
    const focus = () => view.locator("g.lnode.focus").getAttribute("data-node");
    assert.equal(await focus(), "table:lml_processes.movements");
    const upstream = await view.locator("g.lnode:not(.focus)").evaluateAll((gs) =>
      gs.map((g) => g.getAttribute("data-node"))
    );
    assert.ok(upstream.includes("table:lml_raw.lml_processes_mesa4core"), upstream.join(", "));
    assert.ok(upstream.includes("table:lml_processes.main"));
    assert.ok(!upstream.includes("mongo:lml_processes_mesa4core"), "one hop only");
    assert.match(
      await page.locator("#lineage-info").innerText(),
      /moved_by_user_id\s+text\s+movements\[\]\.by\._id/,
    );
    await shot(page, "lineage");
    await view.locator('g.lnode[data-node="table:lml_raw.lml_processes_mesa4core"]').click();
    await page.waitForFunction(() =>
      decodeURIComponent(location.hash) === "#table:lml_raw.lml_processes_mesa4core"
    );
    assert.equal(await focus(), "table:lml_raw.lml_processes_mesa4core");
    await view.locator('g.lnode[data-node="mongo:lml_processes_mesa4core"]').click();
    assert.equal(await focus(), "mongo:lml_processes_mesa4core");
    assert.ok(
      (await view.locator("g.lnode").count()) <= 3,
      "a collection feeds its raw table only",
    );

    // Checks: the last run with history; runs: the charts.
    await page.goto(`${base}/checks.html`);
    const checks = await page.locator("tr[data-check]").count();
    assert.ok(checks > 30);
    assert.equal(await page.locator('tr[data-check] svg[data-chart="spark"]').count(), checks);
    assert.ok((await page.locator(".badge.passed").count()) > 0);
    await shot(page, "checks");
    await page.goto(`${base}/runs.html`);
    assert.ok((await page.locator('svg[data-chart="bars"] rect.bar').count()) >= 4);
    assert.ok(
      (await page.locator('svg[data-chart="line"]').count()) >= 2 + site.config.collections.length,
    );
    const box = await page.locator('svg[data-chart="bars"]').boundingBox();
    assert.ok(box && box.width > 300 && box.height > 150, "the chart is drawn at a readable size");
    await shot(page, "runs");

    // Every request stayed on the machine (file:// pages and their assets).
    assert.deepEqual(requests.filter((u) => !u.startsWith("file://")), []);

    // The same site over `serve --docs`.
    const server = serveDocs(site.docs.dir, { port: 0 });
    try {
      const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
      await page.goto(url);
      assert.equal(
        await page.locator('svg[data-chart="graph"] g.node').count(),
        site.config.collections.length,
      );
      const missing = await page.goto(`${url}../../etc/passwd`);
      assert.equal(missing?.status(), 404);
    } finally {
      await server.shutdown();
    }
    assert.deepEqual(errors.filter((e) => !/etc\/passwd|404/.test(e)), []);
  },
});
