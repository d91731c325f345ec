/**
 * A PostgreSQL wire-protocol server over a single-session engine (PGlite): clients connect
 * over TCP as to any server, authenticate with SCRAM-SHA-256, and take turns on the one
 * session. A client keeps the session until the session is idle again (ReadyForQuery 'I'), so
 * transactions never interleave; when another client takes it over, the session is reset
 * first (as by `DISCARD ALL`), and a client that sits idle inside a transaction while others
 * wait is rolled back and disconnected. `COPY ... FROM STDIN` is buffered and handed to the
 * engine whole.
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import {
  authentication,
  backendMessages,
  bindNames,
  CANCEL_REQUEST,
  closeStatement,
  concat,
  copyFail,
  copyFromStdin,
  copyInResponse,
  DEFAULT_MAX_MESSAGE_BYTES,
  errorResponse,
  executePortal,
  GSSENC_REQUEST,
  lastReadyStatus,
  MAX_STARTUP_BYTES,
  mentionsCopyFromStdin,
  type Message,
  message,
  MessageReader,
  PROTOCOL_3,
  readCString,
  saslResponse,
  scopeStatementName,
  SSL_REQUEST,
  startupCode,
  startupParams,
  statementText,
  SYNC,
  withoutFirst,
} from "./protocol.ts";
import { SCRAM_SHA_256, ScramError, ScramExchange, scramVerifier } from "./scram.ts";

const encoder = new TextEncoder();

/** The one role of the engine: the only user name accepted. */
const USER = "postgres";

/**
 * What `DISCARD ALL` resets, run before another client takes the session over: settings
 * (`SET search_path`, `SET role`, session authorization), cursors, LISTENs, cached plans, temp
 * tables, sequences and SQL-level prepared statements. The protocol-level prepared statements
 * of connected clients stay (they are scoped per client and closed when it leaves), and so do
 * advisory locks (a client holds them across its turns; they end with the last connection).
 */
const HANDOVER_RESET = [
  "close all",
  "set session authorization default",
  "reset all",
  "unlisten *",
  "discard plans",
  "discard temp",
  "discard sequences",
  `do $lml$ declare s record; begin
     for s in select name from pg_prepared_statements where from_sql loop
       execute format('deallocate %I', s.name);
     end loop;
   end $lml$`,
].join(";\n");

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
  /** The password of user `postgres`, checked with SCRAM-SHA-256. Required. */
  password: string;
  /** Interface to listen on. Default: "127.0.0.1". */
  hostname?: string;
  /** TCP port; 0 picks a free one. Default: 0. */
  port?: number;
  /** Largest `COPY ... FROM STDIN` accepted, in bytes; larger ones fail (SQLSTATE 57014). Default: 64 MiB. */
  copyLimitBytes?: number;
  /**
   * How long the session's holder may sit idle inside a transaction (or a COPY) while other
   * clients wait: then its transaction is rolled back and it is disconnected (SQLSTATE 25P03),
   * and the next client gets the session. Default: 60000 ms.
   */
  idleInTransactionTimeoutMs?: number;
  /** How long a client may take to authenticate before it is disconnected. Default: 30000 ms. */
  authenticationTimeoutMs?: number;
  /** Called with unexpected errors (engine failures, socket errors). Default: ignore. */
  onError?: (error: Error) => void;
  /**
   * Called with what an operator should know: refused logins, evicted clients, a failed
   * session reset. Default: ignore.
   */
  onEvent?: (message: string) => void;
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
  /** True once the password was proven; until then only startup and SASL messages count. */
  authenticated = false;
  scram: ScramExchange | undefined;
  /** The StartupMessage, run on the engine once authenticated. */
  startup: Message | undefined;
  params: Record<string, string> = {};
  /** When the client last sent something or got a reply (ms since the epoch). */
  lastActive = Date.now();
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
  constructor(readonly socket: Socket, readonly id: number) {
    // SASL messages are small: nothing large is buffered before the password is proven.
    this.reader = new MessageReader({ maxMessageBytes: MAX_STARTUP_BYTES });
  }

  get prefix(): string {
    return `c${this.id}_`;
  }

  /** `connection 3 (application "psql")`, for the server's events. */
  get label(): string {
    const application = this.params.application_name;
    return `connection ${this.id}${
      application ? ` (application ${JSON.stringify(application)})` : ""
    }`;
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
  options: SessionServerOptions,
): Promise<SessionServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const copyLimit = options.copyLimitBytes ?? DEFAULT_COPY_LIMIT;
  const idleTimeout = options.idleInTransactionTimeoutMs ?? 60_000;
  const authTimeout = options.authenticationTimeoutMs ?? 30_000;
  const onError = options.onError ?? (() => {});
  const onEvent = options.onEvent ?? (() => {});
  if (!options.password) throw new TypeError("serveSessions() needs a password");
  const verifier = scramVerifier(options.password);
  const clients = new Set<Client>();
  const waiting: Client[] = [];
  let owner: Client | undefined;
  /** The client whose messages the session ran last (its settings are the session's). */
  let lastUser: Client | undefined;
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

  /** Sends a FATAL error and closes the connection. */
  const refuse = (client: Client, code: string, text: string) => {
    client.write(errorResponse(code, text, { fatal: true }));
    client.closed = true;
    client.socket.end();
  };

  /** The session's holder is idle in a transaction while others wait: roll it back, drop it. */
  const evict = (client: Client) => {
    const seconds = ((Date.now() - client.lastActive) / 1000).toFixed(1);
    onEvent(
      `closed ${client.label}: idle in a transaction for ${seconds} s while ${waiting.length} ` +
        `other connection(s) waited; its transaction was rolled back`,
    );
    refuse(
      client,
      "25P03",
      `terminating connection due to idle-in-transaction timeout: the embedded PostgreSQL runs ` +
        `one session at a time and other connections waited; commit sooner`,
    );
    client.copy = undefined;
    void pump();
  };

  const armIdleTimer = () => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    const holder = owner;
    if (!holder || running || holder.inbox.length > 0 || waiting.length === 0) return;
    const delay = Math.max(0, holder.lastActive + idleTimeout - Date.now());
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (owner !== holder || running || holder.inbox.length > 0 || waiting.length === 0) return;
      if (Date.now() - holder.lastActive < idleTimeout) return armIdleTimer();
      evict(holder);
    }, delay);
  };

  /** Releases the session held by a client that went away: ends its statements and transaction. */
  const cleanUp = async (client: Client) => {
    const closes = [...client.statements].map(closeStatement);
    const reply = await run(concat([...closes, SYNC]));
    if (lastReadyStatus(reply) !== "I") {
      await run(query("rollback"));
    }
    client.statements.clear();
    // The last connection gone: nothing of any session survives it (advisory locks included).
    if (clients.size === 0) {
      await run(query("discard all"));
      lastUser = undefined;
    }
  };

  /** Resets the session before `client` takes it over from another client. */
  const handOver = async (client: Client) => {
    if (lastUser && lastUser !== client) {
      const reply = await run(query(HANDOVER_RESET));
      const failed = [...backendMessages(reply)].find((m) => m.type === "E");
      if (failed) {
        onEvent(`could not reset the session for ${client.label}: ${errorText(failed)}`);
      }
    }
    lastUser = client;
  };

  /** Handles a message of a client not yet authenticated (startup, then SCRAM). */
  const authenticate = (client: Client, msg: Message) => {
    if (msg.type === "") {
      const code = startupCode(msg);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        client.write(new Uint8Array([0x4e]));
      } else if (code === CANCEL_REQUEST) {
        client.closed = true;
        client.socket.end();
      } else if (code !== PROTOCOL_3 || client.startup) {
        refuse(client, "08P01", `unsupported frontend protocol ${code >> 16}.${code & 0xffff}`);
      } else {
        client.startup = msg;
        client.params = startupParams(msg);
        client.scram = new ScramExchange(verifier);
        client.write(authentication(10, encoder.encode(`${SCRAM_SHA_256}\0\0`)));
      }
      return;
    }
    const scram = client.scram;
    if (msg.type === "X") {
      client.closed = true;
      return client.socket.end();
    }
    if (msg.type !== "p" || !scram) {
      return refuse(client, "08P01", "expected a password response (SCRAM-SHA-256)");
    }
    const user = client.params.user ?? "";
    try {
      if (!scram.challenged) {
        const { mechanism, data } = saslResponse(msg, true);
        if (mechanism !== SCRAM_SHA_256) {
          return refuse(client, "28000", `unsupported SASL mechanism "${mechanism}"`);
        }
        client.write(authentication(11, encoder.encode(scram.first(data))));
        return;
      }
      const final = scram.final(saslResponse(msg, false).data);
      if (final === undefined || user !== USER) {
        // Client-chosen text goes into the log JSON-quoted: a newline cannot forge a line.
        onEvent(
          `refused a connection: password authentication failed for user ${JSON.stringify(user)}`,
        );
        return refuse(client, "28P01", `password authentication failed for user "${user}"`);
      }
      client.write(authentication(12, encoder.encode(final)));
    } catch (error) {
      if (!(error instanceof ScramError)) throw error;
      return refuse(client, "08P01", error.message);
    }
    client.authenticated = true;
    client.scram = undefined;
    client.reader.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    // The engine answers the StartupMessage with AuthenticationOk and the session parameters.
    client.inbox.push(client.startup!);
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
          const used = client.started && client.authenticated;
          client.started = false;
          if (used) await cleanUp(client);
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
        await handOver(client);
        let reply = await run(batch.input);
        if (batch.dropCopyIn) reply = withoutFirst(reply, "G");
        client.started = true;
        client.lastActive = Date.now();
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
    const client = new Client(socket, nextId++);
    clients.add(client);
    if (fatal) return refuse(client, "57P01", `embedded PostgreSQL stopped: ${fatal.message}`);
    const authTimer = setTimeout(() => {
      if (!client.authenticated && !client.closed) {
        refuse(client, "08006", "authentication timed out");
      }
    }, authTimeout);
    socket.on("data", (chunk: Uint8Array) => {
      if (client.closed) return;
      client.lastActive = Date.now();
      let messages: Message[];
      try {
        messages = client.reader.push(new Uint8Array(chunk));
      } catch (error) {
        return refuse(client, "08P01", (error as Error).message);
      }
      for (const msg of messages) {
        if (client.closed) return;
        if (!client.authenticated) authenticate(client, msg);
        else client.inbox.push(msg);
      }
      if (client.authenticated) clearTimeout(authTimer);
      if (client.inbox.length > 0 && client !== owner && !waiting.includes(client)) {
        waiting.push(client);
      }
      void pump();
    });
    const gone = () => {
      clearTimeout(authTimer);
      if (!clients.delete(client)) return;
      client.closed = true;
      const index = waiting.indexOf(client);
      if (index !== -1) waiting.splice(index, 1);
      // A client that used the session and left while another held it: clean up after it.
      if (client !== owner && client.started && client.authenticated) waiting.push(client);
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

/** The message text of an ErrorResponse. */
function errorText(msg: Message): string {
  let offset = 5;
  while (offset < msg.bytes.length && msg.bytes[offset] !== 0) {
    const field = msg.bytes[offset]!;
    const [text, next] = readCString(msg.bytes, offset + 1);
    if (field === 0x4d) return text;
    offset = next;
  }
  return "unknown error";
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
