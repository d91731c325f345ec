import assert from "node:assert/strict";
import { ConfigError } from "../../../lib/core/errors.ts";
import {
  discoverFiles,
  locate,
  locateError,
  parseCheckHeader,
  splitStatements,
} from "../../../lib/transform/sql_files.ts";
import { makeFixture } from "../../support/pipeline_fixture.ts";

Deno.test("splitStatements() splits at top-level semicolons only", () => {
  const text = [
    "-- header line; not a statement",
    "select 'a;b', \"odd;name\" from t; /* c; /* nested; */ still; */",
    "select E'it\\'s; here' as x;",
    "create function f() returns int language plpgsql as $body$",
    "begin return 1; end $body$;",
    "select $$;$$, a$b from t2;",
    "create or replace procedure p() language sql begin atomic insert into t values (1); end;",
    "select (1;",
    "-- trailing comment only",
  ].join("\n");
  const statements = splitStatements(text);
  assert.deepEqual(statements.map((s) => s.text), [
    "select 'a;b', \"odd;name\" from t",
    "select E'it\\'s; here' as x",
    "create function f() returns int language plpgsql as $body$\nbegin return 1; end $body$",
    "select $$;$$, a$b from t2",
    "create or replace procedure p() language sql begin atomic insert into t values (1); end",
    "select (1;\n-- trailing comment only",
  ]);
  assert.deepEqual(statements.map((s) => s.line), [2, 3, 4, 6, 7, 8]);
  for (const s of statements) assert.equal(text.slice(s.offset, s.offset + s.text.length), s.text);
});

Deno.test("splitStatements() drops comment-only input", () => {
  assert.deepEqual(splitStatements("-- nothing\n/* at all; */\n;\n"), []);
});

Deno.test("locate() counts lines and characters, not UTF-16 units", () => {
  const text = "ab\n😀x y\n";
  assert.deepEqual(locate(text, text.indexOf("y")), { line: 2, column: 4 });
  assert.deepEqual(locate(text, 0), { line: 1, column: 1 });
});

Deno.test("locateError() maps a PostgreSQL position to file line and column with a caret", () => {
  const text = "-- header\nselect 1;\nselect 😀 as a,\n  nope(1) as b;\n";
  const [, second] = splitStatements(text);
  const position = [...second!.text].indexOf("n") + 1; // characters, 1-based
  const error = locateError({ path: "/x/sql/s/010_a.sql", text }, second!.offset, {
    message: "function nope(integer) does not exist",
    code: "42883",
    position: String(position),
    hint: "No function matches the given name and argument types.",
  }, { sent: second!.text });
  assert.equal(error.name, "SqlFileError");
  assert.equal(error.line, 4);
  assert.equal(error.column, 3);
  assert.equal(error.code, "42883");
  // The hint is the error's own, printed once by the command line under the message.
  assert.equal(error.hint, "No function matches the given name and argument types.");
  assert.equal(
    error.message,
    "/x/sql/s/010_a.sql:4:3: function nope(integer) does not exist\n" +
      "    nope(1) as b;\n" +
      "    ^",
  );
});

Deno.test("parseCheckHeader() reads name, severity and description", () => {
  const header = parseCheckHeader(
    "-- check: no_blank_names\n-- severity: warn\n-- description: names are set\nselect 1",
    "c.sql",
  );
  assert.deepEqual(header, {
    name: "no_blank_names",
    severity: "warn",
    description: "names are set",
  });
});

Deno.test("parseCheckHeader() rejects an unknown severity with its line", () => {
  assert.throws(
    () => parseCheckHeader("-- check: a\n-- severity: fatal\n-- description: d\nselect 1", "c.sql"),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.file, "c.sql");
      assert.equal(error.line, 2);
      assert.match(error.message, /unknown severity "fatal"/);
      return true;
    },
  );
});

Deno.test("parseCheckHeader() rejects a missing header, a bad name and an unknown key", () => {
  assert.throws(() => parseCheckHeader("select 1", "c.sql"), /missing check header "-- check/);
  assert.throws(
    () => parseCheckHeader("-- check: Bad-Name\n-- severity: error\n-- description: d\n", "c.sql"),
    /c\.sql:1: check name "Bad-Name" must be snake_case/,
  );
  assert.throws(
    () => parseCheckHeader("-- check: a\n-- severty: error\n-- description: d\n", "c.sql"),
    /c\.sql:2: unknown check header "severty" \(did you mean "severity"\?\)/,
  );
});

Deno.test("discoverFiles() orders schemas by dependency and files by name", async () => {
  await using fx = await makeFixture({
    "f_orders/005_first.sql": "-- Comes first.\nselect 1;\n",
    "f_people/checks/no_blank_names.sql":
      "-- check: no_blank_names\n-- severity: error\n-- description: d\nselect 1 where false;\n",
    "_checks/orders_have_people.sql":
      "-- check: orders_have_people\n-- severity: warn\n-- description: d\nselect 1 where false\n",
    "f_peple/010_typo.sql": "select 1;\n",
  });
  const layout = await discoverFiles(fx.config);
  assert.deepEqual(layout.shared.map((f) => f.relativePath), ["sql/_shared/000_util.sql"]);
  assert.deepEqual(
    layout.schemas.map((s) => [s.schema, s.files.map((f) => f.relativePath)]),
    [
      ["f_users", ["sql/f_users/010_main.sql"]],
      ["f_people", ["sql/f_people/010_main.sql"]],
      ["f_orders", [
        "sql/f_orders/005_first.sql",
        "sql/f_orders/010_main.sql",
        "sql/f_orders/020_totals.sql",
      ]],
    ],
  );
  assert.equal(layout.schemas[0]!.files[0]!.description, "Users: one row per document.");
  assert.deepEqual(layout.checks.map((c) => [c.name, c.schema, c.query]), [
    ["no_blank_names", "f_people", "select 1 where false"],
    ["orders_have_people", undefined, "select 1 where false"],
  ]);
  assert.equal(layout.warnings.length, 1);
  assert.match(layout.warnings[0]!, /f_peple\/ matches no collection .*did you mean "f_people"/);
});

Deno.test("discoverFiles() rejects a check name used twice, even outside the selection", async () => {
  const check = "-- check: same_name\n-- severity: error\n-- description: d\nselect 1;\n";
  await using fx = await makeFixture({ "f_users/checks/a.sql": check, "_checks/b.sql": check });
  await assert.rejects(
    () => discoverFiles(fx.config, { collections: [fx.config.collections[2]!] }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /duplicate check name "same_name"/);
      assert.equal(error.line, 1);
      return true;
    },
  );
});

Deno.test("discoverFiles() rejects a check file with two statements", async () => {
  await using fx = await makeFixture({
    "_checks/two.sql":
      "-- check: two\n-- severity: warn\n-- description: d\nselect 1;\nselect 2;\n",
  });
  await assert.rejects(
    () => discoverFiles(fx.config),
    /two\.sql:5: a check file holds exactly one/,
  );
});

Deno.test("discoverFiles() warns when a schema's files read a schema that is not upstream", async () => {
  await using fx = await makeFixture({
    // f_users depends on nothing, so reading f_orders is a mistake: it may not be built yet.
    "f_users/020_late.sql": "-- Reads f_orders.main in a comment: no warning for this line.\n" +
      "create table f_users.late as\nselect * from f_orders.main;\n",
    // f_orders depends on f_people, which depends on f_users: reading both is declared.
    "f_orders/030_fine.sql": "create table f_orders.fine as\nselect * from f_people.main\n" +
      "join f_users.main using (user_id);\n",
  });
  const layout = await discoverFiles(fx.config);
  const undeclared = layout.warnings.filter((w) => w.includes("not upstream"));
  assert.equal(undeclared.length, 1, undeclared.join("\n"));
  assert.match(
    undeclared[0]!,
    /sql\/f_users\/020_late\.sql:3 reads f_orders, which is not upstream of users_src: add orders_src to its depends_on/,
  );
});
