// IMAP4 entry point for the process: turns connections into sessions.
import type { Connection, ProtocolServer } from '../net/types.js';
import { ImapSession, type ImapServices } from './session.js';

export const IMAP_REFUSAL = (why: 'total' | 'ip') =>
  `* BYE [LIMIT] ${why === 'ip' ? 'Too many connections from your address.' : 'Too many connections, try again later.'}\r\n`;

export const IMAP_STOP_LINE = '* BYE [UNAVAILABLE] The IMAP4 service is shutting down.\r\n';

export function startImapSession(conn: Connection, server: ProtocolServer, services: Omit<ImapServices, 'server'>): ImapSession {
  const session = new ImapSession(conn, { ...services, server });
  void session.start();
  return session;
}
