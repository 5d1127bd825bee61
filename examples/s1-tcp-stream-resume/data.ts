/**
 * The deterministic byte source both sides agree on, so the sender's hash can be
 * checked independently of the transfer: an xorshift32 generator, one fresh buffer per
 * chunk (a stream keeps written chunks for resending, so they must never be reused).
 */

/** The subject the receiver accepts streams on. */
export const SUBJECT = 's1.bytes';

/** Bytes per `write()` call (the stream splits them into DATA frames). */
export const WRITE_BYTES = 256 * 1024;

/** Produces the deterministic payload chunk by chunk. */
export class PatternSource {
  private state = 0x9e3779b9;

  /** The next `bytes` bytes of the pattern (`bytes` a multiple of 4). */
  next(bytes: number): Buffer {
    const words = new Uint32Array(bytes / 4);
    let x = this.state;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.state = x;
    return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
  }
}

/** Exit if the parent process goes away, so an interrupted run leaves nothing behind. */
export function exitWithParent(limitMs: number): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(3);
  }, 250).unref();
  setTimeout(() => {
    console.error(`giving up after ${limitMs} ms`);
    process.exit(4);
  }, limitMs).unref();
}
