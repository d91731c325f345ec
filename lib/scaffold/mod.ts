/**
 * Drafting sql/<schema>/ for a new collection from its profile.
 * @module
 */
export { scaffoldCollection } from "./scaffold.ts";
