/**
 * lml_usersgroups_mesa4core: an owner and 0-40 members (skewed: most groups are small), each a
 * user snapshot with `addedAt`; 5% of groups list one member twice (once more, often with the id
 * as a hex string). Forced: 0 has a duplicate member, 4 an owner without `_id`, 5 a member
 * without `_id`, 10 a garbage `addedAt`.
 * @module
 */
import { Rng } from "./prng.ts";
import { documentId, documentTimes } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { appendAudit, type Doc, spread } from "./common.ts";
import { areaBaseName, drawArea } from "./catalogs.ts";
import { drawUserTarget, userSnapshot, type UserTarget } from "./snapshots.ts";
import { drawTimestamp, EVENT_WEIGHTS } from "./time.ts";

const COLLECTION = "lml_usersgroups_mesa4core";
const KINDS = ["Supervisores", "Operadores", "Inspectores", "Equipo", "Referentes", "Guardia"];

/** `count` user targets, no user twice (up to a few redraws; the pool may be small). */
function distinctTargets(plan: Plan, rng: Rng, count: number): UserTarget[] {
  const seen = new Set<string>();
  const targets: UserTarget[] = [];
  for (let tries = 0; targets.length < count && tries < count * 20; tries++) {
    const target = drawUserTarget(plan, rng);
    const key = `${target.ghost}:${target.index}`;
    if (seen.has(key)) continue;
    seen.add(key);
    targets.push(target);
  }
  return targets;
}

/** Document `index` of lml_usersgroups_mesa4core. */
export function buildGroup(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const area = areaBaseName(drawArea(rng));
  const kind = rng.pick(KINDS);
  const doc: Doc = {
    _id: documentId(plan, COLLECTION, index),
    name: `${kind} de ${area}${index >= KINDS.length * 10 ? ` ${index}` : ""}`,
    description: `Grupo de ${kind.toLowerCase()} del área ${area}. Gestión de trámites y pases.`,
    owner: userSnapshot(
      plan,
      rng,
      drawUserTarget(plan, rng),
      index === 4 ? { shape: "no_id" } : {},
    ),
  };
  const forcedMembers = index === 0 || index === 5 || index === 10;
  const targets = distinctTargets(plan, rng, Math.max(rng.skewed(0, 40), forcedMembers ? 2 : 0));
  const count = targets.length;
  const added = spread(rng, times.createdMs, times.updatedMs, count);
  const members: Doc[] = targets.map((target, i) => {
    const member = userSnapshot(
      plan,
      rng,
      target,
      index === 5 && i === 1 ? { shape: "no_id" } : {},
    );
    member.addedAt = drawTimestamp(
      rng,
      added[i]!,
      EVENT_WEIGHTS,
      index === 10 && i === 0 ? "garbage_empty" : undefined,
    );
    return member;
  });
  if (count > 0 && (index === 0 || rng.chance(0.05))) {
    const twice = userSnapshot(plan, rng, targets[0]!, { shape: "short", idForm: "lower" });
    twice.addedAt = drawTimestamp(rng, times.updatedMs, EVENT_WEIGHTS, "date");
    members.push(twice);
  }
  doc.members = members;
  return appendAudit(plan, rng, COLLECTION, index, doc, times);
}
