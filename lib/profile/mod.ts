/**
 * Profiling a raw collection in SQL: types, presence and hints per path.
 * @module
 */
export { formatProfile, writeProfileReports } from "./format.ts";
export { hasHint, USER_SNAPSHOT_KEYS } from "./hints.ts";
export { profileCollection } from "./profile.ts";
export type { CollectionProfile, FieldProfile, ProfileOptions } from "./types.ts";
