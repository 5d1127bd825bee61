import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { DEFAULT_PORTS, hostOf } from '../transports/index.js';
import type { BrokerCounters } from './context.js';
import type { RegistryStatus } from './registry.js';

/** A snapshot of broker state served at /status. */
export interface BrokerStatus {
  readonly serverId: string;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly listening: readonly string[];
  readonly connections: number;
  readonly subscriptions: number;
  readonly trackedRequests: number;
  readonly counters: Readonly<BrokerCounters>;
  /** Messages per second in and out over the last sampling interval. */
  readonly rates: { readonly msgsInPerSec: number; readonly msgsOutPerSec: number };
  readonly clients: readonly {
    readonly connId: string;
    readonly identity: string;
    readonly name: string;
    readonly transport: string;
    readonly remote: string;
    /** Unix sockets: the peer's pid/uid/gid from the kernel, when known. */
    readonly peer?: { readonly pid: number; readonly uid: number; readonly gid: number };
    readonly subscriptions: number;
    readonly msgsIn: number;
    readonly msgsOut: number;
    readonly pendingBytes: number;
    readonly dropped: number;
  }[];
  /** Registered service instances (docs/discovery.md). */
  readonly registry: RegistryStatus;
}

/** A running monitor endpoint. */
export interface Monitor {
  readonly url: string;
  close(): Promise<void>;
}

const METRIC_HELP: Record<keyof BrokerCounters, [string, string]> = {
  msgsIn: ['plexus_messages_received_total', 'Messages published to the broker'],
  msgsOut: ['plexus_messages_delivered_total', 'Messages delivered to subscribers'],
  bytesIn: ['plexus_payload_bytes_received_total', 'Payload bytes published'],
  bytesOut: ['plexus_payload_bytes_delivered_total', 'Payload bytes delivered'],
  connectionsTotal: ['plexus_connections_total', 'Connections accepted since start'],
  authFailures: ['plexus_auth_failures_total', 'Failed or timed-out authentications'],
  protocolErrors: ['plexus_protocol_errors_total', 'Connections closed for protocol errors'],
  permissionDenied: ['plexus_permission_denied_total', 'Operations refused by permissions'],
  noResponders: ['plexus_no_responders_total', 'Requests with no responder'],
  slowConsumers: ['plexus_slow_consumer_events_total', 'Times a connection fell behind'],
  droppedMsgs: ['plexus_dropped_messages_total', 'Messages dropped by the drop policy'],
  heartbeatTimeouts: ['plexus_heartbeat_timeouts_total', 'Connections dropped for silence'],
};

/** Render a status snapshot in the Prometheus text exposition format. */
export function renderMetrics(s: BrokerStatus): string {
  const lines: string[] = [];
  for (const key of Object.keys(METRIC_HELP) as (keyof BrokerCounters)[]) {
    const [name, help] = METRIC_HELP[key];
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${s.counters[key]}`);
  }
  const gauges: [string, string, number][] = [
    ['plexus_connections', 'Open connections', s.connections],
    ['plexus_subscriptions', 'Active subscriptions', s.subscriptions],
    ['plexus_tracked_requests', 'Requests in flight tracked for cancellation', s.trackedRequests],
    ['plexus_uptime_seconds', 'Seconds since the broker started', s.uptimeSeconds],
    ['plexus_service_instances', 'Service instances in the registry', s.registry.instances],
  ];
  for (const [name, help, v] of gauges) lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v}`);
  lines.push('# HELP plexus_pending_bytes Outbound bytes queued per connection', '# TYPE plexus_pending_bytes gauge');
  for (const c of s.clients) lines.push(`plexus_pending_bytes{conn="${escapeLabel(c.connId)}",identity="${escapeLabel(c.identity)}"} ${c.pendingBytes}`);
  return lines.join('\n') + '\n';
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Serve `/metrics` and `/status` over HTTP. Only loopback addresses are accepted: the
 * endpoint has no authentication of its own.
 */
export async function startMonitor(address: string, status: () => BrokerStatus): Promise<Monitor> {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new PlexusError(ErrorCode.INVALID_URL, `monitor address ${JSON.stringify(address)} is not a URL`);
  }
  const host = hostOf(url);
  if (url.protocol !== 'http:' || !(host === '127.0.0.1' || host === '::1' || host === 'localhost')) {
    throw new PlexusError(ErrorCode.CONFIG, 'the monitor listens on http://127.0.0.1:PORT (loopback only)');
  }
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(status()));
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status(), null, 2));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /status or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(url.port === '' ? DEFAULT_PORTS.http : Number(url.port), host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
