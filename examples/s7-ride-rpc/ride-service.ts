/**
 * The ride service: `placeMyRide` asks the routing service for the shortest path and
 * prices the ride. It passes no timeout or signal to that call: the caller's remaining
 * time and cancellation travel along on their own.
 */
import { publishEvent, serveService, serviceClient, type Connection, type ServiceServer } from '../../src/index.js';
import { rides, routing } from './contracts.js';

const FARE_BASE = 3;
const FARE_PER_KM = 1.5;

/** Serve the ride service on `bus`. */
export function startRides(bus: Connection, say: (line: string) => void): ServiceServer {
  const routes = serviceClient(bus, routing, { version: '^1' });
  let next = 1;
  return serveService(bus, rides, {
    async placeMyRide({ rider, from, to }) {
      const route = await routes.shortestPath({ from, to });
      const rideId = `ride-${next++}`;
      const fare = Math.round((FARE_BASE + FARE_PER_KM * route.km) * 100) / 100;
      await publishEvent(bus, rides, 'rideBooked', { rideId, rider, km: route.km });
      say(`[rides] ${rideId} for ${rider}: ${route.km} km, fare ${fare}`);
      return { rideId, km: route.km, fare, path: route.path, routedBy: route.instance };
    },
  });
}
