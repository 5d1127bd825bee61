/**
 * Dialling RabbitMQ again after the connection dropped. amqplib has no recovery of its
 * own: the bus gets a fresh connection and channel here, then rebuilds its topology
 * (exchange, reply consumer, every subscription's queue and binding) itself.
 */
import type { Channel, ChannelModel } from 'amqplib';

/** How to dial again, and how long to keep trying. */
export interface RedialPolicy {
  readonly dial: () => Promise<ChannelModel>;
  readonly delayMs: number;
  readonly maxDelayMs: number;
  /** Attempts before giving up (Infinity: never). */
  readonly maxAttempts: number;
  /** True once the bus was closed meanwhile: stop trying. */
  readonly stopped: () => boolean;
}

/** A fresh connection and channel, or undefined when the attempts ran out or the bus closed. */
export async function redial(policy: RedialPolicy): Promise<{ model: ChannelModel; channel: Channel } | undefined> {
  let delay = policy.delayMs;
  for (let attempt = 1; attempt <= policy.maxAttempts && !policy.stopped(); attempt++) {
    // Jitter keeps many clients from hammering a restarting server in step.
    await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * (delay / 2)));
    if (policy.stopped()) return undefined;
    let model: ChannelModel | undefined;
    try {
      model = await policy.dial();
      return { model, channel: await model.createChannel() };
    } catch {
      await model?.close().catch(() => undefined);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
  return undefined;
}
