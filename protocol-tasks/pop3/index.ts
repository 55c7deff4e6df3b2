// POP3 entry point for the process: turns connections into sessions.
import type { Connection, ProtocolServer } from '../net/types.js';
import { err } from './codec.js';
import { Pop3Session, type Pop3Services } from './session.js';

export const POP3_REFUSAL = (why: 'total' | 'ip') =>
  err(why === 'ip' ? 'Too many connections from your address.' : 'Too many connections, try again later.', 'SYS/TEMP');

export const POP3_STOP_LINE = err('The POP3 service is shutting down.', 'SYS/TEMP');

export function startPop3Session(conn: Connection, server: ProtocolServer, services: Omit<Pop3Services, 'server'>): Pop3Session {
  const session = new Pop3Session(conn, { ...services, server });
  void session.start();
  return session;
}
