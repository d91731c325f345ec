import assert from "node:assert/strict";

const main = new URL("../main.ts", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...args],
    env: { NO_COLOR: "1", ...env },
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

Deno.test("the CLI lists its commands and exits 0 with --help", async () => {
  const { code, stdout } = await cli(["--help"]);
  assert.equal(code, 0);
  for (
    const name of ["extract", "transform", "assert", "refresh", "sync", "plan", "reset", "demo"]
  ) {
    assert.match(stdout, new RegExp(`\\n  ${name} `));
  }
});

Deno.test("every subcommand has --help", async () => {
  const { code, stdout } = await cli(["refresh", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /usage: deno task refresh/);
});

Deno.test("bad usage exits 2 with one line and a hint, without a stack trace", async () => {
  for (
    const args of [
      ["transform", "--bogus"],
      ["frobnicate"],
      ["extract", "--log-format", "xml"],
      ["generate"],
      ["refresh", "--mode", "sideways", "--source", "/nonexistent"],
      ["refresh", "--follow"],
      ["sync", "--mode", "full"],
    ]
  ) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, /^error: .+\n/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  }
});

Deno.test("a bad config exits 2 naming the file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/pipeline.yaml`;
    await Deno.writeTextFile(
      file,
      "collections:\n  a:\n    schema: lml_a\n    primary_key: a_id\n    depends_on: [b]\n",
    );
    const { code, stderr } = await cli([
      "reset",
      "--config",
      file,
      "--yes",
      "--database-url",
      "postgres://u:hunter2@127.0.0.1:1/x",
    ]);
    assert.equal(code, 2);
    assert.match(stderr, /pipeline\.yaml:5: collection "a": unknown dependency "b"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a connection failure exits 1 and never prints the password", async () => {
  const { code, stderr } = await cli([
    "reset",
    "--yes",
    "--database-url",
    "postgres://u:hunter2@127.0.0.1:1/x",
  ]);
  assert.equal(code, 1);
  assert.match(stderr, /^error: /);
  assert.doesNotMatch(stderr, /hunter2/);
});
