/**
 * A bare HTTP/1.1 POST over a TCP or TLS connection, for webhooks while Deno's OpenTelemetry
 * export is on: Deno traces every `fetch` with its full URL (`url.full`), which would send a
 * token held in a webhook URL to the telemetry backend. This client is not traced. It sends
 * `Connection: close`, reads the answer to the end, follows no redirect and ignores
 * HTTP(S)_PROXY (fetch is used whenever tracing is off).
 * @module
 */

/** The status and body of an answer. */
export interface PostAnswer {
  /** Status code. */
  status: number;
  /** Reason phrase. */
  statusText: string;
  /** Body text (chunked transfer decoded). */
  text: string;
}

/** True when Deno's OpenTelemetry export is on for this process. */
export function tracingEnabled(): boolean {
  return /^(true|1)$/i.test(Deno.env.get("OTEL_DENO") ?? "");
}

/** POSTs `body` to `url`; rejects with a TimeoutError when `signal` aborts first. */
export async function postUntraced(
  url: URL,
  options: { headers: Headers; body: string; signal: AbortSignal },
): Promise<PostAnswer> {
  const { signal } = options;
  const timedOut = () => new DOMException("the request timed out", "TimeoutError");
  if (signal.aborted) throw timedOut();
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const https = url.protocol === "https:";
  const port = Number(url.port) || (https ? 443 : 80);
  const opening = https ? Deno.connectTls({ hostname, port }) : Deno.connect({ hostname, port });
  let aborted: () => void = () => {};
  const abort = new Promise<never>((_, reject) => {
    aborted = () => reject(timedOut());
    signal.addEventListener("abort", aborted, { once: true });
  });
  let conn: Deno.Conn | undefined;
  try {
    conn = await Promise.race([opening, abort]);
    const body = new TextEncoder().encode(options.body);
    const head = [
      `POST ${url.pathname || "/"}${url.search} HTTP/1.1`,
      `host: ${url.host}`,
      `content-length: ${body.length}`,
      "connection: close",
    ];
    options.headers.forEach((value, name) => head.push(`${name}: ${value}`));
    const request = new Uint8Array([
      ...new TextEncoder().encode(head.join("\r\n") + "\r\n\r\n"),
      ...body,
    ]);
    const exchange = (async () => {
      for (let written = 0; written < request.length;) {
        written += await conn!.write(request.subarray(written));
      }
      return new Uint8Array(await new Response(conn!.readable).arrayBuffer());
    })();
    return parseAnswer(await Promise.race([exchange, abort]));
  } finally {
    signal.removeEventListener("abort", aborted);
    abort.catch(() => {});
    try {
      conn?.close();
    } catch {
      // already closed by reading to the end
    }
    if (!conn) opening.then((c) => c.close(), () => {});
  }
}

function parseAnswer(bytes: Uint8Array): PostAnswer {
  let end = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      end = i;
      break;
    }
  }
  const decoder = new TextDecoder();
  const head = decoder.decode(end < 0 ? bytes : bytes.subarray(0, end)).split("\r\n");
  const status = /^HTTP\/\d(?:\.\d)? (\d{3}) ?(.*)$/.exec(head[0] ?? "");
  if (!status) throw new Error("the server's answer is not HTTP");
  let body = end < 0 ? new Uint8Array() : bytes.subarray(end + 4);
  if (head.some((h) => /^transfer-encoding:.*chunked/i.test(h))) body = unchunk(body);
  return { status: Number(status[1]), statusText: status[2] ?? "", text: decoder.decode(body) };
}

/** The body of a chunked transfer: each chunk is `<hex size>\r\n<bytes>\r\n`, then size 0. */
function unchunk(bytes: Uint8Array): Uint8Array {
  const parts: number[] = [];
  let at = 0;
  for (;;) {
    let line = at;
    while (line + 1 < bytes.length && !(bytes[line] === 13 && bytes[line + 1] === 10)) line++;
    const size = parseInt(new TextDecoder().decode(bytes.subarray(at, line)), 16);
    if (line + 1 >= bytes.length || !(size > 0)) return new Uint8Array(parts);
    parts.push(...bytes.subarray(line + 2, line + 2 + size));
    at = line + 2 + size + 2;
  }
}
