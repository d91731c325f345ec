import assert from "node:assert/strict";
import { parseDotEnv } from "../../../lib/core/env.ts";

Deno.test("parseDotEnv() reads KEY=value lines, quotes, export and comments", () => {
  const values = parseDotEnv([
    "# target",
    "export DATABASE_URL=postgres://etl@db/mesamongo",
    "MONGO_URL='mongodb://reader:p#w@mongo/mesa4core'",
    'EMPTY=""',
    "PLAIN=value # a comment",
    "not a setting",
  ].join("\n"));
  assert.deepEqual(Object.fromEntries(values), {
    DATABASE_URL: "postgres://etl@db/mesamongo",
    MONGO_URL: "mongodb://reader:p#w@mongo/mesa4core",
    EMPTY: "",
    PLAIN: "value",
  });
});
