/**
 * The dependency rule, read from the imports: `lib/core` ← the concern folders of `lib/` and
 * `extract/` ← `lib/commands` ← `main.ts`; `extract/` uses only `lib/core`; a folder is entered
 * through its `mod.ts`; no import cycle between modules or folders.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CONCERNS = [
  "transform",
  "report",
  "ops",
  "embedded",
  "profile",
  "scaffold",
  "sample",
  "sqltest",
  "docs",
];

/** The folder a module belongs to: "lib/core", "lib/transform", ..., "extract" or "main.ts". */
function folderOf(path: string): string {
  const parts = relative(ROOT, path).split("/");
  return parts[0] === "lib" ? `lib/${parts[1]}` : parts[0]!;
}

function layerOf(folder: string): number {
  if (folder === "lib/core") return 0;
  if (folder === "extract" || CONCERNS.some((c) => folder === `lib/${c}`)) return 1;
  if (folder === "lib/commands") return 2;
  if (folder === "main.ts") return 3;
  throw new Error(`${folder} belongs to no layer: add it to the rule`);
}

async function modules(): Promise<Map<string, string[]>> {
  const files: string[] = [join(ROOT, "main.ts")];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  await walk(join(ROOT, "lib"));
  await walk(join(ROOT, "extract"));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    const targets = [...text.matchAll(/(?:from|import\()\s*"(\.{1,2}\/[^"]+)"/g)]
      .map((m) => resolve(dirname(file), m[1]!));
    graph.set(file, targets);
  }
  return graph;
}

Deno.test("imports run only downward, extract/ uses only lib/core, folders through mod.ts", async () => {
  const wrong: string[] = [];
  for (const [file, targets] of await modules()) {
    const from = folderOf(file);
    for (const target of targets) {
      const to = folderOf(target);
      if (to === from) continue;
      const arrow = `${relative(ROOT, file)} → ${relative(ROOT, target)}`;
      if (layerOf(to) > layerOf(from)) wrong.push(`${arrow}: upward`);
      if (from === "extract" && to !== "lib/core") {
        wrong.push(`${arrow}: extract/ uses only lib/core`);
      }
      if (!target.endsWith("/mod.ts")) wrong.push(`${arrow}: enter ${to}/ through its mod.ts`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no import cycle between modules, nor between folders", async () => {
  const graph = await modules();
  const cycles: string[] = [];
  const find = (edges: Map<string, Set<string>>) => {
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (node: string) => {
      state.set(node, "open");
      stack.push(node);
      for (const next of edges.get(node) ?? []) {
        if (state.get(next) === "open") {
          cycles.push(
            [...stack.slice(stack.indexOf(next)), next].map((n) => relative(ROOT, n) || n).join(
              " → ",
            ),
          );
        } else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(node, "done");
    };
    for (const node of edges.keys()) if (!state.has(node)) visit(node);
  };
  find(new Map([...graph].map(([file, targets]) => [file, new Set(targets)])));
  const folders = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    const set = folders.get(from) ?? new Set<string>();
    folders.set(from, set);
    for (const t of targets) if (folderOf(t) !== from) set.add(folderOf(t));
  }
  find(
    new Map(
      [...folders].map(([f, s]) => [join(ROOT, f), new Set([...s].map((t) => join(ROOT, t)))]),
    ),
  );
  assert.deepEqual(cycles, []);
});
