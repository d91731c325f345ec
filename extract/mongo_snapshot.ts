/**
 * One point in time for every collection of an extraction: snapshot reads (read concern
 * "snapshot" with one `atClusterTime`), where the deployment supports them (a replica set or a
 * sharded cluster of MongoDB 5.0 or later). The first read takes the cluster time; every read
 * after it, resumed ones included, uses the same. Where snapshots are not available the reads
 * go on without one, and {@linkcode SnapshotClock.notAtOnePoint} says why, for the report.
 * @module
 */
import {
  type ClientSession,
  type Db,
  type MongoClient,
  ReadPreference,
  type Timestamp,
} from "mongodb";
import { redactText } from "../lib/core/mod.ts";
import { isTransientMongoError } from "./mongo_faults.ts";

/** Wire version of MongoDB 5.0, the first to take snapshot reads outside transactions. */
const SNAPSHOT_WIRE_VERSION = 13;

/** The shared read time of one source. */
export class SnapshotClock {
  #client: MongoClient;
  #time: Timestamp | undefined;
  #taking: Promise<Timestamp | undefined> | undefined;
  #reason: string | undefined;

  private constructor(client: MongoClient, reason: string | undefined) {
    this.#client = client;
    this.#reason = reason;
  }

  /** Asks the deployment (hello) whether it takes snapshot reads. */
  static async open(client: MongoClient): Promise<SnapshotClock> {
    let hello: Record<string, unknown>;
    try {
      // Any member answers: with readPreference=secondary there may be no primary.
      hello = await client.db("admin").command({ hello: 1 }, {
        readPreference: ReadPreference.nearest,
      });
    } catch (cause) {
      return new SnapshotClock(client, `the server did not answer hello (${message(cause)})`);
    }
    const replicated = typeof hello.setName === "string" || hello.msg === "isdbgrid";
    const wire = Number(hello.maxWireVersion ?? 0);
    if (!replicated) {
      return new SnapshotClock(
        client,
        "the server is a standalone; snapshot reads need a replica set or a sharded cluster",
      );
    }
    if (wire < SNAPSHOT_WIRE_VERSION) {
      return new SnapshotClock(
        client,
        `the server is older than MongoDB 5.0 (wire version ${wire}); snapshot reads need 5.0`,
      );
    }
    return new SnapshotClock(client, undefined);
  }

  /** Why the reads are not at one point in time; undefined while they are. */
  get notAtOnePoint(): string | undefined {
    return this.#reason;
  }

  /** The shared cluster time as `<seconds>.<increment>`, once taken. */
  get atClusterTime(): string | undefined {
    if (this.#reason !== undefined || this.#time === undefined) return undefined;
    return `${this.#time.t}.${this.#time.i}`;
  }

  /**
   * A session reading at the shared time (taking it on `collection` first, when no read has),
   * or undefined when reads are not at one point in time. End it after the read.
   */
  async session(db: Db, collection: string): Promise<ClientSession | undefined> {
    if (this.#reason !== undefined) return undefined;
    const time = await (this.#taking ??= this.#take(db, collection).catch((error) => {
      this.#taking = undefined; // a transient fault: the next read tries again
      throw error;
    }));
    if (time === undefined || this.#reason !== undefined) return undefined;
    const session = this.#client.startSession({ snapshot: true });
    // The driver sends a snapshot session's `snapshotTime` as atClusterTime; a new session
    // would take its own time, so it is given the shared one.
    (session as unknown as { snapshotTime?: Timestamp }).snapshotTime = time;
    return session;
  }

  /** Gives up the point in time (e.g. the server no longer holds it); later reads go without. */
  lose(reason: string): void {
    this.#reason ??= reason;
  }

  async #take(db: Db, collection: string): Promise<Timestamp | undefined> {
    const session = this.#client.startSession({ snapshot: true });
    try {
      await db.collection(collection).find({}, { session, limit: 1, projection: { _id: 1 } })
        .toArray();
      const time = (session as unknown as { snapshotTime?: Timestamp }).snapshotTime;
      if (!time) this.lose("the server answered a snapshot read without its atClusterTime");
      return this.#time = time;
    } catch (cause) {
      if (isTransientMongoError(cause)) throw cause;
      this.lose(`the server refused a snapshot read (${message(cause)})`);
      return undefined;
    } finally {
      await session.endSession().catch(() => {});
    }
  }
}

function message(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error));
}
