// The one place IMAP credentials are checked (LOGIN and AUTHENTICATE PLAIN), so every
// refusal gets the same reply after the same work (checklist C20, invariant 7).
import type { Done, ImapSession } from '../session.js';
import { ok } from '../session.js';

export async function tryLogin(s: ImapSession, username: string, password: string, authzid = ''): Promise<Done> {
  const r = await s.services.auth.authenticate({ protocol: 'imap4', username, password, authzid, clientIp: s.conn.remoteAddress });
  if (!r.ok) {
    s.services.log?.('info', 'imap login refused', { id: s.conn.id, ip: s.conn.remoteAddress, reason: r.reason });
    return s.authFailed();
  }
  const refused = s.loggedIn(r.account);
  if (refused) return refused;
  // Clients save a round trip when the new capabilities come with the tagged OK.
  return ok('Logged in', { name: 'CAPABILITY', args: s.capabilities().map((c) => ({ $: 'raw', text: c })) });
}
