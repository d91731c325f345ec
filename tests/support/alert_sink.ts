/**
 * An alert command for the tests: writes what it received (standard input, the LML_*
 * environment and its arguments) as JSON to the file named by its first argument. With a
 * second argument `fail`, it says so on stderr (with its other arguments) and exits with code 3; with `sleep`, it never
 * ends on its own.
 * @module
 */
const [out, mode, ...rest] = Deno.args;
const stdin = await new Response(Deno.stdin.readable).text();
const env = Object.fromEntries(
  Object.entries(Deno.env.toObject()).filter(([key]) => key.startsWith("LML_")),
);
await Deno.writeTextFile(out!, JSON.stringify({ stdin, env, args: rest }));
if (mode === "fail") {
  console.error("alert sink: told to fail", ...rest);
  Deno.exit(3);
}
if (mode === "sleep") await new Promise(() => setInterval(() => {}, 1000));
