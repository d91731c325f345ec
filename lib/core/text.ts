/**
 * Text helpers shared by the reports, the plan and the profile.
 * @module
 */

/**
 * `text` cut to at most `max` characters (code points, so a surrogate pair is never split),
 * the last one "…" when it was cut.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max - 1).join("") + "…";
}
