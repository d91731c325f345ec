/**
 * BENCHMARK STAGES: the cached sample dumps, the pre-rendered COPY files of the psql `\copy`
 * floor, the floor load itself, and the measured child processes (./child.ts).
 * @module
 */
import { quoteIdent } from "../../lib/core/db.ts";
import { rawTableStatements } from "../../extract/load.ts";
import { generateSample } from "../../lib/sample/mod.ts";
import { readBson } from "../../extract/dump_source.ts";
import { EjsonWriter, findId, writeIdText } from "../../extract/ejson.ts";
import type { ChildOutput, ChildStage } from "./child.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHILD = new URL("./child.ts", import.meta.url).pathname;

/** The default cache folder of generated dumps (git-ignored). */
export const CACHE_DIR: string = new URL("./cache", import.meta.url).pathname;

/** A dump ready to extract. */
export interface Dump {
  /** The dump directory (holds `mesa4core/*.bson` and `manifest.json`). */
  dir: string;
  /** Documents in the pipeline collections. */
  documents: number;
  /** Bytes of BSON. */
  bytes: number;
  /** True when it came from the cache. */
  cached: boolean;
  /** Seconds spent generating it (0 when cached). */
  generateSeconds: number;
}

async function hashFiles(paths: readonly string[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const path of [...paths].sort()) {
    parts.push(new TextEncoder().encode(path.slice(ROOT.length) + "\0"));
    parts.push(await Deno.readFile(path));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Hex key of the sample generator's source (lib/sample/*.ts): a new generator, a new dump. */
export async function generatorVersion(): Promise<string> {
  const dir = `${ROOT}lib/sample`;
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ts")) files.push(`${dir}/${entry.name}`);
  }
  return await hashFiles(files);
}

/**
 * Returns the dump of `scale`/`seed` from the cache, generating it first when missing
 * (written to a temporary folder and renamed, so an interrupted run leaves no half dump).
 */
export async function ensureDump(
  scale: number,
  seed: number,
  options: { cacheDir?: string } = {},
): Promise<Dump> {
  const cacheDir = options.cacheDir ?? CACHE_DIR;
  const dir = `${cacheDir}/mesa4core-scale${scale}-seed${seed}-${await generatorVersion()}`;
  let cached = true;
  let generateSeconds = 0;
  if (!await exists(`${dir}/manifest.json`)) {
    cached = false;
    const partial = `${dir}.partial-${Deno.pid}`;
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    const started = performance.now();
    await generateSample(partial, { scale, seed, format: "bson" });
    generateSeconds = (performance.now() - started) / 1000;
    await Deno.rename(partial, dir);
  }
  let bytes = 0;
  for await (const entry of Deno.readDir(`${dir}/mesa4core`)) {
    if (entry.name.endsWith(".bson")) {
      bytes += (await Deno.stat(`${dir}/mesa4core/${entry.name}`)).size;
    }
  }
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)) as {
    collections: Record<string, { documents: number }>;
  };
  const documents = Object.values(manifest.collections).reduce((n, c) => n + c.documents, 0);
  return { dir, documents, bytes, cached, generateSeconds };
}

/** Free bytes on the file system holding `path` (from `df`). */
export async function freeBytes(path: string): Promise<number> {
  const out = await new Deno.Command("df", { args: ["-Pk", path], stdout: "piped" }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n")[1] ?? "";
  const available = Number(line.split(/\s+/)[3]);
  if (!Number.isFinite(available)) throw new Error(`cannot read free space of ${path} from df`);
  return available * 1024;
}

/** The COPY column list the loader uses (extract/load.ts), in the same order. */
export const COPY_COLUMNS = "doc, _id, original, extracted_at, source_ordinal, source_offset";

/** Pre-rendered COPY text of a dump, one file per collection. */
export interface FloorFiles {
  /** Folder of `<collection>.copy` files. */
  dir: string;
  /** Total bytes of COPY text. */
  bytes: number;
  /** True when they came from the cache. */
  cached: boolean;
}

const TAB = 0x09;
const NEWLINE = 0x0a;

/** Renders one `.bson` file into COPY text rows exactly as the loader encodes them. */
async function renderCollection(bsonFile: string, copyFile: string, extractedAt: string) {
  const text = new TextEncoder();
  const nullField = text.encode("\\N");
  const byteaPrefix = text.encode("\\\\x");
  const stamp = text.encode(extractedAt);
  const writer = new EjsonWriter({ copy: true, initialSize: 1024 * 1024 });
  await using file = await Deno.open(copyFile, { write: true, create: true, truncate: true });
  const out = file.writable.getWriter();
  let ordinal = 0;
  for await (const batch of readBson(bsonFile)) {
    for (let k = 0; k < batch.docs.length; k++) {
      const doc = batch.docs[k]!;
      writer.anomaly = false;
      writer.document(doc);
      writer.byte(TAB);
      const id = findId(doc);
      if (!id) throw new Error(`${bsonFile}: document ${ordinal + 1} has no _id`);
      writeIdText(writer, doc, id);
      writer.byte(TAB);
      if (writer.anomaly) {
        writer.bytes(byteaPrefix);
        writer.hex(doc);
      } else {
        writer.bytes(nullField);
      }
      writer.byte(TAB);
      writer.bytes(stamp);
      writer.byte(TAB);
      writer.ascii(String(++ordinal));
      writer.byte(TAB);
      writer.ascii(String(batch.offsets?.[k] ?? "\\N"));
      writer.byte(NEWLINE);
    }
    if (writer.pos >= 256 * 1024) await out.write(writer.take());
  }
  if (writer.pos > 0) await out.write(writer.take());
  await out.close();
}

/**
 * Renders the dump's collections into COPY text with the project's encoder (once per dump and
 * encoder version; cached next to the dump), outside any timing.
 */
export async function ensureFloorFiles(
  dump: Dump,
  collections: readonly string[],
): Promise<FloorFiles> {
  const version = await hashFiles([`${ROOT}extract/ejson.ts`, `${ROOT}extract/load.ts`]);
  const dir = `${dump.dir}/floor-${version}`;
  const cached = await exists(dir);
  if (!cached) {
    const partial = `${dir}.partial-${Deno.pid}`;
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    await Deno.mkdir(partial, { recursive: true });
    const extractedAt = new Date().toISOString();
    for (const collection of collections) {
      await renderCollection(
        `${dump.dir}/mesa4core/${collection}.bson`,
        `${partial}/${collection}.copy`,
        extractedAt,
      );
    }
    await Deno.rename(partial, dir);
  }
  let bytes = 0;
  for (const collection of collections) {
    bytes += (await Deno.stat(`${dir}/${collection}.copy`)).size;
  }
  return { dir, bytes, cached };
}

async function psql(url: string, script: string): Promise<void> {
  const out = await new Deno.Command("psql", {
    args: [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const input = out.stdin.getWriter();
  await input.write(new TextEncoder().encode(script + "\n"));
  await input.close();
  const result = await out.output();
  if (!result.success) {
    throw new Error(`psql failed: ${new TextDecoder().decode(result.stderr).trim()}`);
  }
}

/** Drops and recreates the floor's schema (outside the timing). */
export async function resetFloor(url: string, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await psql(url, `drop schema if exists ${s} cascade;\ncreate schema ${s};`);
}

/**
 * The floor: loads every pre-rendered collection with `psql \copy` into a staging table of the
 * loader's layout (no index), then builds the same primary key and drops the same diagnostic
 * columns, `concurrency` collections at a time like the loader. Returns the wall seconds.
 */
export async function runFloor(
  url: string,
  files: FloorFiles,
  options: { schema: string; collections: readonly string[]; concurrency?: number },
): Promise<number> {
  const schema = quoteIdent(options.schema);
  // Largest first, as the loader schedules them.
  const size = (c: string) => Deno.statSync(`${files.dir}/${c}.copy`).size;
  const queue = [...options.collections].sort((a, b) => size(b) - size(a));
  const started = performance.now();
  const worker = async () => {
    for (let collection = queue.shift(); collection; collection = queue.shift()) {
      const table = `${schema}.${quoteIdent(collection)}`;
      await psql(
        url,
        [
          `drop table if exists ${table};`,
          ...rawTableStatements(table, { staging: true }).map((s) => `${s};`),
          `\\copy ${table} (${COPY_COLUMNS}) from '${files.dir}/${collection}.copy'`,
          `alter table ${table} add constraint ${
            quoteIdent(`${collection}_pkey`)
          } primary key (_id);`,
          `alter table ${table} drop column source_ordinal, drop column source_offset;`,
        ].join("\n"),
      );
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, worker));
  return (performance.now() - started) / 1000;
}

/** A child's output plus its wall time. */
export interface ChildRun extends ChildOutput {
  /** Wall seconds of the whole process (Deno start-up included). */
  wallSeconds: number;
}

/**
 * Runs `stage` in a fresh `deno` process (./child.ts) against the database at `url` and returns
 * what it measured. Throws when the child fails or its stage fails.
 */
export async function runChild(
  stage: ChildStage,
  url: string,
  options: { source?: string } = {},
): Promise<ChildRun> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, stage, url, ...(options.source ? [options.source] : [])],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wallSeconds = (performance.now() - started) / 1000;
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const last = stdout.split("\n").pop() ?? "";
  if (!out.success || !last.startsWith("{")) {
    throw new Error(`bench ${stage} child failed (exit ${out.code}): ${stderr || stdout}`);
  }
  const result = JSON.parse(last) as ChildOutput;
  if (result.status !== "succeeded") {
    throw new Error(`bench ${stage} ${result.status}: ${result.error ?? "no error given"}`);
  }
  return { ...result, wallSeconds };
}
