/**
 * A disposable copy of the repository's sql/ folder (config, SQL files, checks and tests), for
 * tests that change a file on purpose.
 * @module
 */

const REPO_SQL = new URL("../../sql/", import.meta.url).pathname;

/** The copy: its temp folder, its sql/ and its pipeline.yaml. */
export interface SqlCopy extends AsyncDisposable {
  /** The temp folder. */
  dir: string;
  /** `<dir>/sql`. */
  sqlDir: string;
  /** `<dir>/sql/pipeline.yaml`. */
  configPath: string;
}

/** Copies sql/ into a new temp folder (removed on dispose). */
export async function sqlCopy(): Promise<SqlCopy> {
  const dir = await Deno.makeTempDir({ prefix: "lml_sql_copy_" });
  const sqlDir = `${dir}/sql`;
  await copyDir(REPO_SQL, sqlDir);
  return {
    dir,
    sqlDir,
    configPath: `${sqlDir}/pipeline.yaml`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyDir(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}
