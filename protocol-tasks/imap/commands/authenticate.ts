// AUTHENTICATE (RFC 3501 §6.2.2) with SASL PLAIN (RFC 4616), with or without SASL-IR
// (RFC 4959). "*" cancels; invalid base64 is BAD. ANONYMOUS is never offered nor accepted.
import { credentialsAllowed } from '../../../core/access/types.js';
import { decodeBase64Strict, parseSaslPlain } from '../../../core/access/sasl.js';
import type { AuthenticateCommand } from '../codec/commands/types.js';
import { continuation } from '../codec/serialize.js';
import { bad, no, type ImapCommandHandler } from '../session.js';
import { tryLogin } from './login-common.js';

export const authenticate: ImapCommandHandler<AuthenticateCommand> = {
  name: 'AUTHENTICATE',
  states: ['not-authenticated'],
  async run(s, cmd) {
    if (!credentialsAllowed(s.settings.loginType, s.conn.secure)) {
      return no('Authentication is disabled: use STARTTLS first.', 'PRIVACYREQUIRED');
    }
    if (cmd.mechanism !== 'PLAIN') return no('Unsupported authentication mechanism.', 'CANNOT');
    let response = cmd.initialResponse;
    if (response === null) {
      await s.send(continuation(''));
      const line = await s.readLine();
      if (line === null) return bad('Connection closed.');
      const text = line.toString('latin1');
      if (text === '*') return bad('Authentication cancelled.');
      response = text === '=' ? Buffer.alloc(0) : decodeBase64Strict(text);
      if (response === null) return bad('Invalid base64 in SASL response.');
    }
    const creds = parseSaslPlain(response);
    if (!creds) return s.authFailed();
    return tryLogin(s, creds.username, creds.password, creds.authzid);
  },
};
