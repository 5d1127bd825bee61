import { FrameType } from './constants.js';

/**
 * A decoded frame. `subject`, `reply` and `payload` are views decoded from one frame;
 * `headers` is the raw header block (decode with `decodeHeaders`) so routers that
 * only forward it never pay for parsing.
 */
export interface Frame {
  type: FrameType;
  flags: number;
  /** Subscription id, stream id, nonce: meaning depends on `type` (docs/protocol.md). */
  id: number;
  /** Timeout ms (requests), byte offset (streams): meaning depends on `type`. */
  aux: number;
  subject: string;
  reply: string;
  headers: Uint8Array | undefined;
  payload: Uint8Array;
  /**
   * For decoded frames: the buffer the frame was decoded from and where the payload lies
   * in it. A router copies the payload from there without making a view (`payloadFrom`).
   */
  readonly raw?: Uint8Array;
  readonly rawStart?: number;
  readonly rawEnd?: number;
  /** For decoded frames: where the subject bytes start in `raw` (the reply follows them). */
  readonly rawNamesStart?: number;
  readonly rawSubjectBytes?: number;
  readonly rawReplyBytes?: number;
}

/** Payload size of a frame without materialising its payload view. */
export function payloadLength(f: Frame): number {
  return f.raw !== undefined ? f.rawEnd! - f.rawStart! : f.payload.length;
}

/** Fields for encoding a frame; everything but `type` is optional. */
export interface FrameInit {
  type: FrameType;
  flags?: number;
  id?: number;
  aux?: number;
  subject?: string;
  reply?: string;
  /** An encoded header block (see `encodeHeaders`). */
  headers?: Uint8Array;
  payload?: Uint8Array;
  /** Take the payload from a decoded frame's raw bytes instead of `payload` (no view made). */
  payloadFrom?: Frame;
  /**
   * Take subject and reply as bytes from a decoded frame instead of encoding `subject` and
   * `reply` again (a router forwards them unchanged).
   */
  namesFrom?: Frame;
  /**
   * The payload's bytes will never change: a transport may hand them to the socket by
   * reference instead of copying them (large payloads only). Set it only for memory the
   * sender owns and never reuses (stream buffers, bytes read from a socket).
   */
  payloadImmutable?: boolean;
}

/** An empty payload shared by frames that carry none. */
export const EMPTY = new Uint8Array(0);
