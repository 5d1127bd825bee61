/**
 * The `users` service contract: what the service accepts and answers, in zod schemas.
 * The service, any typed Plexus client and the HTTP gateway (with its OpenAPI document)
 * are all driven by this one definition.
 */
import { z } from 'zod';
import { defineService } from '../../src/index.js';

export const User = z.object({
  id: z.number().int().positive(),
  name: z.string().min(1).max(100),
  email: z.email(),
  role: z.enum(['admin', 'member']),
});

export const users = defineService('users', {
  version: '1.0.0',
  description: 'The people who may sign in',
  methods: {
    list: {
      input: z.object({ role: z.enum(['admin', 'member']).optional(), limit: z.number().int().min(1).max(100).optional() }),
      output: z.object({ users: z.array(User) }),
      safe: true,
      idempotent: true,
      description: 'List users, optionally of one role',
    },
    get: {
      input: z.object({ id: z.number().int().positive() }),
      output: User,
      safe: true,
      idempotent: true,
      description: 'One user by id (USER_NOT_FOUND if there is none)',
    },
    create: {
      input: User.omit({ id: true }).extend({ role: z.enum(['admin', 'member']).default('member') }),
      output: User,
      description: 'Add a user (EMAIL_ALREADY_EXISTS if the address is taken)',
    },
  },
});
