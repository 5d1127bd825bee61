import type { Redis } from 'ioredis';

/** How long a claim key lives: long enough that every member has heard the message. */
const CLAIM_TTL_MS = 60_000;
/** A member that has claimed nothing for this long is left out of the rotation. */
export const MEMBER_STALE_MS = 3000;

/**
 * One atomic step per (member, message): refresh the caller in the group's member hash,
 * and if nobody has picked a winner for the message yet, pick the next live member in
 * turn (members sorted by id, a per-group counter) and store it. Returns 1 when the
 * caller is the winner. KEYS: members hash, winner key, counter. ARGV: member id.
 */
const CLAIM_LUA = `
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], t)
redis.call('PEXPIRE', KEYS[1], ${CLAIM_TTL_MS})
local w = redis.call('GET', KEYS[2])
if not w then
  local all = redis.call('HGETALL', KEYS[1])
  local live = {}
  for i = 1, #all, 2 do
    if t - tonumber(all[i + 1]) <= ${MEMBER_STALE_MS} then table.insert(live, all[i]) else redis.call('HDEL', KEYS[1], all[i]) end
  end
  table.sort(live)
  local n = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ${CLAIM_TTL_MS})
  w = live[(n % #live) + 1]
  redis.call('SET', KEYS[2], w, 'PX', ${CLAIM_TTL_MS})
end
if w == ARGV[1] then return 1 end
return 0
`;

/** Refresh a member's last-seen time (server clock, as the claim script reads it). KEYS: members hash. ARGV: member id. */
const JOIN_LUA = `
local now = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
redis.call('PEXPIRE', KEYS[1], ${CLAIM_TTL_MS})
return 1
`;

/** How often a member says it is alive while it receives nothing. */
const HEARTBEAT_MS = MEMBER_STALE_MS / 3;

type ClaimingRedis = Redis & {
  plexusQueueClaim(members: string, winner: string, counter: string, member: string): Promise<number>;
  plexusQueueJoin(members: string, member: string): Promise<number>;
};

/**
 * Queue groups on Redis pub/sub, which has none: every member of a group receives each
 * message and asks Redis (one Lua script) which member gets it; Redis picks live
 * members in turn, so exactly one member delivers each message and the load is shared.
 * Claims go out in arrival order on one connection and Redis answers in order, so each
 * member still delivers in publish order. A member that died is still picked until it
 * has been silent for {@link MEMBER_STALE_MS}: messages picked for it are lost
 * (at most once, like core NATS queue groups).
 */
export class QueueClaims {
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private readonly cmd: ClaimingRedis;
  /** Members of this connection: members-hash key → member ids. */
  private readonly joined = new Map<string, Set<string>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(cmd: Redis) {
    cmd.defineCommand('plexusQueueClaim', { numberOfKeys: 3, lua: CLAIM_LUA });
    cmd.defineCommand('plexusQueueJoin', { numberOfKeys: 1, lua: JOIN_LUA });
    this.cmd = cmd as ClaimingRedis;
  }

  /**
   * Put `member` in the rotation of `group` on `subject` now, and keep it there (a
   * heartbeat) until {@link leave}: a member that joined takes turns from the next message.
   */
  join(group: string, subject: string, member: string): Promise<unknown> {
    const key = membersKey(group, subject);
    let set = this.joined.get(key);
    if (!set) this.joined.set(key, (set = new Set()));
    set.add(member);
    this.heartbeat ??= setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
    return this.cmd.plexusQueueJoin(key, member);
  }

  /** Take every member of this connection out of its rotation now (the connection is closing). */
  leaveAll(): void {
    for (const [key, members] of this.joined) this.cmd.hdel(key, ...members).catch(() => undefined);
    this.stop();
  }

  /** Stop every heartbeat (the connection closed). */
  stop(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.joined.clear();
  }

  private beat(): void {
    for (const [key, members] of this.joined) for (const m of members) this.cmd.plexusQueueJoin(key, m).catch(() => undefined);
  }

  /**
   * Claim message `id` for `member` of `group` on `subject`; `then(true)` for the winner
   * only (a failed claim delivers nothing).
   */
  claim(group: string, subject: string, member: string, id: string, then: (won: boolean) => void): void {
    this.outstanding++;
    const base = groupKey(group, subject);
    this.cmd.plexusQueueClaim(`${base}:m`, `${base}:w:${id}`, `${base}:n`, member).then(
      (r) => this.done(() => then(r === 1)),
      () => this.done(() => then(false)),
    );
  }

  /** Take `member` out of the rotation now (it unsubscribed). */
  leave(group: string, subject: string, member: string): void {
    const key = membersKey(group, subject);
    const set = this.joined.get(key);
    set?.delete(member);
    if (set?.size === 0) this.joined.delete(key);
    if (this.joined.size === 0) this.stop();
    this.cmd.hdel(key, member).catch(() => undefined);
  }

  /** Resolves when every claim sent so far has been answered. */
  idle(): Promise<void> {
    return this.outstanding === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  private done(deliver: () => void): void {
    deliver();
    if (--this.outstanding === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }
}

/** Key prefix of one group on one subject (hash-tagged: its keys share a cluster slot). */
function groupKey(group: string, subject: string): string {
  return `plx:qg:{${group}:${subject}}`;
}

function membersKey(group: string, subject: string): string {
  return `${groupKey(group, subject)}:m`;
}
