/**
 * lml_processes_mesa4core: the large collection. Status 15% iniciado, 40% en_tramite, 35%
 * finalizado, 10% archivado. 2-20 movements (cube of a uniform draw: mostly short, mean ~6.7), each passing the process from one
 * area to the next; 0-10 attachments (mean ~2.7). 15% unassigned (null). References: 1% to a process
 * type that doesn't exist, 2% to an applicant missing from people. formData follows the fields of
 * the type's form family, 15% of the time from another version (keys drift), 5% with an extra
 * legacy key. Forced: process i < ghost-pool size has ghost i as first movement actor (so every
 * ghost of the pool is referenced), 4 assignedTo without `_id`, 15 last movement actor without
 * `_id`, 16 first uploader without `_id`, 17 dangling applicant, 18 dangling type, 19 garbage
 * movement time, 20 garbage upload time, 11-14 the hostile values.
 * @module
 */
import { Decimal128, Double } from "bson";
import { Rng } from "./prng.ts";
import { documentId, documentTimes, missingId } from "./ids.ts";
import { HOSTILE_PLACEMENTS, type Plan } from "./plan.ts";
import { appendAudit, type Doc, spread } from "./common.ts";
import { areaBaseName, areaCopy, drawArea } from "./catalogs.ts";
import { familyFields, formProfile, VERSIONS } from "./forms.ts";
import { processTypeProfile } from "./process_types.ts";
import { fullName, personProfile } from "./people.ts";
import { drawUserTarget, userSnapshot } from "./snapshots.ts";
import { drawTimestamp, EVENT_WEIGHTS, type TimestampVariant } from "./time.ts";
import { FIELD_TEMPLATES, OPTIONS, STREETS, WORDS } from "./vocabulary.ts";

const STATUS_WEIGHTS = { iniciado: 15, en_tramite: 40, finalizado: 35, archivado: 10 };

const COLLECTION = "lml_processes_mesa4core";
const MIME: readonly [string, string][] = [
  ["pdf", "application/pdf"],
  ["jpg", "image/jpeg"],
  ["png", "image/png"],
  ["docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
];
const FILES = [
  "plano",
  "dni_frente",
  "dni_dorso",
  "constancia_afip",
  "nota",
  "foto_local",
  "título",
];

function hostileAt(index: number): string | undefined {
  return HOSTILE_PLACEMENTS.find((h) => h.collection === COLLECTION && h.index === index)?.what;
}

function sentence(rng: Rng, words: number): string {
  const text = Array.from({ length: words }, () => rng.pick(WORDS)).join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1) + ".";
}

function fieldValue(rng: Rng, template: number): unknown {
  const t = FIELD_TEMPLATES[template]!;
  switch (t.type) {
    case "text":
      return `${rng.pick(STREETS)} ${rng.int(1, 4000)}`;
    case "textarea":
      return sentence(rng, rng.int(5, 30));
    case "number":
      return rng.chance(0.5) ? rng.int(1, 500) : Math.round(rng.float() * 50000) / 100;
    case "date":
      return new Date(Date.UTC(rng.int(2019, 2024), rng.int(0, 11), rng.int(1, 28))).toISOString()
        .slice(0, 10);
    case "select":
      return rng.pick(OPTIONS).value;
    case "multiselect":
      return rng.sample(OPTIONS.length, rng.int(1, 3)).map((o) => OPTIONS[o]!.value);
    case "checkbox":
      return rng.chance(0.8);
    case "file":
      return { name: `${rng.pick(FILES)}.pdf`, size: rng.int(10_000, 900_000) };
  }
}

function formData(plan: Plan, rng: Rng, form: number | "none" | "missing"): Doc {
  const data: Doc = {};
  if (typeof form !== "number") {
    if (rng.chance(0.5)) data.observaciones = sentence(rng, rng.int(3, 12));
    return data;
  }
  const profile = formProfile(form);
  const version = rng.chance(0.15) ? rng.int(1, VERSIONS) : profile.version;
  for (const field of familyFields(plan, profile.family, version)) {
    if (rng.chance(0.05)) continue;
    data[field.key] = fieldValue(rng, field.template);
  }
  if (rng.chance(0.05)) data.campoLegacy = rng.pick(["sí", "no", "N/D", 1, true]);
  return data;
}

function addHostile(data: Doc, what: string | undefined): void {
  switch (what) {
    case "nul-in-string":
      data.observaciones = "Texto pegado desde otro sistema\u0000con un carácter nulo";
      break;
    case "2mb-document":
      data.planoEscaneado = "JVBERi0xLjQK" +
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3".repeat(52_000);
      break;
    case "decimal128":
      data.montoTasa = Decimal128.fromString("12345678901234567890.125");
      break;
    case "nan":
      data.superficie = new Double(NaN);
      break;
  }
}

/** Document `index` of lml_processes_mesa4core. */
export function buildProcess(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const year = new Date(times.createdMs).getUTCFullYear();

  const typeDangling = index === 18 || (index !== 17 && rng.chance(0.01));
  const typeIndex = rng.int(0, plan.counts.lml_processtypes_mesa4core - 1);
  const type = processTypeProfile(plan, typeIndex);
  const processType = typeDangling
    ? {
      _id: missingId(plan, 2_000_000 + (index % plan.missing)),
      name: "Trámite discontinuado",
      code: "DISC-000",
    }
    : {
      _id: documentId(plan, "lml_processtypes_mesa4core", typeIndex),
      name: type.name,
      code: type.code,
    };

  const applicantDangling = index === 17 || rng.chance(0.02);
  const applicantIndex = applicantDangling
    ? rng.int(0, plan.missing - 1)
    : rng.int(0, plan.counts.lml_people_mesa4core - 1);
  const person = personProfile(plan, applicantIndex, applicantDangling);
  const applicant = {
    _id: applicantDangling
      ? missingId(plan, applicantIndex)
      : documentId(plan, "lml_people_mesa4core", applicantIndex),
    fullName: fullName(person),
    documentNumber: rng.chance(0.5) ? person.digits : person.documentNumber,
  };

  const status = rng.weighted(STATUS_WEIGHTS);
  const movementCount = 2 + Math.floor(rng.float() ** 3 * 19);
  const at = spread(rng, times.createdMs, times.updatedMs, movementCount);
  let area = typeDangling ? 0 : type.area;
  const movements: Doc[] = at.map((ms, i) => {
    const next = i === 0 ? type.area : drawArea(rng);
    const last = i === movementCount - 1;
    const by = index < plan.ghosts && i === 0
      ? userSnapshot(plan, rng, { ghost: true, index }, { shape: "full", idForm: "oid" })
      : userSnapshot(
        plan,
        rng,
        drawUserTarget(plan, rng),
        index === 15 && last ? { shape: "no_id" } : {},
      );
    const forcedAt: TimestampVariant | undefined = index === 19 && last ? "garbage_na" : undefined;
    const movement: Doc = {
      from: areaCopy(plan, rng, area),
      to: areaCopy(plan, rng, next),
      at: drawTimestamp(rng, ms, EVENT_WEIGHTS, forcedAt),
      by,
      note: i === 0 ? "Inicio del trámite" : `Pase a ${areaBaseName(next)}`,
    };
    area = next;
    return movement;
  });

  const drawnAttachments = Math.floor(rng.float() ** 3 * 11);
  const attachmentCount = index === 16 || index === 20
    ? Math.max(1, drawnAttachments)
    : drawnAttachments;
  const uploads = spread(rng, times.createdMs, times.updatedMs, attachmentCount);
  const attachments = uploads.map((ms, i) => {
    const [extension, mimeType] = rng.pick(MIME);
    return {
      name: `${rng.pick(FILES)}_${i + 1}.${extension}`,
      size: rng.int(5_000, 8_000_000),
      mimeType,
      uploadedAt: drawTimestamp(
        rng,
        ms,
        EVENT_WEIGHTS,
        index === 20 && i === 0 ? "garbage_zero" : undefined,
      ),
      uploadedBy: userSnapshot(
        plan,
        rng,
        drawUserTarget(plan, rng),
        index === 16 && i === 0 ? { shape: "no_id" } : {},
      ),
    };
  });

  const data = formData(plan, rng, typeDangling ? "missing" : type.form);
  addHostile(data, hostileAt(index));
  const assigned = index === 4 || rng.chance(0.85);
  const doc: Doc = {
    _id: documentId(plan, COLLECTION, index),
    processNumber: `EXP-${year}-${String(index + 1).padStart(6, "0")}`,
    year,
    processType,
    status,
    subject: `${processType.name} - ${rng.pick(STREETS)} ${rng.int(1, 4000)}`,
    applicant,
    currentArea: areaCopy(plan, rng, area),
    assignedTo: assigned
      ? userSnapshot(plan, rng, drawUserTarget(plan, rng), index === 4 ? { shape: "no_id" } : {})
      : null,
    formData: data,
    movements,
    attachments,
  };
  return appendAudit(plan, rng, COLLECTION, index, doc, times, { deletedRate: 0.02 });
}
