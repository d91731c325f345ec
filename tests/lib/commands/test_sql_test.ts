/**
 * `deno task test-sql` from the command line: exit codes, the diff on stdout, JUnit for CI.
 */
import assert from "node:assert/strict";
import { freshDatabase } from "../../support/db.ts";
import { sqlCopy } from "../../support/sql_copy.ts";

const main = new URL("../../../main.ts", import.meta.url).pathname;

async function cli(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("test-sql exits 0 when the selected tests pass and 1 with a diff when one fails; JUnit either way", async () => {
  await using copy = await sqlCopy();
  await using db = await freshDatabase();
  const reports = `${copy.dir}/reports`;
  const args = [
    "test-sql",
    "--config",
    copy.configPath,
    "--database-url",
    db.url,
    "--reports",
    reports,
    "--select",
    "lml_listbuilder",
  ];
  const passing = await cli(args);
  assert.equal(passing.code, 0, passing.stdout + passing.stderr);
  assert.match(passing.stdout, /^ok {3}.*lists\.yaml:1 columns_filters_and_roles/m);
  assert.match(passing.stdout, /test-sql: 1 passed, 0 failed, 0 errored \(1 tests/);
  assert.match(await Deno.readTextFile(`${reports}/test-sql.xml`), /tests="1" failures="0"/);

  const file = `${copy.sqlDir}/lml_listbuilder/010_main.sql`;
  const sql = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, sql.replace("having count(*) = 1", "having count(*) >= 1"));
  const failing = await cli(args);
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /^FAIL .*lists\.yaml:1 columns_filters_and_roles/m);
  assert.match(failing.stdout, /role_id\s+NULL → b00000000000000000000002/);
  const junit = await Deno.readTextFile(`${reports}/test-sql.xml`);
  assert.match(junit, /tests="1" failures="1"/);
  assert.match(junit, /<failure message=".*lists\.yaml:1: rows or checks differ">/);
});

Deno.test("test-sql --new needs a collection and an _id; --name only goes with --new", async () => {
  for (
    const args of [["test-sql", "--new", "lml_people"], ["test-sql", "x"], [
      "test-sql",
      "--name",
      "n",
    ]]
  ) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, /^error: .+\n/);
  }
});
