import assert from "node:assert/strict";
import { createLogger } from "../../lib/core/log.ts";
import { createProgress } from "../../extract/progress.ts";

Deno.test("createProgress() logs periodic lines off a terminal and a summary table", async () => {
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (line) => lines.push(line) });
  {
    using progress = createProgress(logger, { intervalSeconds: 0.02 });
    const users = progress.start("lml_users_mesa4core", { documents: 10 });
    users.update({ documents: 4, bytes: 400, consumed: 0 });
    for (let waited = 0; waited < 200 && lines.length === 0; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    users.finish("staged");
    progress.summary([
      {
        collection: "lml_users_mesa4core",
        documents: 10,
        bytes: 2_500_000,
        seconds: 2,
        status: "succeeded",
      },
      {
        collection: "lml_people_mesa4core",
        documents: 0,
        bytes: 0,
        seconds: 0.5,
        status: "failed",
      },
    ]);
  }
  const periodic = JSON.parse(lines[0]!);
  assert.equal(periodic.msg, "extracting lml_users_mesa4core");
  assert.equal(periodic.documents, 4);
  assert.equal(periodic.total, 10);
  const table = lines.slice(-3).map((l) => JSON.parse(l).msg);
  assert.deepEqual(table, [
    "collection                     documents   MB  seconds  docs/s",
    "lml_users_mesa4core                   10  2.5      2.0       5",
    "lml_people_mesa4core (failed)          0  0.0      0.5       0",
  ]);
});
