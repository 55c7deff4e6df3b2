// SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6-7).
//
// Subscriptions are the account's list of names, kept by the store apart from folders
// (Store.subscribe / unsubscribe / listSubscriptions). So:
// - SUBSCRIBE of a name that is not a mailbox is OK (RFC 3501 allows it; LIST (SUBSCRIBED)
//   then shows it \NonExistent). An ill-formed name: NO [CANNOT]. Past the per-account bound:
//   NO [LIMIT]. Subscribing twice is fine.
// - UNSUBSCRIBE of a name that is not subscribed is OK (idempotent).
// - DELETE leaves the name subscribed (RFC 3501 §6.3.6: the server MUST NOT remove it
//   unilaterally); RENAME moves the subscription with the folder (as Dovecot does).
// INBOX is case-insensitive here as everywhere; a trailing delimiter is dropped as in CREATE.

import type { SubscribeCommand } from '../codec/commands/types.js';
import { StoreError } from '../../../core/store/port.js';
import { newMailboxName } from '../mailbox-names.js';
import { no, ok, type ImapCommandHandler } from '../session.js';
import { storeRefusal } from './create.js';

export const subscribe: ImapCommandHandler<SubscribeCommand> = {
  name: 'SUBSCRIBE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const on = cmd.name === 'SUBSCRIBE';
    const name = newMailboxName(cmd.mailbox);
    try {
      if (on) await s.store.subscribe(s.account!.id, name);
      else await s.store.unsubscribe(s.account!.id, name);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'LIMIT') return no('Too many subscriptions.', 'LIMIT');
      return storeRefusal(e);
    }
    return ok(`${cmd.name} completed`);
  },
};

export const unsubscribe: ImapCommandHandler<SubscribeCommand> = { ...subscribe, name: 'UNSUBSCRIBE' };
