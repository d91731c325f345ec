/**
 * A run result with every text redacted (URL passwords, `password=` pairs, SQL `PASSWORD '…'`
 * literals), as the reports render it.
 * @module
 */
import { redactText, type RunResult } from "../core/mod.ts";

/** A copy of `result` whose strings (error, check errors, samples, extraction errors) are redacted. */
export function redactResult<T extends RunResult>(result: T): T {
  return {
    ...result,
    error: result.error ? redactError(result.error) : undefined,
    checks: result.checks.map((c) => deep(c)),
    extract: result.extract.map((e) => deep(e)),
  };
}

function redactError(error: Error): Error {
  const copy = new Error(redactText(error.message));
  copy.name = error.name;
  for (const [key, value] of Object.entries(error)) {
    (copy as unknown as Record<string, unknown>)[key] = deep(value);
  }
  return copy;
}

function deep<T>(value: T): T {
  if (typeof value === "string") return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => deep(v)) as T;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v)])) as T;
  }
  return value;
}
