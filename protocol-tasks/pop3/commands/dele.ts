// DELE (RFC 1939 §5): marks a message; nothing is removed before QUIT (invariant 3).
import { err, ok, parseMsgNumber } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const dele: Pop3CommandHandler = {
  name: 'DELE',
  states: ['TRANSACTION'],
  async run(s, cmd) {
    const n = cmd.args.length === 1 ? parseMsgNumber(cmd.args[0]) : null;
    const m = s.message(n);
    if (!m) return s.send(err(cmd.args.length === 1 ? 'No such message.' : 'DELE needs one message number.'));
    m.deleted = true;
    await s.send(ok(`Message ${n} marked for deletion`));
  },
};
