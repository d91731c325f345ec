/**
 * The pipeline config (sql/pipeline.yaml): collections, schemas, dependencies.
 * Parsed with a real YAML parser and validated with errors that name file, line and field.
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap } from "yaml";
import { CycleError, downstreamOf, topologicalOrder } from "./dag.ts";
import { ConfigError, didYouMean, UsageError } from "./errors.ts";
import { isIdentifier } from "./db.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.ts";

/** The pipeline config shipped with the repository. */
export const DEFAULT_CONFIG_PATH: string =
  new URL("../../sql/pipeline.yaml", import.meta.url).pathname;

/** Whether a collection is the source of truth for its entities or consumes others. */
export type CollectionKind = "truth_source" | "consumer";

/** One collection of the pipeline. */
export interface CollectionConfig {
  /** MongoDB collection name; also the table name in the raw schema. */
  name: string;
  /** Target PostgreSQL schema, holding `main` and its related tables; its SQL lives in sql/<schema>/. */
  schema: string;
  /** Primary key column of `<schema>.main`. */
  primaryKey: string;
  /** truth_source or consumer. */
  kind: CollectionKind;
  /** Collections this one's FKs point into. */
  dependsOn: string[];
  /** One line for people. */
  description: string;
  /** Line of the entry in the config file. */
  line: number;
}

/** The whole validated config; `collections` are in dependency (run) order. */
export interface PipelineConfig {
  /** Path of the config file. */
  file: string;
  /** Folder holding the SQL (the config file's folder). */
  sqlDir: string;
  /** MongoDB database used when the source URL names none. */
  sourceDatabase: string;
  /** Schema of the raw documents. Default: lml_raw. */
  rawSchema: string;
  /** Schema of the run ledger. Default: lml_meta. */
  metaSchema: string;
  /** Schema of the shared helpers. Default: lml_util. */
  utilSchema: string;
  /** Collections in run order. */
  collections: CollectionConfig[];
  /** How transient faults are retried (`retry:`). Default: {@linkcode DEFAULT_RETRY_POLICY}. */
  retry: RetryPolicy;
}

/** Shows `path` relative to the working directory when it is inside it. */
export function displayPath(path: string): string {
  const cwd = Deno.cwd();
  return path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path;
}

const TOP_KEYS = [
  "source_database",
  "raw_schema",
  "meta_schema",
  "util_schema",
  "retry",
  "collections",
];
const RETRY_KEYS = ["attempts", "max_seconds"];
const COLLECTION_KEYS = ["schema", "primary_key", "kind", "depends_on", "description"];

/** Reads and validates a config file. */
export async function loadConfig(path: string = DEFAULT_CONFIG_PATH): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ConfigError(`cannot read the pipeline config (${(cause as Error).message})`, {
      file: displayPath(path),
      cause,
    });
  }
  return parseConfig(text, path);
}

/** Parses and validates config text; `path` is used in errors and to find the SQL folder. */
export function parseConfig(text: string, path: string): PipelineConfig {
  const file = displayPath(path);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
  const fail = (message: string, node?: unknown): never => {
    throw new ConfigError(message, { file, line: lineOf(node) });
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line ?? lines.linePos(firstError.pos[0]).line;
    const message = firstError.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(`invalid YAML: ${message}`, { file, line, cause: firstError });
  }
  const root = doc.contents;
  if (!isMap(root)) return fail("expected a mapping with a `collections` key", root);
  checkKeys(root, TOP_KEYS, "top level", fail);

  const str = (map: YAMLMap, key: string, fallback?: string): string => {
    const node = map.get(key, true);
    if (node === undefined) {
      if (fallback !== undefined) return fallback;
      return fail(`missing field "${key}"`, map);
    }
    if (!isScalar(node) || typeof node.value !== "string" || node.value === "") {
      return fail(`field "${key}" must be a non-empty string`, node);
    }
    return node.value;
  };
  const ident = (map: YAMLMap, key: string, fallback?: string): string => {
    const value = str(map, key, fallback);
    if (!isIdentifier(value)) {
      fail(
        `field "${key}": invalid identifier "${value}" (lower-case letters, digits and _, at most 63)`,
        map.get(key, true) ?? map,
      );
    }
    return value;
  };

  const rawSchema = ident(root, "raw_schema", "lml_raw");
  const metaSchema = ident(root, "meta_schema", "lml_meta");
  const utilSchema = ident(root, "util_schema", "lml_util");
  const sourceDatabase = str(root, "source_database", "mesa4core");
  const retry = parseRetry(root.get("retry", true), fail);
  const collectionsNode = root.get("collections", true);
  if (!isMap(collectionsNode) || collectionsNode.items.length === 0) {
    return fail("`collections` must be a non-empty mapping", collectionsNode ?? root);
  }

  const collections: CollectionConfig[] = [];
  const dependencyNodes = new Map<string, unknown[]>();
  const schemas = new Map<string, string>();
  for (const pair of collectionsNode.items) {
    const key = pair.key;
    const name = isScalar(key) ? String(key.value) : "";
    if (!isIdentifier(name)) fail(`invalid collection name "${name}" (must be an identifier)`, key);
    const entry = pair.value;
    if (!isMap(entry)) return fail(`collection "${name}": expected a mapping`, entry ?? key);
    checkKeys(entry, COLLECTION_KEYS, `collection "${name}"`, fail);
    const schema = ident(entry, "schema");
    for (const reserved of [rawSchema, metaSchema, utilSchema]) {
      if (schema === reserved) {
        fail(`collection "${name}": schema "${schema}" is reserved`, entry.get("schema", true));
      }
    }
    const other = schemas.get(schema);
    if (other) {
      fail(
        `duplicate schema "${schema}" (already used by collection "${other}")`,
        entry.get("schema", true),
      );
    }
    schemas.set(schema, name);
    const kind = str(entry, "kind", "consumer");
    if (kind !== "truth_source" && kind !== "consumer") {
      fail(
        `collection "${name}": kind must be truth_source or consumer, not "${kind}"`,
        entry.get("kind", true),
      );
    }
    const depsNode = entry.get("depends_on", true);
    const dependsOn: string[] = [];
    const nodes: unknown[] = [];
    if (depsNode !== undefined && !(isScalar(depsNode) && depsNode.value === null)) {
      if (!isSeq(depsNode)) {
        return fail(`collection "${name}": depends_on must be a list`, depsNode);
      }
      for (const item of depsNode.items) {
        if (!isScalar(item) || typeof item.value !== "string") {
          fail(`collection "${name}": depends_on entries must be collection names`, item);
        }
        dependsOn.push((item as { value: string }).value);
        nodes.push(item);
      }
    }
    dependencyNodes.set(name, nodes);
    collections.push({
      name,
      schema,
      primaryKey: ident(entry, "primary_key"),
      kind: kind as CollectionKind,
      dependsOn,
      description: str(entry, "description", ""),
      line: lineOf(key) ?? 0,
    });
  }

  const byName = new Map(collections.map((c) => [c.name, c]));
  const bySchema = new Map(collections.map((c) => [c.schema, c]));
  for (const c of collections) {
    c.dependsOn = c.dependsOn.map((dep, i) => {
      if (byName.has(dep)) return dep;
      const viaSchema = bySchema.get(dep);
      if (viaSchema) return viaSchema.name;
      return fail(
        `collection "${c.name}": unknown dependency "${dep}"${didYouMean(dep, byName.keys())}`,
        dependencyNodes.get(c.name)?.[i],
      );
    });
    if (c.dependsOn.includes(c.name)) {
      fail(`collection "${c.name}" depends on itself`, dependencyNodes.get(c.name)?.[0]);
    }
  }
  let order: string[];
  try {
    order = topologicalOrder(collections.map((c) => c.name), (n) => byName.get(n)!.dependsOn);
  } catch (error) {
    if (!(error instanceof CycleError)) throw error;
    const first = byName.get(error.cycle[0]!);
    throw new ConfigError(error.message, { file, line: first?.line, cause: error });
  }
  return {
    file: path,
    sqlDir: path.replace(/\/?[^/]*$/, "") || ".",
    sourceDatabase,
    rawSchema,
    metaSchema,
    utilSchema,
    collections: order.map((n) => byName.get(n)!),
    retry,
  };
}

/** The `retry:` mapping: `attempts` (0 to 100) and `max_seconds` (0 to 86400), both optional. */
function parseRetry(node: unknown, fail: (message: string, node?: unknown) => never): RetryPolicy {
  if (node === undefined || (isScalar(node) && node.value === null)) {
    return { ...DEFAULT_RETRY_POLICY };
  }
  if (!isMap(node)) return fail("`retry` must be a mapping (attempts, max_seconds)", node);
  checkKeys(node, RETRY_KEYS, "retry", fail);
  const whole = (key: string, max: number, fallback: number): number => {
    const value = node.get(key, true);
    if (value === undefined) return fallback;
    const n = isScalar(value) ? value.value : undefined;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
      return fail(`retry: field "${key}" must be a whole number from 0 to ${max}`, value);
    }
    return n;
  };
  return {
    attempts: whole("attempts", 100, DEFAULT_RETRY_POLICY.attempts),
    maxSeconds: whole("max_seconds", 86_400, DEFAULT_RETRY_POLICY.maxSeconds),
    firstDelayMs: DEFAULT_RETRY_POLICY.firstDelayMs,
  };
}

function checkKeys(
  map: YAMLMap,
  allowed: string[],
  where: string,
  fail: (message: string, node?: unknown) => never,
): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!allowed.includes(key)) {
      fail(`${where}: unknown key "${key}"${didYouMean(key, allowed)}`, pair.key);
    }
  }
}

/**
 * Resolves `--select` names (collection or schema names) to collections, in run order.
 * With `downstream` (the default) every collection depending on a selected one is added.
 */
export function selectCollections(
  config: PipelineConfig,
  names: readonly string[],
  options: { downstream?: boolean } = {},
): CollectionConfig[] {
  const byName = new Map(config.collections.map((c) => [c.name, c]));
  const bySchema = new Map(config.collections.map((c) => [c.schema, c]));
  const roots = names.map((name) => {
    const found = byName.get(name) ?? bySchema.get(name);
    if (!found) {
      throw new UsageError(
        `unknown collection or schema "${name}"${
          didYouMean(name, [...byName.keys(), ...bySchema.keys()])
        }`,
        { hint: `known: ${config.collections.map((c) => c.schema).join(", ")}` },
      );
    }
    return found.name;
  });
  if (roots.length === 0) return [...config.collections];
  const order = config.collections.map((c) => c.name);
  const chosen = options.downstream === false
    ? order.filter((n) => roots.includes(n))
    : downstreamOf(roots, order, (n) => byName.get(n)!.dependsOn);
  return chosen.map((n) => byName.get(n)!);
}
