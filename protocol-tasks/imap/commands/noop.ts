// NOOP (RFC 3501 §6.1.2): also the moment clients poll for other sessions' changes.
import type { NoopCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const noop: ImapCommandHandler<NoopCommand> = {
  name: 'NOOP',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s) {
    // Poll the journal even without a change notice (a missed notice is never fatal).
    if (s.selected) s.dirty = true;
    return ok('NOOP completed');
  },
};
