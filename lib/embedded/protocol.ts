/**
 * PostgreSQL wire protocol (v3) framing for the embedded server: splitting a byte stream into
 * messages, building the few server messages it synthesizes, and spotting `COPY ... FROM STDIN`.
 * @module
 */

/** Protocol version 3.0, the code of a StartupMessage. */
const PROTOCOL_3 = 196608;
/** The code of an SSLRequest. */
export const SSL_REQUEST = 80877103;
/** The code of a GSSENCRequest. */
export const GSSENC_REQUEST = 80877104;
/** The code of a CancelRequest. */
export const CANCEL_REQUEST = 80877102;

/** One frontend or backend message: `type` is its first byte (0 for untyped startup messages). */
export interface Message {
  /** The type byte as a character ("Q", "P", ...), or "" for a startup-phase message. */
  type: string;
  /** The whole message, type byte and length included. */
  bytes: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Largest message a {@linkcode MessageReader} accepts by default: 128 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

/** Largest startup message (PostgreSQL's own limit). */
const MAX_STARTUP_BYTES = 10_000;

/**
 * Accumulates a byte stream and yields complete messages. Before startup completes, messages
 * are untyped (length first); afterwards they start with a type byte. A message longer than
 * the limit is refused as soon as its header arrives, and the chunks of a long message are
 * joined once, when it is complete (linear, not quadratic, in its size).
 */
export class MessageReader {
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** Bytes needed before parsing again (a header, or the whole pending message). */
  #needed = 0;
  #max: number;
  /** True once the StartupMessage went by (typed messages follow). */
  typed = false;

  constructor(options: { maxMessageBytes?: number } = {}) {
    this.#max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Appends `chunk` and returns every message now complete. */
  push(chunk: Uint8Array): Message[] {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size < this.#needed) return [];
    const buffer = concat(this.#chunks);
    const messages: Message[] = [];
    let offset = 0;
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
    this.#needed = 0;
    while (true) {
      const header = this.typed ? 5 : 4;
      if (buffer.length - offset < header) {
        this.#needed = header;
        break;
      }
      const length = this.typed ? view.getInt32(offset + 1) + 1 : view.getInt32(offset);
      const limit = this.typed ? this.#max : MAX_STARTUP_BYTES;
      if (length < header || length > limit) {
        throw new RangeError(
          length < header
            ? `Invalid PostgreSQL protocol message length ${length}`
            : `PostgreSQL protocol message of ${length} bytes exceeds the limit of ${limit} bytes`,
        );
      }
      if (buffer.length - offset < length) {
        this.#needed = length;
        break;
      }
      const bytes = buffer.subarray(offset, offset + length);
      if (this.typed) {
        messages.push({ type: String.fromCharCode(bytes[0]!), bytes });
      } else {
        messages.push({ type: "", bytes });
        if (length >= 8 && view.getInt32(offset + 4) === PROTOCOL_3) this.typed = true;
      }
      offset += length;
    }
    const rest = offset === buffer.length ? undefined : buffer.slice(offset);
    this.#chunks = rest ? [rest] : [];
    this.#size = rest?.length ?? 0;
    return messages;
  }

  /** Bytes received but not yet part of a complete message. */
  get pending(): number {
    return this.#size;
  }
}

/** The request code of an untyped startup-phase message (StartupMessage, SSLRequest, ...). */
export function startupCode(message: Message): number {
  const view = new DataView(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length);
  return message.bytes.length >= 8 ? view.getInt32(4) : -1;
}

/** Builds a typed message from its type character and body. */
export function message(type: string, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/** A null-terminated string as protocol bytes. */
function cstring(text: string): Uint8Array {
  return encoder.encode(text + "\0");
}

/** Reads the null-terminated string of `bytes` starting at `offset`; returns it and the next offset. */
export function readCString(bytes: Uint8Array, offset: number): [string, number] {
  const end = bytes.indexOf(0, offset);
  const stop = end === -1 ? bytes.length : end;
  return [decoder.decode(bytes.subarray(offset, stop)), stop + 1];
}

/** An ErrorResponse with severity ERROR, `code` (SQLSTATE) and `text`. */
export function errorResponse(code: string, text: string): Uint8Array {
  return message(
    "E",
    concat([
      cstring("SERROR"),
      cstring("VERROR"),
      cstring(`C${code}`),
      cstring(`M${text}`),
      new Uint8Array([0]),
    ]),
  );
}

/** A CopyInResponse announcing `columns` columns (0 when unknown) in text or binary format. */
export function copyInResponse(binary: boolean): Uint8Array {
  return message("G", new Uint8Array([binary ? 1 : 0, 0, 0]));
}

/** A CopyFail carrying `reason`. */
export function copyFail(reason: string): Uint8Array {
  return message("f", cstring(reason));
}

/**
 * The SQL text of a Query ("Q") or Parse ("P") message, with the statement name of a Parse.
 */
export function statementText(msg: Message): { name: string; text: string } | undefined {
  if (msg.type === "Q") return { name: "", text: readCString(msg.bytes, 5)[0] };
  if (msg.type === "P") {
    const [name, next] = readCString(msg.bytes, 5);
    return { name, text: readCString(msg.bytes, next)[0] };
  }
  return undefined;
}

/** The portal and statement names of a Bind ("B") message. */
export function bindNames(msg: Message): { portal: string; statement: string } {
  const [portal, next] = readCString(msg.bytes, 5);
  return { portal, statement: readCString(msg.bytes, next)[0] };
}

/** The portal name of an Execute ("E") message. */
export function executePortal(msg: Message): string {
  return readCString(msg.bytes, 5)[0];
}

const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
const COPY_FROM_STDIN = /^copy\b[\s\S]*?\bfrom\s+stdin\b/i;
const BINARY = /\bformat\s*\(?\s*binary\b|\bformat\s+binary\b|\bbinary\b/i;

/**
 * Returns the COPY's data format when `text` is one `COPY ... FROM STDIN` statement, else
 * undefined. Only what follows FROM STDIN decides the format.
 */
export function copyFromStdin(text: string): { binary: boolean } | undefined {
  const statement = text.replace(LEADING_NOISE, "");
  const match = COPY_FROM_STDIN.exec(statement);
  if (!match) return undefined;
  const rest = statement.slice(match[0].length);
  return { binary: BINARY.test(rest) };
}

/** True when `text` contains a `COPY ... FROM STDIN` anywhere (not only as its first statement). */
export function mentionsCopyFromStdin(text: string): boolean {
  return /\bcopy\b[\s\S]*?\bfrom\s+stdin\b/i.test(text);
}

/**
 * Walks the backend messages of `bytes` (complete messages only) and returns the status byte
 * of the last ReadyForQuery ("I", "T" or "E"), or undefined when there is none.
 */
export function lastReadyStatus(bytes: Uint8Array): string | undefined {
  let status: string | undefined;
  for (const msg of backendMessages(bytes)) {
    if (msg.type === "Z") status = String.fromCharCode(msg.bytes[5]!);
  }
  return status;
}

/** Splits a buffer of complete backend messages. */
export function* backendMessages(bytes: Uint8Array): Generator<Message> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let offset = 0;
  while (offset + 5 <= bytes.length) {
    const length = view.getInt32(offset + 1) + 1;
    yield {
      type: String.fromCharCode(bytes[offset]!),
      bytes: bytes.subarray(offset, offset + length),
    };
    offset += length;
  }
}

/** Returns `bytes` without its first message of type `type` (used to drop a duplicate). */
export function withoutFirst(bytes: Uint8Array, type: string): Uint8Array {
  const parts: Uint8Array[] = [];
  let dropped = false;
  for (const msg of backendMessages(bytes)) {
    if (!dropped && msg.type === type) {
      dropped = true;
      continue;
    }
    parts.push(msg.bytes);
  }
  return dropped ? concat(parts) : bytes;
}

/**
 * Returns `msg` with its prepared-statement name (Parse, Bind, Describe 'S', Close 'S')
 * prefixed by `prefix`, so that clients sharing one backend session cannot collide.
 * The unnamed statement and other messages are returned unchanged.
 */
export function scopeStatementName(msg: Message, prefix: string): Message {
  const bytes = msg.bytes;
  let start: number;
  if (msg.type === "P") start = 5;
  else if (msg.type === "B") start = readCString(bytes, 5)[1];
  else if ((msg.type === "D" || msg.type === "C") && bytes[5] === 0x53) start = 6;
  else return msg;
  if (bytes[start] === 0) return msg;
  const body = concat([
    bytes.subarray(5, start),
    encoder.encode(prefix),
    bytes.subarray(start),
  ]);
  return { type: msg.type, bytes: message(msg.type, body) };
}

/** A Close of prepared statement `name` (already scoped). */
export function closeStatement(name: string): Uint8Array {
  return message("C", concat([new Uint8Array([0x53]), cstring(name)]));
}

/** A Sync message. */
export const SYNC: Uint8Array = message("S");
