/**
 * The SQL unit tests' runner: the shipped tests pass; a transform broken on purpose fails the
 * right test with a readable diff; the sandbox leaves nothing behind and blocks no reader;
 * documents go through the extraction encoder; bad test files are named at their line.
 */
import assert from "node:assert/strict";
import { loadConfig, type PipelineConfig } from "../../../lib/core/config.ts";
import {
  findTests,
  formatResult,
  parseTestFile,
  renderTestJunit,
  runSqlTests,
  type SqlTest,
  TestFileError,
} from "../../../lib/sqltest/mod.ts";
import { inSandbox } from "../../../lib/sqltest/sandbox.ts";
import { discoverFiles } from "../../../lib/transform/sql_files.ts";
import { extractCollections } from "../../../extract/extract.ts";
import { freshDatabase, needsRealServer } from "../../support/db.ts";
import { schemaChecksums } from "../../support/checksum.ts";
import { loadRaw, transformAll } from "../../support/pipeline.ts";
import { sqlCopy } from "../../support/sql_copy.ts";

const config = await loadConfig();
const PEOPLE = config.collections.find((c) => c.schema === "lml_people")!;

function test(yaml: string, options: { config?: PipelineConfig } = {}): SqlTest {
  const [parsed] = parseTestFile(yaml, "inline.yaml", {
    config: options.config ?? config,
    collection: PEOPLE,
  });
  return parsed!;
}

Deno.test("the shipped tests of every schema pass", async () => {
  await using db = await freshDatabase();
  const tests = await findTests(config);
  const schemas = new Set(tests.map((t) => t.collection.schema));
  assert.deepEqual([...schemas].sort(), config.collections.map((c) => c.schema).sort());
  const results = await runSqlTests(db.sql, config, { tests });
  const failing = results.filter((r) => r.status !== "passed").map(formatResult);
  assert.deepEqual(failing, []);
});

Deno.test("a transform broken on purpose fails the test that covers it, with a column diff at the test's lines", async () => {
  await using copy = await sqlCopy();
  const main = `${copy.sqlDir}/lml_people/010_main.sql`;
  const text = await Deno.readTextFile(main);
  const kept = "order by e.person_id, e.email, e.is_primary desc nulls last, e.position";
  assert.ok(text.includes(kept), "the emails keep their first entry");
  await Deno.writeTextFile(main, text.replace(kept, `${kept} desc`));
  const broken = await loadConfig(copy.configPath);

  await using db = await freshDatabase();
  const results = await runSqlTests(db.sql, broken, { select: ["lml_people"] });
  const failed = results.filter((r) => r.status !== "passed");
  assert.deepEqual(failed.map((r) => `${r.test.collection.schema}/${r.test.name}`), [
    "lml_people/both_email_shapes",
  ]);
  assert.ok(results.some((r) => r.test.collection.schema === "lml_processes"), "downstream ran");

  const yaml = await Deno.readTextFile(`${copy.sqlDir}/lml_people/tests/people.yaml`);
  const lineOf = (needle: string) => yaml.split("\n").findIndex((l) => l.includes(needle)) + 1;
  const file = failed[0]!.test.file;
  const report = formatResult(failed[0]!);
  const lines = report.split("\n");
  assert.match(
    lines[0]!,
    new RegExp(`^FAIL ${file}:${lineOf("both_email_shapes:")} both_email_shapes`),
  );
  const row = lineOf("email: ana@example.com");
  assert.ok(
    lines.includes(
      `  lml_people.emails (${file}:${lineOf("    emails:")}): 1 differing (table holds 4)`,
    ),
    report,
  );
  assert.ok(lines.includes(`    row at ${file}:${row} differs:`), report);
  assert.ok(lines.some((l) => /^\s+position\s+1 → 2$/.test(l)), report);
  assert.ok(
    lines.some((l) =>
      l.includes(
        "(same: person_id=650000000000000000000001, email=ana@example.com, is_primary=NULL)",
      )
    ),
    report,
  );

  const junit = renderTestJunit(results);
  assert.match(junit, /<testcase name="both_email_shapes"[^>]*>\s*<failure message=/);
  assert.equal((junit.match(/<failure /g) ?? []).length, 1);
});

Deno.test("missing and extra rows, unexpected error checks and wrong check counts are reported", async () => {
  await using db = await freshDatabase();
  const layout = await discoverFiles(config);
  const [result] = await runSqlTests(db.sql, config, {
    tests: [test(`
t:
  given:
    lml_people_mesa4core:
      - {"_id": {"$oid": "650000000000000000000001"}, "personType": "physical", "lastName": "A"}
      - {"_id": {"$oid": "650000000000000000000002"}, "personType": "juridical", "businessName": "B"}
  expect:
    main:
      - {person_id: "650000000000000000000001"}
      - {person_id: "650000000000000000000009"}
  checks:
    lml_people_names_by_type: 1
`)],
    layout,
  });
  assert.equal(result!.status, "failed");
  const text = formatResult(result!);
  assert.match(text, /lml_people\.main \(inline\.yaml:8\): 1 missing, 1 extra \(table holds 2\)/);
  assert.match(text, /missing row \(inline\.yaml:10\): person_id=650000000000000000000009/);
  assert.match(text, /extra row: person_id=650000000000000000000002/);
  assert.match(
    text,
    /check lml_people_names_by_type \(inline\.yaml:12\): expected 1 offending row\(s\), got 0/,
  );
});

Deno.test("bad test files are named at their line: YAML, documents, columns, values, checks", async () => {
  assert.throws(
    () => test("t:\n  given: {}\n  expekt: {}\n"),
    (e) =>
      e instanceof TestFileError &&
      /inline\.yaml:3: test "t": unknown key "expekt" \(did you mean "expect"\?\)/.test(e.message),
  );
  assert.throws(
    () => test("t:\n  given:\n    lml_peple_mesa4core: []\n"),
    (e) =>
      e instanceof TestFileError &&
      /:3: .*unknown collection "lml_peple_mesa4core" \(did you mean/.test(e.message),
  );
  assert.throws(
    () => test('t:\n  given:\n    lml_people:\n      - {"_id": 0x1F}\n'),
    (e) => e instanceof TestFileError && /:4: "0x1F" is not a JSON number/.test(e.message),
  );
  await using db = await freshDatabase();
  const layout = await discoverFiles(config);
  const cases: [string, RegExp][] = [
    [
      "t:\n  given:\n    lml_people:\n      - '{\"_id\": 1, }'\n",
      /inline\.yaml:4: test "t": lml_people_mesa4core document: expected a quoted key \(character 12\)/,
    ],
    [
      't:\n  given:\n    lml_people:\n      - {"personType": "physical"}\n',
      /inline\.yaml:4: .*the document has no _id/,
    ],
    [
      't:\n  given:\n    lml_people:\n      - {"_id": "a"}\n  expect:\n    main:\n      - {person_idd: a}\n',
      /inline\.yaml:7: lml_people\.main has no column "person_idd" \(did you mean "person_id"\?\)/,
    ],
    [
      't:\n  given:\n    lml_people:\n      - {"_id": "a"}\n  expect:\n    phones:\n      - {position: first}\n',
      /inline\.yaml:7: "first" is not a valid integer for lml_people\.phones\.position/,
    ],
    [
      't:\n  given:\n    lml_people:\n      - {"_id": "a"}\n  expect:\n    phone:\n      - {}\n',
      /inline\.yaml:6: no table lml_people\.phone after the build \(did you mean "phones"\?\)/,
    ],
    [
      't:\n  given:\n    lml_people:\n      - {"_id": "a"}\n  checks:\n    lml_people_names_by_tipe: 0\n',
      /inline\.yaml:6: .*no check "lml_people_names_by_tipe" .*\(did you mean "lml_people_names_by_type"\?\)/,
    ],
  ];
  for (const [yaml, pattern] of cases) {
    const [result] = await runSqlTests(db.sql, config, { tests: [test(yaml)], layout });
    assert.equal(result!.status, "errored", yaml);
    assert.match(result!.error!.message, pattern);
  }
});

Deno.test("an error check that offends without being named fails the test", async () => {
  await using db = await freshDatabase();
  const [result] = await runSqlTests(db.sql, config, {
    tests: [test(`
t:
  given:
    lml_people_mesa4core:
      - {"_id": {"$oid": "650000000000000000000001"}, "createdAt": {"$date": "2999-01-01T00:00:00Z"}}
`)],
  });
  assert.equal(result!.status, "failed");
  assert.match(
    formatResult(result!),
    /check lml_people_no_future_timestamps: error check offends with 2 row\(s\)/,
  );
});

Deno.test("documents reach lml_raw exactly as extraction stores them (Int64, Decimal128, Timestamp, ObjectId, dates)", async () => {
  const lines = [
    '{"_id": {"$oid": "650000000000000000000001"}, "big": {"$numberLong": "9007199254740993"}, "small": {"$numberLong": "42"}, "dec": {"$numberDecimal": "1234.5000"}, "ts": {"$timestamp": {"t": 1620123630, "i": 7}}, "ref": {"$oid": "60000000000000000000ABCD"}, "d": {"$date": "2021-05-04T07:20:30.123-03:00"}, "old": {"$date": {"$numberLong": "-1"}}, "dbl": 1.0, "neg0": -0.0, "s": "a\\u0000b"}',
    '{"_id": "plain-string-id", "n": 12345678901234567890}',
    '{"_id": {"$numberLong": "77"}, "x": 1}',
  ];
  const dir = await Deno.makeTempDir({ prefix: "lml_sqltest_encoder_" });
  try {
    await Deno.mkdir(`${dir}/mesa4core`);
    await Deno.writeTextFile(`${dir}/mesa4core/${PEOPLE.name}.json`, lines.join("\n") + "\n");
    await using extracted = await freshDatabase();
    const [outcome] = await extractCollections(extracted.sql, config, {
      source: dir,
      select: [PEOPLE.name],
    });
    assert.equal(outcome!.status, "succeeded", outcome!.error);
    const stored = await extracted.sql<{ _id: string; doc: string; original: string | null }[]>`
      select _id, doc::text as doc, encode(original, 'hex') as original
      from lml_raw.lml_people_mesa4core order by _id`;

    await using db = await freshDatabase();
    const yaml = `t:\n  given:\n    ${PEOPLE.name}:\n${
      lines.map((l) => `      - ${JSON.stringify(l)}\n`).join("")
    }`;
    const sandboxed = await inSandbox(
      { sql: db.sql, config, layout: await discoverFiles(config), test: test(yaml) },
      (tx) =>
        tx<{ _id: string; doc: string; original: string | null }[]>`
          select _id, doc::text as doc, encode(original, 'hex') as original
          from lml_raw.lml_people_mesa4core order by _id`,
    );
    assert.deepEqual(sandboxed.map((r) => ({ ...r })), stored.map((r) => ({ ...r })));
    assert.ok(stored.some((r) => r.original !== null), "the U+0000 document keeps its BSON");
    assert.ok(stored.some((r) => r._id === '{"$numberLong":"77"}'));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the sandbox leaves the real data as it was and never blocks its readers",
  ...needsRealServer,
  fn: async () => {
    await using db = await freshDatabase();
    await loadRaw(db.sql, {
      [PEOPLE.name]: [{
        _id: { $oid: "650000000000000000000042" },
        personType: "physical",
        lastName: "Real",
      }],
    });
    await transformAll(db.sql);
    const schemas = [
      config.rawSchema,
      config.utilSchema,
      ...config.collections.map((c) => c.schema),
    ];
    const before = await schemaChecksums(db.sql, schemas);
    const namespaces = () =>
      db.sql<{ name: string }[]>`select nspname::text as name from pg_namespace order by 1`;
    const namesBefore = await namespaces();

    // While a test's sandbox is open, another session reads (and locks for reading) the real tables.
    const reader = (await import("../../../lib/core/db.ts")).connect(db.url, { max: 1 });
    try {
      const seen = await inSandbox(
        {
          sql: db.sql,
          config,
          layout: await discoverFiles(config),
          test: test(
            `t:\n  given:\n    lml_people:\n      - {"_id": {"$oid": "650000000000000000000001"}, "lastName": "Test"}\n`,
          ),
        },
        async (tx) => {
          const inside = await tx<{ last_name: string }[]>`select last_name from lml_people.main`;
          const outside = await reader.begin(async (other) => {
            await other`set local lock_timeout = '2s'`;
            return await other<{ last_name: string }[]>`select last_name from lml_people.main`;
          });
          return {
            inside: inside.map((r) => r.last_name),
            outside: outside.map((r) => r.last_name),
          };
        },
      );
      assert.deepEqual(seen, { inside: ["Test"], outside: ["Real"] });
    } finally {
      await reader.end();
    }
    assert.deepEqual(await schemaChecksums(db.sql, schemas), before);
    assert.deepEqual(await namespaces(), namesBefore);
  },
});

Deno.test("rows compare in any order unless the table asks for an order", async () => {
  await using db = await freshDatabase();
  const layout = await discoverFiles(config);
  const phones = (order: string) => `
t:
  given:
    lml_people_mesa4core:
      - {"_id": "p", "phones": [{"number": "1"}, {"number": "2"}, {"number": "3"}]}
  expect:
    phones:${order}
`;
  const rows = (numbers: string[], indent: string) =>
    numbers.map((n) => `\n${indent}- {number: "${n}"}`).join("");
  const [any] = await runSqlTests(db.sql, config, {
    tests: [test(phones(rows(["3", "1", "2"], "      ")))],
    layout,
  });
  assert.equal(any!.status, "passed", formatResult(any!));
  const ordered = `\n      ordered: true\n      rows:${rows(["3", "1", "2"], "        ")}`;
  const [wrong] = await runSqlTests(db.sql, config, { tests: [test(phones(ordered))], layout });
  assert.equal(wrong!.status, "failed");
  assert.match(formatResult(wrong!), /number\s+3 → 1/);
  const byPosition = `\n      order_by: [position]\n      rows:${
    rows(["1", "2", "3"], "        ")
  }`;
  const [right] = await runSqlTests(db.sql, config, { tests: [test(phones(byPosition))], layout });
  assert.equal(right!.status, "passed", formatResult(right!));
});
