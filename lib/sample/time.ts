/**
 * Timestamp variants, as seen in production, and the parser the manifest uses to decide what is
 * garbage and what each document's effective time is.
 *
 * Distribution of `createdAt`/`updatedAt` (see {@link AUDIT_WEIGHTS}): about 70% BSON dates, 8%
 * ISO strings with Z (with or without milliseconds), 4% with an offset, 3% naive, 4.5% epoch
 * milliseconds (int64, double, rarely int32), 2.5% literal {"$date": ...} sub-documents, 3% null,
 * 3% missing and 2% garbage ("", "N/A", "0000-00-00"). Nested event times use
 * {@link EVENT_WEIGHTS}: mostly dates, fewer nulls, no missing.
 * @module
 */
import { Double, Int32, Long } from "bson";
import type { Rng } from "./prng.ts";

/** Every way a timestamp is stored. */
export type TimestampVariant =
  | "date"
  | "iso_ms"
  | "iso"
  | "offset"
  | "naive"
  | "int64"
  | "double"
  | "int32"
  | "ejson_string"
  | "ejson_long"
  | "null"
  | "missing"
  | "garbage_empty"
  | "garbage_na"
  | "garbage_zero";

/** All variants, in a fixed order (forced anomalies cycle through it). */
export const TIMESTAMP_VARIANTS: readonly TimestampVariant[] = [
  "date",
  "iso_ms",
  "iso",
  "offset",
  "naive",
  "int64",
  "double",
  "int32",
  "ejson_string",
  "ejson_long",
  "null",
  "missing",
  "garbage_empty",
  "garbage_na",
  "garbage_zero",
];

/** The three garbage spellings. */
export const GARBAGE_VARIANTS: readonly TimestampVariant[] = [
  "garbage_empty",
  "garbage_na",
  "garbage_zero",
];

/** Weights of `createdAt`, `updatedAt` and other top-level timestamps. */
export const AUDIT_WEIGHTS: Readonly<Record<TimestampVariant, number>> = {
  date: 70,
  iso_ms: 5,
  iso: 3,
  offset: 4,
  naive: 3,
  int64: 2,
  double: 2,
  int32: 0.5,
  ejson_string: 1.5,
  ejson_long: 1,
  null: 3,
  missing: 3,
  garbage_empty: 0.8,
  garbage_na: 0.7,
  garbage_zero: 0.5,
};

/** Weights of timestamps inside array elements (member added, movement, upload). */
export const EVENT_WEIGHTS: Readonly<Record<TimestampVariant, number>> = {
  ...AUDIT_WEIGHTS,
  date: 80,
  null: 1,
  missing: 0,
  garbage_empty: 0.4,
  garbage_na: 0.3,
  garbage_zero: 0.3,
};

/** Marks a field to leave out of the document. */
export const MISSING: unique symbol = Symbol("missing");

const INT32_RANGE = 2 ** 31;

/** Renders the instant `ms` as `variant` (garbage, null and missing ignore `ms`). */
export function timestampValue(variant: TimestampVariant, ms: number): unknown {
  const iso = () => new Date(ms).toISOString();
  switch (variant) {
    case "date":
      return new Date(ms);
    case "iso_ms":
      return iso();
    case "iso":
      return `${iso().slice(0, 19)}Z`;
    case "offset":
      return `${new Date(ms - 3 * 3600_000).toISOString().slice(0, 23)}-03:00`;
    case "naive":
      return `${iso().slice(0, 10)} ${iso().slice(11, 19)}`;
    case "int64":
      return Long.fromNumber(ms);
    case "double":
      return new Double(ms);
    case "int32":
      // Only January 1970 fits in an int32 of milliseconds: legacy rows really look like this.
      return new Int32(((ms % INT32_RANGE) + INT32_RANGE) % INT32_RANGE);
    case "ejson_string":
      return { $date: iso() };
    case "ejson_long":
      return { $date: { $numberLong: String(ms) } };
    case "null":
      return null;
    case "missing":
      return MISSING;
    case "garbage_empty":
      return "";
    case "garbage_na":
      return "N/A";
    case "garbage_zero":
      return "0000-00-00";
  }
}

/** Draws a variant and renders `ms` with it; `forced` overrides the draw. */
export function drawTimestamp(
  rng: Rng,
  ms: number,
  weights: Readonly<Record<TimestampVariant, number>> = AUDIT_WEIGHTS,
  forced?: TimestampVariant,
): unknown {
  const variant = rng.weighted(weights);
  return timestampValue(forced ?? variant, ms);
}

/** Result of {@link parseTimestamp} for a present, non-null value that no variant parses. */
export const GARBAGE: unique symbol = Symbol("garbage");

const TEXT =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})?$/;

function parseText(text: string): number | typeof GARBAGE {
  const match = TEXT.exec(text);
  if (!match) return GARBAGE;
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const month = Number(mo), day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31) return GARBAGE;
  let ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  if (frac) ms += Number(frac.padEnd(3, "0"));
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return Number.isFinite(ms) ? ms : GARBAGE;
}

/**
 * The instant (epoch ms) a stored timestamp means: null for null or missing (`undefined`),
 * {@link GARBAGE} for a present value that no variant parses.
 */
export function parseTimestamp(value: unknown): number | null | typeof GARBAGE {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === "string") return parseText(value);
  if (typeof value === "number") return Number.isFinite(value) ? value : GARBAGE;
  if (value instanceof Long) return value.toNumber();
  if (value instanceof Double || value instanceof Int32) return value.valueOf();
  if (typeof value === "object" && "$date" in value) {
    const inner = (value as { $date: unknown }).$date;
    if (typeof inner === "string") return parseText(inner);
    if (inner && typeof inner === "object" && "$numberLong" in inner) {
      const ms = Number((inner as { $numberLong: unknown }).$numberLong);
      return Number.isFinite(ms) ? ms : GARBAGE;
    }
  }
  return GARBAGE;
}
