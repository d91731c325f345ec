import assert from "node:assert/strict";
import { parseConfig } from "../../../lib/core/config.ts";
import { meetsThreshold, parseThreshold } from "../../../lib/core/config_checks.ts";
import { ConfigError } from "../../../lib/core/errors.ts";

const base = `collections:
  a_coll:
    schema: lml_a
    primary_key: a_id
`;

function configError(text: string): ConfigError {
  try {
    parseConfig(text, "/tmp/pipeline.yaml");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("the config was accepted");
}

Deno.test("parseConfig() reads check severities and count or share thresholds", () => {
  const config = parseConfig(
    base + `checks:
  lml_a_status_known:
    severity: error
    warn_if: "> 1%"
    error_if: ">= 100"
volume_guard:
  max_shrink: 20%
`,
    "/tmp/pipeline.yaml",
  );
  const control = config.checks!["lml_a_status_known"]!;
  assert.equal(control.severity, "error");
  assert.deepEqual(control.warnIf, { op: ">", value: 1, percent: true, text: "> 1%" });
  assert.deepEqual(control.errorIf, { op: ">=", value: 100, percent: false, text: ">= 100" });
  assert.equal(control.line, 6);
  assert.equal(config.maxShrink, 0.2);
  assert.equal(parseConfig(base, "/tmp/pipeline.yaml").maxShrink, 0.5);
});

Deno.test("parseConfig() rejects a bad severity, threshold or key with the line", () => {
  assert.match(
    configError(base + "checks:\n  x_y:\n    severity: fatal\n").message,
    /pipeline\.yaml:7: checks: "x_y": severity must be warn or error/,
  );
  assert.match(
    configError(base + 'checks:\n  x_y:\n    warn_if: "lots"\n').message,
    /:7: checks: "x_y": warn_if must be a comparison .*"> 1%"/,
  );
  assert.match(
    configError(base + "checks:\n  x_y:\n    eror_if: '> 1'\n").message,
    /:7: checks: "x_y": unknown key "eror_if" \(did you mean "error_if"\?\)/,
  );
  assert.match(
    configError(base + "volume_guard:\n  max_shrink: 150%\n").message,
    /:6: volume_guard: max_shrink must be a share/,
  );
});

Deno.test("meetsThreshold() compares counts, and shares of the total", () => {
  assert.ok(meetsThreshold(parseThreshold("> 100")!, 101, 0));
  assert.ok(!meetsThreshold(parseThreshold("> 100")!, 100, 0));
  assert.ok(meetsThreshold(parseThreshold("> 1%")!, 2, 100));
  assert.ok(!meetsThreshold(parseThreshold("> 1%")!, 1, 100));
  assert.ok(!meetsThreshold(parseThreshold("> 1%")!, 5, 0));
  assert.equal(parseThreshold("about 5"), undefined);
});
