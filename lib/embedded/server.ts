/**
 * A PostgreSQL wire-protocol server over a single-session engine (PGlite): clients connect
 * over TCP as to any server, and take turns on the one session. A client keeps the session
 * until the session is idle again (ReadyForQuery 'I'), so transactions never interleave.
 * `COPY ... FROM STDIN` is buffered and handed to the engine whole.
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import {
  backendMessages,
  bindNames,
  CANCEL_REQUEST,
  closeStatement,
  concat,
  copyFail,
  copyFromStdin,
  copyInResponse,
  errorResponse,
  executePortal,
  GSSENC_REQUEST,
  lastReadyStatus,
  mentionsCopyFromStdin,
  type Message,
  message,
  MessageReader,
  readCString,
  scopeStatementName,
  SSL_REQUEST,
  startupCode,
  statementText,
  SYNC,
  withoutFirst,
} from "./protocol.ts";

const encoder = new TextEncoder();

/** A simple Query message. */
function query(text: string): Uint8Array {
  return message("Q", encoder.encode(text + "\0"));
}

/** A Query that fails with SQLSTATE `code` inside the engine (so its transaction state follows). */
function failingQuery(code: string, text: string): Uint8Array {
  const literal = text.replaceAll("'", "''");
  return query(
    `do $lml$ begin raise exception using errcode = '${code}', message = '${literal}'; end $lml$`,
  );
}

/** What the server needs from the database: run protocol messages, return the reply. */
export interface ProtocolEngine {
  /** Runs the frontend messages in `input` (complete messages) and returns the backend's reply. */
  exec(input: Uint8Array): Promise<Uint8Array>;
}

/** Options of {@linkcode serveSessions}. */
export interface SessionServerOptions {
  /** Interface to listen on. Default: "127.0.0.1". */
  hostname?: string;
  /** TCP port; 0 picks a free one. Default: 0. */
  port?: number;
  /** Largest `COPY ... FROM STDIN` accepted, in bytes; larger ones fail (SQLSTATE 57014). Default: 64 MiB. */
  copyLimitBytes?: number;
  /**
   * How long a waiting client may wait while the session's holder sits idle inside a
   * transaction before the waiter is refused (SQLSTATE 55P03). Default: 60000 ms.
   */
  idleHolderTimeoutMs?: number;
  /** Called with unexpected errors (engine failures, socket errors). Default: ignore. */
  onError?: (error: Error) => void;
  /** Largest protocol message accepted; a client sending a longer one is refused (08P01).
   * Default: 128 MiB. */
  maxMessageBytes?: number;
}

/** A running server; close() disconnects clients and stops listening. */
export interface SessionServer extends AsyncDisposable {
  /** The port listened on. */
  port: number;
  /** The interface listened on. */
  hostname: string;
  /** Stops listening and disconnects every client. */
  close(): Promise<void>;
}

const DEFAULT_COPY_LIMIT = 64 * 1024 * 1024;

interface CopyState {
  /** The messages that start the COPY (Query, or Execute of a COPY portal). */
  head: Uint8Array[];
  data: Uint8Array[];
  size: number;
  /** Sync/Flush received during copy-in: replayed after CopyDone. */
  tail: Uint8Array[];
}

class Client {
  readonly reader: MessageReader;
  readonly inbox: Message[] = [];
  readonly statements = new Set<string>();
  readonly copyPortals = new Map<string, boolean>();
  copyBinary = new Map<string, boolean>();
  copy: CopyState | undefined;
  /** After a COPY failed early: drop the client's remaining CopyData/CopyDone/CopyFail. */
  discardingCopy = false;
  /** True while the session is mid-transaction or mid-batch for this client (no handover). */
  holding = false;
  closed = false;
  started = false;
  constructor(readonly socket: Socket, readonly prefix: string, maxMessageBytes?: number) {
    this.reader = new MessageReader(
      maxMessageBytes === undefined ? {} : { maxMessageBytes },
    );
  }

  write(bytes: Uint8Array): void {
    if (!this.closed && bytes.length > 0 && !this.socket.destroyed) this.socket.write(bytes);
  }
}

/**
 * Serves `engine` over TCP, one client at a time on the session; resolves once listening.
 */
export async function serveSessions(
  engine: ProtocolEngine,
  options: SessionServerOptions = {},
): Promise<SessionServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const copyLimit = options.copyLimitBytes ?? DEFAULT_COPY_LIMIT;
  const idleHolderTimeout = options.idleHolderTimeoutMs ?? 60_000;
  const onError = options.onError ?? (() => {});
  const clients = new Set<Client>();
  const waiting: Client[] = [];
  let owner: Client | undefined;
  let running = false;
  let fatal: Error | undefined;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let nextId = 1;

  const run = async (input: Uint8Array): Promise<Uint8Array> => {
    try {
      return await engine.exec(input);
    } catch (error) {
      fatal = error instanceof Error ? error : new Error(String(error));
      onError(fatal);
      for (const client of clients) {
        refuse(client, "XX000", `embedded PostgreSQL stopped: ${fatal.message}`);
      }
      throw fatal;
    }
  };

  const refuse = (client: Client, code: string, text: string) => {
    client.write(errorResponse(code, text));
    client.closed = true;
    client.socket.end();
  };

  const armIdleTimer = () => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (!owner || owner.inbox.length > 0 || waiting.length === 0) return;
    idleTimer = setTimeout(() => {
      for (const client of waiting.splice(0)) {
        refuse(
          client,
          "55P03",
          `the embedded PostgreSQL runs one session at a time and another connection has been ` +
            `idle in a transaction for ${Math.round(idleHolderTimeout / 1000)} s; ` +
            `use one connection (postgres.js max: 1) or commit sooner`,
        );
      }
    }, idleHolderTimeout);
  };

  /** Releases the session held by a client that went away: ends its statements and transaction. */
  const cleanUp = async (client: Client) => {
    const closes = [...client.statements].map(closeStatement);
    const reply = await run(concat([...closes, SYNC]));
    if (lastReadyStatus(reply) !== "I") {
      await run(query("rollback"));
    }
  };

  /** Takes the next runnable batch of `client`'s messages, or undefined when it must wait. */
  const takeBatch = (client: Client): { input: Uint8Array; dropCopyIn: boolean } | undefined => {
    const parts: Uint8Array[] = [];
    while (client.inbox.length > 0) {
      const msg = client.inbox[0]!;
      if (client.discardingCopy) {
        if (msg.type === "d" || msg.type === "c" || msg.type === "f") {
          client.inbox.shift();
          continue;
        }
        client.discardingCopy = false;
      }
      if (client.copy) {
        const copy = client.copy;
        client.inbox.shift();
        if (msg.type === "S" || msg.type === "H") {
          copy.tail.push(msg.bytes);
          continue;
        }
        if (msg.type === "d") {
          copy.size += msg.bytes.length;
          if (copy.size <= copyLimit) {
            copy.data.push(msg.bytes);
            continue;
          }
          // Fail now, while the client still streams, so its writer sees the error.
          client.copy = undefined;
          client.discardingCopy = true;
          const reason = `COPY FROM STDIN through the embedded PostgreSQL is limited to ` +
            `${copyLimit} bytes per statement; send smaller batches`;
          return {
            input: concat([...copy.head, copyFail(reason), ...copy.tail]),
            dropCopyIn: true,
          };
        }
        if (msg.type !== "c" && msg.type !== "f") continue;
        client.copy = undefined;
        return {
          input: concat([...copy.head, ...copy.data, msg.bytes, ...copy.tail]),
          dropCopyIn: true,
        };
      }
      const copyStart = copyTrigger(client, msg);
      if (copyStart) {
        if (parts.length > 0) break;
        client.inbox.shift();
        client.write(copyInResponse(copyStart.binary));
        client.copy = {
          head: [msg.bytes],
          data: [],
          size: 0,
          tail: [],
        };
        continue;
      }
      if (msg.type === "") {
        if (parts.length > 0) break;
        client.inbox.shift();
        return { input: msg.bytes, dropCopyIn: false };
      }
      client.inbox.shift();
      if (msg.type === "Q" && mentionsCopyFromStdin(statementText(msg)!.text)) {
        parts.push(failingQuery(
          "0A000",
          "the embedded PostgreSQL accepts COPY FROM STDIN only as the first statement of a query",
        ));
        continue;
      }
      if (msg.type === "X") {
        client.closed = true;
        client.socket.end();
        break;
      }
      const scoped = scopeStatementName(msg, client.prefix);
      track(client, scoped);
      parts.push(scoped.bytes);
    }
    return parts.length ? { input: concat(parts), dropCopyIn: false } : undefined;
  };

  const pump = async () => {
    if (running) return;
    running = true;
    try {
      while (!fatal) {
        if (!owner) {
          owner = waiting.shift();
          if (!owner) break;
        }
        const client = owner;
        if (client.closed) {
          owner = undefined;
          if (client.started) await cleanUp(client);
          continue;
        }
        const batch = takeBatch(client);
        if (!batch) {
          if (client.closed) continue;
          if (client.copy || client.holding) break;
          // Nothing to run and the session is idle: let the next client in.
          owner = undefined;
          continue;
        }
        let reply = await run(batch.input);
        if (batch.dropCopyIn) reply = withoutFirst(reply, "G");
        client.started = true;
        client.write(reply);
        client.holding = !endsIdle(reply);
        if (!client.copy && !client.holding) {
          owner = undefined;
          if (client.inbox.length > 0 && !client.closed) waiting.push(client);
        }
      }
    } catch (error) {
      if (!fatal) onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      running = false;
      armIdleTimer();
    }
  };

  const onConnection = (socket: Socket) => {
    socket.setNoDelay(true);
    const client = new Client(socket, `c${nextId++}_`, options.maxMessageBytes);
    clients.add(client);
    if (fatal) return refuse(client, "57P01", `embedded PostgreSQL stopped: ${fatal.message}`);
    socket.on("data", (chunk: Uint8Array) => {
      let messages: Message[];
      try {
        messages = client.reader.push(new Uint8Array(chunk));
      } catch (error) {
        return refuse(client, "08P01", (error as Error).message);
      }
      for (const msg of messages) {
        if (msg.type !== "") {
          client.inbox.push(msg);
          continue;
        }
        const code = startupCode(msg);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) client.write(new Uint8Array([0x4e]));
        else if (code === CANCEL_REQUEST) socket.end();
        else client.inbox.push(msg);
      }
      if (client.inbox.length > 0 && client !== owner && !waiting.includes(client)) {
        waiting.push(client);
      }
      void pump();
    });
    const gone = () => {
      if (!clients.delete(client)) return;
      client.closed = true;
      const index = waiting.indexOf(client);
      if (index !== -1) waiting.splice(index, 1);
      void pump();
    };
    socket.on("close", gone);
    socket.on("error", (error) => {
      if ((error as { code?: string }).code !== "ECONNRESET") onError(error);
      gone();
    });
  };

  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => onError(error));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  const close = async () => {
    clearTimeout(idleTimer);
    for (const client of clients) {
      client.closed = true;
      client.socket.destroy();
    }
    clients.clear();
    waiting.length = 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    while (running) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  return { port, hostname, close, [Symbol.asyncDispose]: close };
}

/** True when `reply` ends with ReadyForQuery 'I' (the session is free to hand over). */
function endsIdle(reply: Uint8Array): boolean {
  let last: Message | undefined;
  for (const msg of backendMessages(reply)) last = msg;
  return last?.type === "Z" && last.bytes[5] === 0x49;
}

/** Records the client's prepared statements and which statements/portals are COPY FROM STDIN. */
function track(client: Client, msg: Message): void {
  if (msg.type === "P") {
    const statement = statementText(msg)!;
    const copy = copyFromStdin(statement.text);
    if (statement.name) client.statements.add(statement.name);
    if (copy) client.copyBinary.set(statement.name, copy.binary);
    else client.copyBinary.delete(statement.name);
  } else if (msg.type === "B") {
    const { portal, statement } = bindNames(msg);
    const binary = client.copyBinary.get(statement);
    if (binary === undefined) client.copyPortals.delete(portal);
    else client.copyPortals.set(portal, binary);
  } else if (msg.type === "C" && msg.bytes[5] === 0x53) {
    client.statements.delete(readCString(msg.bytes, 6)[0]);
  }
}

/** When `msg` starts a COPY FROM STDIN (a Query, or Execute of a COPY portal), its format. */
function copyTrigger(client: Client, msg: Message): { binary: boolean } | undefined {
  if (msg.type === "Q") return copyFromStdin(statementText(msg)!.text);
  if (msg.type === "E") {
    const binary = client.copyPortals.get(executePortal(msg));
    return binary === undefined ? undefined : { binary };
  }
  return undefined;
}
