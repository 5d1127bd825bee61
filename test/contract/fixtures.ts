/** Contracts shared by the contract tests: one written with zod, one with valibot. */
import * as v from 'valibot';
import { z } from 'zod';
import { defineService } from '../../src/contract/index.js';

const Point = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });

/** The ride service of S7, with zod schemas. */
export const rides = defineService('rides', {
  version: '2.1.0',
  methods: {
    shortestPath: {
      input: z.object({ from: Point, to: Point }),
      output: z.object({ km: z.number().nonnegative(), via: z.array(z.string()) }),
      idempotent: true,
      safe: true,
      timeoutMs: 2000,
    },
    book: {
      input: z.object({ rider: z.string().min(1), seats: z.number().int().default(1) }),
      output: z.object({ id: z.string(), seats: z.number() }),
    },
    echo: { input: z.unknown(), output: z.unknown() },
  },
  events: { rideBooked: z.object({ id: z.string(), rider: z.string() }) },
});

/** A small calculator with valibot schemas. */
export const calc = defineService('calc', {
  version: '1.0.0',
  codec: 'msgpack',
  methods: {
    add: {
      input: v.object({ a: v.number(), b: v.number() }),
      output: v.object({ sum: v.number() }),
    },
    upper: {
      input: v.pipe(v.string(), v.maxLength(10)),
      output: v.pipe(
        v.string(),
        v.transform((s) => s.toUpperCase()),
      ),
    },
  },
});
