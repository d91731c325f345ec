/**
 * Worker entry of the embedded PostgreSQL: owns the PGlite instance and its TCP server, so long
 * queries never block the thread that started it. Messages: in {@linkcode WorkerStart} then
 * `{type: "close"}`; out {@linkcode WorkerReply}.
 * @module
 */
import { openEngine } from "./engine.ts";
import { serveSessions, type SessionServer } from "./server.ts";

/** The first message the worker receives. */
export interface WorkerStart {
  type: "start";
  dataDir: string;
  hostname: string;
  port: number;
  password: string;
  copyLimitBytes?: number;
  idleInTransactionTimeoutMs?: number;
}

/** What the worker posts back ("event": something the server's operator should know). */
export type WorkerReply =
  | { type: "ready"; port: number }
  | { type: "error"; message: string; stack?: string }
  | { type: "event"; message: string }
  | { type: "closed" };

declare const self: Worker & { close(): void };

let stop: (() => Promise<void>) | undefined;

self.onmessage = async (event: MessageEvent<WorkerStart | { type: "close" }>) => {
  const data = event.data;
  if (data.type === "close") {
    try {
      await stop?.();
    } finally {
      self.postMessage({ type: "closed" } satisfies WorkerReply);
    }
    return;
  }
  try {
    const engine = await openEngine(data.dataDir);
    let server: SessionServer;
    try {
      server = await serveSessions(engine, {
        hostname: data.hostname,
        port: data.port,
        password: data.password,
        ...(data.copyLimitBytes ? { copyLimitBytes: data.copyLimitBytes } : {}),
        ...(data.idleInTransactionTimeoutMs
          ? { idleInTransactionTimeoutMs: data.idleInTransactionTimeoutMs }
          : {}),
        onEvent: (message) => self.postMessage({ type: "event", message } satisfies WorkerReply),
      });
    } catch (error) {
      await engine.close();
      throw error;
    }
    stop = async () => {
      await server.close();
      await engine.close();
    };
    self.postMessage({ type: "ready", port: server.port } satisfies WorkerReply);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    self.postMessage(
      {
        type: "error",
        message: e.message,
        ...(e.stack ? { stack: e.stack } : {}),
      } satisfies WorkerReply,
    );
  }
};
