/** What every benchmarked system implements, per role. */

/** Called by a subscriber adapter once per received message with its payload length. */
export type OnMessage = (payloadBytes: number) => void;

/** The sending side of the pub/sub test. */
export interface Publisher {
  /** Publish `payload` `count` times, respecting the client's backpressure, then flush. */
  publishAll(payload: Uint8Array, count: number): Promise<void>;
  close(): Promise<void>;
}

/** The receiving side of the pub/sub test (already subscribed when returned). */
export interface Subscriber {
  close(): Promise<void>;
}

/** The calling side of the request/reply test. */
export interface Requester {
  /** One request/reply round trip; resolves with the reply's payload length. */
  call(payload: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** The answering side of the request/reply test. */
export interface Responder {
  /** Where requesters reach it (URL, host:port, or '' when implied). */
  readonly address: string;
  close(): Promise<void>;
}

/** Subject / channel / path every test uses. */
export const SUBJECT = 'bench.data';
export const ECHO_SUBJECT = 'bench.echo';
