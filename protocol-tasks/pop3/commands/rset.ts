// RSET (RFC 1939 §5): unmarks every message marked for deletion in this session.
import { err, ok } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const rset: Pop3CommandHandler = {
  name: 'RSET',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    if (cmd.args.length > 0) return s.send(err('RSET takes no arguments.'));
    for (const m of s.messages) m.deleted = false;
    await s.send(ok(`${s.messages.length} messages`));
  },
};
