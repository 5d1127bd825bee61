/**
 * Server-streaming methods over HTTP as NDJSON: one JSON value per line, written as the
 * service produces them, with the HTTP client's own backpressure (a full socket pauses
 * reading from the service, which pauses the service through the stream's credit).
 *
 * The first item is awaited before the status is sent, so errors that happen before any
 * output (validation, no responders, a handler that fails at once) still get their
 * proper status. An error after that can only be reported in the body: the last line is
 * then `{"error":{"code":…,"message":…,"details":…}}`.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { errorResponse, type StatusOverrides } from './status.js';

/** Content type of a streamed answer. */
export const NDJSON_CONTENT_TYPE = 'application/x-ndjson; charset=utf-8';

/** Write `items` to `res` as NDJSON; rejects (before anything is sent) if the first item fails. */
export async function sendNdjson(res: ServerResponse, items: AsyncIterable<unknown>, signal: AbortSignal, overrides: StatusOverrides): Promise<void> {
  const it = items[Symbol.asyncIterator]();
  let done = false;
  try {
    let next = await it.next();
    res.writeHead(200, { 'content-type': NDJSON_CONTENT_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    try {
      while (!next.done) {
        if (!res.write(`${JSON.stringify(next.value ?? null)}\n`)) await drained(res, signal);
        next = await it.next();
      }
      done = true;
    } catch (err) {
      if (signal.aborted || res.destroyed) return; // the client is gone: nobody to tell
      res.write(`${JSON.stringify({ error: errorResponse(err, overrides).body })}\n`);
    }
    res.end();
  } finally {
    // Stops the service's stream when we leave early (error, hang-up).
    if (!done) await it.return?.().catch(() => undefined);
  }
}

async function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason;
  try {
    await once(res, 'drain', { signal });
  } catch {
    throw new PlexusError(ErrorCode.CANCELLED, 'the HTTP client went away');
  }
}
