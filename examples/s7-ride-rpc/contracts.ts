/**
 * The two contracts of S7: a routing service that computes shortest paths, and a ride
 * service whose `placeMyRide` calls it. Both sides import these; the types of every call
 * and handler come from the zod schemas.
 */
import { z } from 'zod';
import { defineService } from '../../src/index.js';

/** Places on the demo map. */
export const Place = z.enum(['home', 'park', 'station', 'market', 'harbor', 'airport', 'moon']);
export type Place = z.infer<typeof Place>;

export const routing = defineService('routing', {
  version: '1.4.0',
  methods: {
    shortestPath: {
      input: z.object({ from: Place, to: Place }),
      output: z.object({ km: z.number().nonnegative(), path: z.array(Place), instance: z.string() }),
      idempotent: true, // safe to retry: no side effects
      safe: true,
      timeoutMs: 2000,
    },
  },
});

export const rides = defineService('rides', {
  version: '2.0.0',
  methods: {
    placeMyRide: {
      input: z.object({ rider: z.string().min(1), from: Place, to: Place }),
      output: z.object({ rideId: z.string(), km: z.number(), fare: z.number(), path: z.array(Place), routedBy: z.string() }),
    },
  },
  events: {
    rideBooked: z.object({ rideId: z.string(), rider: z.string(), km: z.number() }),
  },
});
