import assert from "node:assert/strict";
import { loadConfig, parseConfig, selectCollections } from "../../../lib/core/config.ts";
import { ConfigError, UsageError } from "../../../lib/core/errors.ts";

const base = `collections:
  a_coll:
    schema: lml_a
    primary_key: a_id
    description: a
    depends_on: []
  b_coll:
    schema: lml_b
    primary_key: b_id
    depends_on: [a_coll]
`;

function configError(text: string): ConfigError {
  try {
    parseConfig(text, "/tmp/pipeline.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.ok(error instanceof SyntaxError);
    return error;
  }
  assert.fail("the config was accepted");
}

Deno.test("loadConfig() reads the shipped config in dependency order", async () => {
  const config = await loadConfig();
  const names = config.collections.map((c) => c.name);
  assert.equal(names.length, 7);
  assert.equal(names[0], "lml_users_mesa4core");
  for (const c of config.collections) {
    for (const dep of c.dependsOn) assert.ok(names.indexOf(dep) < names.indexOf(c.name));
  }
  assert.equal(config.rawSchema, "lml_raw");
  assert.ok(config.sqlDir.endsWith("/sql"));
});

Deno.test("parseConfig() accepts schema names in depends_on", () => {
  const config = parseConfig(base.replace("[a_coll]", "[lml_a]"), "/tmp/p.yaml");
  assert.deepEqual(config.collections[1]!.dependsOn, ["a_coll"]);
});

Deno.test("parseConfig() names an unknown dependency with its line and a suggestion", () => {
  const error = configError(base.replace("[a_coll]", "[a_col]"));
  assert.equal(error.line, 10);
  assert.match(
    error.message,
    /pipeline\.yaml:10: collection "b_coll": unknown dependency "a_col" \(did you mean "a_coll"\?\)/,
  );
});

Deno.test("parseConfig() spells out a dependency cycle", () => {
  const text = base.replace("depends_on: []", "depends_on: [c_coll]") + `  c_coll:
    schema: lml_c
    primary_key: c_id
    depends_on: [b_coll]
`;
  const error = configError(text);
  assert.match(
    error.message,
    /dependency cycle: (a_coll → c_coll → b_coll → a_coll|b_coll → a_coll → c_coll → b_coll)/,
  );
  assert.ok(error.line !== undefined && error.line > 0);
});

Deno.test("parseConfig() rejects a duplicate schema at its line", () => {
  const error = configError(base.replace("schema: lml_b", "schema: lml_a"));
  assert.equal(error.line, 8);
  assert.match(error.message, /duplicate schema "lml_a" \(already used by collection "a_coll"\)/);
});

Deno.test("parseConfig() rejects an invalid identifier at its line", () => {
  const error = configError(base.replace("primary_key: b_id", "primary_key: b-id; drop"));
  assert.equal(error.line, 9);
  assert.match(error.message, /invalid identifier "b-id; drop"/);
});

Deno.test("parseConfig() rejects unknown keys with a suggestion", () => {
  const error = configError(base.replace("depends_on: [a_coll]", "depend_on: [a_coll]"));
  assert.equal(error.line, 10);
  assert.match(error.message, /unknown key "depend_on" \(did you mean "depends_on"\?\)/);
});

Deno.test("parseConfig() reports YAML syntax errors and duplicate keys with their line", () => {
  assert.equal(configError(base + "  d_coll: [unclosed\n").line !== undefined, true);
  const duplicate = configError(
    base.replace("    description: a\n", "    description: a\n    description: b\n"),
  );
  assert.equal(duplicate.line, 6);
  assert.match(duplicate.message, /invalid YAML/);
});

Deno.test("parseConfig() rejects a self-dependency and a reserved schema", () => {
  assert.match(configError(base.replace("[a_coll]", "[b_coll]")).message, /depends on itself/);
  assert.match(configError(base.replace("schema: lml_b", "schema: lml_raw")).message, /reserved/);
});

Deno.test("selectCollections() adds downstream collections and accepts schema names", async () => {
  const config = await loadConfig();
  const people = selectCollections(config, ["lml_people"]).map((c) => c.schema);
  assert.deepEqual(people, ["lml_people", "lml_processes"]);
  const only = selectCollections(config, ["lml_people_mesa4core"], { downstream: false });
  assert.deepEqual(only.map((c) => c.schema), ["lml_people"]);
  assert.equal(selectCollections(config, []).length, 7);
  assert.throws(() => selectCollections(config, ["lml_person"]), (e) => {
    assert.ok(e instanceof UsageError);
    assert.match(
      e.message,
      /unknown collection or schema "lml_person" \(did you mean "lml_people"\?\)/,
    );
    return true;
  });
});

Deno.test("parseConfig() refuses the keys that are fixed by the SQL files, saying why", () => {
  const raw = configError("raw_schema: other_raw\n" + base);
  assert.equal(raw.line, 1);
  assert.match(raw.message, /"raw_schema": the raw schema is always lml_raw/);
  const kind = configError(base.replace("    description: a\n", "    kind: consumer\n"));
  assert.equal(kind.line, 5);
  assert.match(kind.message, /no longer take a kind/);
});
