/**
 * Output files: mongodump layout (`<db>/<collection>.bson` + `.metadata.json`) or mongoexport
 * relaxed Extended JSON lines (`<db>/<collection>.json`). Documents are written one at a time
 * through a small buffer, so memory stays flat whatever the collection size.
 * @module
 */
import { EJSON, Long, serialize } from "bson";
import { hash128 } from "./prng.ts";

/** Output format. */
export type SampleFormat = "bson" | "json";

const FLUSH_BYTES = 4 * 1024 * 1024;
const encoder = new TextEncoder();

/** Appends byte chunks to a file, flushing every few megabytes. */
class BufferedFile {
  #file: Deno.FsFile;
  #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    if (this.#size >= FLUSH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const joined = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    this.#chunks = [];
    this.#size = 0;
    for (let written = 0; written < joined.length;) {
      written += await this.#file.write(joined.subarray(written));
    }
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#file.close();
    }
  }
}

/**
 * Replaces Int64 values outside ±2^53 by a literal {"$numberLong": "..."} so relaxed Extended
 * JSON keeps them exact (npm:bson's relaxed mode would print a rounded number). Copies only the
 * objects on the way to such a value.
 */
export function protectLongs(value: unknown): unknown {
  if (value instanceof Long) {
    const safe = value.lessThanOrEqual(Number.MAX_SAFE_INTEGER) &&
      value.greaterThanOrEqual(Number.MIN_SAFE_INTEGER);
    return safe ? value : { $numberLong: value.toString() };
  }
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((element, i) => {
      const protectedValue = protectLongs(element);
      if (protectedValue !== element) (copy ??= [...value])[i] = protectedValue;
    });
    return copy ?? value;
  }
  if (
    value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    let copy: Record<string, unknown> | undefined;
    for (const [key, element] of Object.entries(value)) {
      const protectedValue = protectLongs(element);
      if (protectedValue !== element) (copy ??= { ...value })[key] = protectedValue;
    }
    return copy ?? value;
  }
  return value;
}

/** Writes the documents of one collection in the chosen format. */
export class CollectionWriter {
  #format: SampleFormat;
  #out: BufferedFile;

  private constructor(format: SampleFormat, out: BufferedFile) {
    this.#format = format;
    this.#out = out;
  }

  /** Opens `<dir>/<collection>.bson` (and writes its metadata) or `<dir>/<collection>.json`. */
  static async open(
    dir: string,
    collection: string,
    format: SampleFormat,
    seed: number,
  ): Promise<CollectionWriter> {
    if (format === "bson") {
      await Deno.writeTextFile(
        `${dir}/${collection}.metadata.json`,
        dumpMetadata(collection, seed),
      );
    }
    const file = await Deno.open(`${dir}/${collection}.${format}`, {
      write: true,
      create: true,
      truncate: true,
    });
    return new CollectionWriter(format, new BufferedFile(file));
  }

  /** Appends one document. */
  async write(doc: Record<string, unknown>): Promise<void> {
    if (this.#format === "bson") {
      await this.#out.write(serialize(doc));
    } else {
      const line = EJSON.stringify(protectLongs(doc) as Record<string, unknown>, { relaxed: true });
      await this.#out.write(encoder.encode(line + "\n"));
    }
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    return this.#out.close();
  }
}

/** The `.metadata.json` mongodump writes beside a collection (the `_id` index, a stable uuid). */
export function dumpMetadata(collection: string, seed: number): string {
  const uuid = hash128(`uuid\u0001${seed}\u0001${collection}`)
    .map((word) => word.toString(16).padStart(8, "0"))
    .join("");
  return JSON.stringify({
    indexes: [{ v: { $numberInt: "2" }, key: { _id: { $numberInt: "1" } }, name: "_id_" }],
    uuid,
    collectionName: collection,
    type: "collection",
  });
}
