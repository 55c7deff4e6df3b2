// UIDL (RFC 1939 §7): unique ids "<uidvalidity>.<uid>", stable forever and never reused,
// because UIDs are never reused while the Inbox keeps its UIDVALIDITY.
import type { Pop3CommandHandler } from '../session.js';
import { scan } from './scan.js';

export const uidl: Pop3CommandHandler = {
  name: 'UIDL',
  states: ['TRANSACTION'],
  run: (s, cmd) => scan(s, cmd, (m) => s.uidl(m)),
};
