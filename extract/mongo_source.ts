/**
 * A live MongoDB as a source, through the official driver: `find({}, {raw: true})` hands back
 * each document's BSON bytes untouched, so nothing passes through JS values.
 * @module
 */
import { MongoClient } from "mongodb";
import { redactText, redactUrl } from "../lib/core/mod.ts";
import { type DocumentBatch, type Source, SourceError, type SourceEstimate } from "./source.ts";

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

/** Connects to `url` and returns a {@linkcode Source} on its database. */
export async function openMongoSource(
  url: string,
  options: MongoSourceOptions = {},
): Promise<Source> {
  const database = databaseOfUrl(url) ?? options.database ?? "mesa4core";
  const description = redactUrl(url);
  const timeout = options.timeoutMs ?? 15_000;
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    appName: "lml extract",
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
  const db = client.db(database);
  const close = () => client.close();
  return {
    kind: "mongodb",
    description,
    locate: (collection) => Promise.resolve(`${database}.${collection}`),
    async estimate(collection: string): Promise<SourceEstimate> {
      try {
        return { documents: await db.collection(collection).estimatedDocumentCount() };
      } catch {
        return {};
      }
    },
    async *read(collection: string, readOptions = {}): AsyncIterable<DocumentBatch> {
      const batchSize = readOptions.batchSize ?? options.batchSize ?? 1000;
      const cursor = db.collection(collection).find({}, { raw: true, batchSize });
      let ordinal = 0;
      let consumed = 0;
      let docs: Uint8Array[] = [];
      try {
        for await (const doc of cursor) {
          const bytes = doc as unknown as Uint8Array;
          docs.push(bytes);
          consumed += bytes.length;
          ordinal++;
          if (docs.length >= batchSize || cursor.bufferedCount() === 0) {
            yield { docs, offsets: undefined, consumed };
            docs = [];
          }
        }
      } catch (cause) {
        throw new SourceError(
          `the server at ${description} failed after ${ordinal} documents: ` +
            `${redactText(String((cause as Error).message))}`,
          { cause, ordinal: ordinal + 1, location: `${database}.${collection}` },
        );
      } finally {
        await cursor.close().catch(() => {});
      }
      if (docs.length > 0) yield { docs, offsets: undefined, consumed };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
