/**
 * A growable byte buffer, the base of the EJSON writer and the JSON-lines BSON builder.
 * @module
 */

/** Bytes appended at `pos`, growing by doubling. */
export class ByteBuffer {
  /** Output bytes; valid up to {@linkcode ByteBuffer.pos}. */
  buf: Uint8Array;
  /** Number of bytes written. */
  pos = 0;

  /** Starts with room for `initialSize` bytes (default 1024). */
  constructor(initialSize = 1024) {
    this.buf = new Uint8Array(initialSize);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Bytes allocated (at least {@linkcode ByteBuffer.pos}). */
  get capacity(): number {
    return this.buf.length;
  }

  /**
   * Gives back the memory of an outsized buffer: when more than `keep` bytes are allocated,
   * the buffer is replaced by one of `keep` bytes (or just what is written, if more).
   */
  shrink(keep: number): void {
    if (this.buf.length <= keep) return;
    const next = new Uint8Array(Math.max(keep, this.pos));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Appends raw bytes. */
  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** Appends one byte. */
  byte(b: number): void {
    if (this.pos >= this.buf.length) this.reserve(1);
    this.buf[this.pos++] = b;
  }
}
