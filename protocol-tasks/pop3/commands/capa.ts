// CAPA (RFC 2449): what this server offers right now on this connection.
import { credentialsAllowed } from '../../../core/access/types.js';
import { multiline, ok } from '../codec.js';
import type { Pop3CommandHandler, Pop3Session } from '../session.js';

export function capabilities(s: Pop3Session): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (s.state === 'AUTHORIZATION') {
    if (credentialsAllowed(s.settings.loginType, s.conn.secure)) caps.push('USER', 'SASL PLAIN');
    if (s.conn.canStartTls) caps.push('STLS');
  }
  caps.push('IMPLEMENTATION mail-access-backend');
  return caps;
}

export const capa: Pop3CommandHandler = {
  name: 'CAPA',
  states: ['AUTHORIZATION', 'TRANSACTION'],
  async run(s) {
    await s.send(ok('Capability list follows') + multiline(capabilities(s)));
  },
};
