// The one place where POP3 credentials are checked, for PASS and AUTH PLAIN alike, so every
// refusal reason gets the same bytes back and the same timing (checklist C20).
import type { Pop3Session } from '../session.js';
import { ok } from '../codec.js';

export async function tryLogin(s: Pop3Session, username: string, password: string, authzid = ''): Promise<void> {
  const result = await s.services.auth.authenticate({
    protocol: 'pop3',
    username,
    password,
    authzid,
    clientIp: s.conn.remoteAddress,
  });
  if (!result.ok) {
    s.services.log?.('info', 'pop3 login refused', { id: s.conn.id, ip: s.conn.remoteAddress, reason: result.reason });
    s.pendingUser = null;
    return s.authFailed();
  }
  if (!(await s.loggedIn(result.account))) return;
  const count = s.messages.length;
  const octets = s.messages.reduce((a, m) => a + m.size, 0);
  await s.send(ok(`Logged in, ${count} messages (${octets} octets)`));
}
