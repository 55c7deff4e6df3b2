// USER (RFC 1939 §7): first half of a clear-text login; PASS completes it.
import { credentialsAllowed } from '../../../core/access/types.js';
import { err, ok } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const TLS_REQUIRED = err('Plaintext authentication is disabled: use STLS first.', 'AUTH');

export const user: Pop3CommandHandler = {
  name: 'USER',
  states: ['AUTHORIZATION'],
  async run(s, cmd) {
    if (!credentialsAllowed(s.settings.loginType, s.conn.secure)) return s.send(TLS_REQUIRED);
    const name = cmd.line.slice(5);
    if (cmd.args.length === 0 || name.length === 0) return s.send(err('USER needs a name.'));
    // Whether the name exists is never revealed here: PASS answers for both.
    s.pendingUser = name;
    await s.send(ok('Send your password'));
  },
};
