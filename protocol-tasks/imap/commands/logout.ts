// LOGOUT (RFC 3501 §6.1.3): BYE, tagged OK, close.
import type { LogoutCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const logout: ImapCommandHandler<LogoutCommand> = {
  name: 'LOGOUT',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s) {
    await s.untaggedLine('BYE Logging out');
    s.select(null);
    s.state = 'logout';
    s.endAfterReply = true;
    return ok('LOGOUT completed');
  },
};
