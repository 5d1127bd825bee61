/**
 * Subjects discovery uses besides the broker's registry subjects (`$PLX.REG.*`, see
 * src/broker/registry.ts): the `$SRV` verbs every registered instance answers, and the
 * per-instance subjects that let a client address one instance directly.
 */

/** What an instance answers on `$SRV.<verb>[.<name>[.<id>]]`. */
export const SrvVerb = {
  /** Liveness: `{ name, id, version }`. */
  PING: 'PING',
  /** The instance's description: its registry record as it knows it. */
  INFO: 'INFO',
  /** Per-method request counts, errors and latency. */
  STATS: 'STATS',
} as const;

/** One of the `$SRV` verbs. */
export type SrvVerb = (typeof SrvVerb)[keyof typeof SrvVerb];

/**
 * `$SRV.<verb>`, `$SRV.<verb>.<name>` or `$SRV.<verb>.<name>.<id>`: every instance, every
 * instance of a name, or one instance.
 */
export function srvSubject(verb: SrvVerb, name?: string, id?: string): string {
  if (name === undefined) return `$SRV.${verb}`;
  return id === undefined ? `$SRV.${verb}.${name}` : `$SRV.${verb}.${name}.${id}`;
}

/** Prefix of per-instance subjects. */
export const INSTANCE_PREFIX = '$PLX.I';

/**
 * The subject on which only instance `id` answers what it serves on `subject`
 * (`$PLX.I.<id>.<subject>`): used by least-pending balancing, narrow version ranges and
 * intent choosers.
 */
export function instanceSubject(id: string, subject: string): string {
  return `${INSTANCE_PREFIX}.${id}.${subject}`;
}
