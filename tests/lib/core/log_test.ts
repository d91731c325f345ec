import assert from "node:assert/strict";
import { createLogger, heartbeat, withLogFile } from "../../../lib/core/log.ts";

Deno.test("createLogger() writes JSON lines with redacted passwords, and debug only when asked", () => {
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (l) => lines.push(l) });
  logger.info("connected to postgres://etl:s3cret@db/mesamongo", { source: "mongodb://u:pw@m/x" });
  logger.debug("hidden");
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.equal(line.level, "info");
  assert.equal(line.msg, "connected to postgres://etl:***@db/mesamongo");
  assert.equal(line.source, "mongodb://u:***@m/x");
  assert.doesNotMatch(lines[0]!, /s3cret|:pw@/);
  const debug: string[] = [];
  createLogger({ format: "text", debug: true, write: (l) => debug.push(l) }).debug("shown", {
    n: 1,
  });
  assert.match(debug[0]!, /^\d\d:\d\d:\d\d DEBUG shown {2}n=1$/);
});

Deno.test("withLogFile() forwards every line and appends it to the file as JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const seen: string[] = [];
    {
      using logger = withLogFile(createLogger({ write: (l) => seen.push(l) }), `${dir}/run.log`);
      logger.warn("lock wait", { password: "x" });
      logger.info("done");
    }
    const file = (await Deno.readTextFile(`${dir}/run.log`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(file.map((l) => [l.level, l.msg]), [["warn", "lock wait"], ["info", "done"]]);
    assert.equal(seen.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("heartbeat() logs until disposed", async () => {
  const { promise, resolve } = Promise.withResolvers<string>();
  const logger = createLogger({ write: resolve });
  {
    using _beat = heartbeat(logger, "running sql/lml_processes/020_movements.sql", {
      seconds: 0.01,
    });
    assert.match(
      await promise,
      /running sql\/lml_processes\/020_movements\.sql \(still running\) {2}elapsed_s=\d+/,
    );
  }
});
