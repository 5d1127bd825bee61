/**
 * Plexus subjects ↔ MQTT topics. Tokens become topic levels (`a.b.c` ↔ `a/b/c`), `*`
 * becomes `+` and `>` becomes `#`. MQTT's `#` also matches the parent level (`a/#`
 * matches `a`) where Plexus `a.>` does not, so wildcard deliveries are re-checked
 * against the Plexus subject on arrival.
 */
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { checkSubject } from '../common/checks.js';

/** Characters MQTT gives a meaning in topics (level separator, wildcards) or forbids (NUL). */
const MQTT_SPECIAL = /[/+#]/;

function hasSpecial(s: string): boolean {
  return MQTT_SPECIAL.test(s) || s.includes('\0');
}

/** MQTT's limit on a topic's UTF-8 length. */
const MAX_TOPIC_BYTES = 65_535;

/**
 * Throws PLEXUS_ERR_INVALID_SUBJECT unless `subject` is a valid Plexus subject MQTT can
 * carry: no `/`, `+`, `#` or NUL, not starting with `$` (reserved for broker topics
 * such as `$SYS` and `$share`), at most 65535 bytes as a topic.
 */
export function checkMqttSubject(subject: string, wildcards: boolean): void {
  checkSubject(subject, wildcards);
  if (hasSpecial(subject)) {
    throw new PlexusError(ErrorCode.INVALID_SUBJECT, `subject ${JSON.stringify(subject)} contains '/', '+', '#' or NUL, which MQTT topics cannot carry as data`);
  }
  if (subject.startsWith('$')) {
    throw new PlexusError(ErrorCode.INVALID_SUBJECT, `subject ${JSON.stringify(subject)} starts with '$', which MQTT reserves for broker topics`);
  }
  if (Buffer.byteLength(subject) > MAX_TOPIC_BYTES) {
    throw new PlexusError(ErrorCode.INVALID_SUBJECT, `subject is longer than MQTT's ${MAX_TOPIC_BYTES}-byte topic limit`);
  }
}

/** The MQTT topic (or topic filter, for a wildcard subject) of a checked subject. */
export function subjectToTopic(subject: string): string {
  let out = '';
  for (const token of subject.split('.')) {
    if (out !== '') out += '/';
    out += token === '*' ? '+' : token === '>' ? '#' : token;
  }
  return out;
}

/** The Plexus subject of a received MQTT topic (levels joined with `.`). */
export function topicToSubject(topic: string): string {
  return topic.replaceAll('/', '.');
}

/** True when the subject has a wildcard token, so its MQTT filter may match more than Plexus would. */
export function hasWildcard(subject: string): boolean {
  return subject.split('.').some((t) => t === '*' || t === '>');
}

/** The MQTT 5 shared-subscription filter for a queue group: `$share/<group>/<filter>`. */
export function sharedFilter(group: string, filter: string): string {
  if (group === '' || hasSpecial(group)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `queue group ${JSON.stringify(group)} must be non-empty without '/', '+', '#' or NUL (an MQTT share name)`);
  }
  return `$share/${group}/${filter}`;
}
