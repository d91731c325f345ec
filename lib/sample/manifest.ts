/**
 * The manifest: ground truth the SQL transforms must reproduce, accumulated document by document
 * as the sample is produced (see /tmp/prompts/manifest.md for the contract's definitions).
 * Only id sets and small counters stay in memory.
 * @module
 */
import type { DriftEntry } from "./drift.ts";
import { ObjectId } from "bson";
import { documentIdSet } from "./ids.ts";
import {
  HOSTILE_PLACEMENTS,
  PIPELINE_COLLECTIONS,
  type Plan,
  type SampleCollection,
} from "./plan.ts";
import { isDeleted, userIdHex } from "./snapshots.ts";
import { GARBAGE, parseTimestamp } from "./time.ts";

/** Per-collection figures. */
export interface CollectionFigures {
  /** Documents written. */
  documents: number;
  /** Documents whose `deleted` means deleted (true, "true", 1). */
  soft_deleted: number;
  /** Documents whose `_id` is a string. */
  string_ids: number;
}

/** Row counts of the related tables the transforms build. */
export type RowKey =
  | "lml_users.roles"
  | "lml_users.areas"
  | "lml_users.user_roles"
  | "lml_users.user_areas"
  | "lml_usersgroups.members"
  | "lml_formbuilder.fields"
  | "lml_formbuilder.field_options"
  | "lml_processtypes.steps"
  | "lml_listbuilder.columns"
  | "lml_listbuilder.visible_roles"
  | "lml_people.emails"
  | "lml_people.phones"
  | "lml_people.addresses"
  | "lml_processes.movements"
  | "lml_processes.attachments";

/** Dangling reference kinds. */
export type DanglingKey =
  | "lml_processes_mesa4core:applicant"
  | "lml_processes_mesa4core:processType"
  | "lml_processtypes_mesa4core:form"
  | "lml_people_mesa4core:legalRepresentative";

/** One hostile value and where it is. */
export interface HostileEntry {
  /** Collection. */
  collection: string;
  /** The document's `_id` as 24-hex. */
  _id: string;
  /** What is hostile about it. */
  what: string;
}

/** The manifest written to `<outDir>/manifest.json` (format "lml-sample/1"). */
export interface Manifest {
  /** Always "lml-sample/1". */
  format: "lml-sample/1";
  /** PRNG seed. */
  seed: number;
  /** Volume factor. */
  scale: number;
  /** MongoDB database name. */
  database: string;
  /** Figures per collection. */
  collections: Record<string, CollectionFigures>;
  /** Distinct user ids referenced by snapshots and absent from the users collection. */
  ghost_users: number;
  /** "<collection>:<path>" → user snapshots present without `_id`. */
  snapshots_without_id: Record<string, number>;
  /** "<collection>:<path>" → present, non-null, unparseable timestamps. */
  garbage_timestamps: Record<string, number>;
  /** Non-null references whose `_id` matches no document of the target. */
  dangling: Record<DanglingKey, number>;
  /** Member entries dropped by keeping one per (group, user id). */
  duplicate_members: number;
  /** Rows of related tables. */
  rows: Record<RowKey, number>;
  /** Winning names: role id → name, area id → name. */
  catalog: { roles: Record<string, string>; areas: Record<string, string> };
  /** Hostile values, each at least once. */
  hostile: HostileEntry[];
  /** The injected source drift (`generate --drift` only). */
  drift?: DriftEntry[];
}

/** User snapshot paths per collection. */
export const USER_PATHS: Readonly<Record<SampleCollection, readonly string[]>> = {
  lml_users_mesa4core: ["createdBy", "updatedBy"],
  lml_usersgroups_mesa4core: ["createdBy", "updatedBy", "owner", "members"],
  lml_formbuilder_mesa4core: ["createdBy", "updatedBy"],
  lml_processtypes_mesa4core: ["createdBy", "updatedBy"],
  lml_listbuilder_mesa4core: ["createdBy", "updatedBy"],
  lml_people_mesa4core: ["createdBy", "updatedBy"],
  lml_processes_mesa4core: [
    "createdBy",
    "updatedBy",
    "assignedTo",
    "movements.by",
    "attachments.uploadedBy",
  ],
  lml_notifications_mesa4core: ["createdBy", "updatedBy", "recipient"],
};

/** Timestamp paths per collection. */
export const TIMESTAMP_PATHS: Readonly<Record<SampleCollection, readonly string[]>> = {
  lml_users_mesa4core: ["createdAt", "updatedAt", "lastLogin"],
  lml_usersgroups_mesa4core: ["createdAt", "updatedAt", "members.addedAt"],
  lml_formbuilder_mesa4core: ["createdAt", "updatedAt"],
  lml_processtypes_mesa4core: ["createdAt", "updatedAt"],
  lml_listbuilder_mesa4core: ["createdAt", "updatedAt"],
  lml_people_mesa4core: ["createdAt", "updatedAt", "birthDate"],
  lml_processes_mesa4core: ["createdAt", "updatedAt", "movements.at", "attachments.uploadedAt"],
  lml_notifications_mesa4core: ["createdAt", "updatedAt", "sentAt"],
};

const ROW_KEYS: readonly RowKey[] = [
  "lml_users.roles",
  "lml_users.areas",
  "lml_users.user_roles",
  "lml_users.user_areas",
  "lml_usersgroups.members",
  "lml_formbuilder.fields",
  "lml_formbuilder.field_options",
  "lml_processtypes.steps",
  "lml_listbuilder.columns",
  "lml_listbuilder.visible_roles",
  "lml_people.emails",
  "lml_people.phones",
  "lml_people.addresses",
  "lml_processes.movements",
  "lml_processes.attachments",
];

type Doc = Record<string, unknown>;

/** Values found at a dotted path; arrays along the way (and at the end) are flattened. */
export function valuesAt(value: unknown, path: readonly string[], depth = 0, out: unknown[] = []) {
  if (Array.isArray(value)) {
    for (const element of value) valuesAt(element, path, depth, out);
  } else if (depth === path.length) {
    out.push(value);
  } else if (value !== null && typeof value === "object" && path[depth]! in value) {
    valuesAt((value as Doc)[path[depth]!], path, depth + 1, out);
  }
  return out;
}

function asArray(value: unknown): Doc[] {
  return Array.isArray(value) ? value as Doc[] : [];
}

/** The elements of an array that are objects (the transforms map no other element to a row). */
function objects(value: unknown): Doc[] {
  return asArray(value).filter((v) => v !== null && typeof v === "object" && !Array.isArray(v));
}

function hexOf(value: unknown): string | null {
  return value instanceof ObjectId ? value.toHexString() : null;
}

/** Effective updated time (ms) of a document: updatedAt, else createdAt, else the ObjectId time. */
export function effectiveUpdatedMs(doc: Doc): number | null {
  const updated = parseTimestamp(doc.updatedAt);
  if (typeof updated === "number") return updated;
  const created = parseTimestamp(doc.createdAt);
  if (typeof created === "number") return created;
  return doc._id instanceof ObjectId ? doc._id.getTimestamp().getTime() : null;
}

/** Accumulates the manifest while documents are produced. */
export class ManifestBuilder {
  #plan: Plan;
  #database: string;
  #targets: Record<"users" | "people" | "processtypes" | "forms", Set<string>>;
  #collections: Record<string, CollectionFigures> = {};
  #ghosts = new Set<string>();
  #withoutId: Record<string, number> = {};
  #garbage: Record<string, number> = {};
  #dangling: Record<DanglingKey, number> = {
    "lml_processes_mesa4core:applicant": 0,
    "lml_processes_mesa4core:processType": 0,
    "lml_processtypes_mesa4core:form": 0,
    "lml_people_mesa4core:legalRepresentative": 0,
  };
  #duplicates = 0;
  #rows = Object.fromEntries(ROW_KEYS.map((key) => [key, 0])) as Record<RowKey, number>;
  #roles = new Map<string, { ms: number; name: string }>();
  #areas = new Map<string, { ms: number; name: string }>();
  #hostile: HostileEntry[] = [];

  constructor(plan: Plan, database: string) {
    this.#plan = plan;
    this.#database = database;
    this.#targets = {
      users: documentIdSet(plan, "lml_users_mesa4core"),
      people: documentIdSet(plan, "lml_people_mesa4core"),
      processtypes: documentIdSet(plan, "lml_processtypes_mesa4core"),
      forms: documentIdSet(plan, "lml_formbuilder_mesa4core"),
    };
  }

  /** Records document `index` of `collection`. */
  observe(collection: SampleCollection, index: number, doc: Doc): void {
    const figures = this.#collections[collection] ??= {
      documents: 0,
      soft_deleted: 0,
      string_ids: 0,
    };
    figures.documents++;
    if (isDeleted(doc.deleted)) figures.soft_deleted++;
    if (typeof doc._id === "string") figures.string_ids++;
    const pipeline = (PIPELINE_COLLECTIONS as readonly string[]).includes(collection);
    for (const path of USER_PATHS[collection]) {
      const key = `${collection}:${path}`;
      this.#withoutId[key] ??= 0;
      for (const snapshot of valuesAt(doc, path.split("."))) {
        if (snapshot === null || typeof snapshot !== "object") continue;
        if (!("_id" in snapshot)) {
          this.#withoutId[key]++;
          continue;
        }
        const hex = userIdHex((snapshot as Doc)._id);
        if (pipeline && hex !== null && !this.#targets.users.has(hex)) this.#ghosts.add(hex);
      }
    }
    for (const path of TIMESTAMP_PATHS[collection]) {
      const key = `${collection}:${path}`;
      this.#garbage[key] ??= 0;
      for (const value of valuesAt(doc, path.split("."))) {
        if (parseTimestamp(value) === GARBAGE) this.#garbage[key]++;
      }
    }
    this.#observeSpecific(collection, doc);
    for (const placement of HOSTILE_PLACEMENTS) {
      if (placement.collection === collection && placement.index === index) {
        this.#hostile.push({
          collection,
          _id: String(hexOf(doc._id) ?? doc._id),
          what: placement.what,
        });
      }
    }
  }

  #copy(catalog: Map<string, { ms: number; name: string }>, copy: unknown, ms: number) {
    if (copy === null || typeof copy !== "object") return;
    const { _id, name } = copy as Doc;
    const hex = hexOf(_id);
    if (hex === null || typeof name !== "string") return;
    const current = catalog.get(hex);
    if (!current || ms > current.ms || (ms === current.ms && name > current.name)) {
      catalog.set(hex, { ms, name });
    }
  }

  #dangle(key: DanglingKey, snapshot: unknown, targets: Set<string>) {
    if (snapshot === null || typeof snapshot !== "object") return;
    const hex = userIdHex((snapshot as Doc)._id);
    if (hex === null || !targets.has(hex)) this.#dangling[key]++;
  }

  #observeSpecific(collection: SampleCollection, doc: Doc) {
    const rows = this.#rows;
    const ms = effectiveUpdatedMs(doc) ?? -Infinity;
    switch (collection) {
      case "lml_users_mesa4core": {
        const roles = new Set<string>(), areas = new Set<string>();
        for (const role of asArray(doc.roles)) {
          this.#copy(this.#roles, role, ms);
          const hex = hexOf(role._id);
          if (hex) roles.add(hex);
        }
        for (const area of asArray(doc.areas)) {
          this.#copy(this.#areas, area, ms);
          const hex = hexOf(area._id);
          if (hex) areas.add(hex);
        }
        rows["lml_users.user_roles"] += roles.size;
        rows["lml_users.user_areas"] += areas.size;
        break;
      }
      case "lml_usersgroups_mesa4core": {
        const members = new Set<string>();
        let withId = 0;
        for (const member of asArray(doc.members)) {
          if (member === null || typeof member !== "object" || !("_id" in member)) continue;
          const hex = userIdHex(member._id);
          if (hex === null) continue;
          withId++;
          members.add(hex);
        }
        rows["lml_usersgroups.members"] += members.size;
        this.#duplicates += withId - members.size;
        break;
      }
      case "lml_formbuilder_mesa4core":
        for (const field of objects(doc.fields)) {
          rows["lml_formbuilder.fields"]++;
          rows["lml_formbuilder.field_options"] += objects(field.options).length;
        }
        break;
      case "lml_processtypes_mesa4core":
        this.#copy(this.#areas, doc.area, ms);
        for (const step of objects(doc.steps)) {
          rows["lml_processtypes.steps"]++;
          this.#copy(this.#areas, step.area, ms);
        }
        this.#dangle("lml_processtypes_mesa4core:form", doc.form, this.#targets.forms);
        break;
      case "lml_listbuilder_mesa4core":
        rows["lml_listbuilder.columns"] += objects(doc.columns).length;
        rows["lml_listbuilder.visible_roles"] += new Set(asArray(doc.visibleToRoles)).size;
        break;
      case "lml_people_mesa4core": {
        const emails = new Set<string>();
        for (const entry of asArray(doc.emails)) {
          const address = typeof entry === "string" ? entry : entry?.address;
          if (typeof address === "string") emails.add(address.trim().toLowerCase());
        }
        rows["lml_people.emails"] += emails.size;
        rows["lml_people.phones"] += objects(doc.phones).length;
        rows["lml_people.addresses"] += objects(doc.addresses).length;
        this.#dangle(
          "lml_people_mesa4core:legalRepresentative",
          doc.legalRepresentative,
          this.#targets.people,
        );
        break;
      }
      case "lml_processes_mesa4core":
        this.#copy(this.#areas, doc.currentArea, ms);
        for (const movement of objects(doc.movements)) {
          rows["lml_processes.movements"]++;
          this.#copy(this.#areas, movement.from, ms);
          this.#copy(this.#areas, movement.to, ms);
        }
        rows["lml_processes.attachments"] += objects(doc.attachments).length;
        this.#dangle("lml_processes_mesa4core:applicant", doc.applicant, this.#targets.people);
        this.#dangle(
          "lml_processes_mesa4core:processType",
          doc.processType,
          this.#targets.processtypes,
        );
        break;
      case "lml_notifications_mesa4core":
        break;
    }
  }

  /** The finished manifest (keys sorted, so the file is byte-stable). */
  finish(): Manifest {
    const names = (catalog: Map<string, { ms: number; name: string }>) =>
      Object.fromEntries(
        [...catalog].sort(([a], [b]) => a < b ? -1 : 1).map(([id, c]) => [id, c.name]),
      );
    const sorted = (record: Record<string, number>) =>
      Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1));
    this.#rows["lml_users.roles"] = this.#roles.size;
    this.#rows["lml_users.areas"] = this.#areas.size;
    return {
      format: "lml-sample/1",
      seed: this.#plan.seed,
      scale: this.#plan.scale,
      database: this.#database,
      collections: this.#collections,
      ghost_users: this.#ghosts.size,
      snapshots_without_id: sorted(this.#withoutId),
      garbage_timestamps: sorted(this.#garbage),
      dangling: { ...this.#dangling },
      duplicate_members: this.#duplicates,
      rows: { ...this.#rows },
      catalog: { roles: names(this.#roles), areas: names(this.#areas) },
      hostile: [...this.#hostile],
    };
  }
}
