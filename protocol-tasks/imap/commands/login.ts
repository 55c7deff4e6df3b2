// LOGIN (RFC 3501 §6.2.3). Refused before TLS unless the login policy allows clear text.
import { credentialsAllowed } from '../../../core/access/types.js';
import type { LoginCommand } from '../codec/commands/types.js';
import { no, type ImapCommandHandler } from '../session.js';
import { tryLogin } from './login-common.js';

export const login: ImapCommandHandler<LoginCommand> = {
  name: 'LOGIN',
  states: ['not-authenticated'],
  async run(s, cmd) {
    if (!credentialsAllowed(s.settings.loginType, s.conn.secure)) {
      return no('Plaintext login is disabled: use STARTTLS first.', 'PRIVACYREQUIRED');
    }
    return tryLogin(s, cmd.username, cmd.password);
  },
};
