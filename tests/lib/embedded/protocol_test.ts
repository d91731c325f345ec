import assert from "node:assert/strict";
import { message, MessageReader } from "../../../lib/embedded/protocol.ts";
import { NASTY_STRINGS } from "../../support/nasty.ts";

/** A StartupMessage for protocol 3.0 with `params`. */
function startup(params: Record<string, string>): Uint8Array {
  const body = new TextEncoder().encode(
    Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join("") + "\0",
  );
  const out = new Uint8Array(8 + body.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, out.length);
  view.setInt32(4, 196608);
  out.set(body, 8);
  return out;
}

Deno.test("MessageReader refuses a message over the limit from its header alone", () => {
  const reader = new MessageReader({ maxMessageBytes: 1024 * 1024 });
  assert.equal(reader.push(startup({ user: "u" })).length, 1);
  const header = new Uint8Array(5);
  header[0] = "Q".charCodeAt(0);
  new DataView(header.buffer).setInt32(1, 200 * 1024 * 1024);
  assert.throws(() => reader.push(header), /209715201 bytes exceeds the limit of 1048576 bytes/);
  const huge = new MessageReader();
  huge.push(startup({ user: "u" }));
  new DataView(header.buffer).setInt32(1, 2 ** 30);
  assert.throws(() => huge.push(header), /exceeds the limit of 134217728 bytes/);
});

Deno.test("MessageReader refuses a startup message over PostgreSQL's 10000 bytes", () => {
  const reader = new MessageReader();
  assert.throws(
    () => reader.push(startup({ user: "u", options: "x".repeat(20_000) })),
    /exceeds the limit of 10000 bytes/,
  );
});

Deno.test("MessageReader reassembles messages split across many chunks, hostile text intact", () => {
  const reader = new MessageReader();
  const first = startup({ user: "u", application_name: NASTY_STRINGS.join(" ").slice(0, 500) });
  const queries = NASTY_STRINGS.map((s) => message("Q", new TextEncoder().encode(`${s}\0`)));
  const big = message("d", new Uint8Array(3 * 1024 * 1024).fill(7));
  const stream = new Uint8Array(
    [first, ...queries, big].reduce((n, m) => n + m.length, 0),
  );
  let at = 0;
  for (const m of [first, ...queries, big]) {
    stream.set(m, at);
    at += m.length;
  }
  const got: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i += 4093) {
    for (const m of reader.push(stream.subarray(i, i + 4093))) got.push(m.bytes);
  }
  assert.equal(reader.pending, 0);
  assert.deepEqual(got.map((b) => b.length), [first, ...queries, big].map((m) => m.length));
  assert.deepEqual(got.at(-1), big);
  assert.deepEqual(got[1], queries[0]);
});
