/**
 * Hints derived from a field's profile: user snapshots, embedded catalogs, timestamps in
 * several formats and variable structures. Pure functions over the SQL aggregates.
 * @module
 */
import type { FieldProfile, Hint, HintKind } from "./types.ts";

/** Share of objects that must carry `_id` (and `username` or `name`) for a snapshot hint. */
const SNAPSHOT_SHARE = 0.5;
/** The fields of a user snapshot; an object with a username and nothing else is one too. */
export const USER_SNAPSHOT_KEYS: ReadonlySet<string> = new Set([
  "_id",
  "username",
  "firstName",
  "lastName",
  "fullName",
  "email",
]);
/** An embedded catalog repeats each `_id` at least this many times on average. */
const CATALOG_REPEAT = 2;
/** Fewest copies for an embedded catalog hint. */
const CATALOG_MIN_COPIES = 4;
/** Share of the non-null scalar values that must look like timestamps. */
const TIMESTAMP_SHARE = 0.5;
/** Objects whose mean key count is below this share of their distinct keys vary a lot. */
const VARIABLE_KEY_COVERAGE = 0.5;
/** Fewest distinct keys for a variable structure hint based on key coverage. */
const VARIABLE_MIN_KEYS = 4;
/** From this many distinct keys an object is variable whatever its coverage. */
const VARIABLE_MANY_KEYS = 50;

/** Returns the hints of one field (empty when nothing stands out). */
export function deriveHints(field: FieldProfile): Hint[] {
  const hints: Hint[] = [];
  const o = field.objectStats;
  if (o && o.objects > 0) {
    const share = (n: number) => n / o.objects;
    const onlySnapshotKeys = o.distinctKeys <= o.topKeys.length &&
      o.topKeys.every((k) => USER_SNAPSHOT_KEYS.has(k));
    if (
      share(o.withUsername) >= SNAPSHOT_SHARE &&
      (share(o.withId) >= SNAPSHOT_SHARE || onlySnapshotKeys)
    ) {
      const missing = o.objects - o.withId;
      hints.push({
        kind: "user_snapshot",
        message: `looks like a user snapshot (_id + username; ${o.distinctIds} distinct users${
          missing > 0 ? `, ${missing} without _id` : ""
        })`,
      });
    } else if (
      share(o.withId) >= SNAPSHOT_SHARE && share(o.withName) >= SNAPSHOT_SHARE &&
      o.withId >= CATALOG_MIN_COPIES && o.distinctIds * CATALOG_REPEAT <= o.withId
    ) {
      const renamed = o.distinctIdNames - o.distinctIds;
      hints.push({
        kind: "embedded_catalog",
        message:
          `looks like an embedded catalog (_id + name; ${o.distinctIds} distinct _id in ${o.withId} copies${
            renamed > 0 ? `, ${renamed} extra names: copies disagree` : ""
          })`,
      });
    }
    const coverage = o.distinctKeys === 0 ? 1 : o.avgKeys / o.distinctKeys;
    if (o.withDollarKeys * 2 >= o.objects) {
      hints.push({
        kind: "variable_structure",
        message: `variable structure: keep as JSONB (keys look like query operators: ${
          o.topKeys.slice(0, 5).join(", ")
        })`,
      });
    } else if (
      o.objects >= 2 &&
      (o.distinctKeys >= VARIABLE_MANY_KEYS ||
        (o.distinctKeys >= VARIABLE_MIN_KEYS && coverage < VARIABLE_KEY_COVERAGE))
    ) {
      hints.push({
        kind: "variable_structure",
        message: `variable structure: keep as JSONB (${o.distinctKeys} distinct keys, ${
          o.avgKeys.toFixed(1)
        } per object, ${o.keySets} key sets)`,
      });
    }
  }
  const formats = field.timestampFormats;
  if (formats) {
    const entries = Object.entries(formats);
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    const parsed = entries.reduce((sum, [f, n]) => sum + (f === "garbage" ? 0 : n), 0);
    const scalars = field.types
      .filter((t) => !["null", "object", "array"].includes(t.type))
      .reduce((sum, t) => sum + t.count, 0);
    const onlyDates = entries.length === 1 && entries[0]![0] === "ejson_date";
    if (parsed >= TIMESTAMP_SHARE * Math.max(scalars, total) && !onlyDates) {
      const detail = entries
        .map(([f, n]) => `${f} ${Math.round((n / total) * 1000) / 10}%`)
        .join(", ");
      hints.push({
        kind: "timestamp",
        message: `looks like a timestamp in ${entries.length} format${
          entries.length === 1 ? "" : "s"
        } (${detail})`,
      });
    }
  }
  return hints;
}

/** True when the field has a hint of `kind`. */
export function hasHint(field: FieldProfile, kind: HintKind): boolean {
  return field.hints.some((h) => h.kind === kind);
}
