/**
 * lml_formbuilder_mesa4core: forms come in families of four versions (form k is version k % 4 + 1
 * of family k / 4). A family owns 4-9 field templates; some appear only from a later version and
 * early versions use legacy snake_case keys, so field keys drift between versions (and so does
 * the formData of processes). Options only on select/multiselect; validations free-form.
 * Status: 15% draft, 65% published, 20% archived.
 * @module
 */
import { Rng } from "./prng.ts";
import { documentId, documentTimes } from "./ids.ts";
import type { Plan } from "./plan.ts";
import { appendAudit, type Doc } from "./common.ts";
import { areaBaseName } from "./catalogs.ts";
import { FIELD_TEMPLATES, FORM_FAMILIES, OPTIONS } from "./vocabulary.ts";

const SINCE_WEIGHTS = { 1: 70, 2: 20, 3: 10 };
const STATUS_WEIGHTS = { draft: 15, published: 65, archived: 20 };

const COLLECTION = "lml_formbuilder_mesa4core";
/** Versions per family. */
export const VERSIONS = 4;

/** One field of a form version. */
export interface FormField {
  /** Key as this version names it. */
  key: string;
  /** Index into FIELD_TEMPLATES. */
  template: number;
}

/** What other collections need to know about form `index`. */
export interface FormProfile {
  /** Family number. */
  family: number;
  /** Version within the family (1-based). */
  version: number;
  /** Display name. */
  name: string;
}

/** Family, version and name of form `index`. */
export function formProfile(index: number): FormProfile {
  const family = Math.floor(index / VERSIONS);
  const base = FORM_FAMILIES[family % FORM_FAMILIES.length]!;
  const name = family < FORM_FAMILIES.length ? base : `${base} - ${areaBaseName(family % 30)}`;
  return { family, version: (index % VERSIONS) + 1, name };
}

/** The fields of `version` of `family`, in order. */
export function familyFields(plan: Plan, family: number, version: number): FormField[] {
  const rng = Rng.for(plan.seed, "form-family", family);
  const templates = rng.sample(FIELD_TEMPLATES.length, rng.int(4, 9));
  const fields: FormField[] = [];
  templates.forEach((template, i) => {
    const since = rng.weighted(SINCE_WEIGHTS);
    const legacyUntil = rng.int(0, 2);
    const sinceVersion = i === 0 ? 1 : Number(since);
    if (sinceVersion > version) return;
    const t = FIELD_TEMPLATES[template]!;
    fields.push({ key: version <= legacyUntil ? t.legacyKey : t.key, template });
  });
  return fields;
}

/** Document `index` of lml_formbuilder_mesa4core. */
export function buildForm(plan: Plan, index: number): Doc {
  const rng = Rng.for(plan.seed, COLLECTION, index);
  const times = documentTimes(plan, COLLECTION, index, rng);
  const profile = formProfile(index);
  const fields = familyFields(plan, profile.family, profile.version).map((field, i) => {
    const t = FIELD_TEMPLATES[field.template]!;
    const out: Doc = {
      key: field.key,
      label: t.label,
      type: t.type,
      required: rng.chance(0.5),
      order: i + 1,
    };
    if (t.type === "text" || t.type === "textarea") {
      out.validations = { maxLength: rng.pick([60, 120, 255, 2000]) };
    } else if (t.type === "number") {
      out.validations = { min: 0, max: rng.pick([100, 1000, 100000]) };
    } else if (t.type === "file" && rng.chance(0.7)) {
      out.validations = { accept: [".pdf", ".jpg"], maxSizeMb: 10 };
    }
    if (t.type === "select" || t.type === "multiselect") {
      out.options = rng.sample(OPTIONS.length, rng.int(2, 6)).map((o) => ({ ...OPTIONS[o]! }));
    }
    if (rng.chance(0.2)) out.placeholder = `Ingrese ${t.label.toLowerCase()}`;
    return out;
  });
  const keys = fields.map((field) => field.key as string);
  const half = Math.ceil(keys.length / 2);
  return appendAudit(plan, rng, COLLECTION, index, {
    _id: documentId(plan, COLLECTION, index),
    name: profile.name,
    version: profile.version,
    status: rng.weighted(STATUS_WEIGHTS),
    fields,
    layout: rng.chance(0.5)
      ? {
        columns: 2,
        sections: [{ title: "Datos generales", fields: keys.slice(0, half) }, {
          title: "Información adicional",
          fields: keys.slice(half),
        }],
      }
      : { columns: 1, sections: [{ title: "Formulario", fields: keys }], theme: "institucional" },
  }, times);
}
