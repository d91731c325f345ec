import assert from "node:assert/strict";
import { createLogger } from "../../../lib/core/log.ts";
import { truncate } from "../../../lib/core/text.ts";
import { runTransforms } from "../../../lib/transform/run.ts";
import { freshDatabase } from "../../support/db.ts";
import { loadRaw, makeFixture, RAW } from "../../support/pipeline_fixture.ts";
import { LONG_NAME, NASTY } from "../../support/nasty.ts";

const LONG_NAMES_CHECK = `-- check: long_names
-- severity: warn
-- description: names longer than 300 characters
select person_id, name from f_people.main where length(name) > 300;
`;

Deno.test("truncate() cuts by code point, never inside a surrogate pair", () => {
  const cut = truncate(LONG_NAME, 301);
  assert.ok(cut.isWellFormed());
  assert.equal(Array.from(cut).length, 301);
  assert.ok(cut.endsWith("😀…"), cut.slice(-4));
  assert.ok(truncate(NASTY.pair, 2).isWellFormed());
});

Deno.test("check samples with a surrogate pair at the cut are recorded in the ledger", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture({ "f_people/checks/long_names.sql": LONG_NAMES_CHECK });
  await loadRaw(db.sql, {
    ...RAW,
    people_src: [["p1", { name: LONG_NAME, owner: "u1" }], ...RAW.people_src!.slice(1)],
  });
  const result = await runTransforms(db.sql, fx.config, { runId: "emoji" });
  assert.equal(result.status, "succeeded", result.error?.message);
  const [row] = await db.sql`
    select c.status, c.samples->0->>'name' as name, r.status as run_status
    from lml_meta.check_results c join lml_meta.runs r using (run_id)
    where c.check_name = 'long_names'`;
  assert.equal(row!.status, "failed");
  assert.equal(row!.run_status, "succeeded");
  assert.ok(row!.name.endsWith("😀…"), row!.name.slice(-5));
});

Deno.test("a committed run whose ledger write fails stays succeeded, with its status recorded", async () => {
  await using db = await freshDatabase();
  await using fx = await makeFixture();
  await loadRaw(db.sql);
  assert.equal((await runTransforms(db.sql, fx.config)).status, "succeeded");
  // A real fault in the ledger: check_results refuses every row from now on.
  await db.sql.unsafe(`
    create function lml_meta.refuse() returns trigger language plpgsql as
      $$ begin raise exception 'ledger disk full'; end $$;
    create trigger refuse before insert on lml_meta.check_results
      for each row execute function lml_meta.refuse();
  `);
  await db.sql`update lml_raw.people_src set doc = doc || '{"name": "Renamed"}' where _id = 'p1'`;
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (l) => lines.push(l) });
  const result = await runTransforms(db.sql, fx.config, { runId: "partial", logger });
  assert.equal(result.status, "succeeded", result.error?.message);
  const [run] = await db.sql`select status, error from lml_meta.runs where run_id = 'partial'`;
  assert.equal(run!.status, "succeeded");
  const [files] = await db.sql`
    select count(*)::int as n from lml_meta.run_files where run_id = 'partial'`;
  assert.equal(files!.n, 0, "the full record was rolled back as a whole");
  const [person] = await db.sql`select name from f_people.main where person_id = 'p1'`;
  assert.equal(person!.name, "Renamed", "the data was published");
  assert.ok(lines.some((l) => /could not be recorded.*ledger disk full/.test(l)), lines.join());

  // Even the runs row refuses: the run still resolves succeeded and the logger says why.
  await db.sql.unsafe(`
    create trigger refuse_runs before update on lml_meta.runs
      for each row when (new.status <> 'running') execute function lml_meta.refuse();
  `);
  const lost: string[] = [];
  const last = await runTransforms(db.sql, fx.config, {
    runId: "unrecorded",
    logger: createLogger({ format: "json", write: (l) => lost.push(l) }),
  });
  assert.equal(last.status, "succeeded", last.error?.message);
  assert.ok(
    lost.some((l) => /"level":"error".*ledger could not record it/.test(l)),
    lost.join("\n"),
  );
});
