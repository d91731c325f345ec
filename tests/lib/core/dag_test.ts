import assert from "node:assert/strict";
import { CycleError, downstreamOf, topologicalOrder } from "../../../lib/core/dag.ts";

const graph: Record<string, string[]> = {
  users: [],
  people: ["users"],
  types: ["forms", "users"],
  forms: ["users"],
  processes: ["people", "types"],
};
const deps = (n: string) => graph[n] ?? [];

Deno.test("topologicalOrder() puts dependencies first and keeps input order for ties", () => {
  const order = topologicalOrder(["processes", "types", "users", "people", "forms"], deps);
  assert.deepEqual(order, ["users", "people", "forms", "types", "processes"]);
});

Deno.test("topologicalOrder() reports a cycle with its path", () => {
  const cyclic: Record<string, string[]> = { a: ["c"], b: ["a"], c: ["b"] };
  assert.throws(() => topologicalOrder(["a", "b", "c"], (n) => cyclic[n] ?? []), (e) => {
    assert.ok(e instanceof CycleError);
    assert.deepEqual(e.cycle, ["a", "c", "b", "a"]);
    assert.equal(e.message, "dependency cycle: a → c → b → a");
    return true;
  });
});

Deno.test("downstreamOf() returns the roots and everything depending on them, in order", () => {
  const order = topologicalOrder(Object.keys(graph), deps);
  assert.deepEqual(downstreamOf(["forms"], order, deps), ["forms", "types", "processes"]);
  assert.deepEqual(downstreamOf(["processes"], order, deps), ["processes"]);
});
