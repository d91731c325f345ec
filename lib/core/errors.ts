/**
 * Error classes shared by every command, and a "did you mean" helper.
 * @module
 */

/** Options shared by every error of the toolkit. */
export interface ErrorDetails {
  /** What to do about it, printed under the message. */
  hint?: string | undefined;
  /** The error that caused this one. */
  cause?: unknown;
}

const TOOLKIT = Symbol("lml.error");

/**
 * The base of every error of the toolkit: a message that says what failed, a `hint` that says
 * what to do, and the process `exitCode` the command line ends with (1 for a failed run, 2 for
 * bad usage or configuration). Errors that are really syntax errors (a bad config, SQL header,
 * BSON or JSON line) extend {@linkcode LmlSyntaxError} instead, which `instanceof LmlError`
 * recognizes too.
 */
export class LmlError extends Error {
  /** What to do about it. */
  hint: string | undefined;
  /** Exit code of the command line: 1 failed run, 2 usage or config. */
  exitCode: number;
  /** Marks every toolkit error, whatever built-in it extends. */
  readonly [TOOLKIT] = true;
  constructor(message: string, options: ErrorDetails & { exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = "LmlError";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }

  /** `x instanceof LmlError` holds for every toolkit error, LmlSyntaxError included. */
  static override [Symbol.hasInstance]<T extends abstract new (...args: never) => unknown>(
    this: T,
    value: unknown,
  ): value is InstanceType<T> {
    if ((this as unknown) !== LmlError) {
      return Function.prototype[Symbol.hasInstance].call(this, value);
    }
    return typeof value === "object" && value !== null && TOOLKIT in value;
  }
}

/** A toolkit error that is a syntax error: bad config, SQL header, BSON or JSON line. */
export class LmlSyntaxError extends SyntaxError {
  /** What to do about it. */
  hint: string | undefined;
  /** Exit code of the command line. */
  exitCode: number;
  /** Marks every toolkit error. */
  readonly [TOOLKIT] = true;
  constructor(message: string, options: ErrorDetails & { exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = "LmlSyntaxError";
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad command-line usage (exit code 2). */
export class UsageError extends LmlError {
  constructor(message: string, options: ErrorDetails = {}) {
    super(message, { ...options, exitCode: 2 });
    this.name = "UsageError";
  }
}

/** A bad configuration or SQL file (exit code 2), located at `file` and `line`. */
export class ConfigError extends LmlSyntaxError {
  /** The file at fault, relative to the working directory when possible. */
  file: string;
  /** 1-based line, when known. */
  line: number | undefined;
  constructor(
    message: string,
    options: ErrorDetails & { file: string; line?: number | undefined },
  ) {
    const where = options.line ? `${options.file}:${options.line}` : options.file;
    super(`${where}: ${message}`, { ...options, exitCode: 2 });
    this.name = "ConfigError";
    this.file = options.file;
    this.line = options.line;
  }
}

/** A run that failed for a reason the operator must see (exit code 1). */
export class RunError extends LmlError {
  constructor(message: string, options: ErrorDetails = {}) {
    super(message, options);
    this.name = "RunError";
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** Returns ` (did you mean "x"?)` for the closest candidate, or "" when none is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  let bestPrefix = 0;
  for (const candidate of candidates) {
    const d = distance(name, candidate);
    let prefix = 0;
    while (prefix < name.length && name[prefix] === candidate[prefix]) prefix++;
    if (d < bestDistance || (d === bestDistance && prefix > bestPrefix)) {
      [best, bestDistance, bestPrefix] = [candidate, d, prefix];
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.ceil(name.length * 0.4))
    ? ` (did you mean "${best}"?)`
    : "";
}
