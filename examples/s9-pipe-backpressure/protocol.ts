/** What the parent and the child of the S9 example agree on. */

/** Subject the child accepts the pipe stream on. */
export const PIPE = 's9.pipe';
/** The child says it is ready to accept (published once). */
export const READY = 's9.ready';
/** The child reports `{ read }` after every chunk it reads. */
export const PROGRESS = 's9.progress';

/** The child's stream window: the most bytes the parent may have in flight. */
export const WINDOW = 64 * 1024;
/** The parent's DATA frame size (a window holds 8 of them). */
export const FRAME_BYTES = 8 * 1024;
/** How long the child sleeps after every chunk: it reads ~8 KiB per 4 ms, ~2 MB/s. */
export const READ_DELAY_MS = 4;

/** A progress report. */
export interface Progress {
  readonly read: number;
}
