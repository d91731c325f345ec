import assert from "node:assert/strict";
import { parseConfig, STAGING_SUFFIX } from "../../../lib/core/config.ts";
import { ConfigError } from "../../../lib/core/errors.ts";
import { stagingName } from "../../../extract/load.ts";
import { LONG_NAME } from "../../support/nasty.ts";

function entry(name: string, schema: string): string {
  return `  ${name}:\n    schema: ${schema}\n    primary_key: ${schema}_id\n`;
}

function refused(text: string): ConfigError {
  try {
    parseConfig(text, "sql/pipeline.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("the config was accepted");
}

Deno.test("the config refuses a collection named like another one's staging table", () => {
  assert.equal(stagingName("x"), `x${STAGING_SUFFIX}`, "one suffix for config and extraction");
  const error = refused(`collections:\n${entry("x", "lml_x")}${entry("x__next", "lml_y")}`);
  assert.match(error.message, /^sql\/pipeline\.yaml:5: collection "x__next": .*kept for staging/);
  assert.equal(error.line, 5);
  assert.equal(error.exitCode, 2);
});

Deno.test("the config refuses collection names too long for their staging table", () => {
  const fits = "c".repeat(63 - STAGING_SUFFIX.length);
  const config = parseConfig(`collections:\n${entry(fits, "lml_c")}`, "sql/pipeline.yaml");
  assert.equal(config.collections[0]!.name, fits);
  const long = fits + "c";
  const error = refused(`collections:\n${entry("a", "lml_a")}${entry(long, "lml_c")}`);
  assert.match(
    error.message,
    /^sql\/pipeline\.yaml:5: collection "c+": the name is longer than 57 bytes/,
  );
  assert.match(error.message, /use a shorter collection name/);
  // A 300+ character name is no identifier at all: refused with the same file:line.
  assert.match(
    refused(`collections:\n${entry(LONG_NAME.slice(0, 299), "lml_k")}`).message,
    /^sql\/pipeline\.yaml:2: invalid collection name/,
  );
});
