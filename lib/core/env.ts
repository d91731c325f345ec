/**
 * Settings from the environment, falling back to a `.env` file in the working directory.
 * @module
 */

/** Parses `.env` text: `KEY=value` lines, `#` comments, optional quotes and `export `. */
export function parseDotEnv(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    value = quoted ? quoted[2]! : value.replace(/\s+#.*$/, "");
    values.set(match[1]!, value);
  }
  return values;
}

let dotEnv: Map<string, string> | undefined;

/** Returns `name` from the environment, else from `./.env`, else undefined. */
export function setting(name: string, options: { dotEnvPath?: string } = {}): string | undefined {
  const fromEnv = Deno.env.get(name);
  if (fromEnv) return fromEnv;
  if (!dotEnv) {
    try {
      dotEnv = parseDotEnv(Deno.readTextFileSync(options.dotEnvPath ?? ".env"));
    } catch {
      dotEnv = new Map();
    }
  }
  return dotEnv.get(name) || undefined;
}
