/**
 * Error classes shared by every command, and a "did you mean" helper.
 * @module
 */

/** Bad command-line usage (exit code 2). */
export class UsageError extends Error {
  /** A hint printed under the message. */
  hint: string | undefined;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "UsageError";
    this.hint = options.hint;
  }
}

/** A bad configuration or SQL file (exit code 2), located at `file` and `line`. */
export class ConfigError extends SyntaxError {
  /** The file at fault, relative to the working directory when possible. */
  file: string;
  /** 1-based line, when known. */
  line: number | undefined;
  constructor(
    message: string,
    options: { file: string; line?: number | undefined; cause?: unknown },
  ) {
    const where = options.line ? `${options.file}:${options.line}` : options.file;
    super(`${where}: ${message}`, { cause: options.cause });
    this.name = "ConfigError";
    this.file = options.file;
    this.line = options.line;
  }
}

/** A run that failed for a reason the operator must see (exit code 1). */
export class RunError extends Error {
  /** A hint printed under the message. */
  hint: string | undefined;
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "RunError";
    this.hint = options.hint;
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
