import assert from "node:assert/strict";
import { loadConfig, parseConfig } from "../../../lib/core/config.ts";
import { ConfigError } from "../../../lib/core/errors.ts";

/** Line 1..5: the collections; the sections under test start at line 6. */
const base = `collections:
  a_coll:
    schema: lml_a
    primary_key: a_id
    description: a
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

Deno.test("without notify: no alerts and 30 days of retention", async () => {
  const config = parseConfig(base, "/tmp/pipeline.yaml");
  assert.equal(config.notify, undefined);
  assert.equal(config.retentionDays, 30);
  const shipped = await loadConfig();
  assert.equal(shipped.retentionDays, 30);
});

Deno.test("notify: webhook, command, outcomes, timeout and retries are read with their defaults", () => {
  const config = parseConfig(
    base + `retention_days: 14
notify:
  on: [failure, warning, fallback]
  timeout_seconds: 2.5
  webhook:
    url: https://hooks.example/\${HOOK_TOKEN}
    format: slack
    headers:
      Authorization: Bearer \${API_TOKEN}
  command: [/usr/local/bin/page, --team, "\${TEAM}"]
`,
    "/tmp/pipeline.yaml",
  );
  assert.equal(config.retentionDays, 14);
  assert.deepEqual(config.notify, {
    on: ["failure", "warning", "fallback"],
    timeoutMs: 2500,
    retries: 2,
    targets: [
      {
        kind: "webhook",
        url: "https://hooks.example/${HOOK_TOKEN}",
        format: "slack",
        headers: { Authorization: "Bearer ${API_TOKEN}" },
        line: 10,
      },
      { kind: "command", argv: ["/usr/local/bin/page", "--team", "${TEAM}"], line: 15 },
    ],
  });
  const short = parseConfig(base + "notify:\n  webhook: ${URL}\n", "/tmp/p.yaml").notify!;
  assert.deepEqual(short.on, ["failure"]);
  assert.equal(short.timeoutMs, 10_000);
  assert.deepEqual(short.targets, [
    { kind: "webhook", url: "${URL}", format: "json", headers: {}, line: 7 },
  ]);
  const program = parseConfig(base + "notify:\n  command: /opt/alert.sh\n", "/tmp/p.yaml");
  assert.deepEqual(program.notify!.targets, [
    { kind: "command", argv: ["/opt/alert.sh"], line: 7 },
  ]);
});

Deno.test("notify: mistakes are named with file, line and a suggestion", () => {
  const cases: [string, number, RegExp][] = [
    [
      "notify:\n  on: [failure, warnings]\n  webhook: https://x\n",
      7,
      /pipeline\.yaml:7: notify: unknown outcome "warnings" \(did you mean "warning"\?\)/,
    ],
    [
      "notify:\n  webhok: https://x\n",
      7,
      /pipeline\.yaml:7: notify: unknown key "webhok" \(did you mean "webhook"\?\)/,
    ],
    [
      "notify:\n  webhook:\n    url: https://x\n    fromat: slack\n",
      9,
      /notify\.webhook: unknown key "fromat" \(did you mean "format"\?\)/,
    ],
    [
      "notify:\n  webhook:\n    url: https://x\n    format: teams\n",
      9,
      /notify\.webhook: format must be json or slack, not "teams"/,
    ],
    ["notify:\n  on: [failure]\n", 7, /notify needs a webhook and\/or a command/],
    ["notify:\n  webhook: ftp://x\n", 7, /url must start with http:\/\/ or https:\/\//],
    [
      "notify:\n  webhook: https://x/${TOKEN\n",
      7,
      /notify: webhook url: unclosed "\$\{" \(write \$\{NAME\}\)/,
    ],
    [
      "notify:\n  webhook: https://x/${1TOKEN}\n",
      7,
      /"\$\{1TOKEN\}" does not name an environment variable/,
    ],
    [
      "notify:\n  retries: 20\n  webhook: https://x\n",
      7,
      /notify: retries must be a whole number from 0 to 10/,
    ],
    [
      "notify:\n  timeout_seconds: 0\n  webhook: https://x\n",
      7,
      /notify: timeout_seconds must be above 0/,
    ],
    ["notify:\n  command: []\n", 7, /notify: command must name a program/],
    ["retention_days: 0\n", 6, /retention_days must be a whole number of days, at least 1/],
    ["retention_days: 7.5\n", 6, /retention_days must be a whole number of days/],
    ["retension_days: 7\n", 6, /unknown key "retension_days" \(did you mean "retention_days"\?\)/],
  ];
  for (const [section, line, message] of cases) {
    const error = configError(base + section);
    assert.equal(error.line, line, `${section}: ${error.message}`);
    assert.match(error.message, message);
  }
});
