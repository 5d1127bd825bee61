/**
 * Mailboxes (S11): durable messages addressed to a named recipient.
 * `mailbox(bus, 'alice').send(data)` stores a message for alice with the sender's
 * broker-stamped identity; `read()` iterates them with acks. A mailbox is the stream
 * `mbox-<owner>` capturing `mailbox.<owner>`, with one consumer `reader`; when the
 * service enforces owners (a broker with auth), only the identity `<owner>` may read it.
 * See docs/queues.md.
 *
 * ```ts
 * await mailbox(bus, 'alice').send('lunch?');                   // as bob
 * for await (const m of mailbox(bus, 'alice').read()) {         // as alice
 *   console.log(m.from, m.string());                            // 'bob' 'lunch?'
 *   await m.ack();
 * }
 * ```
 */
import type { Bus, Payload } from '../client/index.js';
import { MAILBOX_STREAM_PREFIX, MAILBOX_SUBJECT_PREFIX } from '../durable/index.js';
import {
  DurableQueue,
  checkName,
  type DeadLetters,
  type QueueConsumeOptions,
  type QueueConsumer,
  type QueueOptions,
  type QueueStat,
  type SendOptions,
  type SendResult,
} from './queue-core.js';
import { patternTarget } from './provider.js';

/** The consumer a mailbox's owner reads through. */
export const MAILBOX_CONSUMER = 'reader';

/** A named recipient's mailbox. */
export interface Mailbox {
  readonly owner: string;
  /** Leave a message; resolves once it is stored durably. The broker stamps who sent it. */
  send(data?: Payload, options?: SendOptions): Promise<SendResult>;
  /** The owner's messages, oldest first; settle each (manual acks by default). */
  read(options?: QueueConsumeOptions): QueueConsumer;
  /** Messages that used up `maxDeliver`. Owner only, like `read`. */
  dlq(): DeadLetters;
  /** Owner only. */
  stat(): Promise<QueueStat>;
}

/** The mailbox of `owner` (an identity of 1-58 of `[A-Za-z0-9_-]`), created on first use. */
export function mailbox(bus: Bus, owner: string, options: QueueOptions = {}): Mailbox {
  checkName('mailbox', owner);
  const target = patternTarget(bus, 'mailbox');
  if (target.kind === 'backend') return target.impl(owner, options);
  const q = new DurableQueue(
    target.conn,
    { name: owner, stream: `${MAILBOX_STREAM_PREFIX}${owner}`, subject: `${MAILBOX_SUBJECT_PREFIX}${owner}`, consumer: MAILBOX_CONSUMER, senderCreatesConsumer: false },
    options,
  );
  return {
    owner,
    send: (data, o) => q.send(data, o),
    read: (o) => q.consume(o),
    dlq: () => q.dlq(),
    stat: () => q.stat(),
  };
}
