/**
 * Support for the monitoring tests: a small generated dump (made once per test file), temp
 * folders, and the command line run as operators run it (a child process).
 * @module
 */
import { fileURLToPath } from "node:url";
import { generateSample, type Manifest } from "../../lib/sample/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

let dump: Promise<{ dir: string; manifest: Manifest }> | undefined;

/** A mongodump folder at scale 0.01 (seed 5), generated once per process, removed at exit. */
export function sampleDump(): Promise<{ dir: string; manifest: Manifest }> {
  dump ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "lml_monitoring_dump_" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const manifest = await generateSample(dir, { scale: 0.01, seed: 5 });
    return { dir, manifest };
  })();
  return dump;
}

/** A temp folder removed on dispose. */
export async function tempDir(
  prefix = "lml_monitoring_",
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** What a command printed and its exit code. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `deno run -A main.ts <args>` from the repository root with `env` added. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
