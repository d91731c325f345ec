/**
 * The run lock's session, seen from the server: it is a connection of its own, apart from the
 * pool, and its loss is noticed by the heartbeat.
 */
import assert from "node:assert/strict";
import { acquireRunLock, connect, pause, within } from "../../../lib/core/mod.ts";
import { freshDatabase, needsRealServer } from "../../support/db.ts";

Deno.test({
  name:
    "acquireRunLock() holds the lock apart from the pool, and its heartbeat notices a session the server ended",
  ...needsRealServer,
  async fn() {
    await using db = await freshDatabase();
    const sql = connect(db.url, { application: "lml lock test", max: 1 });
    try {
      const lock = await acquireRunLock(sql, { command: "refresh", heartbeatMs: 100 });
      // The pool's one connection is free for the run's own queries.
      const [one] = await within(sql`select 1 as n`, 5000);
      assert.equal(one?.n, 1);

      await db.sql`select pg_terminate_backend(${lock.pid!}::int)`;
      await pause(500);
      const lost = await sql.begin((tx) => lock.verify(tx)).then(() => undefined, (e) => e);
      assert.match(String(lost?.message), /the run lock was lost/);
      assert.match(String(lost?.cause?.message), new RegExp(`session ${lock.pid} ended`));
      await within(Promise.resolve(lock[Symbol.asyncDispose]()), 5000);

      // The pool still answers, and the lock can be taken again.
      await within(sql`select 1`, 5000);
      const again = await acquireRunLock(sql, { command: "refresh" });
      assert.notEqual(again.pid, lock.pid);
      await again[Symbol.asyncDispose]();
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});
