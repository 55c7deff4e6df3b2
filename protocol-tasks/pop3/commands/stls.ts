// STLS (RFC 2595 §4): upgrade the plain connection to TLS before login.
import { err, ok } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const stls: Pop3CommandHandler = {
  name: 'STLS',
  states: ['AUTHORIZATION'],
  async run(s, cmd) {
    if (cmd.args.length > 0) return s.send(err('STLS takes no arguments.'));
    if (!s.conn.canStartTls) return s.send(err('TLS is already active or not available.'));
    await s.upgradeToTls(ok('Begin TLS negotiation'));
  },
};
