// STAT (RFC 1939 §5): count and total size of the messages not marked deleted.
import { err, ok } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const stat: Pop3CommandHandler = {
  name: 'STAT',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    if (cmd.args.length > 0) return s.send(err('STAT takes no arguments.'));
    const live = s.messages.filter((m) => !m.deleted);
    await s.send(ok(`${live.length} ${live.reduce((a, m) => a + m.size, 0)}`));
  },
};
