/**
 * Copying byte ranges. Why a helper: at run time many `Uint8Array`s here are Node
 * `Buffer`s (socket reads, file reads), and `Buffer#slice` returns a *view*, not the
 * copy `Uint8Array#slice` makes — so `bytes.slice(a, b)` silently aliases memory that
 * may be reused (a read buffer), which corrupted stored records once. Use this whenever
 * the result must outlive the buffer it came from.
 */
const sliceCopy = Uint8Array.prototype.slice;

/** A copy of `bytes[start, end)`, whether `bytes` is a Uint8Array or a Node Buffer. */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return sliceCopy.call(bytes, start, end);
}
