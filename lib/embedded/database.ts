/**
 * The zero-setup embedded PostgreSQL: PGlite (PostgreSQL compiled to WebAssembly) stored in a
 * local directory (default `.lml/pgdata`) and served on a loopback TCP port, so every command
 * connects to it with postgres.js through an ordinary URL, exactly as to a server.
 *
 * PGlite has one session: the server lets one connection at a time use it, from its first
 * message until the session is idle again (outside a transaction), so pools of several
 * connections work. `COPY ... FROM STDIN` works up to 64 MiB per statement.
 *
 * Clients log in as `postgres` with the data directory's password (SCRAM-SHA-256), generated
 * at random the first time and kept beside it in `<dataDir>.password`, readable by its owner
 * only; the toolkit reads it from there, `serve` shows it.
 * @module
 */
import { dirname, resolve } from "node:path";
import { displayPath, type Logger, redactUrl, RunError, silentLogger } from "../core/mod.ts";
import { MEMORY, openEngine } from "./engine.ts";
import { serveSessions } from "./server.ts";
import type { WorkerReply, WorkerStart } from "./worker.ts";

/** Where the embedded database lives unless told otherwise (relative to the working directory). */
export const DEFAULT_DATA_DIR = ".lml/pgdata";

/** The port `deno task serve` listens on by default. */
export const SERVE_PORT = 54329;

/** Options of {@linkcode startEmbedded}. */
export interface EmbeddedOptions {
  /** Data directory, or "memory://" for a throw-away in-memory database. Default: ".lml/pgdata". */
  dataDir?: string;
  /** TCP port; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on. Default: "127.0.0.1". */
  hostname?: string;
  /** Run PGlite and its server in a Worker (keeps this thread responsive). Default: true. */
  worker?: boolean;
  /** Largest `COPY ... FROM STDIN` accepted, in bytes. Default: 64 MiB. */
  copyLimitBytes?: number;
  /**
   * How long a client may sit idle in a transaction while others wait before it is rolled
   * back and disconnected. Default: 60000 ms.
   */
  idleInTransactionTimeoutMs?: number;
  /** Where refused logins and evicted clients are logged (as warnings). Default: silent. */
  logger?: Logger;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedServer extends AsyncDisposable {
  /** Connection URL with the password, e.g. postgres://postgres:<password>@127.0.0.1:54329/postgres. */
  url: string;
  /** The password of user `postgres`. */
  password: string;
  /** The file holding the password (owner-only), or undefined for "memory://". */
  passwordFile: string | undefined;
  /** The port served. */
  port: number;
  /** The interface served. */
  hostname: string;
  /** The data directory (absolute), or "memory://". */
  dataDir: string;
  /** Disconnects clients, stops serving and shuts PGlite down (data is on disk afterwards). */
  close(): Promise<void>;
}

/** The lock file beside a data directory: held while a process serves it, holds its URL. */
function lockPath(dataDir: string): string {
  return `${dataDir}.lock`;
}

/** The password file beside a data directory. */
function passwordPath(dataDir: string): string {
  return `${dataDir}.password`;
}

/** A new random password: 32 hex digits (128 bits), safe in URLs and DBeaver fields. */
function newPassword(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Reads the data directory's password (undefined when it has none yet). */
async function readPassword(dataDir: string): Promise<string | undefined> {
  try {
    const password = (await Deno.readTextFile(passwordPath(dataDir))).trim();
    return password || undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new RunError(
      `Cannot read the password of the embedded PostgreSQL (${
        displayPath(passwordPath(dataDir))
      }): ${(error as Error).message}`,
      { cause: error, hint: "run the command as the user who owns the data directory" },
    );
  }
}

/**
 * The data directory's password, created (random, mode 0600) when missing; an existing file
 * readable by others is made owner-only again.
 */
async function ensurePassword(dataDir: string): Promise<string> {
  const path = passwordPath(dataDir);
  const existing = await readPassword(dataDir);
  if (existing) {
    if (Deno.build.os !== "windows" && ((await Deno.stat(path)).mode ?? 0) & 0o077) {
      await Deno.chmod(path, 0o600);
    }
    return existing;
  }
  const password = newPassword();
  await Deno.writeTextFile(path, password + "\n", { mode: 0o600 });
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  return password;
}

/** `url` with user `postgres` and `password`. */
function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.username = "postgres";
  u.password = password;
  return u.toString();
}

/** Takes the data directory's lock, or returns the URL of the process holding it. */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile | { heldBy: string }> {
  await Deno.mkdir(dirname(dataDir), { recursive: true });
  const file = await Deno.open(lockPath(dataDir), { read: true, write: true, create: true });
  if (await file.tryLock(true)) return file;
  file.close();
  let heldBy = "another process";
  try {
    const info = JSON.parse(await Deno.readTextFile(lockPath(dataDir)));
    if (typeof info.url === "string") heldBy = `pid ${info.pid} serving ${info.url}`;
  } catch {
    // The holder has not written its details yet.
  }
  return { heldBy };
}

/**
 * The URL (password included) of the process currently serving `dataDir` (e.g.
 * `deno task serve`), or undefined when none is.
 */
export async function runningEmbeddedUrl(
  dataDir: string = DEFAULT_DATA_DIR,
): Promise<string | undefined> {
  const dir = resolve(dataDir);
  let url: string | undefined;
  try {
    const file = await Deno.open(lockPath(dir), { read: true, write: true });
    try {
      if (await file.tryLock(true)) return undefined;
    } finally {
      file.close();
    }
    // The lock file is not private: it holds the URL without the password.
    const info = JSON.parse(await Deno.readTextFile(lockPath(dir)));
    url = typeof info.url === "string" ? info.url : undefined;
  } catch {
    return undefined;
  }
  if (!url) return undefined;
  const password = await readPassword(dir);
  if (!password) {
    throw new RunError(
      `The embedded PostgreSQL in ${displayPath(dir)} is served at ${
        redactUrl(url)
      } but its password file ${displayPath(passwordPath(dir))} is missing`,
      { hint: "stop that server and start it again (a new password is made)" },
    );
  }
  return withPassword(url, password);
}

/**
 * Starts PGlite on `dataDir` (created and initialized when missing) and serves it on
 * `hostname:port`. One process at a time may serve a data directory.
 */
export async function startEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const requested = options.dataDir ?? DEFAULT_DATA_DIR;
  const dataDir = requested === MEMORY ? MEMORY : resolve(requested);
  const hostname = options.hostname ?? "127.0.0.1";
  let lock: Deno.FsFile | undefined;
  if (dataDir !== MEMORY) {
    const taken = await lockDataDir(dataDir);
    if (!(taken instanceof Deno.FsFile)) {
      throw new RunError(
        `The embedded PostgreSQL in ${displayPath(dataDir)} is in use (${taken.heldBy})`,
        { hint: "connect to that server with DATABASE_URL, or stop it first" },
      );
    }
    lock = taken;
  }
  let password: string;
  try {
    password = dataDir === MEMORY ? newPassword() : await ensurePassword(dataDir);
  } catch (error) {
    lock?.close();
    throw error;
  }
  const start: WorkerStart = {
    type: "start",
    dataDir,
    hostname,
    port: options.port ?? 0,
    password,
    ...(options.copyLimitBytes ? { copyLimitBytes: options.copyLimitBytes } : {}),
    ...(options.idleInTransactionTimeoutMs
      ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }
      : {}),
  };
  const logger = options.logger ?? silentLogger;
  const onEvent = (message: string) => logger.warn(`embedded PostgreSQL: ${message}`);
  let served: { port: number; close: () => Promise<void> };
  try {
    served = options.worker === false
      ? await startInProcess(start, onEvent)
      : await startInWorker(start, onEvent);
  } catch (error) {
    lock?.close();
    throw new RunError(
      `Could not start the embedded PostgreSQL in ${displayPath(dataDir)}: ${
        (error as Error).message
      }`,
      {
        cause: error,
        hint: dataDir === MEMORY
          ? "check that the port is free"
          : `check that the port is free and that ${
            displayPath(dataDir)
          } holds a PGlite database (delete it to start over)`,
      },
    );
  }
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const bare = `postgres://postgres@${host}:${served.port}/postgres`;
  if (lock) {
    await lock.truncate(0);
    await lock.write(
      new TextEncoder().encode(JSON.stringify({ pid: Deno.pid, url: bare }) + "\n"),
    );
  }
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      try {
        await served.close();
      } finally {
        if (lock) {
          await lock.truncate(0).catch(() => {});
          lock.close();
        }
      }
    })();
  return {
    url: withPassword(bare, password),
    password,
    passwordFile: dataDir === MEMORY ? undefined : passwordPath(dataDir),
    port: served.port,
    hostname,
    dataDir,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function startInProcess(start: WorkerStart, onEvent: (message: string) => void) {
  const engine = await openEngine(start.dataDir);
  try {
    const server = await serveSessions(engine, {
      hostname: start.hostname,
      port: start.port,
      password: start.password,
      ...(start.copyLimitBytes ? { copyLimitBytes: start.copyLimitBytes } : {}),
      ...(start.idleInTransactionTimeoutMs
        ? { idleInTransactionTimeoutMs: start.idleInTransactionTimeoutMs }
        : {}),
      onEvent,
    });
    return {
      port: server.port,
      close: async () => {
        await server.close();
        await engine.close();
      },
    };
  } catch (error) {
    await engine.close();
    throw error;
  }
}

async function startInWorker(start: WorkerStart, onEvent: (message: string) => void) {
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href, {
    type: "module",
  });
  const next = () =>
    new Promise<WorkerReply>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        if (event.data.type === "event") onEvent(event.data.message);
        else resolve(event.data);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
    });
  const ready = next();
  worker.postMessage(start);
  let reply: WorkerReply;
  try {
    reply = await ready;
  } catch (error) {
    worker.terminate();
    throw error;
  }
  if (reply.type !== "ready") {
    worker.terminate();
    throw new Error(reply.type === "error" ? reply.message : "unexpected worker reply");
  }
  return {
    port: reply.port,
    close: async () => {
      const closed = next();
      worker.postMessage({ type: "close" });
      try {
        await closed;
      } finally {
        worker.terminate();
      }
    },
  };
}

/** Options of {@linkcode resolveDatabase}. */
export interface ResolveOptions {
  /** A server's URL (flag or DATABASE_URL); when set, no embedded database is started. */
  databaseUrl?: string | undefined;
  /** The embedded data directory. Default: ".lml/pgdata". */
  dataDir?: string;
  /** Where "using the embedded PostgreSQL ..." goes. Default: silent. */
  logger?: Logger;
}

/** The database a command runs against; disposing it stops the embedded server if one was started. */
export interface ResolvedDatabase extends AsyncDisposable {
  /** The URL to connect to. */
  url: string;
  /** The embedded server started for this command, if any. */
  embedded?: EmbeddedServer;
  /**
   * True when the URL leads to the embedded PostgreSQL (started here or by `deno task serve`):
   * it runs one session at a time, so callers should use a pool of one connection.
   */
  isEmbedded: boolean;
}

/**
 * The database of a command: `databaseUrl` when given; else the embedded PostgreSQL of `dataDir`,
 * reusing the process already serving it (`deno task serve`) or starting it for this command.
 */
export async function resolveDatabase(options: ResolveOptions = {}): Promise<ResolvedDatabase> {
  const logger = options.logger ?? silentLogger;
  const noop = async () => {};
  if (options.databaseUrl) {
    return { url: options.databaseUrl, isEmbedded: false, [Symbol.asyncDispose]: noop };
  }
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const running = dataDir === MEMORY ? undefined : await runningEmbeddedUrl(dataDir);
  if (running) {
    logger.info(`using the embedded PostgreSQL served at ${redactUrl(running)}`);
    return { url: running, isEmbedded: true, [Symbol.asyncDispose]: noop };
  }
  logger.info(
    `using the embedded PostgreSQL in ${dataDir === MEMORY ? dataDir : displayPath(dataDir)}`,
  );
  const embedded = await startEmbedded({ dataDir, logger });
  return {
    url: embedded.url,
    embedded,
    isEmbedded: true,
    [Symbol.asyncDispose]: () => embedded.close(),
  };
}

/** Options of {@linkcode serveEmbedded}. */
export interface ServeOptions {
  /** Data directory. Default: ".lml/pgdata". */
  dataDir?: string;
  /** Port. Default: 54329. */
  port?: number;
  /** Interface. Default: "127.0.0.1". */
  hostname?: string;
  /** Stops serving when aborted. Default: Ctrl-C (SIGINT) or SIGTERM. */
  signal?: AbortSignal;
  /** Where the connection instructions go (the password included). Default: stdout. */
  print?: (line: string) => void;
  /** Where refused logins and evicted clients are logged. Default: silent. */
  logger?: Logger;
}

/**
 * Serves the embedded PostgreSQL until Ctrl-C (or `signal`), printing how to connect with
 * psql and DBeaver, password included.
 */
export async function serveEmbedded(options: ServeOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => console.log(line));
  const server = await startEmbedded({
    dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
    port: options.port ?? SERVE_PORT,
    ...(options.hostname ? { hostname: options.hostname } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  try {
    const shown = server.dataDir === MEMORY ? MEMORY : displayPath(server.dataDir);
    print(`Serving the embedded PostgreSQL in ${shown} at ${redactUrl(server.url)}`);
    print("");
    print(`  psql ${server.url}`);
    print("");
    print("  DBeaver: New connection > PostgreSQL");
    print(`    Host: ${server.hostname}   Port: ${server.port}`);
    print(`    Database: postgres   Username: postgres   Password: ${server.password}`);
    if (server.passwordFile) {
      print(
        `    (the password is kept in ${
          displayPath(server.passwordFile)
        }, readable by you only; delete it to get a new one at the next start)`,
      );
    }
    print("    (the embedded PostgreSQL runs one session at a time: close idle editors)");
    print("");
    print("Other lml commands run in this directory use it too. Press Ctrl-C to stop.");
    await waitForStop(options.signal);
  } finally {
    await server.close();
  }
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal) {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
      return;
    }
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    const stop = () => {
      for (const s of signals) Deno.removeSignalListener(s, stop);
      resolve();
    };
    for (const s of signals) Deno.addSignalListener(s, stop);
  });
}
