// QUIT (RFC 1939 §6): in TRANSACTION, enters UPDATE and removes the messages marked for
// deletion — the only place POP3 ever deletes (invariant 3). Messages another session has
// removed meanwhile are simply skipped.
import { err, ok } from '../codec.js';
import type { Pop3CommandHandler } from '../session.js';

export const quit: Pop3CommandHandler = {
  name: 'QUIT',
  states: ['AUTHORIZATION', 'TRANSACTION'],
  async run(s) {
    if (s.state === 'AUTHORIZATION') return s.finish(ok('Bye'));
    s.state = 'UPDATE';
    const uids = s.messages.filter((m) => m.deleted).map((m) => m.uid);
    if (uids.length === 0) return s.finish(ok('Bye'));
    try {
      await s.services.store.expunge(s.account!.id, s.inbox!.id, uids);
    } catch (e) {
      s.services.log?.('error', 'pop3 update failed', { id: s.conn.id, err: String(e) });
      return s.finish(err('Some deleted messages were not removed.', 'SYS/TEMP'));
    }
    await s.finish(ok(`Bye, ${uids.length} messages deleted`));
  },
};
