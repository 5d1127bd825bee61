/** Voluntary context switches of the calling thread so far (Linux): each one is a blocking system call. */
import { readFileSync } from 'node:fs';

export function voluntarySwitches(): number {
  const m = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(readFileSync('/proc/thread-self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}
