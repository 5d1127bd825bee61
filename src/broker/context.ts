import type { Authenticator } from './auth.js';
import type { ResolvedBrokerOptions } from './options.js';
import type { RequestTracker } from './requests.js';
import type { Registry } from './registry.js';
import type { Router } from './router.js';
import type { Session } from './session.js';

/** Counters the broker keeps for /status and /metrics. */
export interface BrokerCounters {
  msgsIn: number;
  msgsOut: number;
  bytesIn: number;
  bytesOut: number;
  connectionsTotal: number;
  authFailures: number;
  protocolErrors: number;
  permissionDenied: number;
  noResponders: number;
  slowConsumers: number;
  droppedMsgs: number;
  heartbeatTimeouts: number;
}

/** What a session needs from the broker that owns it. */
export interface BrokerContext {
  readonly options: ResolvedBrokerOptions;
  readonly serverId: string;
  readonly auth: Authenticator;
  readonly router: Router<Session>;
  readonly requests: RequestTracker;
  /** Service instances registered by clients (registry.ts). */
  readonly registry: Registry;
  readonly counters: BrokerCounters;
  readonly shuttingDown: boolean;
  /** Publish a broker advisory (JSON) on `$SYS.ADVISORY.<kind>`. */
  advisory(kind: string, data: Record<string, unknown>): void;
  sessionOpened(session: Session): void;
  /** Called once per session, opened or not. */
  sessionClosed(session: Session, wasOpen: boolean): void;
}

export function newCounters(): BrokerCounters {
  return {
    msgsIn: 0,
    msgsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    connectionsTotal: 0,
    authFailures: 0,
    protocolErrors: 0,
    permissionDenied: 0,
    noResponders: 0,
    slowConsumers: 0,
    droppedMsgs: 0,
    heartbeatTimeouts: 0,
  };
}
