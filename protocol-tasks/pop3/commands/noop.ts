// NOOP (RFC 1939 §5).
import { err, ok } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const noop: Pop3CommandHandler = {
  name: 'NOOP',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    if (cmd.args.length > 0) return s.send(err('NOOP takes no arguments.'));
    await s.send(ok());
  },
};
