/**
 * `scaffold <collection>`: profiles a collection that has no transforms yet and writes a draft
 * that runs as is: sql/<schema>/ (tables, inserts, ghost users, constraints, checks) and its
 * entry in sql/pipeline.yaml. Never overwrites: an existing folder or entry is an error.
 * @module
 */
import {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  displayPath,
  loadConfig,
  parseConfig,
  type PipelineConfig,
  type Sql,
  UsageError,
} from "../core/mod.ts";
import { type CollectionProfile, profileCollection, type ProfileOptions } from "../profile/mod.ts";
import { createTest } from "../sqltest/mod.ts";
import { type CollectionDraft, defaultSchema, draftCollection } from "./model.ts";
import { type DraftFile, renderDraft } from "./sql.ts";

export { defaultPrimaryKey, defaultSchema, draftCollection } from "./model.ts";
export type { CollectionDraft } from "./model.ts";
export { renderDraft } from "./sql.ts";

/** The schema whose `main` receives every user reference and ghost user. */
const USERS_SCHEMA = "lml_users";

/** Options of {@linkcode scaffoldCollection}. */
export interface ScaffoldOptions {
  /** Target schema. Default: the collection name without `_<source_database>`. */
  schema?: string;
  /** Primary key of main. Default: `<singular entity>_id` (lml_notifications → notification_id). */
  primaryKey?: string;
  /** The pipeline config to extend. Default: sql/pipeline.yaml of the repository. */
  configPath?: string;
  /** Folder receiving `<schema>/`. Default: the config file's folder. */
  sqlDir?: string;
  /** Use this profile instead of profiling the raw table. Default: profile it now. */
  profile?: CollectionProfile;
  /** Options of the profile (sample size, sampling). Default: those of profileCollection. */
  profileOptions?: Omit<ProfileOptions, "rawSchema">;
}

/** What {@linkcode scaffoldCollection} wrote. */
export interface ScaffoldResult {
  /** The profile the draft comes from. */
  profile: CollectionProfile;
  /** The relational draft. */
  draft: CollectionDraft;
  /** The new folder, sql/<schema>. */
  folder: string;
  /** Every file written, config included. */
  written: string[];
  /** The config file that received the entry. */
  configPath: string;
  /** The entry appended to it. */
  configEntry: string;
}

/**
 * Profiles `collection` (from the raw schema of the config), drafts its schema and writes
 * sql/<schema>/, plus the config entry unless the config already names the collection (then
 * its schema and primary key are used). Throws UsageError when the folder already exists or
 * the schema is taken; writes nothing then.
 */
export async function scaffoldCollection(
  sql: Sql,
  collection: string,
  options: ScaffoldOptions = {},
): Promise<ScaffoldResult> {
  const configPath = options.configPath ?? DEFAULT_CONFIG_PATH;
  const config = await loadConfig(configPath);
  const sqlDir = (options.sqlDir ?? config.sqlDir).replace(/\/+$/, "");
  const existing = config.collections.find((c) => c.name === collection);
  const schema = existing?.schema ?? options.schema ??
    defaultSchema(collection, config.sourceDatabase);
  const owner = config.collections.find((c) => c.schema === schema && c !== existing);
  if (owner || [config.rawSchema, config.metaSchema, config.utilSchema].includes(schema)) {
    throw new UsageError(
      `cannot scaffold ${collection}: schema "${schema}" is ${
        owner ? `used by ${owner.name}` : "reserved"
      }`,
      { hint: "choose another one with --schema <name>" },
    );
  }
  const folder = `${sqlDir}/${schema}`;
  await refuseExisting(folder);

  const profile = options.profile ??
    await profileCollection(sql, collection, {
      ...options.profileOptions,
      rawSchema: config.rawSchema,
    });
  const primaryKey = existing?.primaryKey ?? options.primaryKey;
  const draft = draftCollection(profile, {
    schema,
    sourceDatabase: config.sourceDatabase,
    ...(primaryKey ? { primaryKey } : {}),
  });
  const usersCollection = config.collections.find((c) => c.schema === USERS_SCHEMA);
  const files = renderDraft(draft, {
    rawSchema: config.rawSchema,
    utilSchema: config.utilSchema,
    usersSchema: usersCollection ? USERS_SCHEMA : null,
  });
  const dependsOn = draft.userColumns.length > 0 && usersCollection ? [usersCollection.name] : [];
  const configEntry = existing ? "" : renderConfigEntry(draft, dependsOn);
  const configText = await Deno.readTextFile(configPath);
  const newConfig = configText.replace(/\n*$/, "\n") + "\n" + configEntry;
  if (!existing) {
    const extended = parseConfig(newConfig, configPath); // the extended config must stay valid
    if (!extended.collections.some((c) => c.name === collection && c.schema === schema)) {
      throw new ConfigError(
        "cannot append the new collection: `collections:` is not the file's last key; add the entry by hand:\n" +
          configEntry,
        { file: displayPath(configPath) },
      );
    }
  }

  const written = await writeFiles(folder, files);
  if (!existing) {
    await Deno.writeTextFile(configPath, newConfig);
    written.push(configPath);
  }
  const firstTest = await writeFirstTest(
    sql,
    existing ? config : parseConfig(newConfig, configPath),
    {
      collection,
      sameFolder: sqlDir === config.sqlDir.replace(/\/+$/, ""),
    },
  );
  if (firstTest.path) written.push(firstTest.path);
  if (firstTest.todo) draft.todos.push(firstTest.todo);
  return { profile, draft, folder, written, configPath, configEntry };
}

/**
 * The first SQL unit test of a new collection: its first raw document and the rows the draft
 * makes of it (`tests/first_document.yaml`). When that cannot be done, a TODO saying how.
 */
async function writeFirstTest(
  sql: Sql,
  config: PipelineConfig,
  options: { collection: string; sameFolder: boolean },
): Promise<{ path?: string; todo?: string }> {
  const how = `write a first test: deno task test-sql --new ${options.collection} <_id>`;
  if (!options.sameFolder) return { todo: `${how} (the draft is outside the config's folder)` };
  try {
    const created = await createTest(sql, config, {
      collection: options.collection,
      name: "first_document",
    });
    return { path: created.path };
  } catch (error) {
    return {
      todo: `${how} (first_document.yaml could not be written: ${(error as Error).message})`,
    };
  }
}

async function refuseExisting(folder: string): Promise<void> {
  try {
    await Deno.lstat(folder);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  throw new UsageError(`cannot scaffold: ${displayPath(folder)} already exists`, {
    hint: "scaffold never overwrites: move it away, or pass --schema <another name>",
  });
}

/** Creates `folder` (failing if it appeared meanwhile) and writes `files`; cleans up on error. */
async function writeFiles(folder: string, files: DraftFile[]): Promise<string[]> {
  try {
    await Deno.mkdir(folder);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new UsageError(`cannot scaffold: ${displayPath(folder)} already exists`, {
        cause: error,
      });
    }
    throw error;
  }
  const written: string[] = [];
  try {
    for (const file of files) {
      const path = `${folder}/${file.path}`;
      await Deno.mkdir(path.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(path, file.text, { createNew: true });
      written.push(path);
    }
  } catch (error) {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
    throw error;
  }
  return written;
}

/** The YAML entry of the new collection (appended under `collections:`). */
function renderConfigEntry(draft: CollectionDraft, dependsOn: readonly string[]): string {
  const arrays = draft.tables.slice(1).map((t) => t.name);
  const what = arrays.length > 0 ? ` (main, ${arrays.join(", ")})` : "";
  return [
    `  ${draft.collection}:`,
    `    schema: ${draft.schema}`,
    `    primary_key: ${draft.primaryKey}`,
    `    depends_on: [${dependsOn.join(", ")}]`,
    `    description: "TODO: describe ${draft.collection}${what}; drafted by scaffold."`,
    "",
  ].join("\n");
}
