/**
 * Logging for people (text) and log collectors (JSON lines), with password redaction,
 * an optional per-run log file, and a heartbeat for long steps.
 * @module
 */
import { redactText } from "./db.ts";
import { escapeControl } from "./escape.ts";

/** Severity of a log line. */
export type Level = "debug" | "info" | "warn" | "error";

/** Extra structured fields of a log line. */
export type Fields = Record<string, unknown>;

/** Where log lines go. */
export interface Logger {
  /** Writes one line at `level`. */
  log(level: Level, message: string, fields?: Fields): void;
  /** Shorthand for `log("info", ...)`. */
  info(message: string, fields?: Fields): void;
  /** Shorthand for `log("warn", ...)`. */
  warn(message: string, fields?: Fields): void;
  /** Shorthand for `log("error", ...)`. */
  error(message: string, fields?: Fields): void;
  /** Shorthand for `log("debug", ...)`; shown only with `debug`. */
  debug(message: string, fields?: Fields): void;
  /** True when stderr is a terminal and the format is text (progress bars allowed). */
  readonly interactive: boolean;
}

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** "text" or "json". Default: "text". */
  format?: "text" | "json";
  /** Show debug lines. Default: false. */
  debug?: boolean;
  /** Write lines here instead of stderr (tests). Default: stderr. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

/** Creates a logger; text lines are `HH:MM:SS message key=value`, JSON lines carry ts/level/msg. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const interactive = format === "text" && !options.write && Deno.stderr.isTerminal();
  const log = (level: Level, message: string, fields: Fields = {}) => {
    if (level === "debug" && !options.debug) return;
    const ts = new Date().toISOString();
    const json = redactText(JSON.stringify({ ts, level, msg: message, ...fields }));
    if (format === "json") return write(json);
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    const tag = level === "info" ? "" : `${level.toUpperCase()} `;
    write(
      escapeControl(redactText(`${ts.slice(11, 19)} ${tag}${message}${extra ? "  " + extra : ""}`)),
    );
  };
  return fromLog(log, interactive);
}

function fromLog(log: Logger["log"], interactive: boolean): Logger {
  return {
    log,
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    debug: (m, f) => log("debug", m, f),
    interactive,
  };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = {
  log() {},
  info() {},
  warn() {},
  error() {},
  debug() {},
  interactive: false,
};

/**
 * Logs `message` every `seconds` (default 30) until disposed: the heartbeat of long steps.
 */
export function heartbeat(
  logger: Logger,
  message: string,
  options: { seconds?: number } = {},
): Disposable {
  const started = performance.now();
  const timer = setInterval(() => {
    logger.info(`${message} (still running)`, {
      elapsed_s: Math.round((performance.now() - started) / 1000),
    });
  }, (options.seconds ?? 30) * 1000);
  return { [Symbol.dispose]: () => clearInterval(timer) };
}

/** A logger that forwards to `logger` and also appends every line as JSON to `path`. */
export function withLogFile(logger: Logger, path: string): Logger & Disposable {
  const file = Deno.openSync(path, { create: true, append: true, write: true, mode: 0o600 });
  const log = (level: Level, message: string, fields: Fields = {}) => {
    logger.log(level, message, fields);
    const line = { ts: new Date().toISOString(), level, msg: message, ...fields };
    file.writeSync(encoder.encode(redactText(JSON.stringify(line)) + "\n"));
  };
  return { ...fromLog(log, logger.interactive), [Symbol.dispose]: () => file.close() };
}
