/**
 * Opens the change stream of a `--source`, loading the driver on demand (dumps have none).
 * @module
 */
import type { ChangeSource, ChangeSourceOptions } from "./change_stream.ts";

/** True for a `mongodb://` or `mongodb+srv://` URL: dump folders have no change stream. */
export function hasChangeStream(source: string): boolean {
  return /^mongodb(\+srv)?:\/\//i.test(source);
}

/** Connects to the MongoDB at `url` for its change stream (see change_stream.ts). */
export async function openChangeSource(
  url: string,
  options: ChangeSourceOptions = {},
): Promise<ChangeSource> {
  const { openChangeSource } = await import("./change_stream.ts");
  return await openChangeSource(url, options);
}
