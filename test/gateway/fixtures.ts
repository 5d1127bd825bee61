/** A small service (zod and valibot schemas) served on a test broker, behind a gateway. */
import * as v from 'valibot';
import { z } from 'zod';
import { defineService, serveService, ServiceError, type HandlerContext } from '../../src/contract/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/index.js';
import type { Connection } from '../../src/client/index.js';
import { startTestBroker, type Cleanup } from '../helpers/plexus.js';

export const catalog = defineService('catalog', {
  version: '1.2.0',
  description: 'Things for sale',
  methods: {
    search: {
      input: z.object({ q: z.string().min(1), limit: z.number().int().min(1).max(50).optional(), inStock: z.boolean().optional(), tags: z.array(z.string()).optional() }),
      output: z.object({ items: z.array(z.object({ id: z.number(), name: z.string() })), echo: z.unknown() }),
      safe: true,
      description: 'Find items by name',
    },
    buy: {
      input: z.object({ id: z.number().int(), qty: z.number().int().min(1) }),
      output: z.object({ order: z.string(), caller: z.string().optional(), headers: z.record(z.string(), z.string()) }),
    },
    slow: { input: z.object({ ms: z.number() }), output: z.object({ done: z.boolean() }), safe: true },
    fail: { input: z.object({ code: z.string() }), output: z.null() },
  },
});

export const stock = defineService('stock', {
  version: '0.1.0',
  methods: {
    level: {
      input: v.object({ sku: v.pipe(v.string(), v.minLength(3)), warehouse: v.optional(v.picklist(['north', 'south'])) }),
      output: v.object({ sku: v.string(), level: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
      safe: true,
    },
  },
});

/** Defined but never served: calls find no responders. */
export const ghost = defineService('ghost', {
  version: '1.0.0',
  methods: {
    boo: { input: z.object({}), output: z.object({}) },
    upload: { input: z.object({ chunk: z.string() }), output: z.object({ n: z.number() }), stream: 'client' },
  },
});

/** A server-streaming method: NDJSON over HTTP. */
export const ticker = defineService('ticker', {
  version: '1.0.0',
  methods: {
    count: {
      input: z.object({ to: z.number().int().min(0).max(100_000), failAt: z.number().int().optional(), size: z.number().int().optional() }),
      output: z.object({ i: z.number(), pad: z.string().optional() }),
      stream: 'server',
      safe: true,
    },
  },
});

/** What the slow handler saw when it was aborted. */
export interface Observed {
  aborted: unknown;
  slowStarted: number;
  /** The last item the ticker produced. */
  ticks: number;
  /** The service's log lines (unexpected handler errors land here, not on stderr). */
  logs: Record<string, unknown>[];
}

export async function startCatalog(cleanup: Cleanup, gatewayOptions: Partial<GatewayOptions> = {}): Promise<{ gateway: Gateway; observed: Observed; busIdentity: string; svcBus: Connection }> {
  const b = await startTestBroker(cleanup, { auth: { users: [{ user: 'gw', token: 'gw-token' }, { user: 'svc', token: 'svc-token' }] } });
  const svcBus = await b.connect({ token: 'svc-token' });
  const gwBus = await b.connect({ token: 'gw-token' });
  const observed: Observed = { aborted: undefined, slowStarted: 0, ticks: 0, logs: [] };
  const server = serveService(svcBus, catalog, {
    search: async (input) => ({ items: input.q === 'none' ? [] : [{ id: 1, name: `${input.q} one` }].slice(0, input.limit ?? 10), echo: input }),
    buy: async (input, ctx: HandlerContext) => {
      if (input.id === 404) throw new ServiceError('ITEM_NOT_FOUND', `no item ${input.id}`, { id: input.id });
      return { order: `o-${input.id}-${input.qty}`, caller: ctx.caller, headers: { ...ctx.headers } };
    },
    slow: async (input, ctx) => {
      observed.slowStarted++;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, input.ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          observed.aborted = ctx.signal.reason;
          reject(ctx.signal.reason as Error);
        }, { once: true });
      });
      return { done: true };
    },
    fail: async (input) => {
      if (input.code === 'plexus') throw new PlexusError(ErrorCode.PERMISSION_DENIED, 'no');
      if (input.code === 'bug') throw new TypeError('secret internals');
      throw new ServiceError(input.code, `failed with ${input.code}`);
    },
  }, { log: (level, message, fields) => observed.logs.push({ level, message, ...fields }) });
  cleanup.defer(() => server.close());
  const stockServer = serveService(svcBus, stock, { level: async (input) => ({ sku: input.sku, level: input.warehouse === 'south' ? 0 : 7 }) });
  cleanup.defer(() => stockServer.close());
  const tickerServer = serveService(svcBus, ticker, {
    count: async function* ({ to, failAt, size }, ctx) {
      for (let i = 1; i <= to; i++) {
        if (ctx.signal.aborted) return;
        if (i === failAt) throw new ServiceError('TICKER_JAMMED', `jammed at ${i}`, { i });
        observed.ticks = i;
        yield size ? { i, pad: 'x'.repeat(size) } : { i };
      }
    },
  });
  cleanup.defer(() => tickerServer.close());
  const gateway = await startGateway({ bus: gwBus, services: [catalog, stock, ghost, ticker], ...gatewayOptions });
  cleanup.defer(() => gateway.close());
  return { gateway, observed, busIdentity: 'gw', svcBus };
}

/** fetch + parse, bounded. */
export async function call(
  url: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const { json, ...rest } = init;
  const res = await fetch(url, {
    ...rest,
    ...(json !== undefined ? { method: rest.method ?? 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json', ...(rest.headers as Record<string, string> | undefined) } } : {}),
    signal: rest.signal ?? AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}
