/**
 * The commands of the command line, each with its help text and handler.
 * @module
 */
import {
  acquireRunLock,
  connect,
  createLogger,
  DEFAULT_CONFIG_PATH,
  DEFAULTS,
  ensureMeta,
  loadConfig,
  type Logger,
  newRunId,
  type PipelineConfig,
  redactUrl,
  type RunLock,
  type RunResult,
  selectCollections,
  setting,
  type Sql,
  UsageError,
  type WritingCommand,
} from "../core/mod.ts";
import { managedSchemas, resetDatabase } from "./reset.ts";
import { resolveDatabase, SERVE_PORT, serveEmbedded } from "../embedded/mod.ts";
import { runDemo } from "./demo.ts";
import { buildPlan, formatPlan, runChecks, runTransforms } from "../transform/mod.ts";
import { extractCollections, requireSource } from "../../extract/mod.ts";
import { exitCode, extractionFailure, reportRun } from "./conclude.ts";
import { generateSample } from "../sample/mod.ts";
import { refresh } from "./refresh.ts";
import { REFRESH_MODES, type RefreshMode } from "./sync.ts";
import { formatProfile, profileCollection, writeProfileReports } from "../profile/mod.ts";
import { scaffoldCollection } from "../scaffold/mod.ts";
import { monitorRun } from "../ops/mod.ts";
import { checkFreshness, formatFreshness, freshnessJson, parseDuration } from "./status.ts";
import { newSqlTest, testSql } from "./test_sql.ts";
import { buildDocs, serveDocs } from "../docs/mod.ts";

/** Every flag of the command line, declared once (node:util parseArgs options). */
export const OPTIONS = {
  source: { type: "string" },
  "database-url": { type: "string" },
  config: { type: "string" },
  select: { type: "string" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean" },
  "log-format": { type: "string" },
  scale: { type: "string" },
  seed: { type: "string" },
  format: { type: "string" },
  reports: { type: "string" },
  port: { type: "string" },
  schema: { type: "string" },
  "sample-size": { type: "string" },
  concurrency: { type: "string" },
  "max-age": { type: "string" },
  new: { type: "boolean" },
  docs: { type: "boolean" },
  name: { type: "string" },
  mode: { type: "string" },
  follow: { type: "boolean" },
  debug: { type: "boolean" },
  "allow-shrink": { type: "boolean" },
  drift: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parsed flags, as main.ts gives them. */
export type Flags = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean : string;
};

/** What a handler receives. */
export interface CommandContext {
  flags: Flags;
  args: string[];
  logger: Logger;
  /** Loads the pipeline config named by --config (default: sql/pipeline.yaml). */
  config(): Promise<PipelineConfig>;
}

interface Command {
  summary: string;
  usage: string;
  flags: (keyof Flags)[];
  /** Positional arguments: exactly n, or [least, most]. Default: 0. */
  args?: number | readonly [number, number];
  run(ctx: CommandContext): Promise<number>;
}

const COMMON: (keyof Flags)[] = ["config", "log-format", "debug", "help"];

/** Every command, by name. */
export const COMMANDS: Record<string, Command> = {
  extract: {
    summary: "Load MongoDB collections (server or dump) raw into lml_raw as JSONB",
    usage: "extract [--source <mongodb-url|dump-dir>] [--database-url <url>] [--select <names>]",
    flags: [...COMMON, "source", "database-url", "select", "concurrency"],
    run: runExtract,
  },
  transform: {
    summary: "Rebuild the normalized schemas from lml_raw with sql/, then run the checks",
    usage: "transform [--database-url <url>] [--select <names>] [--dry-run] [--reports <dir>]",
    flags: [...COMMON, "database-url", "select", "dry-run", "reports"],
    run: runTransform,
  },
  assert: {
    summary: "Run the assertion checks against the current data and write the reports",
    usage: "assert [--database-url <url>] [--select <names>] [--reports <dir>]",
    flags: [...COMMON, "database-url", "select", "reports"],
    run: runAssert,
  },
  refresh: {
    summary: "Extract, transform and assert as one all-or-nothing run (the nightly job)",
    usage: "refresh [--mode auto|full|incremental] [--source <mongodb-url|dump-dir>] " +
      "[--database-url <url>] [--reports <dir>] [--allow-shrink]",
    flags: [...COMMON, "source", "database-url", "reports", "concurrency", "mode", "allow-shrink"],
    run: (ctx) => runRefresh(ctx, { follow: false }),
  },
  sync: {
    summary:
      "Refresh from the change stream: only what changed since the stored position (--follow: keep lml_raw current)",
    usage:
      "sync [--follow] [--source <mongodb-url>] [--database-url <url>] [--reports <dir>] [--allow-shrink]",
    flags: [
      ...COMMON,
      "source",
      "database-url",
      "reports",
      "concurrency",
      "follow",
      "allow-shrink",
    ],
    run: (ctx) => runRefresh(ctx, { follow: ctx.flags.follow ?? false }),
  },
  plan: {
    summary: "Show the SQL files in run order, what changed since the last run, and the graph",
    usage: "plan [--database-url <url>] [--select <names>]",
    flags: [...COMMON, "database-url", "select"],
    run: runPlan,
  },
  status: {
    summary: "Freshness probe: last successful refresh, its age, the last run, locks held",
    usage: "status [--max-age <26h|90m|2d>] [--format text|json] [--database-url <url>]",
    flags: [...COMMON, "database-url", "max-age", "format"],
    run: runStatus,
  },
  reset: {
    summary: "Drop every schema the config names (raw, normalized, meta) after confirmation",
    usage: "reset [--database-url <url>] [--yes]",
    flags: [...COMMON, "database-url", "yes"],
    run: runReset,
  },
  demo: {
    summary: "Generate a small dataset and run the whole pipeline (embedded PostgreSQL by default)",
    usage: "demo [--scale <n>] [--seed <n>] [--database-url <url>] [--reports <dir>]",
    flags: [...COMMON, "scale", "seed", "database-url", "reports"],
    run: async (ctx) => {
      await runDemo({
        scale: numberFlag(ctx.flags, "scale", DEFAULTS.demoScale),
        seed: numberFlag(ctx.flags, "seed", DEFAULTS.seed),
        databaseUrl: databaseUrlFlag(ctx.flags),
        configPath: ctx.flags.config ?? DEFAULT_CONFIG_PATH,
        reportsDir: ctx.flags.reports ?? DEFAULTS.reportsDir,
        logger: ctx.logger,
      });
      return 0;
    },
  },
  serve: {
    summary:
      "Serve the embedded PostgreSQL on a local port for psql or DBeaver (--docs: the catalog)",
    usage: "serve [--port <n>]   |   serve --docs [--port <n>] [--reports <dir>]",
    flags: [...COMMON, "port", "docs", "reports"],
    run: async (ctx) => {
      if (ctx.flags.docs) {
        const dir = `${ctx.flags.reports ?? DEFAULTS.reportsDir}/docs`;
        await serveDocs(dir, {
          port: numberFlag(ctx.flags, "port", DEFAULTS.docsPort),
          logger: ctx.logger,
        }).finished;
        return 0;
      }
      await serveEmbedded({ port: numberFlag(ctx.flags, "port", SERVE_PORT), logger: ctx.logger });
      return 0;
    },
  },
  generate: {
    summary: "Write a deterministic mesa4core sample dataset (dump or JSON lines)",
    usage: "generate <dir> [--scale <n>] [--seed <n>] [--format bson|json] [--drift]",
    flags: [...COMMON, "scale", "seed", "format", "drift"],
    args: 1,
    run: runGenerate,
  },
  profile: {
    summary: "Profile a raw collection's fields (types, presence, hints), entirely in SQL",
    usage: "profile <collection> [--database-url <url>] [--sample-size <n>] [--reports <dir>]",
    flags: [...COMMON, "database-url", "sample-size", "reports"],
    args: 1,
    run: runProfile,
  },
  scaffold: {
    summary: "Draft sql/<schema>/ for a new collection from its profile",
    usage: "scaffold <collection> [--schema <name>] [--database-url <url>]",
    flags: [...COMMON, "database-url", "schema", "sample-size"],
    args: 1,
    run: runScaffold,
  },
  docs: {
    summary: "Build the catalog site (schemas, lineage, checks, run history) into reports/docs/",
    usage: "docs [--database-url <url>] [--reports <dir>]",
    flags: [...COMMON, "database-url", "reports"],
    run: async (ctx) => {
      const config = await ctx.config();
      return await withDatabase(ctx, async (sql) => {
        const result = await buildDocs(sql, config, {
          reportsDir: ctx.flags.reports ?? DEFAULTS.reportsDir,
          logger: ctx.logger,
        });
        ctx.logger.info(`open ${result.dir}/index.html, or: deno task serve --docs`);
        return 0;
      }, { application: "lml docs" });
    },
  },
  "test-sql": {
    summary: "Run the SQL unit tests (sql/<schema>/tests/*.yaml) in transactions that roll back",
    usage: "test-sql [--select <names>] [--database-url <url>] [--reports <dir>]\n" +
      "       deno task test-sql --new <collection> <_id> [--name <test name>]",
    flags: [...COMMON, "database-url", "select", "reports", "new", "name"],
    args: [0, 2],
    run: runTestSql,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    "lml: MongoDB (mesa4core) to PostgreSQL, SQL-first ELT",
    "",
    "usage: deno task <command> [options]   (or: deno run -A main.ts <command> [options])",
    "",
    "commands:",
    ...lines,
    "",
    "common options:",
    "  --database-url <url>   target PostgreSQL (default: $DATABASE_URL, else .env, else the embedded one)",
    "  --source <url|dir>     MongoDB URL or dump folder (default: $MONGO_URL)",
    "  --config <file>        pipeline config (default: sql/pipeline.yaml)",
    "  --select <names>       comma-separated collection or schema names",
    "  --log-format text|json",
    "  --debug                show stack traces",
    "",
    "exit codes: 0 ok, 1 failed run or failed error check, 2 bad usage or config",
  ].join("\n");
}

function commandHelp(command: Command): string {
  return [
    `${command.summary}`,
    "",
    `usage: deno task ${command.usage}`,
    "",
    `options: ${command.flags.map((f) => `--${f}`).join(" ")}`,
  ].join("\n");
}

/** Runs command `name` with positional `args` and `flags`; returns the exit code. */
export async function runCommand(
  name: string | undefined,
  args: string[],
  flags: Flags,
): Promise<number> {
  if (name === undefined || name === "help") {
    console.log(help());
    return name === undefined && !flags.help ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    throw new UsageError(`unknown command "${name}"`, {
      hint: `commands: ${Object.keys(COMMANDS).join(", ")}`,
    });
  }
  if (flags.help) {
    console.log(commandHelp(command));
    return 0;
  }
  for (const flag of Object.keys(flags) as (keyof Flags)[]) {
    if (flags[flag] !== undefined && !command.flags.includes(flag)) {
      throw new UsageError(`"${name}" does not take --${flag}`, {
        hint: `usage: deno task ${command.usage}`,
      });
    }
  }
  const [least, most] = typeof command.args === "object"
    ? command.args
    : [command.args ?? 0, command.args ?? 0];
  if (args.length < least || args.length > most) {
    throw new UsageError(
      most === 0
        ? `"${name}" takes no arguments (got "${args.join(" ")}")`
        : least === most
        ? `"${name}" needs ${least} argument`
        : `"${name}" takes ${least} to ${most} arguments (got ${args.length})`,
      { hint: `usage: deno task ${command.usage}` },
    );
  }
  const format = flags["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json, not "${format}"`);
  }
  const logger = createLogger({ format, debug: flags.debug ?? false });
  let config: PipelineConfig | undefined;
  return await command.run({
    flags,
    args,
    logger,
    config: async () => config ??= await loadConfig(flags.config ?? DEFAULT_CONFIG_PATH),
  });
}

/** Parses a numeric flag, or returns `fallback` when absent. */
function numberFlag(flags: Flags, name: keyof Flags, fallback: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`--${name} must be a non-negative number, not "${raw}"`);
  }
  return value;
}

/** Splits --select into names. */
function selectFlag(flags: Flags): string[] {
  return (flags.select ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** The target database URL from --database-url, $DATABASE_URL or .env (undefined: embedded). */
function databaseUrlFlag(flags: Flags): string | undefined {
  return flags["database-url"] ?? setting("DATABASE_URL");
}

/**
 * Opens the target database for the duration of `fn`: --database-url, $DATABASE_URL or .env,
 * else the embedded PostgreSQL (one session at a time, so a pool of one).
 */
async function withDatabase<T>(
  ctx: CommandContext,
  fn: (sql: Sql, database: { url: string; isEmbedded: boolean }) => Promise<T>,
  options: { application?: string } = {},
): Promise<T> {
  await using database = await resolveDatabase({
    databaseUrl: databaseUrlFlag(ctx.flags),
    logger: ctx.logger,
  });
  const sql = connect(database.url, {
    application: options.application ?? "lml",
    max: database.isEmbedded ? 1 : 4,
  });
  try {
    ctx.logger.debug("connected", { database: redactUrl(database.url) });
    return await fn(sql, database);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The source from --source or $MONGO_URL (or .env). */
function sourceFlag(flags: Flags): string {
  return requireSource(flags.source ?? setting("MONGO_URL"));
}

async function runExtract(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const select = selectCollections(config, selectFlag(ctx.flags), { downstream: false }).map((c) =>
    c.name
  );
  const source = sourceFlag(ctx.flags);
  return await withDatabase(ctx, async (sql, database) => {
    await using _lock = await runLock(sql, config, "extract", database.isEmbedded);
    const results = await extractCollections(sql, config, {
      source,
      select,
      logger: ctx.logger,
      concurrency: numberFlag(ctx.flags, "concurrency", DEFAULTS.concurrency) || 1,
    });
    const failure = extractionFailure(results, "their previous raw data is unchanged");
    if (failure) throw failure;
    return 0;
  }, { application: "lml extract" });
}

async function runTransform(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const select = selectFlag(ctx.flags);
  if (ctx.flags["dry-run"]) {
    selectCollections(config, select);
    const plan = await buildPlan(undefined, config, { select });
    console.log(formatPlan(plan));
    return 0;
  }
  return await withDatabase(ctx, async (sql, database) => {
    const monitor = monitorOptions(ctx, "transform");
    const result = await monitorRun(sql, config, monitor, async () => {
      await using lock = await runLock(sql, config, "transform", database.isEmbedded);
      const result = await runTransforms(sql, config, {
        select,
        logger: ctx.logger,
        runId: monitor.runId,
        lock,
      });
      await reportRun(result, {
        dir: ctx.flags.reports,
        logger: ctx.logger,
        private: config.reports?.private,
      });
      return result;
    });
    return exitCode(result, ctx.logger);
  }, { application: "lml transform" });
}

async function runAssert(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const select = selectFlag(ctx.flags);
  return await withDatabase(ctx, async (sql) => {
    const monitor = monitorOptions(ctx, "assert");
    const result = await monitorRun(sql, config, monitor, async () => {
      const result = await runChecks(sql, config, {
        select,
        logger: ctx.logger,
        runId: monitor.runId,
      });
      await reportRun(result, {
        dir: ctx.flags.reports,
        logger: ctx.logger,
        private: config.reports?.private,
      });
      return result;
    });
    return exitCode(result, ctx.logger);
  }, { application: "lml assert" });
}

async function runPlan(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const select = selectFlag(ctx.flags);
  const url = databaseUrlFlag(ctx.flags);
  const plan = url === undefined
    ? await buildPlan(undefined, config, { select })
    : await withDatabase(ctx, (sql) => buildPlan(sql, config, { select }), {
      application: "lml plan",
    });
  console.log(formatPlan(plan));
  return 0;
}

/** `refresh --mode` and `sync [--follow]` (mode auto): see sync.ts. */
async function runRefresh(ctx: CommandContext, options: { follow: boolean }): Promise<number> {
  const config = await ctx.config();
  const source = sourceFlag(ctx.flags);
  const mode = (ctx.flags.mode ?? "auto") as RefreshMode;
  if (!REFRESH_MODES.includes(mode)) {
    throw new UsageError(`--mode must be ${REFRESH_MODES.join(", ")}, not "${mode}"`);
  }
  const stop = new AbortController();
  const signals = options.follow ? (["SIGINT", "SIGTERM"] as const) : [];
  const onSignal = () => stop.abort();
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  try {
    return await withDatabase(ctx, async (sql, database) => {
      const monitor = monitorOptions(ctx, "refresh");
      const result = await monitorRun(sql, config, monitor, () =>
        refresh(sql, config, {
          source,
          mode,
          logger: ctx.logger,
          reportsDir: ctx.flags.reports ?? DEFAULTS.reportsDir,
          concurrency: numberFlag(ctx.flags, "concurrency", DEFAULTS.concurrency) || 1,
          lock: !database.isEmbedded,
          runId: monitor.runId,
          allowShrink: ctx.flags["allow-shrink"] === true,
          ...(options.follow ? { follow: stop.signal } : {}),
        }));
      return exitCode(result, ctx.logger);
    }, { application: "lml refresh" });
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
}

/** What a run needs for metrics.prom, alerts and retention afterwards (see lib/ops). */
function monitorOptions(ctx: CommandContext, command: RunResult["command"]) {
  return {
    command,
    runId: newRunId(),
    logger: ctx.logger,
    reportsDir: ctx.flags.reports ?? DEFAULTS.reportsDir,
  };
}

async function runStatus(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const maxAgeSeconds = parseDuration(ctx.flags["max-age"] ?? DEFAULTS.maxAge);
  const format = ctx.flags.format ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--format must be text or json, not "${format}"`);
  }
  return await withDatabase(ctx, async (sql) => {
    const freshness = await checkFreshness(sql, config, { maxAgeSeconds });
    console.log(
      format === "json" ? JSON.stringify(freshnessJson(freshness)) : formatFreshness(freshness),
    );
    return freshness.exitCode;
  }, { application: "lml status" });
}

async function runProfile(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const [collection] = ctx.args as [string];
  return await withDatabase(ctx, async (sql) => {
    const profile = await profileCollection(sql, collection, {
      rawSchema: config.rawSchema,
      sampleSize: numberFlag(ctx.flags, "sample-size", DEFAULTS.sampleSize),
    });
    console.log(formatProfile(profile));
    const paths = await writeProfileReports(profile, {
      reportsDir: ctx.flags.reports ?? DEFAULTS.reportsDir,
    });
    ctx.logger.info(`profile written to ${paths.markdown} and ${paths.json}`);
    return 0;
  }, { application: "lml profile" });
}

async function runScaffold(ctx: CommandContext): Promise<number> {
  const [collection] = ctx.args as [string];
  return await withDatabase(ctx, async (sql) => {
    const result = await scaffoldCollection(sql, collection, {
      configPath: ctx.flags.config ?? DEFAULT_CONFIG_PATH,
      ...(ctx.flags.schema ? { schema: ctx.flags.schema } : {}),
      profileOptions: { sampleSize: numberFlag(ctx.flags, "sample-size", DEFAULTS.sampleSize) },
    });
    for (const file of result.written) ctx.logger.info(`wrote ${file}`);
    for (const todo of result.draft.todos) ctx.logger.info(`TODO ${todo}`);
    ctx.logger.info(
      `next: deno task transform --select ${result.draft.schema}, then review the TODOs`,
    );
    return 0;
  }, { application: "lml scaffold" });
}

async function runTestSql(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  if (ctx.flags.new ? ctx.args.length !== 2 : ctx.args.length !== 0) {
    throw new UsageError(
      ctx.flags.new ? "--new needs <collection> <_id>" : `"test-sql" takes no arguments`,
      { hint: `usage: deno task ${COMMANDS["test-sql"]!.usage}` },
    );
  }
  if (ctx.flags.name !== undefined && !ctx.flags.new) {
    throw new UsageError("--name goes with --new <collection> <_id>");
  }
  return await withDatabase(ctx, async (sql) => {
    if (ctx.flags.new) {
      const [collection, id] = ctx.args as [string, string];
      return await newSqlTest(sql, config, {
        collection,
        id,
        name: ctx.flags.name,
        logger: ctx.logger,
      });
    }
    return await testSql(sql, config, {
      select: selectFlag(ctx.flags),
      reportsDir: ctx.flags.reports ?? DEFAULTS.reportsDir,
      logger: ctx.logger,
    });
  }, { application: "lml test-sql" });
}

async function runGenerate(ctx: CommandContext): Promise<number> {
  const [dir] = ctx.args as [string];
  const format = ctx.flags.format ?? "bson";
  if (format !== "bson" && format !== "json") {
    throw new UsageError(`--format must be bson or json, not "${format}"`);
  }
  const started = performance.now();
  const manifest = await generateSample(dir, {
    scale: numberFlag(ctx.flags, "scale", DEFAULTS.scale),
    seed: numberFlag(ctx.flags, "seed", DEFAULTS.seed),
    format,
    drift: ctx.flags.drift === true,
  });
  const documents = Object.values(manifest.collections).reduce((n, c) => n + c.documents, 0);
  ctx.logger.info(
    `wrote ${documents} documents to ${dir}/${manifest.database} and ${dir}/manifest.json`,
    {
      seconds: Math.round((performance.now() - started) / 100) / 10,
    },
  );
  return 0;
}

/** Takes the run lock every writing command holds (none on the embedded engine's one session). */
async function runLock(
  sql: Sql,
  config: PipelineConfig,
  command: WritingCommand,
  embedded: boolean,
): Promise<RunLock> {
  await ensureMeta(sql, config.metaSchema);
  return await acquireRunLock(sql, { command, metaSchema: config.metaSchema, enabled: !embedded });
}

async function runReset(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  return await withDatabase(ctx, async (sql, database) => {
    const [{ name }] = await sql<[{ name: string }]>`select current_database() as name`;
    if (!ctx.flags.yes) {
      if (!Deno.stdin.isTerminal()) {
        throw new UsageError("reset asks for confirmation and no terminal is attached", {
          hint: "pass --yes to confirm from a script",
        });
      }
      const answer = prompt(
        `This drops schemas ${
          managedSchemas(config).join(", ")
        } in database "${name}".\nType the database name to confirm:`,
      );
      if (answer?.trim() !== name) {
        ctx.logger.warn("reset cancelled: the name typed did not match");
        return 1;
      }
    }
    await using _lock = await runLock(sql, config, "reset", database.isEmbedded);
    const dropped = await resetDatabase(sql, config);
    ctx.logger.info(dropped.length ? `dropped ${dropped.join(", ")}` : "nothing to drop", {
      database: name,
    });
    return 0;
  }, { application: "lml reset" });
}
