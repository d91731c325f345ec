/**
 * lml_processtypes_mesa4core: a form reference (6% null, 3% dangling: a form that doesn't
 * exist), an area and 1-6 steps each in an area. `code` is unique (stem + index). Forced:
 * 4 has a null form, 5 a dangling one.
 * @module
 */
import { Rng } from "./prng.ts";
import { documentId, documentTimes, missingId } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { appendAudit, type Doc } from "./common.ts";
import { areaBaseName, areaCopy, drawArea } from "./catalogs.ts";
import { formProfile } from "./forms.ts";
import { PROCESS_TYPES } from "./vocabulary.ts";

const FORM_WEIGHTS = { form: 91, none: 6, missing: 3 };

const COLLECTION = "lml_processtypes_mesa4core";
const STEP_NAMES = [
  "Recepción",
  "Análisis técnico",
  "Inspección",
  "Dictamen jurídico",
  "Firma",
  "Notificación",
];

/** What processes need to know about process type `index`. */
export interface ProcessTypeProfile {
  /** Display name. */
  name: string;
  /** Unique code. */
  code: string;
  /** Form index, "none" (null form) or "missing" (dangling form). */
  form: number | "none" | "missing";
  /** Area index. */
  area: number;
}

const PROFILES = new WeakMap<Plan, Map<number, ProcessTypeProfile>>();

/** Name, code, form and area of process type `index` (cached per plan). */
export function processTypeProfile(plan: Plan, index: number): ProcessTypeProfile {
  let cache = PROFILES.get(plan);
  if (!cache) PROFILES.set(plan, cache = new Map());
  let profile = cache.get(index);
  if (!profile) {
    const rng = Rng.for(plan.seed, "processtype-profile", index);
    const base = PROCESS_TYPES[index % PROCESS_TYPES.length]!;
    const area = drawArea(rng);
    const drawn = rng.weighted(FORM_WEIGHTS);
    const formIndex = rng.int(0, plan.counts.lml_formbuilder_mesa4core - 1);
    profile = {
      name: index < PROCESS_TYPES.length ? base.name : `${base.name} - ${areaBaseName(area)}`,
      code: `${base.code}-${String(index + 1).padStart(3, "0")}`,
      form: index === 4 ? "none" : index === 5 ? "missing" : drawn === "form" ? formIndex : drawn,
      area,
    };
    cache.set(index, profile);
  }
  return profile;
}

/** Document `index` of lml_processtypes_mesa4core. */
export function buildProcessType(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const profile = processTypeProfile(plan, index);
  const form = profile.form === "none"
    ? null
    : profile.form === "missing"
    ? { _id: missingId(plan, 1_000_000 + index), name: "Formulario dado de baja" }
    : {
      _id: documentId(plan, "lml_formbuilder_mesa4core", profile.form),
      name: formProfile(profile.form).name,
    };
  const steps = Array.from({ length: rng.skewed(1, 6) }, (_, i) => ({
    order: i + 1,
    name: STEP_NAMES[i]!,
    area: areaCopy(plan, rng, i === 0 ? 0 : drawArea(rng)),
    slaDays: rng.pick([2, 5, 10, 15, 30]),
  }));
  return appendAudit(plan, rng, COLLECTION, index, {
    _id: documentId(plan, COLLECTION, index),
    name: profile.name,
    code: profile.code,
    description:
      `Trámite de ${profile.name.toLowerCase()}. Requiere documentación según ordenanza N° ${
        rng.int(1000, 9999)
      }/${rng.int(10, 24)}.`,
    form,
    area: areaCopy(plan, rng, profile.area),
    steps,
    active: rng.chance(0.92),
  }, times);
}
