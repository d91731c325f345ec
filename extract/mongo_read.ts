/**
 * Reading one collection through the driver, in `_id` order, surviving transient faults: when
 * the connection drops, a member steps down or the cursor is lost, the read pauses (backoff),
 * then resumes right after the last document it handed out, on a new cursor at the same point
 * in time. It gives up, with a {@linkcode SourceError}, when the fault outlasts the policy.
 * @module
 */
import type { ClientSession, Db, FindCursor } from "mongodb";
import type * as BSON from "bson";
import { Backoff, pause, redactText, type RetryLog, type RetryPolicy } from "../lib/core/mod.ts";
import { describeMongoFault, isSnapshotLost, isTransientMongoError } from "./mongo_faults.ts";
import { afterFilter } from "./mongo_resume.ts";
import type { SnapshotClock } from "./mongo_snapshot.ts";
import { type DocumentBatch, SourceError } from "./source.ts";

/** What {@linkcode readCollection} reads and how. */
export interface ReadTarget {
  /** The database. */
  db: Db;
  /** The collection. */
  collection: string;
  /** The server, credentials redacted, for errors. */
  description: string;
  /** Documents per batch. */
  batchSize: number;
  /** The point in time of the source's reads. */
  snapshot: SnapshotClock;
  /** How faults are retried and where retries are recorded; none: the first fault fails. */
  retry: { policy: RetryPolicy; log: RetryLog } | undefined;
  /**
   * Shared by the reads of one source: set when a read gave up on a fault, so the other reads
   * fail at their first fault instead of each waiting out the bound; cleared by any progress.
   */
  outage: { gaveUp: string | undefined };
}

/** Streams the collection in `_id` order, resuming after transient faults (see the module doc). */
export async function* readCollection(target: ReadTarget): AsyncIterable<DocumentBatch> {
  const { db, collection, batchSize, snapshot } = target;
  const location = `${db.databaseName}.${collection}`;
  const backoff = new Backoff(
    target.retry?.policy ?? { attempts: 0, maxSeconds: 0, firstDelayMs: 0 },
  );
  let handed = 0;
  let consumed = 0;
  let after: BSON.Document | undefined;
  let unresumable: string | undefined;
  for (;;) {
    let cursor: FindCursor | undefined;
    let session: ClientSession | undefined;
    try {
      session = await snapshot.session(db, collection);
      cursor = db.collection(collection).find(after ?? {}, {
        raw: true,
        batchSize,
        sort: { _id: 1 },
        ...(session ? { session } : {}),
      });
      let docs: Uint8Array[] = [];
      let bytes = 0;
      const hand = () => {
        const last = docs[docs.length - 1]!;
        handed += docs.length;
        consumed += bytes;
        const batch = { docs, offsets: undefined, consumed };
        try {
          after = afterFilter(last);
          unresumable = undefined;
        } catch (error) {
          unresumable = (error as Error).message;
        }
        docs = [];
        bytes = 0;
        return batch;
      };
      for await (const doc of cursor) {
        const raw = doc as unknown as Uint8Array;
        docs.push(raw);
        bytes += raw.length;
        // Hand out whatever the driver received before it asks for more, so a fault never
        // drops documents that were read: the resume starts after the last one handed out.
        if (docs.length >= batchSize || cursor.bufferedCount() === 0) {
          yield hand();
          backoff.reset();
          target.outage.gaveUp = undefined;
        }
      }
      if (docs.length > 0) yield hand();
      return;
    } catch (cause) {
      if (snapshot.atClusterTime !== undefined && isSnapshotLost(cause)) {
        snapshot.lose(
          `the server no longer held the snapshot while ${collection} was read ` +
            `(${describeMongoFault(cause)}); the rest was read as of then`,
        );
      }
      const transient = isTransientMongoError(cause) || isSnapshotLost(cause);
      const down = target.outage.gaveUp;
      const wait = transient && unresumable === undefined && down === undefined
        ? backoff.next()
        : undefined;
      if (wait === undefined || target.retry === undefined) {
        let why = "";
        if (transient && unresumable !== undefined) {
          why = ` (cannot resume after document ${handed}: ${unresumable})`;
        } else if (transient && down !== undefined) {
          why = ` (not retried${backoff.failures > 0 ? " further" : ""}: another read ${down})`;
        } else if (backoff.failures > 0) {
          why = ` (gave up after ${backoff.describe()})`;
          target.outage.gaveUp = `gave up after ${backoff.describe()}`;
        }
        throw new SourceError(
          `the server at ${target.description} failed after ${handed} documents: ` +
            `${redactText(String((cause as Error).message))}${why}`,
          { cause, ordinal: handed + 1, location },
        );
      }
      target.retry.log.record({
        stage: "read",
        what: collection,
        why: describeMongoFault(cause),
        attempt: backoff.failures,
        waitedMs: wait,
      }, { resume_after_documents: handed });
      await pause(wait);
    } finally {
      await cursor?.close().catch(() => {});
      await session?.endSession().catch(() => {});
    }
  }
}
