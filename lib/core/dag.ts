/**
 * Dependency order: a stable topological sort that spells out cycles.
 * @module
 */
import { LmlError } from "./errors.ts";

/** A dependency cycle; `cycle` lists it with its first node repeated at the end. */
export class CycleError extends LmlError {
  /** The nodes of the cycle, e.g. ["a", "c", "b", "a"]. */
  cycle: string[];
  constructor(cycle: string[]) {
    super(`dependency cycle: ${cycle.join(" → ")}`);
    this.name = "CycleError";
    this.cycle = cycle;
  }
}

/**
 * Orders `nodes` so that each comes after its dependencies; ties keep the input order.
 * Dependencies not in `nodes` are ignored (validate them first).
 */
export function topologicalOrder(
  nodes: readonly string[],
  dependsOn: (node: string) => readonly string[],
): string[] {
  const known = new Set(nodes);
  const state = new Map<string, "visiting" | "done">();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (node: string) => {
    const s = state.get(node);
    if (s === "done") return;
    if (s === "visiting") {
      throw new CycleError([...stack.slice(stack.indexOf(node)), node]);
    }
    state.set(node, "visiting");
    stack.push(node);
    for (const dep of dependsOn(node)) if (known.has(dep)) visit(dep);
    stack.pop();
    state.set(node, "done");
    order.push(node);
  };
  for (const node of nodes) visit(node);
  return order;
}

/** Returns `roots` plus every node that depends on them, directly or not, in `order`. */
export function downstreamOf(
  roots: Iterable<string>,
  order: readonly string[],
  dependsOn: (node: string) => readonly string[],
): string[] {
  const chosen = new Set(roots);
  for (const node of order) {
    if (dependsOn(node).some((dep) => chosen.has(dep))) chosen.add(node);
  }
  return order.filter((node) => chosen.has(node));
}
