// CAPABILITY (RFC 3501 §6.1.1).
import type { CapabilityCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const capability: ImapCommandHandler<CapabilityCommand> = {
  name: 'CAPABILITY',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s) {
    await s.untaggedLine(`CAPABILITY ${s.capabilities().join(' ')}`);
    return ok('CAPABILITY completed');
  },
};
