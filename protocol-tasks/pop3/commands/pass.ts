// PASS (RFC 1939 §7): completes USER. The password is the rest of the line (may hold spaces).
import { credentialsAllowed } from '../../../core/access/types.js';
import { err } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';
import { tryLogin } from './login.js';
import { TLS_REQUIRED } from './user.js';

export const pass: Pop3CommandHandler = {
  name: 'PASS',
  states: ['AUTHORIZATION'],
  async run(s, cmd) {
    if (!credentialsAllowed(s.settings.loginType, s.conn.secure)) return s.send(TLS_REQUIRED);
    if (s.pendingUser === null) return s.send(err('Send USER first.'));
    const user = s.pendingUser;
    s.pendingUser = null;
    await tryLogin(s, user, Buffer.from(cmd.line.slice(5), 'latin1').toString('utf8'));
  },
};
