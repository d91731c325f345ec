import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "../../../lib/core/db.ts";
import { runDemo } from "../../../lib/commands/demo.ts";
import { startEmbedded } from "../../../lib/embedded/database.ts";

Deno.test("runDemo() extracts, transforms and reports a small sample on the embedded PostgreSQL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lml_demo_test_" });
  try {
    const dataDir = join(dir, "pgdata");
    const reportsDir = join(dir, "reports");
    const printed: string[] = [];
    const result = await runDemo({
      scale: 0.01,
      seed: 3,
      dataDir,
      reportsDir,
      print: (line) => printed.push(line),
    });
    assert.equal(result.isEmbedded, true);
    assert.equal(result.transform.status, "succeeded");
    assert.ok(result.extract.every((r) => r.status === "succeeded"));
    for (const r of result.extract) {
      assert.equal(
        r.documents,
        result.manifest.collections[r.collection]?.documents,
        `documents extracted from ${r.collection}`,
      );
    }
    assert.ok((await Deno.stat(join(reportsDir, "report.md"))).isFile);
    assert.match(
      printed.join("\n"),
      /deno task serve[\s\S]*psql postgres:\/\/postgres@127\.0\.0\.1:54329\/postgres/,
    );

    // The data stays in the data directory for `deno task serve`.
    await using server = await startEmbedded({ dataDir });
    const sql = connect(server.url, { max: 1 });
    try {
      const [row] = await sql`select count(*)::int as n from lml_users.main`;
      const users = result.manifest.collections["lml_users_mesa4core"]?.documents ?? 0;
      assert.ok(users > 0);
      assert.ok(row!.n >= users, "every extracted user (plus ghosts) is in lml_users.main");
    } finally {
      await sql.end();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
