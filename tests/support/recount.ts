/**
 * An independent reader of a generated sample: reads the BSON files back and recounts every
 * manifest figure with plain code written from the contract (not the generator's own counting).
 * @module
 */
import { Decimal128, deserialize, type Document, Long, ObjectId } from "bson";

/** Reads every document of a mongodump `.bson` file, with its size in bytes. */
export async function* readBson(
  path: string,
): AsyncGenerator<{ doc: Document; size: number; bytes: Uint8Array }> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset < bytes.length;) {
    const size = view.getInt32(offset, true);
    const slice = bytes.subarray(offset, offset + size);
    yield { doc: deserialize(slice), size, bytes: slice };
    offset += size;
  }
}

const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const ISO_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?[+-]\d{2}:\d{2}$/;
const NAIVE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** "ok" with the instant, "absent" for null/missing, "garbage" otherwise. */
export function readTimestamp(
  value: unknown,
): { kind: "ok"; ms: number } | { kind: "absent" | "garbage" } {
  if (value === null || value === undefined) return { kind: "absent" };
  let ms = NaN;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === "number") ms = value;
  else if (value instanceof Long) ms = Number(value.toBigInt());
  else if (typeof value === "string") {
    if (ISO_Z.test(value) || ISO_OFFSET.test(value)) ms = Date.parse(value);
    else if (NAIVE.test(value)) ms = Date.parse(`${value.replace(" ", "T")}Z`);
  } else if (typeof value === "object" && Object.keys(value).length === 1 && "$date" in value) {
    const inner = (value as { $date: unknown }).$date;
    if (typeof inner === "string" && ISO_Z.test(inner)) ms = Date.parse(inner);
    else if (inner !== null && typeof inner === "object" && "$numberLong" in inner) {
      ms = Number((inner as { $numberLong: string }).$numberLong);
    }
  }
  return Number.isFinite(ms) ? { kind: "ok", ms } : { kind: "garbage" };
}

/** The values at a dotted path, descending into arrays. */
export function at(doc: unknown, path: string): unknown[] {
  let values: unknown[] = [doc];
  for (const part of path.split(".")) {
    const next: unknown[] = [];
    for (const value of values) {
      if (value !== null && typeof value === "object" && !Array.isArray(value) && part in value) {
        const inner = (value as Record<string, unknown>)[part];
        if (Array.isArray(inner)) next.push(...inner);
        else next.push(inner);
      }
    }
    values = next;
  }
  return values;
}

function hex(id: unknown): string | undefined {
  if (id instanceof ObjectId) return id.toHexString();
  if (typeof id === "string" && /^[0-9a-f]{24}$/i.test(id)) return id.toLowerCase();
  return undefined;
}

const SNAPSHOT_PATHS: Record<string, string[]> = {
  lml_usersgroups_mesa4core: ["owner", "members"],
  lml_processes_mesa4core: ["assignedTo", "movements.by", "attachments.uploadedBy"],
  lml_notifications_mesa4core: ["recipient"],
};
const TIME_PATHS: Record<string, string[]> = {
  lml_users_mesa4core: ["lastLogin"],
  lml_usersgroups_mesa4core: ["members.addedAt"],
  lml_people_mesa4core: ["birthDate"],
  lml_processes_mesa4core: ["movements.at", "attachments.uploadedAt"],
  lml_notifications_mesa4core: ["sentAt"],
};
const PIPELINE = [
  "lml_users_mesa4core",
  "lml_usersgroups_mesa4core",
  "lml_formbuilder_mesa4core",
  "lml_processtypes_mesa4core",
  "lml_listbuilder_mesa4core",
  "lml_people_mesa4core",
  "lml_processes_mesa4core",
];

function containsHostile(value: unknown, what: string): boolean {
  if (what === "nul-in-string" && typeof value === "string") return value.includes("\u0000");
  if (what === "int64-beyond-2^53" && value instanceof Long) {
    return value.toBigInt() > BigInt(Number.MAX_SAFE_INTEGER);
  }
  if (what === "decimal128" && value instanceof Decimal128) return true;
  if (what === "nan" && typeof value === "number") return Number.isNaN(value);
  if (what === "infinity" && typeof value === "number") return value === Infinity;
  if (Array.isArray(value)) return value.some((v) => containsHostile(v, what));
  if (
    value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.values(value).some((v) => containsHostile(v, what));
  }
  return false;
}

/** Everything recounted from the files: the manifest's figures plus a few extra observations. */
export interface Recount {
  /** Same shape as the manifest's figures. */
  figures: Record<string, unknown>;
  /** Observed "<collection>:<what>" → count, for anomaly coverage assertions. */
  seen: Map<string, number>;
}

/** Recounts the sample under `<outDir>/<database>` for the given collections. */
export async function recount(dir: string, collections: string[]): Promise<Recount> {
  const seen = new Map<string, number>();
  const see = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
  const files = (name: string) => readBson(`${dir}/${name}.bson`);

  // Pass 1: the ids of every reference target.
  const ids: Record<string, Set<string>> = {};
  for (const name of collections) {
    ids[name] = new Set();
    for await (const { doc } of files(name)) ids[name].add(hex(doc._id) ?? String(doc._id));
  }
  const users = ids["lml_users_mesa4core"]!;

  const collectionFigures: Record<string, Record<string, number>> = {};
  const withoutId: Record<string, number> = {};
  const garbage: Record<string, number> = {};
  const dangling: Record<string, number> = {
    "lml_processes_mesa4core:applicant": 0,
    "lml_processes_mesa4core:processType": 0,
    "lml_processtypes_mesa4core:form": 0,
    "lml_people_mesa4core:legalRepresentative": 0,
  };
  const ghosts = new Set<string>();
  let duplicates = 0;
  const rows: Record<string, number> = {};
  const add = (key: string, n: number) => rows[key] = (rows[key] ?? 0) + n;
  const winners = {
    roles: new Map<string, [number, string]>(),
    areas: new Map<string, [number, string]>(),
  };
  const hostile: { collection: string; _id: string; what: string }[] = [];
  const userIds = new Map<string, unknown>();

  for (const name of collections) {
    const figures = collectionFigures[name] = { documents: 0, soft_deleted: 0, string_ids: 0 };
    const snapshotPaths = ["createdBy", "updatedBy", ...(SNAPSHOT_PATHS[name] ?? [])];
    const timePaths = ["createdAt", "updatedAt", ...(TIME_PATHS[name] ?? [])];
    for (const path of snapshotPaths) withoutId[`${name}:${path}`] = 0;
    for (const path of timePaths) garbage[`${name}:${path}`] = 0;
    for await (const { doc, size, bytes } of files(name)) {
      figures.documents++;
      const typed = deserialize(bytes, { promoteValues: false }).createdAt;
      const bsonType = (typed as { _bsontype?: string } | null)?._bsontype;
      see(
        `createdAt:${
          bsonType && bsonType !== "ObjectId" ? bsonType : timestampKind(doc.createdAt)
        }`,
      );
      const deleted = doc.deleted;
      if (deleted === true || deleted === "true" || deleted === 1) figures.soft_deleted++;
      see(`${name}:deleted=${deleted === undefined ? "missing" : JSON.stringify(deleted)}`);
      if (typeof doc._id === "string") figures.string_ids++;

      for (const path of snapshotPaths) {
        for (const snapshot of at(doc, path)) {
          if (snapshot === null || typeof snapshot !== "object") continue;
          const id = (snapshot as Document)._id;
          if (id === undefined) {
            withoutId[`${name}:${path}`]!++;
            continue;
          }
          see(
            `snapshot-id:${
              id instanceof ObjectId ? "oid" : /[A-F]/.test(String(id)) ? "upper" : "lower"
            }`,
          );
          if (Object.keys(snapshot).length === 1) see("snapshot:id-only");
          const userId = hex(id)!;
          if (PIPELINE.includes(name) && !users.has(userId)) ghosts.add(userId);
          if (name === "lml_notifications_mesa4core" && !users.has(userId)) {
            see("notification-ghost:" + userId);
          }
        }
      }
      for (const path of timePaths) {
        for (const value of at(doc, path)) {
          const parsed = readTimestamp(value);
          if (parsed.kind === "garbage") {
            garbage[`${name}:${path}`]!++;
            see(`garbage:${JSON.stringify(value)}`);
          }
          see(`timestamp:${timestampKind(value)}`);
        }
      }

      // Effective times.
      const created = readTimestamp(doc.createdAt);
      const updated = readTimestamp(doc.updatedAt);
      const createdMs = created.kind === "ok"
        ? created.ms
        : doc._id instanceof ObjectId
        ? doc._id.getTimestamp().getTime()
        : null;
      const updatedMs = updated.kind === "ok" ? updated.ms : createdMs;
      const vote = (catalog: Map<string, [number, string]>, copy: unknown) => {
        const { _id, name: copyName } = copy as { _id: ObjectId; name: string };
        const key = _id.toHexString();
        const best = catalog.get(key);
        const ms = updatedMs ?? -Infinity;
        if (!best || ms > best[0] || (ms === best[0] && copyName > best[1])) {
          catalog.set(key, [ms, copyName]);
        }
      };

      switch (name) {
        case "lml_users_mesa4core": {
          for (const role of doc.roles) vote(winners.roles, role);
          for (const area of doc.areas) vote(winners.areas, area);
          add(
            "lml_users.user_roles",
            new Set(doc.roles.map((r: Document) => r._id.toHexString())).size,
          );
          add(
            "lml_users.user_areas",
            new Set(doc.areas.map((a: Document) => a._id.toHexString())).size,
          );
          userIds.set(doc._id.toHexString(), doc);
          break;
        }
        case "lml_usersgroups_mesa4core": {
          const members = (doc.members as Document[]).filter((m) => m._id !== undefined);
          const distinct = new Set(members.map((m) => hex(m._id)));
          add("lml_usersgroups.members", distinct.size);
          duplicates += members.length - distinct.size;
          break;
        }
        case "lml_formbuilder_mesa4core":
          add("lml_formbuilder.fields", doc.fields.length);
          for (const field of doc.fields) {
            add("lml_formbuilder.field_options", field.options?.length ?? 0);
          }
          break;
        case "lml_processtypes_mesa4core":
          vote(winners.areas, doc.area);
          for (const step of doc.steps) vote(winners.areas, step.area);
          add("lml_processtypes.steps", doc.steps.length);
          if (doc.form !== null && !ids["lml_formbuilder_mesa4core"]!.has(hex(doc.form._id)!)) {
            dangling["lml_processtypes_mesa4core:form"]!++;
          }
          if (doc.form === null) see("form:null");
          break;
        case "lml_listbuilder_mesa4core":
          add("lml_listbuilder.columns", doc.columns.length);
          add("lml_listbuilder.visible_roles", new Set(doc.visibleToRoles).size);
          break;
        case "lml_people_mesa4core": {
          const addresses = (doc.emails as unknown[]).map((e) =>
            (typeof e === "string" ? e : (e as { address: string }).address).trim().toLowerCase()
          );
          add("lml_people.emails", new Set(addresses).size);
          add("lml_people.phones", doc.phones.length);
          add("lml_people.addresses", doc.addresses.length);
          see(
            `person:${doc.personType}:${/[.-]/.test(doc.documentNumber) ? "separators" : "digits"}`,
          );
          if (doc.emails.length > 0) see(`emails:${typeof doc.emails[0]}`);
          if (doc.legalRepresentative !== undefined) {
            see("legalRepresentative");
            if (!ids["lml_people_mesa4core"]!.has(hex(doc.legalRepresentative._id)!)) {
              dangling["lml_people_mesa4core:legalRepresentative"]!++;
            }
          }
          break;
        }
        case "lml_processes_mesa4core":
          vote(winners.areas, doc.currentArea);
          for (const movement of doc.movements) {
            vote(winners.areas, movement.from);
            vote(winners.areas, movement.to);
          }
          add("lml_processes.movements", doc.movements.length);
          add("lml_processes.attachments", doc.attachments.length);
          if (!ids["lml_people_mesa4core"]!.has(hex(doc.applicant._id)!)) {
            dangling["lml_processes_mesa4core:applicant"]!++;
          }
          if (!ids["lml_processtypes_mesa4core"]!.has(hex(doc.processType._id)!)) {
            dangling["lml_processes_mesa4core:processType"]!++;
          }
          break;
      }

      if (size > 2_000_000) {
        hostile.push({ collection: name, _id: hex(doc._id)!, what: "2mb-document" });
      }
      for (const what of ["nul-in-string", "int64-beyond-2^53", "decimal128", "nan", "infinity"]) {
        if (containsHostile(doc, what)) {
          hostile.push({ collection: name, _id: hex(doc._id)!, what });
        }
      }
    }
  }
  rows["lml_users.roles"] = winners.roles.size;
  rows["lml_users.areas"] = winners.areas.size;
  const names = (map: Map<string, [number, string]>) =>
    Object.fromEntries([...map].map(([id, [, name]]) => [id, name]));
  return {
    figures: {
      collections: collectionFigures,
      ghost_users: ghosts.size,
      snapshots_without_id: withoutId,
      garbage_timestamps: garbage,
      dangling,
      duplicate_members: duplicates,
      rows,
      catalog: { roles: names(winners.roles), areas: names(winners.areas) },
      hostile,
    },
    seen,
  };
}

/** A label for how a timestamp is stored. */
export function timestampKind(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (value instanceof Date) return "date";
  if (typeof value === "number") {
    return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? "small-number" : "number";
  }
  if (value instanceof Long) return "long";
  if (typeof value === "string") {
    if (ISO_OFFSET.test(value)) return "offset";
    if (ISO_Z.test(value)) return value.includes(".") ? "iso-ms" : "iso";
    if (NAIVE.test(value)) return "naive";
    return "garbage";
  }
  if (typeof value === "object" && "$date" in value) {
    return typeof (value as { $date: unknown }).$date === "string" ? "ejson-string" : "ejson-long";
  }
  return "other";
}
