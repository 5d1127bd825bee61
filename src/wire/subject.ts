/**
 * Subject syntax: tokens separated by '.', each non-empty, no whitespace or control
 * characters. In subscriptions `*` matches exactly one token and `>` (last token only)
 * matches one or more; publish subjects may not contain either.
 */

/** Longest subject accepted, in UTF-16 units (bytes are checked by the frame limits). */
export const MAX_SUBJECT_LENGTH = 1024;

/** Why a subject is invalid, or undefined when it is fine. */
export function subjectProblem(subject: string, allowWildcards: boolean): string | undefined {
  const n = subject.length;
  if (n === 0) return 'subject is empty';
  if (n > MAX_SUBJECT_LENGTH) return `subject is longer than ${MAX_SUBJECT_LENGTH} characters`;
  let tokenStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : subject.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - tokenStart;
      if (len === 0) return 'subject has an empty token';
      if (len === 1) {
        const t = subject.charCodeAt(tokenStart);
        if (t === 0x2a || t === 0x3e) {
          if (!allowWildcards) return 'wildcards are not allowed here';
          if (t === 0x3e && i !== n) return "'>' must be the last token";
        }
      }
      tokenStart = i + 1;
      continue;
    }
    if (c <= 0x20 || c === 0x7f) return 'subject contains whitespace or a control character';
    if ((c === 0x2a || c === 0x3e) && !(i === tokenStart && (i + 1 === n || subject.charCodeAt(i + 1) === 0x2e))) {
      return "'*' and '>' must be whole tokens";
    }
  }
  return undefined;
}

/** True if `subject` has a wildcard token. */
export function hasWildcard(subject: string): boolean {
  return subject.split('.').some((t) => t === '*' || t === '>');
}

/** Does the (possibly wildcard) `pattern` match the literal `subject`? */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Does `outer` match every subject that `inner` can match? (both may have wildcards) */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const n = inner.split('.');
  for (let i = 0; i < o.length; i++) {
    const t = o[i];
    if (t === '>') return n.length > i;
    if (i >= n.length) return false;
    const u = n[i];
    if (u === '>') return false;
    if (t === '*') continue;
    if (t !== u) return false;
  }
  return o.length === n.length;
}

/** Can some subject match both patterns? */
export function patternsIntersect(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const s = x[i];
    const t = y[i];
    if (s === '>' && t !== undefined) return true;
    if (t === '>' && s !== undefined) return true;
    if (s === undefined || t === undefined) return s === t;
    if (s !== '*' && t !== '*' && s !== t) return false;
  }
}
