/**
 * TEST FIXTURE: a MongoDB for tests (`await using mongo = await openTestMongo();`).
 *
 * When the environment variable MONGO_TEST_URL is set, it uses that real
 * MongoDB with a unique database name, dropped on dispose. Otherwise it starts
 * the in-process wire-protocol server of ./mongo_server.ts. Either way the
 * caller gets a connected official driver client. Never import this from
 * product code.
 * @module
 */
import * as BSON from "bson";
import { type Db, MongoClient } from "mongodb";
import { type MongoTestServer, startMongoTestServer } from "./mongo_server.ts";

/** A real MongoDB to test against instead of the in-process server, when set. */
export const MONGO_TEST_URL: string | undefined = Deno.env.get("MONGO_TEST_URL") || undefined;

/** Options for {@link openTestMongo}. */
export interface OpenTestMongoOptions {
  /**
   * Database name. On the in-process server it is used as given; on a real
   * server (MONGO_TEST_URL) a unique suffix is appended, so always read
   * {@link TestMongo.database}. Default "lml_test".
   */
  database?: string;
}

/** A disposable MongoDB for one test. */
export interface TestMongo extends AsyncDisposable {
  /** Connection string with the database in its path, e.g. "mongodb://127.0.0.1:40123/lml_test". */
  url: string;
  /** The database name to use. */
  database: string;
  /** A connected driver client (closed on dispose). */
  client: MongoClient;
  /** `client.db(database)`. */
  db: Db;
  /** The in-process server, or undefined when running against MONGO_TEST_URL. */
  server: MongoTestServer | undefined;
}

let counter = 0;

/**
 * Puts `database` in the path of a mongodb:// or mongodb+srv:// URL, keeping
 * hosts and query options.
 */
export function withDatabase(url: string, database: string): string {
  const scheme = url.match(/^mongodb(\+srv)?:\/\//)?.[0];
  if (!scheme) throw new TypeError(`not a MongoDB URL: ${url.replace(/\/\/[^@/]*@/, "//***@")}`);
  const queryAt = url.indexOf("?");
  const query = queryAt >= 0 ? url.slice(queryAt) : "";
  const rest = queryAt >= 0 ? url.slice(scheme.length, queryAt) : url.slice(scheme.length);
  const slash = rest.indexOf("/");
  const hosts = slash >= 0 ? rest.slice(0, slash) : rest;
  return `${scheme}${hosts}/${encodeURIComponent(database)}${query}`;
}

/**
 * Opens a MongoDB for a test: MONGO_TEST_URL when set (unique database, dropped
 * on dispose), else a fresh in-process test server (closed on dispose).
 */
export async function openTestMongo(options: OpenTestMongoOptions = {}): Promise<TestMongo> {
  const base = options.database ?? "lml_test";
  if (MONGO_TEST_URL) {
    const database = `${base}_${Deno.pid}_${Date.now().toString(36)}_${counter++}`;
    const client = new MongoClient(MONGO_TEST_URL);
    await client.connect();
    return {
      url: withDatabase(MONGO_TEST_URL, database),
      database,
      client,
      db: client.db(database),
      server: undefined,
      async [Symbol.asyncDispose]() {
        try {
          await client.db(database).dropDatabase();
        } finally {
          await client.close();
        }
      },
    };
  }
  const server = await startMongoTestServer();
  const client = new MongoClient(server.url, { serverSelectionTimeoutMS: 20_000 });
  try {
    await client.connect();
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    url: withDatabase(server.url, base),
    database: base,
    client,
    db: client.db(base),
    server,
    async [Symbol.asyncDispose]() {
      try {
        // A server killed by failAfterBatches() must answer endSessions again.
        server.revive();
        await client.close();
      } finally {
        await server.close();
      }
    },
  };
}

/**
 * Inserts documents into `collection` of the test database. Uint8Array items
 * are raw BSON: stored byte for byte on the in-process server; on a real server
 * they are decoded without promoting values (Int32/Int64/Double/Binary keep
 * their types) and inserted through the driver, which cannot carry invalid
 * UTF-8 (that throws a TypeError: such tests need the in-process server).
 * Either way mongod semantics apply: `_id` is moved to the front, or added.
 */
export async function insertDocuments(
  mongo: TestMongo,
  collection: string,
  documents: (Uint8Array | BSON.Document)[],
): Promise<void> {
  if (documents.length === 0) return;
  if (mongo.server) {
    mongo.server.insert(mongo.database, collection, documents);
    return;
  }
  const decoded = documents.map((doc, index) => {
    if (!(doc instanceof Uint8Array)) return doc;
    try {
      return BSON.deserialize(doc, { promoteValues: false, bsonRegExp: true });
    } catch (cause) {
      throw new TypeError(
        `document ${index} for ${mongo.database}.${collection} cannot go through the driver ` +
          `(${cause instanceof Error ? cause.message : cause}); run this test on the in-process ` +
          `server (unset MONGO_TEST_URL)`,
        { cause },
      );
    }
  });
  await mongo.db.collection(collection).insertMany(decoded);
}
