/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `baseMs`, capped
 * at `maxMs`, with full jitter so a crowd of clients does not reconnect in lockstep.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
