/**
 * The connection-state half every backend adapter's `Bus` shares: its status, the
 * `status` / `error` listeners, the `closed` promise, and the coded errors for using a
 * closed bus. One copy, so every adapter reports state changes the same way.
 */
import type { ConnectionEvents, ConnectionStatus } from '../../client/connection.js';
import type { Payload } from '../../client/message.js';
import { toBytes } from '../../client/payload.js';
import { ErrorCode, PlexusError } from '../../errors/index.js';

export class BusState {
  private current: ConnectionStatus = 'open';
  private readonly listeners: { [K in keyof ConnectionEvents]: Set<ConnectionEvents[K]> } = { status: new Set(), error: new Set() };
  private resolveClosed!: (err: PlexusError | undefined) => void;
  /** Settles once with the reason the bus closed (undefined: closed by the application). */
  readonly closed: Promise<PlexusError | undefined> = new Promise((r) => (this.resolveClosed = r));

  get status(): ConnectionStatus {
    return this.current;
  }

  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Emit `err` to 'error' listeners and return it. */
  report(err: PlexusError): PlexusError {
    for (const l of this.listeners.error) l(err);
    return err;
  }

  /** Throw PLEXUS_ERR_CONNECTION_CLOSED once closed. */
  assertOpen(): void {
    if (this.current === 'closed') throw new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the connection is closed');
  }

  /** Move to `s`, telling the 'status' listeners (no event when nothing changes). */
  set(s: ConnectionStatus): void {
    if (this.current === s) return;
    this.current = s;
    for (const l of this.listeners.status) l(s);
  }

  /** The link went down or came back: ignored once draining or closed (the application's call wins). */
  link(s: 'open' | 'reconnecting'): void {
    if (this.current === 'closed' || this.current === 'draining') return;
    this.set(s);
  }

  /** Closed for good: status `closed`, the reason to 'error' listeners, `closed` settles. */
  finish(reason: PlexusError | undefined): void {
    this.set('closed');
    if (reason) this.report(reason);
    this.resolveClosed(reason);
  }
}

/** `data` as bytes, refused with PLEXUS_ERR_PAYLOAD_TOO_LARGE above `max` (`whose`: "the server's", …). */
export function sizedPayload(data: Payload | undefined, max: number, whose: string): Uint8Array {
  const payload = toBytes(data);
  if (payload.length > max) throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${payload.length} bytes exceeds ${whose} ${max}`);
  return payload;
}
