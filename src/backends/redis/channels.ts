/**
 * Plexus subjects on Redis pub/sub. A literal subject is a Redis channel of the same
 * name (SUBSCRIBE). A wildcard subject becomes a coarse glob (PSUBSCRIBE): `*` and `>`
 * both become Redis's `*`, which also matches dots, so every delivery through a pattern
 * is checked against the exact Plexus subject before it reaches the subscriber.
 */
import { hasWildcard } from '../../wire/index.js';

/** How a subscription is registered at Redis. */
export interface RedisInterest {
  readonly kind: 'channel' | 'pattern';
  /** The channel name or glob pattern sent to Redis. */
  readonly key: string;
}

/** Redis glob metacharacters, escaped in literal tokens. */
const GLOB_SPECIAL = /[\\*?[\]^]/g;

/** The Redis channel or pattern that carries (a superset of) `subject`. */
export function redisInterest(subject: string): RedisInterest {
  if (!hasWildcard(subject)) return { kind: 'channel', key: subject };
  const glob = subject
    .split('.')
    .map((t) => (t === '*' || t === '>' ? '*' : t.replace(GLOB_SPECIAL, (c) => `\\${c}`)))
    .join('.');
  return { kind: 'pattern', key: glob };
}
