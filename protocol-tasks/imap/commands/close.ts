// CLOSE (RFC 3501 §6.4.2): silently expunge \Deleted messages (unless read-only), then
// leave the mailbox. No untagged EXPUNGE is sent.
import type { CloseCommand } from '../codec/commands/types.js';
import { ok, type ImapCommandHandler } from '../session.js';

export const close: ImapCommandHandler<CloseCommand> = {
  name: 'CLOSE',
  states: ['selected'],
  async run(s) {
    const view = s.selected!;
    if (!view.readOnly) {
      const doomed = view.uids.filter((u) => view.meta.get(u)!.flags.includes('\\Deleted'));
      if (doomed.length) await s.store.expunge(view.accountId, view.folder.id, doomed);
    }
    s.select(null);
    return ok('CLOSE completed');
  },
};
