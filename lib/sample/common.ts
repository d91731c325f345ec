/**
 * Fields every collection shares (deleted, createdAt, updatedAt, createdBy, updatedBy) and the
 * anomalies forced at fixed document indexes of every collection, so each occurs at any scale:
 * 0 no `deleted`, 1-6 the six `deleted` spellings, 2/3 createdBy/updatedBy without `_id`, 7 createdAt "",
 * 8 updatedAt "N/A", 9 createdAt "0000-00-00".
 * @module
 */
import type { Rng } from "./prng.ts";
import type { Plan, SampleCollection } from "./plan.ts";
import { deletedValue, drawUserTarget, type SnapshotShape, userSnapshot } from "./snapshots.ts";
import { drawTimestamp, MISSING, type TimestampVariant } from "./time.ts";

/** A document under construction. */
export type Doc = Record<string, unknown>;

/** Sets `doc[key] = value` unless value is {@link MISSING} or undefined (field left out). */
export function put(doc: Doc, key: string, value: unknown): void {
  if (value !== MISSING && value !== undefined) doc[key] = value;
}

/** Forced audit anomalies of document `index` (shared by every collection). */
function forcedAudit(index: number): {
  createdAt?: TimestampVariant;
  updatedAt?: TimestampVariant;
  createdBy?: SnapshotShape;
  updatedBy?: SnapshotShape;
} {
  switch (index) {
    case 2:
      return { createdBy: "no_id" };
    case 3:
      return { updatedBy: "no_id" };
    case 7:
      return { createdAt: "garbage_empty" };
    case 8:
      return { updatedAt: "garbage_na" };
    case 9:
      return { createdAt: "garbage_zero" };
    default:
      return {};
  }
}

/** Options of {@link appendAudit}. */
export interface AuditOptions {
  /** Probability that the soft-delete flag says deleted. Default 0.04. */
  deletedRate?: number;
  /** Probability that `updatedBy` is present. Default 0.9. */
  updatedByRate?: number;
  /** Override the drawn createdAt variant. Default: drawn (or forced by index). */
  createdAt?: TimestampVariant;
}

/**
 * Appends deleted, createdAt, updatedAt, createdBy and updatedBy to `doc` (in that order) for
 * document `index` whose true instants are `times`.
 */
export function appendAudit(
  plan: Plan,
  rng: Rng,
  collection: SampleCollection,
  index: number,
  doc: Doc,
  times: { createdMs: number; updatedMs: number },
  options: AuditOptions = {},
): Doc {
  const forced = forcedAudit(index);
  put(doc, "deleted", deletedValue(plan, collection, index, options.deletedRate ?? 0.04));
  put(
    doc,
    "createdAt",
    drawTimestamp(rng, times.createdMs, undefined, forced.createdAt ?? options.createdAt),
  );
  put(doc, "updatedAt", drawTimestamp(rng, times.updatedMs, undefined, forced.updatedAt));
  const createdBy = userSnapshot(plan, rng, drawUserTarget(plan, rng), shape(forced.createdBy));
  doc.createdBy = createdBy;
  const hasUpdatedBy = rng.chance(options.updatedByRate ?? 0.9) || forced.updatedBy !== undefined;
  const updatedBy = userSnapshot(plan, rng, drawUserTarget(plan, rng), shape(forced.updatedBy));
  if (hasUpdatedBy) doc.updatedBy = updatedBy;
  return doc;
}

function shape(forced: SnapshotShape | undefined): { shape?: SnapshotShape } {
  return forced ? { shape: forced } : {};
}

/** `count` instants spread in order between `fromMs` and `toMs`. */
export function spread(rng: Rng, fromMs: number, toMs: number, count: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(fromMs + Math.floor(rng.float() * (toMs - fromMs)));
  return times.sort((a, b) => a - b);
}
