/**
 * Every default the toolkit falls back to, in one place; commands, options and help text read
 * them from here.
 * @module
 */

/** The defaults of the toolkit. */
export const DEFAULTS = {
  /** Folder of the reports (report.md, junit.xml, report.json, runs/, profiles). */
  reportsDir: "reports",
  /** Collections extracted at once. */
  concurrency: 2,
  /** Documents a profile reads at most. */
  sampleSize: 10_000,
  /** lock_timeout of each transform statement, in ms. */
  lockTimeoutMs: 10_000,
  /** Retries of a statement that hit the lock timeout. */
  lockRetries: 3,
  /** First pause before a lock retry, doubled each time, in ms. */
  lockRetryDelayMs: 1000,
  /** Seconds between heartbeat lines during a long SQL file. */
  heartbeatSeconds: 30,
  /** MongoDB database read when the source names none. */
  sourceDatabase: "mesa4core",
  /** Scale of the generated sample (1.0 is about 160,000 documents). */
  scale: 1,
  /** Scale of the demo's generated sample. */
  demoScale: 0.05,
  /** Seed of the generated sample. */
  seed: 1,
  /** Age beyond which `status` calls the data stale. */
  maxAge: "26h",
  /** Days of run folders and ledger rows kept. */
  retentionDays: 30,
  /** Largest share a collection's document count may shrink by since the last successful run
   * before a refresh is refused (the volume guard). */
  maxShrink: 0.5,
  /** Port of `serve --docs` (the catalog site). */
  docsPort: 8730,
} as const;
