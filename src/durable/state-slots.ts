/**
 * Consumer state saved in place into two alternating slot files, `<file>.0` and
 * `<file>.1`: each save writes the slot that does not hold the newest state and
 * fdatasyncs it — one fsync, where a temp file + rename costs a file fsync and a
 * directory fsync (and every fetch and every ack batch saves). A save torn by a crash
 * leaves a slot whose checksum fails; loading then takes the other slot, which holds the
 * last state a save confirmed (saves run one at a time and confirm only after the sync).
 *
 * Slot layout (big-endian): `"PXS1"`, u32 generation high, u32 generation low,
 * u32 payload length, u32 CRC32C (of generation, length and payload), payload (UTF-8 JSON). Bytes past the
 * payload (from an older, longer save) are ignored.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32c } from '../store/index.js';
import { saveFailed } from './files.js';

const MAGIC = 0x50585331; // "PXS1"
const HEADER = 20;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The two slot files of a state file. */
function slotPath(file: string, slot: number): string {
  return `${file}.${slot}`;
}

/** CRC32C of the generation, the length and the payload (everything but magic and CRC). */
function checksum(slot: Uint8Array, end: number): number {
  return crc32c(slot, HEADER, end, crc32c(slot, 4, 16));
}

/** Encode one slot: header and payload. */
export function encodeSlot(generation: number, json: string): Uint8Array {
  const payload = encoder.encode(json);
  const out = new Uint8Array(HEADER + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, Math.floor(generation / 2 ** 32));
  view.setUint32(8, generation >>> 0);
  view.setUint32(12, payload.length);
  out.set(payload, HEADER);
  view.setUint32(16, checksum(out, out.length));
  return out;
}

/** Decode a slot, or undefined when it is missing, torn or corrupt. */
export function decodeSlot(bytes: Uint8Array): { generation: number; json: string } | undefined {
  if (bytes.length < HEADER) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== MAGIC) return undefined;
  const length = view.getUint32(12);
  if (HEADER + length > bytes.length) return undefined;
  const payload = bytes.subarray(HEADER, HEADER + length);
  if (checksum(bytes, HEADER + length) !== view.getUint32(16)) return undefined;
  return { generation: view.getUint32(4) * 2 ** 32 + view.getUint32(8), json: decoder.decode(payload) };
}

async function readSlot(file: string, slot: number): Promise<{ generation: number; json: string } | undefined> {
  try {
    return decodeSlot(await readFile(slotPath(file, slot)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The newest intact slot of `file` (its generation and JSON text), or undefined if none. */
export async function readNewestSlot(file: string): Promise<{ generation: number; json: string } | undefined> {
  const [a, b] = [await readSlot(file, 0), await readSlot(file, 1)];
  if (!a) return b;
  if (!b) return a;
  return a.generation >= b.generation ? a : b;
}

/**
 * Writes successive states of one file into its slots. Not reentrant: the caller (a
 * `CoalescingWriter`) runs one write at a time, which the fallback on a torn slot needs.
 */
export class SlotWriter {
  /** Slots known to exist with a durable directory entry. */
  private readonly created = new Set<number>();

  /** `generation`: the newest generation on disk (0 when there is none). */
  constructor(
    private readonly file: string,
    private generation: number,
  ) {}

  /** Write `json` as the next generation; resolves once it is on disk. */
  readonly write = async (json: string): Promise<void> => {
    const generation = this.generation + 1;
    const slot = generation % 2;
    const path = slotPath(this.file, slot);
    try {
      // Truncating is safe: this slot holds the older state, the other one the newest.
      const fresh = !this.created.has(slot);
      const fh = await open(path, fresh ? 'w' : 'r+');
      try {
        const bytes = encodeSlot(generation, json);
        let at = 0;
        while (at < bytes.length) at += (await fh.write(bytes, at, bytes.length - at, at)).bytesWritten;
        await fh.datasync();
      } finally {
        await fh.close();
      }
      if (fresh) {
        // A new slot file's directory entry must be durable before a save counts.
        const dir = await open(dirname(path), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
        this.created.add(slot);
      }
    } catch (err) {
      throw saveFailed(path, err);
    }
    this.generation = generation;
  };
}
