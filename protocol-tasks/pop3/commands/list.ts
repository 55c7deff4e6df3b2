// LIST (RFC 1939 §5): message sizes in octets.
import type { Pop3CommandHandler } from '../session.js';
import { scan } from './scan.js';

export const list: Pop3CommandHandler = {
  name: 'LIST',
  states: ['TRANSACTION'],
  run: (s, cmd) => scan(s, cmd, (m) => String(m.size)),
};
