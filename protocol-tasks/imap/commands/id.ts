// ID (RFC 2971): remember the client's identification for logs; say who we are.
import type { IdCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const id: ImapCommandHandler<IdCommand> = {
  name: 'ID',
  states: ['not-authenticated', 'authenticated', 'selected'],
  async run(s, cmd) {
    s.clientId = cmd.params ? cmd.params.slice(0, 30) : null;
    await s.untagged([{ $: 'raw', text: 'ID' }, ['name', 'mail-access-backend', 'vendor', 'mail-access-backend']]);
    return ok('ID completed');
  },
};
