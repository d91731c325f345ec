import assert from "node:assert/strict";
import { postUntraced } from "../../../lib/ops/http_post.ts";
import { httpSink } from "../../support/http_sink.ts";

Deno.test("postUntraced() sends the body and headers and reads the status and body", async () => {
  await using sink = httpSink((n) =>
    n === 0 ? { status: 204 } : { status: 500, body: "nope\nmore" }
  );
  const headers = new Headers({ "content-type": "application/json", authorization: "Bearer t" });
  const ok = await postUntraced(new URL(`${sink.url}/a/b?x=1`), {
    headers,
    body: '{"é":1}',
    signal: AbortSignal.timeout(5000),
  });
  assert.deepEqual(ok, { status: 204, statusText: "No Content", text: "" });
  const [request] = sink.received;
  assert.equal(request!.method, "POST");
  assert.equal(request!.path, "/a/b?x=1");
  assert.equal(request!.body, '{"é":1}');
  assert.equal(request!.headers["authorization"], "Bearer t");
  const failed = await postUntraced(new URL(`${sink.url}/`), {
    headers,
    body: "{}",
    signal: AbortSignal.timeout(5000),
  });
  assert.deepEqual(failed, {
    status: 500,
    statusText: "Internal Server Error",
    text: "nope\nmore",
  });
});

Deno.test("postUntraced() decodes a chunked answer", async () => {
  const stop = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("première "));
            c.enqueue(new TextEncoder().encode("partie"));
            c.close();
          },
        }),
        { status: 502 },
      ),
  );
  try {
    const answer = await postUntraced(new URL(`http://127.0.0.1:${server.addr.port}/`), {
      headers: new Headers(),
      body: "{}",
      signal: AbortSignal.timeout(5000),
    });
    assert.deepEqual(answer, { status: 502, statusText: "Bad Gateway", text: "première partie" });
  } finally {
    stop.abort();
    await server.finished;
  }
});

Deno.test("postUntraced() gives up with a TimeoutError when the server never answers", async () => {
  await using sink = httpSink(() => "hang");
  await assert.rejects(
    postUntraced(new URL(sink.url), {
      headers: new Headers(),
      body: "{}",
      signal: AbortSignal.timeout(200),
    }),
    (error: Error) => error.name === "TimeoutError",
  );
});
