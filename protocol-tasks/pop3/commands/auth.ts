// AUTH (RFC 5034): SASL PLAIN, with or without an initial response. A bare AUTH lists the
// mechanisms (as Outlook expects). "*" cancels.
import { credentialsAllowed } from '../../../core/access/types.js';
import { decodeBase64Strict, parseSaslPlain } from '../../../core/access/sasl.js';
import { err, multiline, ok } from '../codec.js';
import type { Pop3CommandHandler, Pop3Session } from '../session.js';
import { tryLogin } from './login.js';
import { TLS_REQUIRED } from './user.js';

async function plainResponse(s: Pop3Session, b64: string): Promise<void> {
  if (b64 === '*') return s.send(err('Authentication cancelled.'));
  const raw = b64 === '=' ? Buffer.alloc(0) : decodeBase64Strict(b64);
  const creds = raw ? parseSaslPlain(raw) : null;
  if (!creds) return s.send(err('Invalid SASL PLAIN response.'));
  await tryLogin(s, creds.username, creds.password, creds.authzid);
}

export const auth: Pop3CommandHandler = {
  name: 'AUTH',
  states: ['AUTHORIZATION'],
  async run(s, cmd) {
    const allowed = credentialsAllowed(s.settings.loginType, s.conn.secure);
    if (cmd.args.length === 0) {
      return s.send(ok('Supported mechanisms follow') + multiline(allowed ? ['PLAIN'] : []));
    }
    if (!allowed) return s.send(TLS_REQUIRED);
    if (cmd.args[0]!.toUpperCase() !== 'PLAIN' || cmd.args.length > 2) {
      return s.send(err('Unsupported authentication mechanism.'));
    }
    if (cmd.args.length === 2) return plainResponse(s, cmd.args[1]!);
    s.saslContinuation = (line) => plainResponse(s, line);
    await s.send('+ \r\n');
  },
};
