// STARTTLS (RFC 3501 §6.2.1, RFC 9051 §6.2.1): only before login on a plain connection.
// Everything the client pipelined after the command is discarded (checklist A1/A2).
import type { StartTlsCommand } from '../codec/commands/types.js';
import { bad, ok, type ImapCommandHandler } from '../session.js';
import { tagged } from '../codec/serialize.js';

export const starttls: ImapCommandHandler<StartTlsCommand> = {
  name: 'STARTTLS',
  states: ['not-authenticated'],
  async run(s, _cmd, tag) {
    if (!s.conn.canStartTls) return bad('TLS is already active or not available.');
    // The tagged OK goes out with the switch to TLS; the session's own reply is suppressed.
    await s.upgradeToTls(tagged(tag, 'OK', 'Begin TLS negotiation now'));
    s.suppressReply = true;
    return ok();
  },
};
