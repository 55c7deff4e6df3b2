// CHECK (RFC 3501 §6.4.1): every write is already durable; acts as a poll like NOOP.
import type { CheckCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const check: ImapCommandHandler<CheckCommand> = {
  name: 'CHECK',
  states: ['selected'],
  async run(s) {
    s.dirty = true;
    return ok('CHECK completed');
  },
};
