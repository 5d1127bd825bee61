/** The durable patterns the nats:// adapter gives on JetStream (see src/patterns/provider.ts). */
import type { NatsConnection } from 'nats';
import type { KvBucket, KvOptions } from '../../patterns/kv.js';
import type { Lock, LockOptions } from '../../patterns/lock.js';
import type { PatternProvider } from '../../patterns/provider.js';
import type { NatsModule } from './bus.js';
import { natsKv } from './kv.js';
import { natsLock } from './lock.js';

/** Why a pattern is not given on nats yet (the pattern functions throw PLEXUS_ERR_NOT_SUPPORTED with it). */
const NOT_BUILT = 'not built yet on JetStream in this release';

/** KV buckets and locks on JetStream KV; queues and mailboxes are declared unsupported. */
export class NatsPatterns implements PatternProvider {
  readonly backend = 'nats';
  readonly unsupported: Readonly<Record<string, string>> = { queue: NOT_BUILT, mailbox: NOT_BUILT };

  constructor(
    private readonly nc: NatsConnection,
    private readonly mod: NatsModule,
  ) {}

  kv(name: string, options: KvOptions): KvBucket {
    return natsKv(this.nc, this.mod, name, options);
  }

  lock(name: string, options: LockOptions): Lock {
    return natsLock(this.nc, name, options);
  }
}
