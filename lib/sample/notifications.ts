/**
 * lml_notifications_mesa4core (extra, not in the pipeline): notifications sent to users. A
 * `recipient` user snapshot (same shapes and problems as every snapshot; its ghosts come from the
 * same pool the pipeline collections already reference), `sentAt` in any timestamp variant,
 * 1-3 `channels` {type, status, at} (at: a date or an ISO string), a free-form `payload` whose keys
 * depend on the kind of notification, and `read` spelled true/false/"true"/"false"/1/0 or
 * missing. Forced: 4 a recipient without `_id`, 10 a garbage sentAt.
 * @module
 */
import { Rng } from "./prng.ts";
import { documentId, documentTimes } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { appendAudit, type Doc, put } from "./common.ts";
import { drawUserTarget, userSnapshot } from "./snapshots.ts";
import { drawTimestamp } from "./time.ts";

const KIND_WEIGHTS = { pase: 40, vencimiento: 25, mensaje: 20, grupo: 15 };
const CHANNEL_STATUS_WEIGHTS = { delivered: 70, sent: 15, failed: 10, pending: 5 };

const COLLECTION = "lml_notifications_mesa4core";
const READ_SPELLINGS: readonly unknown[] = [true, false, "true", "false", 1, 0, undefined];

function payload(rng: Rng, processNumber: string): Doc {
  switch (rng.weighted(KIND_WEIGHTS)) {
    case "pase":
      return {
        kind: "pase",
        processNumber,
        area: rng.pick(["Comercio", "Catastro", "Tránsito"]),
        link: `/tramites/${processNumber}`,
      };
    case "vencimiento":
      return {
        kind: "vencimiento",
        processNumber,
        daysLeft: rng.int(-5, 10),
        priority: rng.pick(["alta", "media"]),
      };
    case "mensaje":
      return {
        message: "Tiene un trámite pendiente de revisión en su bandeja.",
        from: "Mesa de Entradas",
      };
    default:
      return {
        groupName: "Supervisores de Comercio",
        action: rng.pick(["alta", "baja"]),
        extra: { count: rng.int(1, 9) },
      };
  }
}

/** Document `index` of lml_notifications_mesa4core. */
export function buildNotification(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const doc: Doc = {
    _id: documentId(plan, COLLECTION, index),
    recipient: userSnapshot(
      plan,
      rng,
      drawUserTarget(plan, rng),
      index === 4 ? { shape: "no_id" } : {},
    ),
  };
  put(
    doc,
    "sentAt",
    drawTimestamp(
      rng,
      times.createdMs + 1000,
      undefined,
      index === 10 ? "garbage_empty" : undefined,
    ),
  );
  const types = rng.sample(3, rng.int(1, 3));
  doc.channels = types.map((t) => {
    const ms = times.createdMs + rng.int(1, 600) * 1000;
    return {
      type: ["email", "sms", "push"][t]!,
      status: rng.weighted(CHANNEL_STATUS_WEIGHTS),
      at: rng.chance(0.8) ? new Date(ms) : new Date(ms).toISOString(),
    };
  });
  doc.payload = payload(
    rng,
    `EXP-${new Date(times.createdMs).getUTCFullYear()}-${
      String(rng.int(1, 129000)).padStart(6, "0")
    }`,
  );
  put(doc, "read", rng.pick(READ_SPELLINGS));
  return appendAudit(plan, rng, COLLECTION, index, doc, times, { updatedByRate: 0 });
}
