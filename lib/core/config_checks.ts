/**
 * The `checks:` section of sql/pipeline.yaml: dbt-style controls per check (`severity`,
 * `warn_if`, `error_if` on the offending count or share), and the volume guard
 * (`volume_guard.max_shrink`). Validated like the rest of the config: errors name the file, the
 * line and the field; an unknown check name gets a "did you mean".
 * @module
 */
import { isMap, isScalar, type YAMLMap } from "yaml";
import { ConfigError, didYouMean } from "./errors.ts";
import type { Severity } from "./result.ts";

/** A threshold on a check's offending rows: a count (`"> 100"`) or a share (`"> 1%"`). */
export interface Threshold {
  /** Comparison applied as `offending <op> value`. */
  op: ">" | ">=" | "<" | "<=" | "=" | "!=";
  /** The number, a percentage when `percent`. */
  value: number;
  /** True when `value` is a share (percent) of the rows of the check's `<schema>.main`. */
  percent: boolean;
  /** As written in the config. */
  text: string;
}

/** Controls of one check. */
export interface CheckControl {
  /** The highest severity the check reaches. Default: the check's own. */
  severity?: Severity | undefined;
  /** From when the check warns. Default: any offending row. */
  warnIf?: Threshold | undefined;
  /** From when a check of severity error fails the run. Default: any offending row. */
  errorIf?: Threshold | undefined;
  /** Line of the entry in the config file. */
  line: number;
}

/** Suffixes of the checks derived for every collection (named `<schema>_<suffix>`). */
export const DERIVED_CHECK_SUFFIXES: readonly string[] = [
  "main_matches_raw",
  "primary_key_not_null",
  "no_future_timestamps",
  "created_at_in_range",
  "ghost_users",
  "unresolvable_snapshots",
  "resolved_snapshots",
  "dangling_references",
  "unmapped_values",
  "source_drift",
];

const CONTROL_KEYS = ["severity", "warn_if", "error_if"];
const THRESHOLD = /^\s*(>=|<=|!=|>|<|=)\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/;

/** Parses a threshold such as `"> 100"` or `">= 1.5%"`; undefined when malformed. */
export function parseThreshold(text: string): Threshold | undefined {
  const m = THRESHOLD.exec(text);
  if (!m) return undefined;
  return { op: m[1] as Threshold["op"], value: Number(m[2]), percent: m[3] === "%", text };
}

/** Whether `offending` rows out of `total` meet `threshold` (a share of 0 rows is 0%). */
export function meetsThreshold(threshold: Threshold, offending: number, total: number): boolean {
  const x = threshold.percent ? (total > 0 ? (100 * offending) / total : 0) : offending;
  switch (threshold.op) {
    case ">":
      return x > threshold.value;
    case ">=":
      return x >= threshold.value;
    case "<":
      return x < threshold.value;
    case "<=":
      return x <= threshold.value;
    case "=":
      return x === threshold.value;
    case "!=":
      return x !== threshold.value;
  }
}

type Fail = (message: string, node?: unknown) => never;

/** The `checks:` mapping: check name → `{severity, warn_if, error_if}`, all optional. */
export function parseCheckControls(
  node: unknown,
  options: { fail: Fail; lineOf: (node: unknown) => number | undefined },
): Record<string, CheckControl> {
  const { fail, lineOf } = options;
  if (node === undefined || (isScalar(node) && node.value === null)) return {};
  if (!isMap(node)) return fail("`checks` must be a mapping of check names", node);
  const controls: Record<string, CheckControl> = {};
  for (const pair of (node as YAMLMap).items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) {
      fail(`checks: "${name}" is not a check name (snake_case)`, pair.key);
    }
    const entry = pair.value;
    if (!isMap(entry)) {
      return fail(`checks: "${name}" must be a mapping (severity, warn_if, error_if)`, pair.key);
    }
    const control: CheckControl = { line: lineOf(pair.key) ?? 0 };
    for (const item of entry.items) {
      const key = isScalar(item.key) ? String(item.key.value) : "";
      if (!CONTROL_KEYS.includes(key)) {
        fail(`checks: "${name}": unknown key "${key}"${didYouMean(key, CONTROL_KEYS)}`, item.key);
      }
      const value = isScalar(item.value) ? item.value.value : undefined;
      if (key === "severity") {
        if (value !== "warn" && value !== "error") {
          fail(`checks: "${name}": severity must be warn or error`, item.value ?? item.key);
        }
        control.severity = value as Severity;
        continue;
      }
      const threshold = typeof value === "string" ? parseThreshold(value) : undefined;
      if (!threshold) {
        fail(
          `checks: "${name}": ${key} must be a comparison with a count or a share, ` +
            `e.g. "> 100" or "> 1%"`,
          item.value ?? item.key,
        );
      }
      if (key === "warn_if") control.warnIf = threshold;
      else control.errorIf = threshold;
    }
    controls[name] = control;
  }
  return controls;
}

/**
 * Throws ConfigError (file, line, "did you mean") when `controls` name a check that is not in
 * `known` (the check files' names and the derived checks' names).
 */
export function validateCheckNames(
  controls: Record<string, CheckControl>,
  known: Iterable<string>,
  options: { file: string },
): void {
  const names = [...known];
  const set = new Set(names);
  for (const [name, control] of Object.entries(controls)) {
    if (set.has(name)) continue;
    throw new ConfigError(`checks: unknown check "${name}"${didYouMean(name, names)}`, {
      file: options.file,
      line: control.line,
      hint: "`deno task plan` lists the checks; derived ones are named <schema>_<kind>",
    });
  }
}
