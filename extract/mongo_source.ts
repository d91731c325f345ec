/**
 * A live MongoDB as a source, through the official driver: `find({}, {raw: true})` hands back
 * each document's BSON bytes untouched, so nothing passes through JS values. Collections are
 * read in `_id` order, resumed after transient faults (mongo_read.ts), at one point in time
 * where the deployment allows it (mongo_snapshot.ts), from the members the URL's
 * `readPreference` names.
 * @module
 */
import { MongoClient } from "mongodb";
import { redactText, redactUrl } from "../lib/core/mod.ts";
import { type Source, SourceError, type SourceEstimate } from "./source.ts";
import { readCollection } from "./mongo_read.ts";
import { SnapshotClock } from "./mongo_snapshot.ts";

/** Options of {@linkcode openMongoSource}. */
export interface MongoSourceOptions {
  /** Database used when the URL's path names none. Default: "mesa4core". */
  database?: string;
  /** Documents per getMore. Default: 1000. */
  batchSize?: number;
  /** Server selection / connect timeout in ms. Default: 15000. */
  timeoutMs?: number;
}

/** The database named in the path of a mongodb:// URL, or undefined. */
export function databaseOfUrl(url: string): string | undefined {
  const rest = url.replace(/^mongodb(\+srv)?:\/\//i, "");
  const path = rest.split("?")[0]!;
  const slash = path.indexOf("/");
  if (slash < 0) return undefined;
  const name = decodeURIComponent(path.slice(slash + 1));
  return name === "" ? undefined : name;
}

/** A connected driver client, its database's name and the URL without its password. */
export interface MongoConnection {
  client: MongoClient;
  database: string;
  description: string;
}

/**
 * Connects the official driver to `url` (its path's database, else `options.database`, else
 * "mesa4core"); rejects with a SourceError naming the URL without its password.
 */
export async function connectMongo(
  url: string,
  options: { database?: string; timeoutMs?: number; appName: string },
): Promise<MongoConnection> {
  const database = databaseOfUrl(url) ?? options.database ?? "mesa4core";
  const description = redactUrl(url);
  const timeout = options.timeoutMs ?? 15_000;
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    appName: options.appName,
  });
  try {
    await client.connect();
  } catch (cause) {
    await client.close().catch(() => {});
    throw new SourceError(
      `cannot connect to MongoDB at ${description}: ${
        redactText(String((cause as Error).message))
      }`,
      { cause, location: description },
    );
  }
  return { client, database, description };
}

/** Connects to `url` and returns a {@linkcode Source} on its database. */
export async function openMongoSource(
  url: string,
  options: MongoSourceOptions = {},
): Promise<Source> {
  const { client, database, description } = await connectMongo(url, {
    ...options,
    appName: "lml extract",
  });
  const db = client.db(database);
  const snapshot = await SnapshotClock.open(client);
  const outage = { gaveUp: undefined };
  const close = () => client.close();
  return {
    kind: "mongodb",
    description,
    get reads() {
      const atClusterTime = snapshot.atClusterTime;
      const notAtOnePoint = snapshot.notAtOnePoint;
      return {
        kind: "mongodb" as const,
        readPreference: client.readPreference.mode,
        ...(atClusterTime === undefined ? {} : { atClusterTime }),
        ...(notAtOnePoint === undefined ? {} : { notAtOnePoint }),
      };
    },
    locate: (collection) => Promise.resolve(`${database}.${collection}`),
    async estimate(collection: string): Promise<SourceEstimate> {
      try {
        return { documents: await db.collection(collection).estimatedDocumentCount() };
      } catch {
        return {};
      }
    },
    read: (collection, readOptions = {}) =>
      readCollection({
        db,
        collection,
        description,
        batchSize: readOptions.batchSize ?? options.batchSize ?? 1000,
        snapshot,
        retry: readOptions.retry,
        outage,
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
