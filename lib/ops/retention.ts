/**
 * Retention: run folders under `<reports>/runs/` and ledger rows older than `retention_days`
 * (default 30) are deleted at the end of each run. Always kept: runs still running, the
 * current run, the newest run and the newest successful run of each command (what `status`
 * and the latest reports speak of), and the reports at the top of the folder.
 * @module
 */
import type { Sql } from "../core/mod.ts";

/** Options of {@linkcode pruneRetention}. */
export interface RetentionOptions {
  /** Days to keep. */
  days: number;
  /** Reports folder. Default: "reports". */
  reportsDir?: string;
  /** Run ids never pruned (the current run). Default: none. */
  keep?: readonly string[];
}

/** What was pruned. */
export interface PruneResult {
  /** Run ids deleted from the ledger (with their files, checks, extraction log and alerts). */
  runs: string[];
  /** Run folders deleted under `<reports>/runs/`. */
  folders: string[];
}

const RUN_FOLDER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/**
 * Deletes the expired ledger rows and run folders. A folder's age is its run's (from the
 * ledger); a folder the ledger does not know is aged by its newest file.
 */
export async function pruneRetention(
  sql: Sql,
  metaSchema: string,
  options: RetentionOptions,
): Promise<PruneResult> {
  if (!Number.isInteger(options.days) || options.days < 1) {
    throw new RangeError(
      `Retention must be a whole number of days, at least 1 (got ${options.days})`,
    );
  }
  const meta = sql(metaSchema);
  const keep = [...(options.keep ?? [])];
  const deleted = await sql.begin(async (tx) => {
    const rows = await tx<{ run_id: string }[]>`
      with newest as (
        select distinct on (command) run_id from ${meta}.runs
        order by command, started_at desc
      ), newest_success as (
        select distinct on (command) run_id from ${meta}.runs
        where status = 'succeeded'
        order by command, finished_at desc
      )
      delete from ${meta}.runs r
      where r.status <> 'running'
        and coalesce(r.finished_at, r.started_at) < clock_timestamp() - make_interval(days => ${options.days}::int)
        and r.run_id <> all(${keep}::text[])
        and r.run_id not in (select run_id from newest union all select run_id from newest_success)
      returning r.run_id
    `;
    await tx`
      delete from ${meta}.extract_log
      where run_id is null
        and finished_at < clock_timestamp() - make_interval(days => ${options.days}::int)
    `;
    await tx`
      delete from ${meta}.alerts
      where run_id is null
        and sent_at < clock_timestamp() - make_interval(days => ${options.days}::int)
    `;
    return rows.map((r) => r.run_id);
  });

  const runsDir = `${(options.reportsDir ?? "reports").replace(/\/+$/, "") || "."}/runs`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(runsDir)) {
      if (entry.isDirectory && RUN_FOLDER.test(entry.name) && !keep.includes(entry.name)) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const known = new Set(
    (await sql<{ run_id: string }[]>`
      select run_id from ${meta}.runs where run_id = any(${names}::text[])
    `).map((r) => r.run_id),
  );
  const cutoff = Date.now() - options.days * 86_400_000;
  const folders: string[] = [];
  for (const name of names.sort()) {
    if (known.has(name)) continue;
    const expired = deleted.includes(name) || (await newestChange(`${runsDir}/${name}`)) < cutoff;
    if (!expired) continue;
    await Deno.remove(`${runsDir}/${name}`, { recursive: true });
    folders.push(name);
  }
  return { runs: deleted.sort(), folders };
}

/** The newest modification time of a folder and the files in it, in ms. */
async function newestChange(dir: string): Promise<number> {
  let newest = (await Deno.lstat(dir)).mtime?.getTime() ?? Date.now();
  for await (const entry of Deno.readDir(dir)) {
    const info = await Deno.lstat(`${dir}/${entry.name}`);
    newest = Math.max(newest, info.mtime?.getTime() ?? Date.now());
  }
  return newest;
}
