/**
 * What a sample holds: collection names, per-collection document counts for a scale, the id
 * pools (existing, ghost and missing targets) and where the hostile values go.
 * @module
 */
/** The seven pipeline collections, in run order. */
export const PIPELINE_COLLECTIONS = [
  "lml_users_mesa4core",
  "lml_usersgroups_mesa4core",
  "lml_formbuilder_mesa4core",
  "lml_processtypes_mesa4core",
  "lml_listbuilder_mesa4core",
  "lml_people_mesa4core",
  "lml_processes_mesa4core",
] as const;

/** Collections that exist only on request (not in sql/pipeline.yaml). */
export const EXTRA_COLLECTIONS = ["lml_notifications_mesa4core"] as const;

/** A pipeline collection name. */
export type PipelineCollection = typeof PIPELINE_COLLECTIONS[number];
/** An optional extra collection name. */
export type ExtraCollection = typeof EXTRA_COLLECTIONS[number];
/** Any collection the generator can write. */
export type SampleCollection = PipelineCollection | ExtraCollection;

/** Documents per collection at scale 1.0 (production volumes). */
export const PRODUCTION_COUNTS: Readonly<Record<SampleCollection, number>> = {
  lml_users_mesa4core: 7891,
  lml_usersgroups_mesa4core: 300,
  lml_formbuilder_mesa4core: 250,
  lml_processtypes_mesa4core: 350,
  lml_listbuilder_mesa4core: 200,
  lml_people_mesa4core: 23085,
  lml_processes_mesa4core: 129000,
  lml_notifications_mesa4core: 5000,
};

/**
 * Smallest count at any scale: large enough that every forced anomaly (see the builders) has a
 * document to live in.
 */
export const MINIMUM_COUNTS: Readonly<Record<SampleCollection, number>> = {
  lml_users_mesa4core: 40,
  lml_usersgroups_mesa4core: 12,
  lml_formbuilder_mesa4core: 12,
  lml_processtypes_mesa4core: 16,
  lml_listbuilder_mesa4core: 12,
  lml_people_mesa4core: 40,
  lml_processes_mesa4core: 60,
  lml_notifications_mesa4core: 20,
};

/** One-byte tag inside every generated ObjectId, so ids of different pools never collide. */
export const ID_TAGS: Readonly<Record<SampleCollection | "ghost" | "missing", number>> = {
  lml_users_mesa4core: 1,
  lml_usersgroups_mesa4core: 2,
  lml_formbuilder_mesa4core: 3,
  lml_processtypes_mesa4core: 4,
  lml_listbuilder_mesa4core: 5,
  lml_people_mesa4core: 6,
  lml_processes_mesa4core: 7,
  lml_notifications_mesa4core: 8,
  ghost: 9,
  missing: 10,
};

/** A hostile value placed at a fixed document (`index`) of a collection, at every scale. */
export interface HostilePlacement {
  /** Collection holding it. */
  collection: PipelineCollection;
  /** Index of the document inside the collection. */
  index: number;
  /** Manifest label. */
  what: "nul-in-string" | "2mb-document" | "int64-beyond-2^53" | "decimal128" | "nan" | "infinity";
}

/** Where the hostile values go (free-form fields: users.settings and processes.formData). */
export const HOSTILE_PLACEMENTS: readonly HostilePlacement[] = [
  { collection: "lml_users_mesa4core", index: 11, what: "int64-beyond-2^53" },
  { collection: "lml_users_mesa4core", index: 12, what: "infinity" },
  { collection: "lml_processes_mesa4core", index: 11, what: "nul-in-string" },
  { collection: "lml_processes_mesa4core", index: 12, what: "2mb-document" },
  { collection: "lml_processes_mesa4core", index: 13, what: "decimal128" },
  { collection: "lml_processes_mesa4core", index: 14, what: "nan" },
];

/** Role catalog size and area catalog size (fixed; they are catalogs, not volumes). */
export const ROLE_COUNT = 12;
/** Number of distinct areas. */
export const AREA_COUNT = 30;

/** The resolved plan of one sample: seed, scale and every count. */
export interface Plan {
  /** PRNG seed. */
  seed: number;
  /** Volume factor (1.0 = production). */
  scale: number;
  /** Documents per collection. */
  counts: Record<SampleCollection, number>;
  /** Size of the ghost-user pool: ids referenced by snapshots but absent from users. */
  ghosts: number;
  /** Size of each pool of missing reference targets (people, process types, forms). */
  missing: number;
}

/** Builds the plan for a seed and scale: counts are max(minimum, round(production × scale)). */
export function makePlan(seed: number, scale: number): Plan {
  const counts = {} as Record<SampleCollection, number>;
  for (const name of [...PIPELINE_COLLECTIONS, ...EXTRA_COLLECTIONS]) {
    counts[name] = Math.max(MINIMUM_COUNTS[name], Math.round(PRODUCTION_COUNTS[name] * scale));
  }
  return {
    seed,
    scale,
    counts,
    ghosts: Math.max(3, Math.round(240 * scale)),
    missing: Math.max(3, Math.round(400 * scale)),
  };
}
