/** The example's users: the broker authenticates them, and stamps who sent what. */
import type { AuthConfig } from '../../src/index.js';

/** Demo passwords only: a real deployment uses `passwordHash` (see `plexus passwd`). */
export const PASSWORDS: Record<string, string> = { alice: 'alice-secret', bob: 'bob-secret' };

export const AUTH: AuthConfig = {
  users: Object.entries(PASSWORDS).map(([user, password]) => ({ user, password })),
};
