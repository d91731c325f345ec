/**
 * A dump directory as a source: mongodump's `<collection>.bson` (or `.bson.gz`) files, directly
 * in the directory or in one folder per database, and mongoexport JSON lines (`.json`,
 * `.jsonl`). Files are streamed in bounded reads (named pipes work too); documents are framed by
 * their int32 length prefix and every error names the file, document and byte offset.
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { JsonLineError, jsonLineToBson } from "./json_lines.ts";
import { type DocumentBatch, type Source, SourceError, type SourceEstimate } from "./source.ts";

/** Largest document accepted from a dump (MongoDB's limit is 16 MiB; some slack for old data). */
const MAX_DOCUMENT_BYTES = 48 * 1024 * 1024;
/** Bytes per read. */
const READ_BYTES = 1024 * 1024;
/** File endings tried for a collection, in order of preference. */
const ENDINGS = [".bson", ".bson.gz", ".jsonl", ".json", ".jsonl.gz", ".json.gz"];

/** Options of {@linkcode openDumpSource}. */
export interface DumpSourceOptions {
  /** Database folder looked for inside the directory. Default: "mesa4core". */
  database?: string;
}

/** Opens a dump directory (path or `file:` URL); `database` selects a per-database folder. */
export async function openDumpSource(
  path: string,
  options: DumpSourceOptions = {},
): Promise<Source> {
  const database = options.database ?? "mesa4core";
  const root = resolve(path.startsWith("file:") ? fileURLToPath(path) : path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(root);
  } catch (cause) {
    throw new SourceError(
      `cannot read the dump directory ${root} (${(cause as Error).message}); pass --source ` +
        `a mongodb:// URL or a directory written by mongodump/mongoexport`,
      { cause, location: root },
    );
  }
  if (!info.isDirectory) {
    throw new SourceError(`${root} is not a directory: pass the folder holding the dump files`, {
      location: root,
    });
  }
  const dir = await chooseFolder(root, database);
  const find = async (collection: string): Promise<string> => {
    for (const ending of ENDINGS) {
      const file = join(dir, collection + ending);
      try {
        const stat = await Deno.stat(file);
        if (stat.isFile || stat.isFifo) return file;
      } catch {
        // try the next ending
      }
    }
    throw new SourceError(
      `no dump file for collection ${collection} in ${dir} (looked for ${collection}` +
        `{${ENDINGS.join(",")}})`,
      { location: dir },
    );
  };
  return {
    kind: "dump",
    description: dir,
    reads: { kind: "dump" },
    locate: find,
    async estimate(collection: string): Promise<SourceEstimate> {
      const stat = await Deno.stat(await find(collection));
      return stat.isFile ? { bytes: stat.size } : {};
    },
    async *read(collection: string): AsyncIterable<DocumentBatch> {
      const file = await find(collection);
      yield* file.includes(".json") ? readJsonLines(file) : readBson(file);
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
}

/** The folder holding the collection files: `<root>/<database>` when present, else `root`. */
async function chooseFolder(root: string, database: string): Promise<string> {
  const nested = join(root, database);
  try {
    if ((await Deno.stat(nested)).isDirectory) return nested;
  } catch {
    // no per-database folder
  }
  const folders: string[] = [];
  let hasFiles = false;
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory) folders.push(entry.name);
    else if (ENDINGS.some((e) => entry.name.endsWith(e))) hasFiles = true;
  }
  if (!hasFiles && folders.length > 0) {
    throw new SourceError(
      `${root} holds no dump of database ${database} (found folders: ${
        folders.sort().join(", ")
      }); pass the database's folder or set source_database in the config`,
      { location: root },
    );
  }
  return root;
}

/** Yields the file's bytes in chunks of at most {@linkcode READ_BYTES}, gunzipping `.gz`. */
async function* chunks(file: string): AsyncGenerator<Uint8Array> {
  const handle = await Deno.open(file, { read: true });
  try {
    if (file.endsWith(".gz")) {
      const reader = handle.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) return;
          yield value;
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }
    while (true) {
      const buffer = new Uint8Array(READ_BYTES);
      let filled = 0;
      while (filled < buffer.length) {
        const n = await handle.read(buffer.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      if (filled === 0) return;
      yield buffer.subarray(0, filled);
      if (filled < buffer.length) return;
    }
  } finally {
    try {
      handle.close();
    } catch {
      // already closed by the readable stream
    }
  }
}

function readInt32(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Streams a `.bson` file as batches of documents framed by their length prefix. */
export async function* readBson(file: string): AsyncGenerator<DocumentBatch> {
  let pending: Uint8Array = new Uint8Array(0);
  let pendingOffset = 0; // file offset of pending[0]
  let ordinal = 0;
  let consumed = 0;
  const fail = (message: string, offset: number, cause?: unknown) =>
    new SourceError(message, { ordinal: ordinal + 1, offset, location: file, cause });
  try {
    for await (const chunk of chunks(file)) {
      consumed += chunk.length;
      const buffer = pending.length > 0 ? concat(pending, chunk) : chunk;
      const docs: Uint8Array[] = [];
      const offsets: number[] = [];
      let pos = 0;
      while (pos + 4 <= buffer.length) {
        const length = readInt32(buffer, pos);
        if (length < 5 || length > MAX_DOCUMENT_BYTES) {
          throw fail(
            `corrupt dump: document length prefix ${length} is impossible`,
            pendingOffset + pos,
          );
        }
        if (pos + length > buffer.length) break;
        docs.push(buffer.subarray(pos, pos + length));
        offsets.push(pendingOffset + pos);
        ordinal++;
        pos += length;
      }
      pending = buffer.subarray(pos);
      pendingOffset += pos;
      if (docs.length > 0) yield { docs, offsets, consumed };
    }
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw fail(`cannot read the dump file: ${(error as Error).message}`, pendingOffset, error);
  }
  if (pending.length > 0) {
    const expected = pending.length >= 4 ? readInt32(pending, 0) : undefined;
    throw fail(
      `truncated dump: the file ends inside a document (${
        expected === undefined ? "partial length prefix" : `length prefix ${expected} bytes`
      }, ${pending.length} bytes left)`,
      pendingOffset,
    );
  }
}

/** Streams a JSON lines export, each line converted to BSON. */
export async function* readJsonLines(file: string): AsyncGenerator<DocumentBatch> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let pending: Uint8Array = new Uint8Array(0);
  let pendingOffset = 0;
  let ordinal = 0;
  let line = 0;
  let consumed = 0;
  let first = true;
  const parse = (bytes: Uint8Array, offset: number): Uint8Array | undefined => {
    line++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    const text = decoder.decode(bytes.subarray(0, end));
    if (first && text.trimStart().startsWith("[")) {
      throw new SourceError(
        "this looks like a JSON array (mongoexport --jsonArray): export JSON lines instead",
        { ordinal: 1, offset, location: file },
      );
    }
    if (text.trim() === "") return undefined;
    first = false;
    try {
      const doc = jsonLineToBson(text);
      ordinal++;
      return doc;
    } catch (cause) {
      const where = cause instanceof JsonLineError ? ` at column ${cause.column}` : "";
      throw new SourceError(`line ${line}${where}: ${(cause as Error).message}`, {
        ordinal: ordinal + 1,
        offset,
        location: file,
        cause,
      });
    }
  };
  for await (const chunk of chunks(file)) {
    consumed += chunk.length;
    const buffer = pending.length > 0 ? concat(pending, chunk) : chunk;
    const docs: Uint8Array[] = [];
    const offsets: number[] = [];
    let start = 0;
    let nl = buffer.indexOf(0x0a);
    while (nl >= 0) {
      const doc = parse(buffer.subarray(start, nl), pendingOffset + start);
      if (doc) {
        docs.push(doc);
        offsets.push(pendingOffset + start);
      }
      start = nl + 1;
      nl = buffer.indexOf(0x0a, start);
    }
    pending = buffer.subarray(start);
    pendingOffset += start;
    if (pending.length > MAX_DOCUMENT_BYTES * 4) {
      throw new SourceError("a line longer than 192 MiB: this is not a JSON lines export", {
        ordinal: ordinal + 1,
        offset: pendingOffset,
        location: file,
      });
    }
    if (docs.length > 0) yield { docs, offsets, consumed };
  }
  if (pending.length > 0) {
    const doc = parse(pending, pendingOffset);
    if (doc) yield { docs: [doc], offsets: [pendingOffset], consumed };
  }
}
