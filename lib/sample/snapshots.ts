/**
 * User profiles (who user i is) and user snapshots (the copies other documents embed).
 *
 * Snapshot distribution: ~3% point to ghost users (absent from lml_users_mesa4core); the rest
 * point 70% to the first 15% of users (the busy staff) and 30% to anyone. The `_id` is an
 * ObjectId in ~89% of snapshots, a lower-case 24-hex string in ~9%, an upper-case one in ~2%.
 * Shapes: 55% full (username, names, email), 30% username only, 14% id only, 1% without `_id`.
 * @module
 */
import type { ObjectId } from "bson";
import { Rng } from "./prng.ts";
import { documentId, ghostId } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { asciiFold, FIRST_NAMES, LAST_NAMES } from "./vocabulary.ts";

const DELETED_WEIGHTS = { t: 80, s: 10, n: 10 };
const NOT_DELETED_WEIGHTS = { f: 55, missing: 30, s: 8, n: 7 };
const EMAIL_WEIGHTS = { plain: 91, missing: 4, upper: 3, shared: 2 };
const ID_FORM_WEIGHTS = { oid: 89, lower: 9, upper: 2 };
const SHAPE_WEIGHTS = { full: 55, short: 30, id_only: 14, no_id: 1 };

/** What the users collection (or, for ghosts, their snapshots) says about a user. */
export interface UserProfile {
  /** The user's `_id`. */
  id: ObjectId;
  /** Login name: unique among non-deleted users. */
  username: string;
  /** Given name. */
  firstName: string;
  /** Family name. */
  lastName: string;
  /** Address as stored (may be upper-case, shared with another user, or absent). */
  email: string | undefined;
  /** Soft-delete flag as stored; undefined = field missing. */
  deleted: unknown;
}

/** Soft-delete spellings: three deleted, three not deleted, plus a missing field. */
export const DELETED_SPELLINGS: readonly unknown[] = [true, "true", 1, false, "false", 0];

/**
 * The `deleted` value of document `index`: deleted with probability `rate` (80% true, 10%
 * "true", 10% 1), else 55% false, 30% missing, 8% "false", 7% 0. Documents 1 to 6 of every
 * collection take the six spellings in order, so each occurs at any scale.
 */
export function deletedValue(plan: Plan, collection: string, index: number, rate: number): unknown {
  if (index === 0) return undefined;
  if (index <= DELETED_SPELLINGS.length) return DELETED_SPELLINGS[index - 1];
  const rng = Rng.for(plan.seed, `${collection}:deleted`, index);
  if (rng.chance(rate)) return rng.weighted(DELETED_WEIGHTS) === "t" ? true : rng.pick(["true", 1]);
  const spelling = rng.weighted(NOT_DELETED_WEIGHTS);
  return spelling === "f" ? false : spelling === "s" ? "false" : spelling === "n" ? 0 : undefined;
}

/** Whether a stored `deleted` value means deleted (true, "true", 1). */
export function isDeleted(value: unknown): boolean {
  return value === true || value === "true" || value === 1;
}

function baseUsername(
  plan: Plan,
  index: number,
): { first: string; last: string; username: string } {
  const rng = Rng.for(plan.seed, "user-profile", index);
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  return { first, last, username: `${asciiFold(first).charAt(0)}${asciiFold(last)}${index}` };
}

/**
 * Profile of user `index`. A deleted user reuses the username of the previous user half of the
 * time (legal: uniqueness only binds non-deleted users). E-mail: 4% missing, 3% upper-case, 2%
 * the previous user's.
 */
export function userProfile(plan: Plan, index: number): UserProfile {
  return cached(plan, "user", index, () => buildUserProfile(plan, index));
}

const PROFILES = new WeakMap<Plan, Map<string, UserProfile>>();

function cached(plan: Plan, kind: string, index: number, build: () => UserProfile): UserProfile {
  let cache = PROFILES.get(plan);
  if (!cache) PROFILES.set(plan, cache = new Map());
  const key = `${kind}${index}`;
  let profile = cache.get(key);
  if (!profile) cache.set(key, profile = build());
  return profile;
}

function buildUserProfile(plan: Plan, index: number): UserProfile {
  const base = baseUsername(plan, index);
  const rng = Rng.for(plan.seed, "user-email", index);
  const deleted = deletedValue(plan, "lml_users_mesa4core", index, 0.05);
  const username = isDeleted(deleted) && index > 0 && rng.chance(0.5)
    ? baseUsername(plan, index - 1).username
    : base.username;
  const kind = rng.weighted(EMAIL_WEIGHTS);
  const email = kind === "missing"
    ? undefined
    : kind === "upper"
    ? `${username}@mesa.gob.ar`.toUpperCase()
    : kind === "shared" && index > 0
    ? `${baseUsername(plan, index - 1).username}@mesa.gob.ar`
    : `${username}@mesa.gob.ar`;
  return {
    id: documentId(plan, "lml_users_mesa4core", index),
    username,
    firstName: base.first,
    lastName: base.last,
    email,
    deleted,
  };
}

/** Profile of ghost `index`: a user deleted long ago, known only through snapshots. */
export function ghostProfile(plan: Plan, index: number): UserProfile {
  return cached(plan, "ghost", index, () => buildGhostProfile(plan, index));
}

function buildGhostProfile(plan: Plan, index: number): UserProfile {
  const rng = Rng.for(plan.seed, "ghost-profile", index);
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  const username = `${asciiFold(first).charAt(0)}${asciiFold(last)}.baja${index}`;
  return {
    id: ghostId(plan, index),
    username,
    firstName: first,
    lastName: last,
    email: `${username}@mesa.gob.ar`,
    deleted: true,
  };
}

/** Who a snapshot points to: user `index`, or ghost `index` of the pool. */
export type UserTarget = { ghost: boolean; index: number };

/** Draws a snapshot target: 3% ghosts, else mostly the busy staff. */
export function drawUserTarget(plan: Plan, rng: Rng, ghostRate = 0.03): UserTarget {
  if (rng.chance(ghostRate)) return { ghost: true, index: rng.int(0, plan.ghosts - 1) };
  const users = plan.counts.lml_users_mesa4core;
  const busy = Math.max(1, Math.floor(users * 0.15));
  return { ghost: false, index: rng.chance(0.7) ? rng.int(0, busy - 1) : rng.int(0, users - 1) };
}

/** How a snapshot is written. */
export type SnapshotShape = "full" | "short" | "id_only" | "no_id";

/** Options of {@link userSnapshot}. */
export interface SnapshotOptions {
  /** Force the shape (forced anomalies). Default: drawn. */
  shape?: SnapshotShape;
  /** Force how the `_id` is written. Default: drawn. */
  idForm?: "oid" | "lower" | "upper";
}

/** A user snapshot of `target`, with the drawn (or forced) id form and shape. */
export function userSnapshot(
  plan: Plan,
  rng: Rng,
  target: UserTarget,
  options: SnapshotOptions = {},
): Record<string, unknown> {
  const profile = target.ghost ? ghostProfile(plan, target.index) : userProfile(plan, target.index);
  const idForm = rng.weighted(ID_FORM_WEIGHTS);
  const drawn = rng.weighted(SHAPE_WEIGHTS);
  const shape = options.shape ?? drawn;
  const snapshot: Record<string, unknown> = {};
  if (shape !== "no_id") {
    const hex = profile.id.toHexString();
    const form = options.idForm ?? idForm;
    snapshot._id = form === "oid" ? profile.id : form === "lower" ? hex : hex.toUpperCase();
  }
  if (shape === "id_only") return snapshot;
  snapshot.username = profile.username;
  if (shape === "short") return snapshot;
  snapshot.firstName = profile.firstName;
  snapshot.lastName = profile.lastName;
  if (profile.email !== undefined) snapshot.email = profile.email;
  return snapshot;
}

/** Normalizes a snapshot `_id` (ObjectId or 24-hex string) to lower-case hex; null otherwise. */
export function userIdHex(id: unknown): string | null {
  if (typeof id === "string") return /^[0-9a-fA-F]{24}$/.test(id) ? id.toLowerCase() : null;
  if (id && typeof id === "object" && "toHexString" in id) {
    return (id as { toHexString(): string }).toHexString();
  }
  return null;
}
