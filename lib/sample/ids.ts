/**
 * Deterministic ObjectIds and document times.
 *
 * Every document of a collection owns a time slot: the sample spans 2019-01-01 to 2024-12-31 and
 * each collection divides it evenly among its documents. A document is created in the first half
 * of its slot and last updated in the second half, on a second whose remainder modulo 8 is the
 * collection's own, so no two documents anywhere share a creation or update second. That keeps
 * "latest effective updated time" free of ties for the catalog winners.
 * An ObjectId is: 4 bytes of creation seconds, 1 tag byte (collection or pool), 4 bytes derived
 * from the seed, 3 bytes of index.
 * @module
 */
import { ObjectId } from "bson";
import { hash128, type Rng } from "./prng.ts";
import { ID_TAGS, PIPELINE_COLLECTIONS, type Plan, type SampleCollection } from "./plan.ts";

/** 2019-01-01T00:00:00Z in seconds. */
export const SAMPLE_START = Date.UTC(2019, 0, 1) / 1000;
/** Six years in seconds. */
export const SAMPLE_SPAN = 6 * 365 * 86400;

const SEED_BYTES = new Map<number, number>();

function seedWord(seed: number): number {
  let word = SEED_BYTES.get(seed);
  if (word === undefined) {
    word = hash128(`objectid\u0001${seed}`)[0];
    SEED_BYTES.set(seed, word);
  }
  return word;
}

/** Builds an ObjectId from its parts (seconds, tag, seed, index). */
export function makeObjectId(seconds: number, tag: number, seed: number, index: number): ObjectId {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seconds >>> 0);
  bytes[4] = tag;
  view.setUint32(5, seedWord(seed));
  bytes[9] = (index >>> 16) & 0xff;
  bytes[10] = (index >>> 8) & 0xff;
  bytes[11] = index & 0xff;
  return new ObjectId(bytes);
}

function residue(collection: SampleCollection): number {
  return ID_TAGS[collection] % 8;
}

function slotWidth(plan: Plan, collection: SampleCollection): number {
  return Math.max(32, Math.floor(SAMPLE_SPAN / plan.counts[collection]));
}

/** Aligns `second` up to the collection's residue modulo 8. */
function align(second: number, collection: SampleCollection): number {
  return second + ((residue(collection) - (second % 8) + 8) % 8);
}

/** Mixes the index into a stable per-document offset (no Rng needed: ids must be cheap). */
function jitter(plan: Plan, collection: SampleCollection, index: number, salt: number): number {
  let h = Math.imul(index ^ 0x9e3779b9, 0x85ebca6b) ^ seedWord(plan.seed) ^
    Math.imul(salt, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) ^ ID_TAGS[collection];
  return (h ^ (h >>> 16)) >>> 0;
}

/** Creation second of document `index` (first half of its slot). */
export function createdSecond(plan: Plan, collection: SampleCollection, index: number): number {
  const width = slotWidth(plan, collection);
  const half = Math.floor(width / 2) - 8;
  return align(
    SAMPLE_START + index * width + (jitter(plan, collection, index, 1) % half),
    collection,
  );
}

/** Last-update second of document `index` (second half of its slot). */
export function updatedSecond(plan: Plan, collection: SampleCollection, index: number): number {
  const width = slotWidth(plan, collection);
  const half = Math.floor(width / 2) - 8;
  const start = SAMPLE_START + index * width + Math.floor(width / 2);
  return align(start + (jitter(plan, collection, index, 2) % half), collection);
}

/** The true creation and update instants (ms) of a document, with random milliseconds. */
export function documentTimes(
  plan: Plan,
  collection: SampleCollection,
  index: number,
  rng: Rng,
): { createdMs: number; updatedMs: number } {
  return {
    createdMs: createdSecond(plan, collection, index) * 1000 + rng.int(0, 999),
    updatedMs: updatedSecond(plan, collection, index) * 1000 + rng.int(0, 999),
  };
}

/** The ObjectId `_id` of document `index` of a collection. */
export function documentId(plan: Plan, collection: SampleCollection, index: number): ObjectId {
  return makeObjectId(
    createdSecond(plan, collection, index),
    ID_TAGS[collection],
    plan.seed,
    index,
  );
}

/** Every ObjectId of a collection as lower-case hex, for membership tests in the manifest. */
export function documentIdSet(plan: Plan, collection: SampleCollection): Set<string> {
  const ids = new Set<string>();
  for (let i = 0; i < plan.counts[collection]; i++) {
    ids.add(documentId(plan, collection, i).toHexString());
  }
  return ids;
}

/** The ObjectId of ghost user `index` (created before the sample starts: deleted long ago). */
export function ghostId(plan: Plan, index: number): ObjectId {
  return makeObjectId(SAMPLE_START - 86400 * (index + 30), ID_TAGS.ghost, plan.seed, index);
}

/** The ObjectId of missing target `index`: a person, process type or form that doesn't exist. */
export function missingId(plan: Plan, index: number): ObjectId {
  return makeObjectId(SAMPLE_START - 3600 * (index + 7), ID_TAGS.missing, plan.seed, index);
}

const CATALOG_IDS = new Map<string, ObjectId>();

function catalogId(seed: number, tag: number, index: number): ObjectId {
  const key = `${seed}:${tag}:${index}`;
  let id = CATALOG_IDS.get(key);
  if (!id) {
    id = makeObjectId(SAMPLE_START - 86400 * 3650 + tag * 100 + index, tag, seed, index);
    CATALOG_IDS.set(key, id);
  }
  return id;
}

/** The ObjectId of role `index` of the catalog (ObjectIds are immutable: copies share it). */
export function roleId(plan: Plan, index: number): ObjectId {
  return catalogId(plan.seed, 11, index);
}

/** The ObjectId of area `index` of the catalog. */
export function areaId(plan: Plan, index: number): ObjectId {
  return catalogId(plan.seed, 12, index);
}

/** Collections whose documents the pipeline reads (everything but extras). */
export function isPipelineCollection(name: string): boolean {
  return (PIPELINE_COLLECTIONS as readonly string[]).includes(name);
}
