/**
 * A small seeded pseudo-random generator (sfc32) and the helpers the sample builders draw from.
 * Every document gets its own generator seeded from (seed, stream name, index), so any document
 * can be rebuilt on its own and the output never depends on generation order.
 * @module
 */

/** Hashes a string into four 32-bit words (cyrb128), used to seed {@link Rng}. */
export function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

const TABLES = new WeakMap<object, { keys: string[]; values: number[]; total: number }>();

/** The sfc32 generator with convenience draws; same seed words, same sequence. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: [number, number, number, number]) {
    [this.#a, this.#b, this.#c, this.#d] = seed;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A generator for `(seed, stream, index)`: the per-document source of randomness. */
  static for(seed: number, stream: string, index = 0): Rng {
    return new Rng(hash128(`${seed}\u0001${stream}\u0001${index}`));
  }

  /** Next unsigned 32-bit integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** A key of `weights` chosen with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let table = TABLES.get(weights);
    if (!table) {
      const keys = Object.keys(weights);
      const values = keys.map((key) => weights[key as K]);
      table = { keys, values, total: values.reduce((a, b) => a + b, 0) };
      TABLES.set(weights, table);
    }
    let roll = this.float() * table.total;
    for (let i = 0; i < table.keys.length; i++) {
      roll -= table.values[i]!;
      if (roll < 0) return table.keys[i] as K;
    }
    return table.keys[table.keys.length - 1] as K;
  }

  /**
   * An integer in [min, max] skewed towards `min` (the square of a uniform draw):
   * most arrays are short and a few are long, as in production.
   */
  skewed(min: number, max: number): number {
    const u = this.float();
    return min + Math.floor(u * u * (max - min + 1));
  }

  /** `count` distinct indexes from [0, size), in draw order (count is capped at size). */
  sample(size: number, count: number): number[] {
    const chosen = new Set<number>();
    const wanted = Math.min(count, size);
    while (chosen.size < wanted) chosen.add(this.int(0, size - 1));
    return [...chosen];
  }
}
