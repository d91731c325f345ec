/**
 * Lock holders for fault tests: a deterministic point inside a run's transaction to strike at.
 * @module
 */
import postgres from "postgres";

/**
 * Holds an uncommitted change of schema `schema` (a grant) from its own session until
 * disposed, so a refresh retiring that schema waits inside its transaction: a deterministic
 * point to strike. (A reader of its tables would not hold the refresh up.)
 */
export async function holdSchema(
  url: string,
  schema: string,
): Promise<{ pid: number; release(): Promise<void> } & AsyncDisposable> {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "lml test lock" },
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const { promise: locked, resolve: gotLock, reject: failed } = Promise.withResolvers<number>();
  const transaction = sql.begin(async (tx) => {
    const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await tx`grant usage on schema ${tx(schema)} to public`;
    gotLock(row!.pid);
    await released;
    throw new Error("rolled back");
  }).catch((error) => {
    if ((error as Error).message !== "rolled back") failed(error);
  });
  const pid = await locked;
  let ended: Promise<void> | undefined;
  const end = () =>
    ended ??= (async () => {
      release();
      await transaction;
      await sql.end({ timeout: 5 });
    })();
  return { pid, release: end, [Symbol.asyncDispose]: end };
}
