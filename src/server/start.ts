/**
 * The broker as users run it: the core broker plus, when asked, the durable service
 * (streams, queues, mailboxes, KV, locks) in the same process. The core broker does not
 * import the durable layer (it sits above the client); this file composes the two, so
 * one call gives a single-machine Plexus that needs nothing but Node.js.
 */
import { startBroker as startCoreBroker, type Broker, type BrokerOptions } from '../broker/index.js';
import { startDurableService, type DurableService } from '../durable/index.js';
import { mkdir } from 'node:fs/promises';
import { acquireLock, nodeStoreFs } from '../store/index.js';
import { InprocHub } from '../transports/index.js';

/** Identity the embedded durable service signs in with (shown as `:from` on its replies). */
export const DURABLE_IDENTITY = '$plexus.durable';

/** Run the durable service inside the broker's process. */
export interface EmbeddedDurableOptions {
  /** Directory for every stream, queue, mailbox and KV bucket (created if missing). */
  readonly dir: string;
  /** How often expired deliveries are swept (redelivery, dead letters). @default 200 */
  readonly sweepMs?: number;
  /** Errors nobody else hears about (failed unacknowledged captures, retried DLQ moves). */
  readonly onError?: (err: unknown) => void;
  /**
   * Who may read a mailbox: `'owner'` only the identity it is named after, `'open'`
   * anyone. @default 'owner' when the broker has `auth`, else 'open' (without auth
   * everyone is `anonymous`, so nobody could be an owner)
   */
  readonly mailboxAccess?: 'owner' | 'open';
}

/** {@link BrokerOptions} plus the embedded durable service. */
export interface ServerOptions extends BrokerOptions {
  /** Durable messaging on this machine's disk; omit for a broker without it. */
  readonly durable?: EmbeddedDurableOptions;
}

/** A running broker, with its embedded durable service when one was asked for. */
export interface PlexusServer extends Broker {
  readonly durable: DurableService | undefined;
}

/**
 * Start a broker in this process, with durable messaging stored under `durable.dir`.
 *
 * ```ts
 * const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'], durable: { dir: './data' } });
 * ```
 */
export async function startBroker(options: ServerOptions): Promise<PlexusServer> {
  const { durable: durableOptions, ...brokerOptions } = options;
  if (!durableOptions) return withDurable(await startCoreBroker(brokerOptions), undefined, undefined);
  // One service per data directory: a second broker on the same one fails here, clearly
  // (PLEXUS_ERR_STORE_LOCKED), before it has touched anything.
  await mkdir(durableOptions.dir, { recursive: true });
  const unlock = await acquireLock(nodeStoreFs, durableOptions.dir);
  let broker: Broker;
  try {
    broker = await startCoreBroker(brokerOptions);
  } catch (err) {
    await unlock();
    throw err;
  }
  // A private hub: the service's connection is reachable by nobody else, and it signs in
  // as a trusted in-process principal, so it works whatever the auth config says.
  const hub = new InprocHub();
  hub.listen('durable', (channel) => broker.accept(channel, { trustedIdentity: DURABLE_IDENTITY }));
  let service: DurableService;
  try {
    service = await startDurableService({
      dir: durableOptions.dir,
      url: 'inproc://durable',
      connect: { inproc: hub, name: 'durable-service' },
      mailboxAccess: durableOptions.mailboxAccess ?? (brokerOptions.auth ? 'owner' : 'open'),
      ...(durableOptions.sweepMs !== undefined ? { sweepMs: durableOptions.sweepMs } : {}),
      ...(durableOptions.onError ? { onError: durableOptions.onError } : {}),
    });
  } catch (err) {
    await broker.close({ drainMs: 0 });
    await unlock();
    throw err;
  }
  return withDurable(broker, service, unlock);
}

function withDurable(broker: Broker, service: DurableService | undefined, unlock: (() => Promise<void>) | undefined): PlexusServer {
  let closing: Promise<void> | undefined;
  return {
    get urls() {
      return broker.urls;
    },
    get httpUrl() {
      return broker.httpUrl;
    },
    get serverId() {
      return broker.serverId;
    },
    durable: service,
    status: () => broker.status(),
    accept: (channel, acceptOptions) => broker.accept(channel, acceptOptions),
    close(closeOptions) {
      closing ??= (async () => {
        // The service first: it flushes its logs while the broker can still carry its last replies.
        try {
          await service?.close();
        } finally {
          await broker.close(closeOptions);
          await unlock?.();
        }
      })();
      return closing;
    },
  };
}
