// SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6-7).
//
// The subscription is an attribute of the folder record (it moves with RENAME and goes with
// DELETE). SUBSCRIBE of a name that is not a mailbox: NO [NONEXISTENT] (RFC 3501 lets the
// server check). UNSUBSCRIBE of a name that is not a mailbox: OK, since nothing is subscribed
// under it any more (clients unsubscribe after DELETE).

import type { SubscribeCommand } from '../codec/commands/types.js';
import { findFolder } from '../folders.js';
import { no, ok, type ImapCommandHandler } from '../session.js';
import { storeRefusal } from './create.js';

export const subscribe: ImapCommandHandler<SubscribeCommand> = {
  name: 'SUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const on = cmd.name === 'SUBSCRIBE';
    const folder = await findFolder(s, cmd.mailbox);
    if (!folder) return on ? no('No such mailbox.', 'NONEXISTENT') : ok('UNSUBSCRIBE completed');
    try {
      await s.store.setSubscribed(s.account!.id, folder.id, on);
    } catch (e) {
      return storeRefusal(e);
    }
    return ok(`${cmd.name} completed`);
  },
};

export const unsubscribe: ImapCommandHandler<SubscribeCommand> = { ...subscribe, name: 'UNSUBSCRIBE' };
