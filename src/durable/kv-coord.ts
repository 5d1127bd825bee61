/**
 * Starts the KV buckets and the coordination primitives together inside a durable
 * service: KV writes fenced by a lock token are checked against the same process's
 * lock table, so the check and the write cannot be separated by another grant.
 */
import type { Connection } from '../client/index.js';
import { CoordService } from './coord-service.js';
import { KvService } from './kv-service.js';

/** The running KV and coordination services. */
export interface KvCoord {
  readonly kv: KvService;
  readonly coord: CoordService;
  close(): Promise<void>;
}

/** Open `<dir>/kv` and `<dir>/coord` and answer `$PLX.KV.>` and `$PLX.CO.>` on `bus`. */
export async function startKvCoord(bus: Connection, dir: string, onError: (err: unknown) => void): Promise<KvCoord> {
  const coord = await CoordService.start(bus, dir, onError);
  let kv: KvService;
  try {
    kv = await KvService.start(bus, dir, (fence) => coord.checkFence(fence), onError);
  } catch (err) {
    await coord.close();
    throw err;
  }
  return {
    kv,
    coord,
    async close() {
      await kv.close();
      await coord.close();
    },
  };
}
