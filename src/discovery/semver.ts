/**
 * Just enough semantic versioning to pick service instances by version range, without a
 * dependency: `^1.2.3`, `~1.2`, `1.x`, `1.2.*`, `*`, exact `1.2.3`, comparators
 * (`>=1.2.0`, `>`, `<`, `<=`, `=`), space-separated conjunctions (`>=1.2 <2`) and `||`.
 * Pre-release versions sort before their release; a range only matches a pre-release
 * when it names one itself (as npm's semver does).
 */
import { ErrorCode, PlexusError } from '../errors/index.js';

/** A parsed `major.minor.patch[-pre]` version. */
export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Dot-separated pre-release identifiers, empty for a release. */
  readonly pre: readonly string[];
}

const VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
/** A partial version in a range: missing or wildcard parts are `undefined`. */
const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
const MAX_RANGE_LENGTH = 256;

/** Parse a version; undefined when it is not `major.minor.patch[-pre][+build]`. */
export function parseVersion(text: string): SemVer | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] };
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareVersions(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  if (a.pre.length === 0 || b.pre.length === 0) return (a.pre.length === 0 ? 1 : 0) - (b.pre.length === 0 ? 1 : 0);
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx - ny;
    } else if (nx !== undefined) return -1;
    else if (ny !== undefined) return 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

type Op = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  readonly op: Op;
  readonly v: SemVer;
}

/** A compiled version range: test versions with {@link VersionRange.test}. */
export class VersionRange {
  private constructor(
    readonly source: string,
    /** Alternatives (`||`), each a conjunction of comparators. */
    private readonly sets: readonly (readonly Comparator[])[],
  ) {}

  /**
   * Compile `range`.
   * @throws PLEXUS_ERR_INVALID_ARGUMENT when it is not a range this parser knows.
   */
  static parse(range: string): VersionRange {
    if (typeof range !== 'string' || range.length > MAX_RANGE_LENGTH) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `a version range is a string of at most ${MAX_RANGE_LENGTH} characters`);
    }
    const sets = range.split('||').map((alt) => {
      const parts = alt.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter((p) => p !== '');
      if (parts.length === 0) return []; // '' and '*' alike: anything
      return parts.flatMap((p) => comparatorsOf(p, range));
    });
    return new VersionRange(range, sets);
  }

  /** Does `version` (text or parsed) satisfy the range? Unparseable versions never do. */
  test(version: string | SemVer): boolean {
    const v = typeof version === 'string' ? parseVersion(version) : version;
    if (!v) return false;
    return this.sets.some((set) => {
      if (!set.every((c) => holds(c, v))) return false;
      // A pre-release matches only a comparator that names a pre-release of the same release.
      if (v.pre.length === 0) return true;
      return set.some((c) => c.v.pre.length > 0 && c.v.major === v.major && c.v.minor === v.minor && c.v.patch === v.patch);
    });
  }

  toString(): string {
    return this.source;
  }
}

/** Does `version` satisfy `range`? (Compiles the range each time; keep a VersionRange for loops.) */
export function satisfies(version: string, range: string): boolean {
  return VersionRange.parse(range).test(version);
}

function holds(c: Comparator, v: SemVer): boolean {
  const d = compareVersions(v, c.v);
  switch (c.op) {
    case '<':
      return d < 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '>=':
      return d >= 0;
    case '=':
      return d === 0;
  }
}

function comparatorsOf(part: string, range: string): Comparator[] {
  const bad = (): never => {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `version range ${JSON.stringify(range)}: cannot read ${JSON.stringify(part)}`);
  };
  const m = /^(>=|<=|>|<|=|\^|~)?(.*)$/.exec(part)!;
  const op = m[1] ?? '';
  const p = PARTIAL.exec(m[2]!) ?? bad();
  const num = (s: string | undefined): number | undefined => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const major = num(p[1]);
  const minor = major === undefined ? undefined : num(p[2]);
  const patch = minor === undefined ? undefined : num(p[3]);
  const pre = p[4] && patch !== undefined ? p[4].split('.') : [];
  const ver = (a: number, b = 0, c = 0, q: readonly string[] = []): SemVer => ({ major: a, minor: b, patch: c, pre: q });
  if (major === undefined) return op === '<' || op === '>' ? [{ op: '<', v: ver(0, 0, 0, ['0']) }] : [];
  const low = ver(major, minor ?? 0, patch ?? 0, pre);
  // The first version past the partial one: 1 → 2.0.0, 1.2 → 1.3.0, 1.2.3 → itself.
  const next = minor === undefined ? ver(major + 1) : patch === undefined ? ver(major, minor + 1) : undefined;
  const upTo = (v: SemVer): Comparator => ({ op: '<', v: { ...v, pre: ['0'] } });
  switch (op) {
    case '':
    case '=':
      return next ? [{ op: '>=', v: low }, upTo(next)] : [{ op: '=', v: low }];
    case '>=':
      return [{ op: '>=', v: low }];
    case '<':
      return [{ op: '<', v: next ? { ...low, pre: ['0'] } : low }];
    case '>':
      return next ? [{ op: '>=', v: next }] : [{ op: '>', v: low }];
    case '<=':
      return next ? [upTo(next)] : [{ op: '<=', v: low }];
    case '~':
      return [{ op: '>=', v: low }, upTo(minor === undefined ? ver(major + 1) : ver(major, minor + 1))];
    case '^': {
      // The left-most non-zero part may not change: ^1.2.3 <2, ^0.2.3 <0.3, ^0.0.3 <0.0.4.
      const ceiling =
        major > 0 || minor === undefined
          ? ver(major + 1)
          : minor > 0 || patch === undefined
            ? ver(0, minor + 1)
            : ver(0, 0, patch + 1);
      return [{ op: '>=', v: low }, upTo(ceiling)];
    }
    default:
      return bad();
  }
}
