/**
 * Debian's Chromium for the browser tests: found at /usr/bin/chromium, or installed with
 * apt-get when absent and this process may (root); otherwise the reason the tests skip.
 * @module
 */

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** The flags every browser test launches Chromium with (a fresh profile is added per launch). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** The browser's path, or why there is none. */
export async function findChromium(): Promise<{ path: string } | { reason: string }> {
  if (await exists(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  if (Deno.uid() !== 0) {
    return { reason: `${CHROMIUM_PATH} is absent and only root may apt-get install chromium` };
  }
  if (
    !(await run("apt-get", ["update", "-qq"])) ||
    !(await run("apt-get", ["install", "-y", "-qq", "chromium"]))
  ) {
    return { reason: `${CHROMIUM_PATH} is absent and apt-get install chromium failed` };
  }
  return (await exists(CHROMIUM_PATH))
    ? { path: CHROMIUM_PATH }
    : { reason: `apt-get installed chromium but ${CHROMIUM_PATH} is still absent` };
}
