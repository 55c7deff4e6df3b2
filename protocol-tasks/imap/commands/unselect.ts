// UNSELECT (RFC 3691): leave the mailbox without expunging.
import type { UnselectCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const unselect: ImapCommandHandler<UnselectCommand> = {
  name: 'UNSELECT',
  states: ['selected'],
  async run(s) {
    s.select(null);
    return ok('UNSELECT completed');
  },
};
