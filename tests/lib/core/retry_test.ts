import assert from "node:assert/strict";
import { parseConfig } from "../../../lib/core/config.ts";
import { ConfigError } from "../../../lib/core/errors.ts";
import { createLogger } from "../../../lib/core/log.ts";
import {
  describePgFault,
  isRaceLost,
  isSessionLost,
  isTransientPgError,
} from "../../../lib/core/pg_faults.ts";
import { Backoff, DEFAULT_RETRY_POLICY, RetryLog, retryPolicy } from "../../../lib/core/retry.ts";
import { describeSourceReads } from "../../../lib/core/source_reads.ts";

const COLLECTIONS = `collections:
  a_coll:
    schema: lml_a
    primary_key: a_id
`;

Deno.test("Backoff doubles its pauses and stops after the attempts", () => {
  const backoff = new Backoff({ attempts: 4, maxSeconds: 3600, firstDelayMs: 100 });
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next(), backoff.next()], [
    100,
    200,
    400,
    800,
  ]);
  assert.equal(backoff.next(), undefined);
  assert.equal(backoff.failures, 4);
  backoff.reset();
  assert.equal(backoff.next(), 100, "progress starts a new fault");
});

Deno.test("Backoff caps a pause at 10 s and at what remains of the time bound", async () => {
  assert.equal(new Backoff({ attempts: 1, maxSeconds: 3600, firstDelayMs: 60_000 }).next(), 10_000);
  const bounded = new Backoff({ attempts: 100, maxSeconds: 0.2, firstDelayMs: 150 });
  assert.equal(bounded.next(), 150);
  await new Promise((resolve) => setTimeout(resolve, 120));
  const last = bounded.next(); // none when the timer came late, past the bound
  assert.ok(last === undefined || last <= 80, `paused ${last} ms past the bound`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(bounded.next(), undefined);
  assert.match(bounded.describe(), /^[12] retr(y|ies) over 0\.[2-9] s$|over \d+\.\d s$/);
});

Deno.test("Backoff with no attempts never retries", () => {
  assert.equal(new Backoff({ attempts: 0, maxSeconds: 60, firstDelayMs: 1 }).next(), undefined);
});

Deno.test("retryPolicy() takes the fields set, the base for the rest", () => {
  assert.deepEqual(retryPolicy(undefined), DEFAULT_RETRY_POLICY);
  assert.deepEqual(retryPolicy({ maxSeconds: 5 }, { ...DEFAULT_RETRY_POLICY, attempts: 2 }), {
    attempts: 2,
    maxSeconds: 5,
    firstDelayMs: DEFAULT_RETRY_POLICY.firstDelayMs,
  });
});

Deno.test("RetryLog records and logs what, why, attempt and waited", () => {
  const lines: string[] = [];
  const log = new RetryLog(createLogger({ format: "json", write: (line) => lines.push(line) }));
  const event = log.record({
    stage: "read",
    what: "lml_users_mesa4core",
    why: "CursorNotFound (43): cursor id 7 not found",
    attempt: 2,
    waitedMs: 1000,
  });
  assert.deepEqual(log.events, [event]);
  assert.ok(!Number.isNaN(Date.parse(event.at)));
  const line = JSON.parse(lines[0]!);
  assert.equal(line.level, "warn");
  assert.equal(
    line.msg,
    "lml_users_mesa4core: CursorNotFound (43): cursor id 7 not found; retrying (read)",
  );
  assert.deepEqual([line.retry, line.attempt, line.waited_ms], ["read", 2, 1000]);
});

Deno.test("the retry: key of pipeline.yaml is optional and validated with its line", () => {
  assert.deepEqual(parseConfig(COLLECTIONS, "/tmp/pipeline.yaml").retry, DEFAULT_RETRY_POLICY);
  const set = parseConfig(
    `retry:\n  attempts: 2\n  max_seconds: 30\n${COLLECTIONS}`,
    "/tmp/p.yaml",
  );
  assert.deepEqual(set.retry, { ...DEFAULT_RETRY_POLICY, attempts: 2, maxSeconds: 30 });
  assert.equal(
    parseConfig(`retry:\n  attempts: 0\n${COLLECTIONS}`, "/tmp/p.yaml").retry.attempts,
    0,
  );
  for (
    const [text, message, line] of [
      [
        "retry:\n  attempts: -1\n",
        /retry: field "attempts" must be a whole number from 0 to 100/,
        2,
      ],
      [
        "retry:\n  max_seconds: 1.5\n",
        /field "max_seconds" must be a whole number from 0 to 86400/,
        2,
      ],
      [
        "retry:\n  max_second: 5\n",
        /retry: unknown key "max_second" \(did you mean "max_seconds"\?\)/,
        2,
      ],
      ["retry: 5\n", /`retry` must be a mapping/, 1],
    ] as const
  ) {
    assert.throws(() => parseConfig(text + COLLECTIONS, "/tmp/pipeline.yaml"), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      assert.equal(error.line, line);
      return true;
    });
  }
});

Deno.test("PostgreSQL faults: lost sessions and lost races are transient, the rest is not", () => {
  const pg = (code: string, message = "boom") => Object.assign(new Error(message), { code });
  for (const code of ["CONNECTION_CLOSED", "ECONNRESET", "57P01", "57P03", "08006"]) {
    assert.ok(isSessionLost(pg(code)) && isTransientPgError(pg(code)), code);
  }
  for (const code of ["40001", "40P01"]) {
    assert.ok(isRaceLost(pg(code)) && isTransientPgError(pg(code)), code);
    assert.ok(!isSessionLost(pg(code)), code);
  }
  for (const code of ["CONNECTION_ENDED", "55P03", "23505", "42601"]) {
    assert.ok(!isTransientPgError(pg(code)), code);
  }
  assert.ok(!isTransientPgError(new Error("no code")));
  assert.equal(
    describePgFault(pg("40P01", "deadlock detected")),
    "deadlock detected (40P01): deadlock detected",
  );
  assert.equal(
    describePgFault(pg("57P01", "postgres://u:secret@h/db went away")),
    "lost the PostgreSQL session (57P01): postgres://u:***@h/db went away",
  );
});

Deno.test("describeSourceReads() says whether the collections were read at one point in time", () => {
  assert.match(
    describeSourceReads({ kind: "mongodb", readPreference: "secondary", atClusterTime: "17.3" }),
    /^Every collection was read at one point in time: cluster time 17\.3 .* Read preference: secondary\.$/,
  );
  assert.match(
    describeSourceReads({
      kind: "mongodb",
      readPreference: "primary",
      notAtOnePoint: "standalone",
    }),
    /^The collections were NOT read at one point in time: standalone\. .*may dangle/,
  );
  assert.match(describeSourceReads({ kind: "dump" }), /^Read from dump files/);
});
