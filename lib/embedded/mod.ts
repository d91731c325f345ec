/**
 * The embedded PostgreSQL (PGlite behind a local wire-protocol server), used when no database
 * URL is configured.
 * @module
 */
export { DEFAULT_DATA_DIR, resolveDatabase, SERVE_PORT, serveEmbedded } from "./database.ts";
