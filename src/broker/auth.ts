import { readFile } from 'node:fs/promises';
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { patternCovers, patternsIntersect, subjectMatches, subjectProblem } from '../wire/index.js';

/** Allow/deny subject lists. Deny wins; an absent `allow` allows everything. */
export interface SubjectRules {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** What one user may do. */
export interface Permissions {
  readonly publish?: SubjectRules;
  readonly subscribe?: SubjectRules;
}

/** One user entry in the auth config. Exactly one of password, passwordHash or token. */
export interface UserConfig {
  readonly user: string;
  /** Plain password (prefer `passwordHash`). */
  readonly password?: string;
  /** `scrypt:<salt base64>:<hash base64>`, as printed by `plexus passwd`. */
  readonly passwordHash?: string;
  /** A bearer token that authenticates as this user. */
  readonly token?: string;
  /**
   * This user signs in only with a client certificate (mTLS) whose CN is `user`; it needs
   * no password or token. Without this flag a user with neither is a config error, so a
   * forgotten password cannot silently turn into certificate-only access.
   */
  readonly certificate?: boolean;
  /**
   * Unix-socket connections from processes running as this uid (the kernel's SO_PEERCRED,
   * not a claim) sign in as this user without credentials. Needs the shared-memory addon.
   */
  readonly uid?: number;
  readonly permissions?: Permissions;
}

/** The auth section of the broker config (also loadable from a JSON file). */
export interface AuthConfig {
  readonly users: readonly UserConfig[];
  /**
   * Let connections without credentials in (as identity `anonymous`) with these
   * permissions. Omit to refuse them.
   */
  readonly anonymous?: Permissions;
}

/** An authenticated principal. */
export interface Principal {
  readonly identity: string;
  readonly permissions: CompiledPermissions;
}

/** Credentials a client presents in HELLO. */
export interface Credentials {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

/** Permission checks with a per-subject cache (publish checks run per message). */
export class CompiledPermissions {
  private readonly pubCache = new Map<string, boolean>();

  constructor(private readonly rules: Permissions | undefined) {}

  /** Everything allowed: skip checks on the hot path. */
  get unrestricted(): boolean {
    return this.rules === undefined || (this.rules.publish === undefined && this.rules.subscribe === undefined);
  }

  canPublish(subject: string): boolean {
    const rules = this.rules?.publish;
    if (!rules) return true;
    const hit = this.pubCache.get(subject);
    if (hit !== undefined) return hit;
    const ok =
      !(rules.deny ?? []).some((p) => subjectMatches(p, subject)) &&
      (rules.allow === undefined || rules.allow.some((p) => subjectMatches(p, subject)));
    if (this.pubCache.size > 4096) this.pubCache.clear();
    this.pubCache.set(subject, ok);
    return ok;
  }

  /** A subscription pattern is allowed if an allow pattern covers it and no deny pattern overlaps it. */
  canSubscribe(pattern: string): boolean {
    const rules = this.rules?.subscribe;
    if (!rules) return true;
    if ((rules.deny ?? []).some((d) => patternsIntersect(d, pattern))) return false;
    return rules.allow === undefined || rules.allow.some((a) => patternCovers(a, pattern));
  }
}

const OPEN = new CompiledPermissions(undefined);

/** Decides who a HELLO is. */
export class Authenticator {
  private readonly byUser = new Map<string, UserConfig>();
  private readonly byToken = new Map<string, UserConfig>();
  private readonly byUid = new Map<number, UserConfig>();
  private readonly compiled = new Map<string, CompiledPermissions>();
  private readonly anonymous: CompiledPermissions | undefined;

  /** `config` undefined: no auth at all (everyone is `anonymous` with every permission). */
  constructor(config: AuthConfig | undefined) {
    if (!config) {
      this.anonymous = OPEN;
      return;
    }
    validateAuthConfig(config);
    for (const u of config.users) {
      this.byUser.set(u.user, u);
      if (u.token) this.byToken.set(tokenKey(u.token), u);
      if (u.uid !== undefined) this.byUid.set(u.uid, u);
      this.compiled.set(u.user, new CompiledPermissions(u.permissions));
    }
    this.anonymous = config.anonymous ? new CompiledPermissions(config.anonymous) : undefined;
  }

  /** Whether credentials are required. */
  get required(): boolean {
    return this.anonymous === undefined;
  }

  /** An in-process service the broker's owner vouches for: every permission, no credentials. */
  trusted(identity: string): Principal {
    return { identity, permissions: OPEN };
  }

  /** Authenticate; throws PLEXUS_ERR_AUTH_FAILED with a message that does not say which part was wrong. */
  authenticate(creds: Credentials, certSubject?: string, peerUid?: number): Principal {
    if (creds.token !== undefined) {
      const u = this.byToken.get(tokenKey(creds.token));
      if (u) return { identity: u.user, permissions: this.compiled.get(u.user)! };
      throw new PlexusError(ErrorCode.AUTH_FAILED, 'authentication failed');
    }
    if (creds.user !== undefined) {
      const u = this.byUser.get(creds.user);
      if (u && checkPassword(u, creds.pass ?? '')) return { identity: u.user, permissions: this.compiled.get(u.user)! };
      throw new PlexusError(ErrorCode.AUTH_FAILED, 'authentication failed');
    }
    if (certSubject !== undefined) {
      // mTLS: a verified client certificate whose CN names a configured user.
      const u = this.byUser.get(certSubject);
      if (u) return { identity: u.user, permissions: this.compiled.get(u.user)! };
    }
    if (peerUid !== undefined) {
      // Unix peer credentials come from the kernel: a configured uid is proof enough.
      const u = this.byUid.get(peerUid);
      if (u) return { identity: u.user, permissions: this.compiled.get(u.user)! };
    }
    if (this.anonymous) {
      return { identity: certSubject !== undefined ? `cn:${certSubject}` : 'anonymous', permissions: this.anonymous };
    }
    throw new PlexusError(ErrorCode.AUTH_FAILED, 'credentials required');
  }
}

/** Read an auth config from a JSON file. */
export async function loadAuthConfig(path: string): Promise<AuthConfig> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    throw new PlexusError(ErrorCode.CONFIG, `cannot read auth config ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new PlexusError(ErrorCode.CONFIG, `auth config ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const cfg = parsed as AuthConfig;
  validateAuthConfig(cfg);
  return cfg;
}

/** Make a `scrypt:` password hash for the config file. */
export function hashPassword(password: string, salt: Buffer = randomBytes(16)): string {
  const hash = scryptSync(password, salt, 32);
  return `scrypt:${salt.toString('base64')}:${hash.toString('base64')}`;
}

function checkPassword(u: UserConfig, pass: string): boolean {
  if (u.passwordHash) {
    const [kind, salt64, hash64] = u.passwordHash.split(':');
    if (kind !== 'scrypt' || !salt64 || !hash64) return false;
    const want = Buffer.from(hash64, 'base64');
    // An empty hash would compare equal to scrypt's empty output for every password.
    if (want.length < 16) return false;
    const got = scryptSync(pass, Buffer.from(salt64, 'base64'), want.length);
    return timingSafeEqual(want, got);
  }
  if (u.password === undefined) return false;
  return safeEqual(u.password, pass);
}

function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** Tokens are looked up by hash so a Map probe does not leak their bytes through timing. */
function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

/**
 * Check a config before anything uses it. A config file is untrusted JSON: every field
 * is type-checked here so a bad one fails at load time with PLEXUS_ERR_CONFIG instead of
 * throwing a TypeError inside the broker later (a string where a pattern list belongs
 * used to pass — iterating its characters — and then crashed the broker on the first
 * publish; a non-string password crashed the HELLO handler).
 */
function validateAuthConfig(cfg: AuthConfig): void {
  const bad = (msg: string): never => {
    throw new PlexusError(ErrorCode.CONFIG, `auth config: ${msg}`);
  };
  if (typeof cfg !== 'object' || cfg === null || !Array.isArray(cfg.users)) bad('"users" must be an array');
  const seen = new Set<string>();
  const uids = new Set<number>();
  const tokens = new Set<string>();
  for (const u of cfg.users as readonly unknown[] as readonly UserConfig[]) {
    if (typeof u !== 'object' || u === null || Array.isArray(u)) bad('every entry of "users" must be an object');
    if (typeof u.user !== 'string' || u.user === '') bad('every user needs a non-empty "user"');
    if (seen.has(u.user)) bad(`user ${u.user} appears twice`);
    seen.add(u.user);
    const ways = [u.password, u.passwordHash, u.token].filter((x) => x !== undefined).length;
    if (u.certificate !== undefined && typeof u.certificate !== 'boolean') bad(`user ${u.user}: "certificate" must be true or false`);
    if (u.uid !== undefined && !(Number.isInteger(u.uid) && u.uid >= 0)) bad(`user ${u.user}: "uid" must be a non-negative integer`);
    if (u.uid !== undefined && uids.has(u.uid)) bad(`uid ${u.uid} is given to two users`);
    if (u.uid !== undefined) uids.add(u.uid);
    if (ways === 0 && u.certificate !== true && u.uid === undefined) {
      bad(`user ${u.user} needs a password, passwordHash or token (or "certificate": true for mTLS only, or a "uid" for Unix sockets)`);
    }
    for (const key of ['password', 'passwordHash', 'token'] as const) {
      const v = u[key];
      if (v !== undefined && (typeof v !== 'string' || v === '')) bad(`user ${u.user}: "${key}" must be a non-empty string`);
    }
    if (u.passwordHash !== undefined && !validPasswordHash(u.passwordHash)) {
      bad(`user ${u.user}: "passwordHash" must be scrypt:<salt base64>:<hash base64> as made by hashPassword`);
    }
    if (u.token !== undefined) {
      // Two users with one token: whoever was loaded last would silently win.
      const k = tokenKey(u.token);
      if (tokens.has(k)) bad(`user ${u.user}: its token is also another user's token`);
      tokens.add(k);
    }
    validatePermissions(u.permissions, `user ${u.user}`, bad);
  }
  // The anonymous permissions are used just like a user's: check them the same way.
  if (cfg.anonymous !== undefined) validatePermissions(cfg.anonymous, 'anonymous', bad);
}

function validatePermissions(perms: unknown, who: string, bad: (msg: string) => never): void {
  if (perms === undefined) return;
  if (typeof perms !== 'object' || perms === null || Array.isArray(perms)) bad(`${who}: permissions must be an object`);
  for (const kind of ['publish', 'subscribe'] as const) {
    const rules = (perms as Permissions)[kind] as unknown;
    if (rules === undefined) continue;
    if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) bad(`${who}: "${kind}" must be an object`);
    for (const listName of ['allow', 'deny'] as const) {
      const list = (rules as SubjectRules)[listName] as unknown;
      if (list === undefined) continue;
      if (!Array.isArray(list)) bad(`${who}: ${kind}.${listName} must be an array of subject patterns`);
      for (const p of list as unknown[]) {
        const problem = typeof p === 'string' ? subjectProblem(p, true) : 'not a string';
        if (problem) bad(`${who}: ${kind} pattern ${JSON.stringify(p)}: ${problem}`);
      }
    }
  }
}

/** `scrypt:<salt>:<hash>` with a salt and a hash of sensible lengths. */
function validPasswordHash(h: string): boolean {
  const [kind, salt64, hash64, extra] = h.split(':');
  if (kind !== 'scrypt' || !salt64 || !hash64 || extra !== undefined) return false;
  const hashLen = Buffer.from(hash64, 'base64').length;
  return Buffer.from(salt64, 'base64').length >= 8 && hashLen >= 16 && hashLen <= 64;
}
