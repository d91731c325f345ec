/**
 * A local HTTP server (port 0) that records every request and answers as the test says:
 * a status per request, or no answer until the client gives up (for timeouts).
 * @module
 */

/** One request the sink received. */
export interface Received {
  /** Method. */
  method: string;
  /** Path and query. */
  path: string;
  /** Headers, lower-case names. */
  headers: Record<string, string>;
  /** Body text. */
  body: string;
}

/** How to answer request number `n` (0-based): a status, or `hang` to never answer. */
export type Answer = { status: number; body?: string } | "hang";

/** A running sink; disposing it stops the server. */
export interface HttpSink extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Requests so far, in order. */
  received: Received[];
}

/** Starts a sink answering with `answer(n)` (default: 200 to everything). */
export function httpSink(answer: (n: number) => Answer = () => ({ status: 200 })): HttpSink {
  const received: Received[] = [];
  const stop = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: stop.signal, onListen() {} },
    async (request) => {
      const n = received.length;
      received.push({
        method: request.method,
        path: new URL(request.url).pathname + new URL(request.url).search,
        headers: Object.fromEntries(request.headers),
        body: await request.text(),
      });
      const reply = answer(n);
      if (reply === "hang") {
        // The client gives up first (its timeout); the handler ends when the sink stops.
        await new Promise<void>((resolve) => {
          stop.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        return new Response(null, { status: 504 });
      }
      return new Response(reply.body ?? null, { status: reply.status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await server.finished;
    },
  };
}
