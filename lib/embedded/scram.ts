/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677), PostgreSQL's password authentication:
 * the password never crosses the wire, the client proves it knows it and the server proves it
 * knows the verifier. No channel binding (the embedded server speaks plain TCP on loopback).
 * @module
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** The SASL mechanism name. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/** What the server keeps of a password: PostgreSQL's `SCRAM-SHA-256$<i>:<salt>$<stored>:<server>`. */
export interface ScramVerifier {
  salt: Uint8Array;
  iterations: number;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
}

/** A SCRAM message the client got wrong (not a wrong password: that is a failed proof). */
export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScramError";
  }
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/**
 * Derives the verifier of `password` (ASCII passwords need no SASLprep). Default: a random
 * 16-byte salt and PostgreSQL's 4096 iterations.
 */
export function scramVerifier(
  password: string,
  options: { salt?: Uint8Array; iterations?: number } = {},
): ScramVerifier {
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = hmac(salted, "Client Key");
  return {
    salt,
    iterations,
    storedKey: createHash("sha256").update(clientKey).digest(),
    serverKey: hmac(salted, "Server Key"),
  };
}

/** The `key=value` attributes of a SCRAM message, in order. */
function attributes(text: string): [string, string][] {
  return text.split(",").map((part) => {
    if (!/^[A-Za-z]=/.test(part)) throw new ScramError(`malformed SCRAM attribute "${part}"`);
    return [part[0]!, part.slice(2)];
  });
}

/** One client's exchange: {@linkcode ScramExchange.first}, then {@linkcode ScramExchange.final}. */
export class ScramExchange {
  #verifier: ScramVerifier;
  #gs2Header = "";
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";

  constructor(verifier: ScramVerifier) {
    this.#verifier = verifier;
  }

  /** True once {@linkcode ScramExchange.first} answered (the client-final-message is next). */
  get challenged(): boolean {
    return this.#serverFirst !== "";
  }

  /** Takes the client-first-message and returns the server-first-message. */
  first(clientFirst: string): string {
    const match = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/.exec(clientFirst);
    if (!match) throw new ScramError("malformed SCRAM client-first-message");
    if (match[1]!.startsWith("p")) {
      throw new ScramError("SCRAM channel binding is not offered by this server");
    }
    this.#gs2Header = `${match[1]},${match[2] ?? ""},`;
    this.#clientFirstBare = match[3]!;
    const attrs = attributes(this.#clientFirstBare);
    if (attrs[0]?.[0] === "m") throw new ScramError("SCRAM extensions are not supported");
    const clientNonce = attrs.find(([k]) => k === "r")?.[1];
    if (!clientNonce || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) {
      throw new ScramError("the SCRAM client nonce is missing or malformed");
    }
    this.#nonce = clientNonce + randomBytes(18).toString("base64");
    const salt = Buffer.from(this.#verifier.salt).toString("base64");
    this.#serverFirst = `r=${this.#nonce},s=${salt},i=${this.#verifier.iterations}`;
    return this.#serverFirst;
  }

  /**
   * Takes the client-final-message and returns the server-final-message when the client's
   * proof is right, or undefined when it is not (a wrong password).
   */
  final(clientFinal: string): string | undefined {
    const at = clientFinal.lastIndexOf(",p=");
    if (at < 0 || !this.#serverFirst) throw new ScramError("malformed SCRAM client-final-message");
    const withoutProof = clientFinal.slice(0, at);
    const attrs = attributes(withoutProof);
    const binding = attrs.find(([k]) => k === "c")?.[1];
    const nonce = attrs.find(([k]) => k === "r")?.[1];
    if (binding !== Buffer.from(this.#gs2Header).toString("base64")) {
      throw new ScramError("SCRAM channel binding data does not match");
    }
    if (nonce !== this.#nonce) throw new ScramError("SCRAM nonce does not match");
    const proof = Buffer.from(clientFinal.slice(at + 3), "base64");
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = this.#verifier;
    const signature = hmac(storedKey, authMessage);
    if (proof.length !== signature.length) return undefined;
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    const derived = createHash("sha256").update(clientKey).digest();
    if (!timingSafeEqual(derived, storedKey)) return undefined;
    return `v=${hmac(serverKey, authMessage).toString("base64")}`;
  }
}
