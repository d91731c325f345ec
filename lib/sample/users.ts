/**
 * lml_users_mesa4core: 1-3 roles (2% with one role twice under another name), 1-2 areas, settings
 * (free-form, holds the Int64 and Infinity hostile values), lastLogin (10% never: null).
 * Forced: document 10 has a garbage lastLogin; documents 20-34 take every createdAt variant in
 * turn.
 * @module
 */
import { Double, Long } from "bson";
import { Rng } from "./prng.ts";
import { documentTimes } from "./ids.ts";
import { HOSTILE_PLACEMENTS, type Plan } from "./plan.ts";
import { appendAudit, type Doc, put } from "./common.ts";
import { areaCopy, drawArea, drawRole, roleCopy } from "./catalogs.ts";
import { withDots } from "./vocabulary.ts";
import { userProfile } from "./snapshots.ts";
import { AUDIT_WEIGHTS, drawTimestamp, TIMESTAMP_VARIANTS } from "./time.ts";

const COLLECTION = "lml_users_mesa4core";

function hostileAt(index: number): string | undefined {
  return HOSTILE_PLACEMENTS.find((h) => h.collection === COLLECTION && h.index === index)?.what;
}

/** Document `index` of lml_users_mesa4core. */
export function buildUser(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const profile = userProfile(plan, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const doc: Doc = { _id: profile.id, username: profile.username };
  put(doc, "email", profile.email);
  doc.firstName = profile.firstName;
  doc.lastName = profile.lastName;
  const dni = rng.int(10_000_000, 45_999_999);
  doc.dni = rng.chance(0.1) ? withDots(dni) : String(dni);

  const roles = [...new Set(Array.from({ length: rng.skewed(1, 3) }, () => drawRole(rng)))];
  doc.roles = roles.map((role) => roleCopy(plan, rng, role));
  if (rng.chance(0.02)) (doc.roles as Doc[]).push(roleCopy(plan, rng, roles[0]!));
  const areas = [...new Set(Array.from({ length: rng.skewed(1, 2) }, () => drawArea(rng)))];
  doc.areas = areas.map((area) => areaCopy(plan, rng, area, true));

  doc.active = rng.chance(0.9);
  const lastLoginMs = times.updatedMs + rng.int(0, 90) * 86_400_000;
  const neverLoggedIn = rng.chance(0.1) && index !== 10;
  put(
    doc,
    "lastLogin",
    neverLoggedIn
      ? null
      : drawTimestamp(rng, lastLoginMs, AUDIT_WEIGHTS, index === 10 ? "garbage_zero" : undefined),
  );

  const settings: Doc = {
    theme: rng.pick(["dark", "light", "sistema"]),
    language: "es-AR",
    notifications: { email: rng.chance(0.8), sms: rng.chance(0.2) },
  };
  if (rng.chance(0.3)) settings.firma = `${profile.firstName} ${profile.lastName} — Municipalidad`;
  if (rng.chance(0.2)) settings.pageSize = rng.pick([10, 25, 50]);
  const hostile = hostileAt(index);
  if (hostile === "int64-beyond-2^53") settings.loginCounter = Long.fromString("9007199254740993");
  if (hostile === "infinity") settings.quota = new Double(Infinity);
  doc.settings = settings;

  const cycle = index >= 20 && index < 20 + TIMESTAMP_VARIANTS.length
    ? { createdAt: TIMESTAMP_VARIANTS[index - 20]! }
    : {};
  return appendAudit(plan, rng, COLLECTION, index, doc, times, { deletedRate: 0.05, ...cycle });
}
