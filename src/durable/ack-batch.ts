/**
 * Client-side ack coalescing: the `+ACK`s issued in one tick (before the next microtask
 * checkpoint, e.g. `Promise.all(msgs.map((m) => m.ack()))`) for one consumer go out as one
 * `$PLX.DS.ACKS.<consumer>.<stream…>` request, which the service applies with one state
 * save. Each `ack()` still resolves only once the service confirmed its batch saved, and
 * rejects with the batch's error otherwise (nothing confirmed, so a redelivery may follow).
 */
import type { Connection } from '../client/index.js';
import { DS, MAX_ACK_BATCH } from './config.js';

interface WaitingAck {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The batched-ack subject and the sequence of a delivery's ack subject
 * (`$PLX.DS.ACK.<consumer>.<seq>.<count>.<stream…>`), or undefined for another form.
 */
export function batchAckTarget(ackSubject: string): { subject: string; seq: number } | undefined {
  const t = ackSubject.split('.');
  const seq = Number(t[4]);
  if (t.length < 7 || `${t[0]}.${t[1]}.${t[2]}` !== DS.ACK || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { subject: `${DS.ACK_BATCH}.${t[3]}.${t.slice(6).join('.')}`, seq };
}

/** Coalesces `+ACK`s per consumer into batched-ack requests (see the module comment). */
export class AckBatcher {
  private readonly groups = new Map<string, WaitingAck[]>();
  private scheduled = false;

  constructor(
    private readonly bus: Connection,
    private readonly timeoutMs: number,
  ) {}

  /** Acknowledge the delivery behind `ackSubject`; resolves once the service saved it. */
  ack(ackSubject: string): Promise<void> {
    const target = batchAckTarget(ackSubject);
    if (!target) return this.bus.request(ackSubject, '+ACK', { timeout: this.timeoutMs }).then(() => undefined);
    return new Promise<void>((resolve, reject) => {
      let group = this.groups.get(target.subject);
      if (!group) {
        group = [];
        this.groups.set(target.subject, group);
      }
      group.push({ seq: target.seq, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = [...this.groups];
    this.groups.clear();
    for (const [subject, waiting] of groups) {
      for (let i = 0; i < waiting.length; i += MAX_ACK_BATCH) this.send(subject, waiting.slice(i, i + MAX_ACK_BATCH));
    }
  }

  private send(subject: string, waiting: readonly WaitingAck[]): void {
    const payload = `+ACK ${waiting.map((w) => w.seq).join(' ')}`;
    this.bus.request(subject, payload, { timeout: this.timeoutMs }).then(
      () => {
        for (const w of waiting) w.resolve();
      },
      (err: unknown) => {
        for (const w of waiting) w.reject(err);
      },
    );
  }
}
