/**
 * Masking check samples: the values of the columns the config names (people's names and
 * document numbers by default) never reach the ledger or a report. Nulls stay visible, since
 * checks are often about missing values.
 * @module
 */
import type { CheckResult } from "./result.ts";

/** Columns masked when the config names none: people's names and document numbers. */
export const DEFAULT_MASKED_COLUMNS: readonly string[] = [
  "*first_name",
  "*last_name",
  "*middle_name",
  "*full_name",
  "given_name",
  "family_name",
  "surname",
  "*document_number*",
];

/** What a masked value becomes. */
export const MASK = "[masked]";

/** True when `column` matches one of `patterns` (`*` matches any run of characters). */
export function isMasked(column: string, patterns: readonly string[]): boolean {
  return patterns.some((p) =>
    new RegExp(`^${p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)
      .test(column)
  );
}

/** `checks` with every non-null sample value of a masked column replaced by {@linkcode MASK}. */
export function maskSamples(
  checks: readonly CheckResult[],
  patterns: readonly string[] = DEFAULT_MASKED_COLUMNS,
): CheckResult[] {
  return checks.map((c) => ({
    ...c,
    samples: c.samples.map((s) =>
      Object.fromEntries(
        Object.entries(s).map(([k, v]) => [k, v !== null && isMasked(k, patterns) ? MASK : v]),
      )
    ),
  }));
}
