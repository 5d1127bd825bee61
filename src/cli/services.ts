/** `plexus services ls|info|stats [NAME]` — what the broker's registry holds, and what instances say. */
import { services, type InstanceRecord, type InstanceStats } from '../index.js';
import { UsageError, flag, int, positionals, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs } from './client.js';
import type { Command } from './command.js';
import { writeAll } from './output.js';

const NAME = 'services';

const options: OptionSpecs = {
  json: { type: 'boolean', help: 'print JSON instead of a table' },
  timeout: { type: 'string', arg: 'MS', help: 'how long to wait for instances to answer info/stats (default 2000)' },
};

/** Left-aligned columns, two spaces apart. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function since(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

function ls(instances: readonly InstanceRecord[]): string {
  if (instances.length === 0) return 'no services registered\n';
  const sorted = [...instances].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version) || a.id.localeCompare(b.id));
  return table(
    ['NAME', 'VERSION', 'ID', 'IDENTITY', 'CONNECTION', 'UP', 'HEALTH', 'ENDPOINTS'],
    sorted.map((i) => [i.name, i.version, i.id, i.identity, i.connId, since(i.started), i.health?.status ?? '-', i.endpoints.join(',')]),
  );
}

function statsTable(all: readonly InstanceStats[]): string {
  const rows: string[][] = [];
  for (const s of [...all].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))) {
    const endpoints = Object.entries(s.endpoints);
    if (endpoints.length === 0) rows.push([s.name, s.id, '-', '0', '0', '-']);
    for (const [endpoint, e] of endpoints) {
      rows.push([s.name, s.id, endpoint, String(e.requests), String(e.errors), e.requests > 0 ? e.averageMs.toFixed(2) : '-']);
    }
  }
  if (rows.length === 0) return 'no instances answered\n';
  return table(['NAME', 'ID', 'ENDPOINT', 'REQUESTS', 'ERRORS', 'AVG_MS'], rows);
}

async function run(args: ParsedArgs): Promise<number> {
  const [action, name] = positionals(args, NAME, ['ls|info|stats'], ['NAME']);
  if (action !== 'ls' && action !== 'info' && action !== 'stats') {
    throw new UsageError(`unknown action ${JSON.stringify(action)}; use ls, info or stats`, NAME);
  }
  const timeoutMs = int(args, NAME, 'timeout', 2000, 1, 600_000);
  const json = flag(args, 'json');
  const bus = await connectFromArgs(args, NAME, { reconnect: false });
  try {
    const dir = services(bus);
    let out: string;
    if (action === 'ls') {
      const list = await dir.list(name, { timeoutMs });
      out = json ? `${JSON.stringify(list, null, 2)}\n` : ls(list);
    } else if (action === 'info') {
      const infos = await dir.info(name, { timeoutMs });
      // INFO is the instances' own description: always JSON (metadata is free-form).
      out = `${JSON.stringify(infos, null, 2)}\n`;
    } else {
      const stats = await dir.stats(name, { timeoutMs });
      out = json ? `${JSON.stringify(stats, null, 2)}\n` : statsTable(stats);
    }
    await writeAll(process.stdout, out);
  } finally {
    await bus.close();
  }
  return 0;
}

export const servicesCommand: Command = {
  name: NAME,
  summary: 'list registered service instances, their info and their request stats',
  usage: ['services ls [NAME[@RANGE]] [--json]', 'services info [NAME]', 'services stats [NAME] [--json] [--timeout MS]'],
  description:
    'ls prints the broker registry (every instance, or those of NAME): version, id, the identity and connection that registered it, uptime, health (ok, or late when its connection has been silent for more than a heartbeat interval) and endpoints. info asks every instance (of NAME) for its description and prints the answers as JSON. stats asks every instance for its per-endpoint request counts, errors and average latency; instances that do not answer within --timeout are left out.',
  examples: ['plexus services ls', 'plexus services ls rides@^2 --json', 'plexus services stats rides'],
  options,
  client: true,
  run,
};
