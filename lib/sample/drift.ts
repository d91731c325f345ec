/**
 * Source drift for `generate --drift`: the changes an application (or a bug) makes to the shape
 * of its documents, injected at fixed indexes of the sample, with the ground truth of what the
 * pipeline must do about each one (a value recorded in `<schema>.unmapped_values`, or a value
 * kept and reported by a warn check).
 * @module
 */
import type { Doc } from "./common.ts";
import type { SampleCollection } from "./plan.ts";

/** What the pipeline must make of one injected change. */
export interface DriftExpectation {
  /** Rows of `<schema>.unmapped_values` at this Mongo path for the document. */
  unmapped?: { path: string; rows: number };
  /** A warn check whose offending rows include the document (a new application value). */
  check?: string;
  /** A top-level path no document had before and no column reads (the drift report). */
  newPath?: string;
}

/** One injected change, as the manifest lists it. */
export interface DriftEntry extends DriftExpectation {
  /** Collection. */
  collection: string;
  /** Index of the document in its collection. */
  index: number;
  /** Its `_id` as the raw tables print it (24-hex or the string). */
  _id: string;
  /** What changed, e.g. "movements-object". */
  kind: string;
}

interface Injection {
  collection: SampleCollection;
  index: number;
  kind: string;
  /** Changes `doc` in place and says what the pipeline must make of it. */
  apply(doc: Doc): DriftExpectation;
}

const PROCESSES = "lml_processes_mesa4core";
const USERS = "lml_users_mesa4core";
const PEOPLE = "lml_people_mesa4core";

const objects = (value: unknown): Doc[] =>
  Array.isArray(value)
    ? value.filter((v): v is Doc => v !== null && typeof v === "object" && !Array.isArray(v))
    : [];

/** Every injection, at fixed indexes that exist at any scale (see MINIMUM_COUNTS). */
export const INJECTIONS: readonly Injection[] = [
  {
    collection: PROCESSES,
    index: 50,
    kind: "movements-object",
    apply(doc) {
      doc.movements = objects(doc.movements)[0] ?? { note: "pase" };
      return { unmapped: { path: "movements", rows: 1 } };
    },
  },
  {
    collection: PROCESSES,
    index: 51,
    kind: "year-string",
    apply(doc) {
      doc.year = String(doc.year ?? 2021);
      return { unmapped: { path: "year", rows: 1 } };
    },
  },
  {
    collection: PROCESSES,
    index: 52,
    kind: "size-with-unit",
    apply(doc) {
      doc.attachments = [{ name: "plano.pdf", size: "12kb", mimeType: "application/pdf" }];
      return { unmapped: { path: "attachments.size", rows: 1 } };
    },
  },
  {
    collection: PROCESSES,
    index: 53,
    kind: "new-status",
    apply(doc) {
      doc.status = "en_revision";
      return { check: "lml_processes_status_known" };
    },
  },
  {
    collection: PROCESSES,
    index: 54,
    kind: "attachments-string",
    apply(doc) {
      doc.attachments = "plano.pdf";
      return { unmapped: { path: "attachments", rows: 1 } };
    },
  },
  {
    collection: PROCESSES,
    index: 55,
    kind: "movement-element-string",
    apply(doc) {
      doc.movements = [...objects(doc.movements), "pase sin datos"];
      return { unmapped: { path: "movements[]", rows: 1 } };
    },
  },
  {
    collection: PROCESSES,
    index: 56,
    kind: "deleted-unreadable",
    apply(doc) {
      doc.deleted = "quizás";
      return { unmapped: { path: "deleted", rows: 1 } };
    },
  },
  {
    collection: PROCESSES,
    index: 57,
    kind: "new-field",
    apply(doc) {
      doc.priority = "alta";
      return { newPath: "priority" };
    },
  },
  {
    collection: USERS,
    index: 36,
    kind: "roles-strings",
    apply(doc) {
      const names = objects(doc.roles).map((r) => String(r.name ?? "rol"));
      doc.roles = names.length > 0 ? names : ["operador"];
      return { unmapped: { path: "roles[]", rows: (doc.roles as string[]).length } };
    },
  },
  {
    collection: USERS,
    index: 37,
    kind: "areas-object",
    apply(doc) {
      doc.areas = objects(doc.areas)[0] ?? { name: "Mesa de Entradas" };
      return { unmapped: { path: "areas", rows: 1 } };
    },
  },
  {
    collection: PEOPLE,
    index: 30,
    kind: "emails-string",
    apply(doc) {
      doc.emails = "juan.perez@example.com";
      return { unmapped: { path: "emails", rows: 1 } };
    },
  },
  {
    collection: PEOPLE,
    index: 31,
    kind: "new-person-type",
    apply(doc) {
      doc.personType = "fideicomiso";
      return { check: "lml_people_person_type_known" };
    },
  },
  {
    collection: PEOPLE,
    index: 32,
    kind: "phone-element-string",
    apply(doc) {
      doc.phones = ["351-555-1234"];
      return { unmapped: { path: "phones[]", rows: 1 } };
    },
  },
  {
    collection: "lml_formbuilder_mesa4core",
    index: 11,
    kind: "new-field-type",
    apply(doc) {
      const fields = objects(doc.fields);
      if (fields.length === 0) doc.fields = [{ key: "firma", label: "Firma", type: "signature" }];
      else fields[0]!.type = "signature";
      return { check: "lml_formbuilder_field_type_known" };
    },
  },
  {
    collection: "lml_formbuilder_mesa4core",
    index: 10,
    kind: "version-string",
    apply(doc) {
      doc.version = "v2";
      return { unmapped: { path: "version", rows: 1 } };
    },
  },
  {
    collection: "lml_processtypes_mesa4core",
    index: 11,
    kind: "step-element-string",
    apply(doc) {
      doc.steps = [...objects(doc.steps), "revisión"];
      return { unmapped: { path: "steps[]", rows: 1 } };
    },
  },
  {
    collection: "lml_listbuilder_mesa4core",
    index: 11,
    kind: "columns-object",
    apply(doc) {
      doc.columns = objects(doc.columns)[0] ?? { field: "name" };
      return { unmapped: { path: "columns", rows: 1 } };
    },
  },
  {
    collection: "lml_usersgroups_mesa4core",
    index: 11,
    kind: "members-string",
    apply(doc) {
      doc.members = "todos";
      return { unmapped: { path: "members", rows: 1 } };
    },
  },
];

/** Applies the drift of document `index` of `collection` (in place) and lists it. */
export function applyDrift(
  collection: SampleCollection,
  index: number,
  doc: Doc,
): DriftEntry[] {
  const entries: DriftEntry[] = [];
  for (const injection of INJECTIONS) {
    if (injection.collection !== collection || injection.index !== index) continue;
    const expectation = injection.apply(doc);
    const id = doc._id as { toHexString?: () => string };
    entries.push({
      collection,
      index,
      _id: typeof id?.toHexString === "function" ? id.toHexString() : String(doc._id),
      kind: injection.kind,
      ...expectation,
    });
  }
  return entries;
}
