/**
 * Embedded role and area catalogs. Each copy picks one of the names its id carried over time, so
 * copies of one id disagree and the manifest records the winner. Areas are drawn with a skew
 * towards the first ones (Mesa de Entradas, Comercio, ...), roles uniformly.
 * @module
 */
import type { Rng } from "./prng.ts";
import { areaId, roleId } from "./ids.ts";
import { AREA_COUNT, type Plan, ROLE_COUNT } from "./plan.ts";
import { AREAS, ROLE_NAMES } from "./vocabulary.ts";
import type { Doc } from "./common.ts";

/** Draws an area index, skewed towards the busiest areas. */
export function drawArea(rng: Rng): number {
  return rng.skewed(0, AREA_COUNT - 1);
}

/** Draws a role index. */
export function drawRole(rng: Rng): number {
  return rng.int(0, ROLE_COUNT - 1);
}

/** A role copy `{_id, name, description}` as users embed it. */
export function roleCopy(plan: Plan, rng: Rng, index: number): Doc {
  const names = ROLE_NAMES[index]!;
  return { _id: roleId(plan, index), name: rng.pick(names), description: names[1]! };
}

/** A role name as list configurations store it (visibleToRoles). */
export function roleName(rng: Rng, index: number): string {
  return rng.pick(ROLE_NAMES[index]!);
}

/** An area copy: `{_id, name}`, plus `code` when `withCode`. */
export function areaCopy(plan: Plan, rng: Rng, index: number, withCode = false): Doc {
  const area = AREAS[index]!;
  const copy: Doc = { _id: areaId(plan, index), name: rng.pick(area.names) };
  if (withCode) copy.code = area.code;
  return copy;
}

/** The first (original) name of area `index`. */
export function areaBaseName(index: number): string {
  return AREAS[index]!.names[0]!;
}
