/**
 * The pipeline config (sql/pipeline.yaml): collections, schemas, dependencies.
 * Parsed with a real YAML parser and validated with errors that name file, line and field.
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type YAMLMap } from "yaml";
import { CycleError, downstreamOf, topologicalOrder } from "./dag.ts";
import { ConfigError, didYouMean, UsageError } from "./errors.ts";
import { isIdentifier } from "./db.ts";
import { type NotifyConfig, parseNotify, parseRetentionDays } from "./config_monitoring.ts";
import { DEFAULT_MASKED_COLUMNS } from "./mask.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.ts";
import { RETIRED_PREFIX, STAGING_SCHEMA } from "./publish.ts";
import { type CheckControl, parseCheckControls } from "./config_checks.ts";
import { DEFAULTS } from "./defaults.ts";

/** The pipeline config shipped with the repository. */
export const DEFAULT_CONFIG_PATH: string =
  new URL("../../sql/pipeline.yaml", import.meta.url).pathname;

/** One collection of the pipeline. */
export interface CollectionConfig {
  /** MongoDB collection name; also the table name in the raw schema. */
  name: string;
  /** Target PostgreSQL schema, holding `main` and its related tables; its SQL lives in sql/<schema>/. */
  schema: string;
  /** Primary key column of `<schema>.main`. */
  primaryKey: string;
  /** Collections this one's FKs point into. */
  dependsOn: string[];
  /** One line for people. */
  description: string;
  /** Privileges granted on the schema's tables each run (`grants:`), e.g. `{select: [bi]}`.
   * Default: the top-level `grants:`. */
  grants?: Grants | undefined;
  /** Line of the entry in the config file. */
  line: number;
}

/** Privileges to grant, each to a list of roles (dbt's `grants:`), e.g. `{select: [bi]}`. */
export type Grants = Record<string, string[]>;

/** Privileges `grants:` may name. */
const PRIVILEGES = ["select", "insert", "update", "delete", "truncate", "references", "trigger"];

/** The whole validated config; `collections` are in dependency (run) order. */
export interface PipelineConfig {
  /** Path of the config file. */
  file: string;
  /** Folder holding the SQL (the config file's folder). */
  sqlDir: string;
  /** MongoDB database used when the source URL names none. */
  sourceDatabase: string;
  /** Schema of the raw documents: always lml_raw, which the SQL files name. */
  rawSchema: string;
  /** Schema of the run ledger. Default: lml_meta. */
  metaSchema: string;
  /** Schema of the shared helpers: always lml_util, which the SQL files name. */
  utilSchema: string;
  /** Collections in run order. */
  collections: CollectionConfig[];
  /** Alerts after a run (`notify:`). Default: none. */
  notify?: NotifyConfig | undefined;
  /** Days run folders and ledger rows are kept (`retention_days:`). Default: 30. */
  retentionDays?: number;
  /** What reports may show and who may read them. Default: {@linkcode DEFAULT_REPORTS}. */
  reports?: ReportSettings;
  /** How transient faults are retried (`retry:`). Default: {@linkcode DEFAULT_RETRY_POLICY}. */
  retry: RetryPolicy;
  /** Privileges granted on every collection's tables each run (`grants:`). Default: none. */
  grants?: Grants | undefined;
  /** Controls per check name (`checks:`): severity and warn/error thresholds. Default: none. */
  checks?: Record<string, CheckControl>;
  /** Largest share (0 to 1) a collection's document count may shrink by since the last
   * successful run before a refresh is refused (`volume_guard.max_shrink`). Default:
   * `DEFAULTS.maxShrink`. */
  maxShrink?: number;
}

/** The `reports:` section of the config. */
export interface ReportSettings {
  /** Columns whose check sample values are masked (`*` wildcards), from `masked_columns`.
   * Default: people's names and document numbers. */
  maskedColumns: readonly string[];
  /** Reports readable by their owner only (files 0600, folders 0700), from `private`.
   * Default: true. */
  private: boolean;
}

/** The report settings when the config has no `reports:` section. */
export const DEFAULT_REPORTS: ReportSettings = {
  maskedColumns: DEFAULT_MASKED_COLUMNS,
  private: true,
};

/** Shows `path` relative to the working directory when it is inside it. */
export function displayPath(path: string): string {
  const cwd = Deno.cwd();
  return path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path;
}

const TOP_KEYS = [
  "source_database",
  "meta_schema",
  "collections",
  "notify",
  "retention_days",
  "reports",
  "retry",
  "grants",
  "checks",
  "volume_guard",
];
const VOLUME_GUARD_KEYS = ["max_shrink"];
const RETRY_KEYS = ["attempts", "max_seconds"];
const REPORT_KEYS = ["masked_columns", "private"];
const COLLECTION_KEYS = ["schema", "primary_key", "depends_on", "description", "grants"];

/** Suffix of a collection's staging table in the raw schema while it is extracted. */
export const STAGING_SUFFIX = "__next";

/**
 * Why `name` cannot have a staging table beside its raw table (too long once suffixed, or the
 * staging table of another collection), or undefined when it can.
 */
function stagingProblem(name: string): string | undefined {
  const limit = 63 - STAGING_SUFFIX.length;
  if (new TextEncoder().encode(name).length > limit) {
    return `the name is longer than ${limit} bytes, so its staging table "${name}${STAGING_SUFFIX}" ` +
      `would exceed PostgreSQL's 63; use a shorter collection name`;
  }
  if (name.endsWith(STAGING_SUFFIX)) {
    return `names ending in "${STAGING_SUFFIX}" are kept for staging tables ("${
      name.slice(0, -STAGING_SUFFIX.length)
    }" is staged as "${name}"); rename the collection`;
  }
  return undefined;
}

/** Schema of the raw documents: fixed, since the SQL files name it. */
const RAW_SCHEMA = "lml_raw";
/** Schema of the shared helpers of sql/_shared/: fixed, since the SQL files name it. */
const UTIL_SCHEMA = "lml_util";

/** Keys that used to be settings, with why they are not. */
const FIXED_KEYS: Record<string, string> = {
  raw_schema: `the raw schema is always ${RAW_SCHEMA} (the SQL files name it); remove the key`,
  util_schema:
    `the helpers' schema is always ${UTIL_SCHEMA} (the SQL files name it); remove the key`,
  kind: "collections no longer take a kind (nothing read it); remove the key",
};

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

  const rawSchema = RAW_SCHEMA;
  const metaSchema = ident(root, "meta_schema", "lml_meta");
  if (schemaProblem(metaSchema)) {
    fail(
      `meta_schema "${metaSchema}": ${schemaProblem(metaSchema)}`,
      root.get("meta_schema", true),
    );
  }
  const utilSchema = UTIL_SCHEMA;
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
    const staging = stagingProblem(name);
    if (staging) fail(`collection "${name}": ${staging}`, key);
    const entry = pair.value;
    if (!isMap(entry)) return fail(`collection "${name}": expected a mapping`, entry ?? key);
    checkKeys(entry, COLLECTION_KEYS, `collection "${name}"`, fail);
    const schema = ident(entry, "schema");
    const problem = schemaProblem(schema);
    if (problem) {
      fail(`collection "${name}": schema "${schema}": ${problem}`, entry.get("schema", true));
    }
    for (const reserved of [rawSchema, metaSchema, utilSchema, STAGING_SCHEMA]) {
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
      dependsOn,
      description: str(entry, "description", ""),
      grants: parseGrants(entry.get("grants", true), `collection "${name}": grants`, fail),
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
    notify: parseNotify(root.get("notify", true), { fail, lineOf }),
    retentionDays: parseRetentionDays(root.get("retention_days", true), { fail, lineOf }),
    reports: reportSettings(root.get("reports", true), fail),
    retry,
    grants: parseGrants(root.get("grants", true), "grants", fail),
    checks: parseCheckControls(root.get("checks", true), { fail, lineOf }),
    maxShrink: parseVolumeGuard(root.get("volume_guard", true), fail),
  };
}

/** Why the toolkit may not manage schema `name` (PostgreSQL's own, or named like its own). */
function schemaProblem(name: string): string | undefined {
  if (name === "public" || name === "information_schema" || name.startsWith("pg_")) {
    return "PostgreSQL's own schemas are never managed by the toolkit (a run replaces its " +
      "schemas); name a schema of its own";
  }
  if (name.startsWith(RETIRED_PREFIX)) {
    return `names starting with "${RETIRED_PREFIX}" are kept for the previous data of a run`;
  }
  return undefined;
}

/** `grants:`: a mapping of privilege to role names (a list, or one name). */
function parseGrants(
  node: unknown,
  where: string,
  fail: (message: string, node?: unknown) => never,
): Grants | undefined {
  if (node === undefined || (isScalar(node) && node.value === null)) return undefined;
  if (!isMap(node)) return fail(`${where}: expected a mapping like {select: [bi_reader]}`, node);
  const grants: Grants = {};
  for (const pair of node.items) {
    const privilege = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!PRIVILEGES.includes(privilege)) {
      fail(
        `${where}: unknown privilege "${privilege}"${didYouMean(privilege, PRIVILEGES)}`,
        pair.key,
      );
    }
    const value = pair.value;
    const items = isSeq(value) ? value.items : [value];
    grants[privilege] = items.map((item) => {
      const role = isScalar(item) ? item.value : undefined;
      if (typeof role !== "string" || role === "" || role.length > 63) {
        return fail(`${where}: ${privilege}: expected role names`, item ?? pair.key);
      }
      return role;
    });
  }
  return grants;
}

/** The `volume_guard:` mapping: `max_shrink`, a share such as `50%` or `0.5`. */
function parseVolumeGuard(
  node: unknown,
  fail: (message: string, node?: unknown) => never,
): number {
  if (node === undefined || (isScalar(node) && node.value === null)) return DEFAULTS.maxShrink;
  if (!isMap(node)) return fail("`volume_guard` must be a mapping (max_shrink)", node);
  checkKeys(node, VOLUME_GUARD_KEYS, "volume_guard", fail);
  const value = node.get("max_shrink", true);
  if (value === undefined) return DEFAULTS.maxShrink;
  const raw = isScalar(value) ? value.value : undefined;
  const share = typeof raw === "number"
    ? raw
    : typeof raw === "string" && /^\d+(\.\d+)?%$/.test(raw.trim())
    ? Number(raw.trim().slice(0, -1)) / 100
    : NaN;
  if (!(share >= 0 && share <= 1)) {
    return fail('volume_guard: max_shrink must be a share from 0 to 1 or "0%" to "100%"', value);
  }
  return share;
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

/** The `reports:` section: `masked_columns` (a list of column patterns) and `private`. */
function reportSettings(
  node: unknown,
  fail: (message: string, node?: unknown) => never,
): ReportSettings {
  if (node === undefined || (isScalar(node) && node.value === null)) return DEFAULT_REPORTS;
  if (!isMap(node)) return fail("reports: expected a mapping", node);
  checkKeys(node, REPORT_KEYS, "reports", fail);
  const settings = { ...DEFAULT_REPORTS };
  const masked = node.get("masked_columns", true);
  if (masked !== undefined) {
    if (!isSeq(masked)) {
      return fail("reports: masked_columns must be a list of column names", masked);
    }
    settings.maskedColumns = masked.items.map((item) => {
      const value = isScalar(item) ? item.value : undefined;
      if (typeof value !== "string" || !/^[a-z0-9_*]{1,63}$/.test(value)) {
        return fail(
          "reports: masked_columns entries are column names, `*` matching any characters",
          item,
        );
      }
      return value;
    });
  }
  const privacy = node.get("private", true);
  if (privacy !== undefined) {
    if (!isScalar(privacy) || typeof privacy.value !== "boolean") {
      return fail("reports: private must be true or false", privacy);
    }
    settings.private = privacy.value;
  }
  return settings;
}

function checkKeys(
  map: YAMLMap,
  allowed: string[],
  where: string,
  fail: (message: string, node?: unknown) => never,
): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (FIXED_KEYS[key]) fail(`${where}: "${key}": ${FIXED_KEYS[key]}`, pair.key);
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
