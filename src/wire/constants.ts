/** Protocol version spoken by this implementation (negotiated in HELLO/WELCOME). */
export const PROTOCOL_VERSION = 1;

/** Bytes of the fixed frame header, including the 4-byte length prefix. */
export const HEADER_BYTES = 20;

/** Smallest legal value of the length prefix (the fixed fields after it). */
export const MIN_BODY_BYTES = HEADER_BYTES - 4;

/** Largest subject, reply subject or header block: they have 16-bit lengths. */
export const MAX_FIELD_BYTES = 0xffff;

/** Frame types. Values are part of the wire contract (docs/protocol.md). */
export const FrameType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  PUB: 0x03,
  SUB: 0x04,
  UNSUB: 0x05,
  MSG: 0x06,
  CANCEL: 0x07,
  CREDIT: 0x08,
  PING: 0x09,
  PONG: 0x0a,
  ERR: 0x0b,
  DATA: 0x0c,
  END: 0x0d,
  GOODBYE: 0x0e,
} as const;

/** Union of frame type numbers. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const frameTypeNames: Record<number, string> = {};
for (const [name, value] of Object.entries(FrameType)) frameTypeNames[value] = name;

/** Name of a frame type, for logs and errors. */
export function frameTypeName(type: number): string {
  return frameTypeNames[type] ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/** True for the frame types defined in protocol v1. */
export function isKnownFrameType(type: number): type is FrameType {
  return type >= FrameType.HELLO && type <= FrameType.GOODBYE;
}

/** Flag bits (one byte). Unknown bits must be zero in v1. */
export const Flag = {
  /** Send on the control lane: jumps ahead of queued bulk data. */
  PRIORITY: 0x01,
  /** PUB/MSG is a request: `reply` is set and `aux` holds the timeout in ms (0 = none). */
  REQUEST: 0x02,
  /** CREDIT: the reader lost data and asks the writer to resend from `aux`. */
  RESUME: 0x04,
  /** PUB/MSG: the payload is an error in its JSON wire form (a failed reply). */
  ERROR: 0x08,
} as const;

/** Mask of the flag bits defined in v1. */
export const KNOWN_FLAGS = Flag.PRIORITY | Flag.REQUEST | Flag.RESUME | Flag.ERROR;

/**
 * Frames that always travel on the control lane, whatever their flags say: they are
 * small and their whole point is to overtake bulk data (S15).
 */
export function isControlType(type: number): boolean {
  return (
    type === FrameType.CANCEL ||
    type === FrameType.CREDIT ||
    type === FrameType.PING ||
    type === FrameType.PONG ||
    type === FrameType.ERR ||
    type === FrameType.GOODBYE
  );
}
