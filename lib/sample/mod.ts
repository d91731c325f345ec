/**
 * The deterministic mesa4core sample: the seven pipeline collections (and optional extras) with
 * the anomalies production has, plus a manifest of the figures the transforms must reproduce.
 *
 * Same seed and scale, same bytes. Each document is built from its own seeded generator, so any
 * collection can be produced alone ({@link sampleDocuments}) and memory stays flat: documents are
 * streamed to files ({@link generateSample}) or to MongoDB in batches ({@link insertSample}).
 *
 * @example
 * ```ts
 * const manifest = await generateSample("/tmp/sample", { scale: 0.01, seed: 7 });
 * console.log(manifest.collections["lml_users_mesa4core"]?.documents);
 * ```
 * @module
 */
import type { Document } from "bson";
import { MongoClient } from "mongodb";
import { didYouMean, UsageError } from "../core/mod.ts";
import type { Doc } from "./common.ts";
import { buildForm } from "./forms.ts";
import { buildGroup } from "./groups.ts";
import { buildList } from "./lists.ts";
import { type Manifest, ManifestBuilder } from "./manifest.ts";
import { buildNotification } from "./notifications.ts";
import { buildPerson } from "./people.ts";
import {
  EXTRA_COLLECTIONS,
  type ExtraCollection,
  makePlan,
  PIPELINE_COLLECTIONS,
  type Plan,
  type SampleCollection,
} from "./plan.ts";
import { buildProcess } from "./processes.ts";
import { buildProcessType } from "./process_types.ts";
import { buildUser } from "./users.ts";
import { applyDrift, type DriftEntry } from "./drift.ts";
import { CollectionWriter, type SampleFormat } from "./writer.ts";

export type { Manifest } from "./manifest.ts";
export type { DriftEntry } from "./drift.ts";
export type { ExtraCollection, PipelineCollection, SampleCollection } from "./plan.ts";
export { EXTRA_COLLECTIONS, PIPELINE_COLLECTIONS, PRODUCTION_COUNTS } from "./plan.ts";
export type { SampleFormat } from "./writer.ts";

/** Options shared by every way of producing the sample. */
export interface SampleOptions {
  /** Volume factor: 1.0 = production volumes, 0.01 for unit tests. Default 1. */
  scale?: number;
  /** PRNG seed (an integer): same seed, same documents. Default 1. */
  seed?: number;
}

/** Options of {@link generateSample}. */
export interface GenerateOptions extends SampleOptions {
  /** "bson" (mongodump layout) or "json" (mongoexport relaxed EJSON lines). Default "bson". */
  format?: SampleFormat;
  /** Database folder name (and manifest `database`). Default "mesa4core". */
  database?: string;
  /** Extra collections to add, e.g. ["lml_notifications_mesa4core"]. Default []. */
  extraCollections?: readonly string[];
  /** Inject the source drift of lib/sample/drift.ts (listed in the manifest's `drift`). Default false. */
  drift?: boolean;
}

/** Options of {@link insertSample}. */
export interface InsertOptions extends SampleOptions {
  /** Target database. Default "mesa4core". */
  database?: string;
  /** Extra collections to add. Default []. */
  extraCollections?: readonly string[];
  /** Documents per insertMany call. Default 1000. */
  batchSize?: number;
  /** Drop each collection before inserting into it. Default true. */
  drop?: boolean;
}

const BUILDERS: Readonly<Record<SampleCollection, (plan: Plan, index: number) => Doc>> = {
  lml_users_mesa4core: buildUser,
  lml_usersgroups_mesa4core: buildGroup,
  lml_formbuilder_mesa4core: buildForm,
  lml_processtypes_mesa4core: buildProcessType,
  lml_listbuilder_mesa4core: buildList,
  lml_people_mesa4core: buildPerson,
  lml_processes_mesa4core: buildProcess,
  lml_notifications_mesa4core: buildNotification,
};

function resolvePlan(options: SampleOptions): Plan {
  const scale = options.scale ?? 1;
  const seed = options.seed ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new UsageError(`Invalid sample scale ${scale}: use a positive number such as 0.01 or 1.`);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new UsageError(`Invalid sample seed ${seed}: use an integer such as 1.`);
  }
  return makePlan(seed, scale);
}

function resolveCollections(extras: readonly string[] = []): SampleCollection[] {
  for (const name of extras) {
    if (!(EXTRA_COLLECTIONS as readonly string[]).includes(name)) {
      throw new UsageError(
        `Unknown extra sample collection "${name}"${didYouMean(name, EXTRA_COLLECTIONS)}.`,
        { hint: `Extra collections available: ${EXTRA_COLLECTIONS.join(", ")}.` },
      );
    }
  }
  const wanted = EXTRA_COLLECTIONS.filter((name) => extras.includes(name));
  return [...PIPELINE_COLLECTIONS, ...wanted as ExtraCollection[]];
}

function* documentsOf(
  plan: Plan,
  collection: SampleCollection,
  drift?: DriftEntry[],
): Generator<Doc> {
  const build = BUILDERS[collection];
  for (let index = 0; index < plan.counts[collection]; index++) {
    const doc = build(plan, index);
    if (drift) drift.push(...applyDrift(collection, index, doc));
    yield doc;
  }
}

/**
 * The documents of one collection (pipeline or extra), in `_id` creation order, exactly as
 * {@link generateSample} writes them. Built lazily, one at a time.
 */
export function sampleDocuments(
  collection: string,
  options: SampleOptions = {},
): Iterable<Document> {
  const names = [...PIPELINE_COLLECTIONS, ...EXTRA_COLLECTIONS] as readonly string[];
  if (!names.includes(collection)) {
    throw new UsageError(
      `Unknown sample collection "${collection}"${didYouMean(collection, names)}.`,
    );
  }
  return documentsOf(resolvePlan(options), collection as SampleCollection);
}

/**
 * Writes the sample under `outDir` (`<outDir>/<database>/<collection>.bson|.json`) and
 * `<outDir>/manifest.json`, and returns the manifest.
 */
export async function generateSample(
  outDir: string,
  options: GenerateOptions = {},
): Promise<Manifest> {
  const plan = resolvePlan(options);
  const format = options.format ?? "bson";
  if (format !== "bson" && format !== "json") {
    throw new UsageError(`Unknown sample format "${format}": use "bson" or "json".`);
  }
  const database = options.database ?? "mesa4core";
  const collections = resolveCollections(options.extraCollections);
  const dir = `${outDir}/${database}`;
  await Deno.mkdir(dir, { recursive: true });
  const manifest = new ManifestBuilder(plan, database);
  const drift: DriftEntry[] | undefined = options.drift ? [] : undefined;
  for (const collection of collections) {
    const writer = await CollectionWriter.open(dir, collection, format, plan.seed);
    try {
      let index = 0;
      for (const doc of documentsOf(plan, collection, drift)) {
        manifest.observe(collection, index++, doc);
        await writer.write(doc);
      }
    } finally {
      await writer.close();
    }
  }
  const result = manifest.finish();
  if (drift) result.drift = drift;
  await Deno.writeTextFile(`${outDir}/manifest.json`, JSON.stringify(result, null, 2) + "\n");
  return result;
}

/**
 * Inserts the sample into the MongoDB at `mongoUrl` through the official driver (batches of
 * `batchSize`, each collection dropped first unless `drop` is false) and returns the manifest.
 */
export async function insertSample(
  mongoUrl: string,
  options: InsertOptions = {},
): Promise<Manifest> {
  const plan = resolvePlan(options);
  const database = options.database ?? "mesa4core";
  const collections = resolveCollections(options.extraCollections);
  const batchSize = options.batchSize ?? 1000;
  const manifest = new ManifestBuilder(plan, database);
  const client = new MongoClient(mongoUrl);
  try {
    await client.connect();
    const db = client.db(database);
    for (const collection of collections) {
      const target = db.collection(collection);
      if (options.drop ?? true) await target.drop().catch(() => false);
      let batch: Doc[] = [];
      let index = 0;
      for (const doc of documentsOf(plan, collection)) {
        manifest.observe(collection, index++, doc);
        batch.push(doc);
        if (batch.length >= batchSize) {
          await target.insertMany(batch, { ordered: true });
          batch = [];
        }
      }
      if (batch.length > 0) await target.insertMany(batch, { ordered: true });
    }
  } finally {
    await client.close();
  }
  return manifest.finish();
}
