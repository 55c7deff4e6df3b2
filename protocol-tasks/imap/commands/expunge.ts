// EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315): permanently remove the \Deleted
// messages of the selected mailbox (UID EXPUNGE: only those in the UID set).
//
// Other sessions' changes are folded in and reported first (EXPUNGE is a moment where
// untagged EXPUNGE may be sent), so a \Deleted flag another session set counts and every
// sequence number sent refers to the view the client has. Then one `* n EXPUNGE` per
// removed message, highest sequence number first. Refused in a read-only mailbox.

import type { ExpungeCommand } from '../codec/commands/types.js';
import { uidsInSet } from '../codec/sequence.js';
import { no, ok, type ImapCommandHandler } from '../session.js';
import { storeFailure } from './store-failure.js';

export const expunge: ImapCommandHandler<ExpungeCommand> = {
  name: 'EXPUNGE',
  states: ['selected'],
  async run(s, cmd) {
    const view = s.selected!;
    const what = cmd.uids ? 'UID EXPUNGE' : 'EXPUNGE';
    if (view.readOnly) return no('Mailbox is read-only.');
    s.dirty = true;
    await s.releaseUpdates();
    if (s.ending || view.gone) return no('The selected mailbox no longer exists.', 'NONEXISTENT');
    const candidates = cmd.uids ? uidsInSet(cmd.uids, view.uids) : view.uids;
    const doomed = candidates.filter((u) => view.meta.get(u)?.flags.includes('\\Deleted'));
    if (doomed.length === 0) return ok(`${what} completed`);
    let removed: number[];
    try {
      removed = await s.store.expunge(view.accountId, view.folder.id, doomed);
    } catch (e) {
      const refusal = storeFailure(e, 'NONEXISTENT');
      if (refusal) return refusal;
      throw e;
    }
    const lines = view.applyOwnExpunge(removed);
    if (lines.length) await s.send(lines.map((l) => `* ${l}\r\n`).join(''));
    return ok(`${what} completed`);
  },
};
