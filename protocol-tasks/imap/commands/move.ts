// MOVE and UID MOVE (RFC 6851). The store copies and expunges in one operation; the client
// gets `* OK [COPYUID ...]` first, then `* n EXPUNGE` for each moved message (highest
// sequence number first, so each number is valid when sent), then the tagged OK. Refused in
// a read-only (EXAMINEd) mailbox. Set resolution and refusals are COPY's (copy.ts).

import type { CopyResult } from '../../../core/store/port.js';
import type { CopyCommand } from '../codec/commands/types.js';
import { untaggedStatus } from '../codec/serialize.js';
import { findFolder } from '../folders.js';
import { no, ok, type ImapCommandHandler } from '../session.js';
import { copyUidCode, resolveMessageSet } from './copy.js';
import { storeFailure } from './store-failure.js';

export const move: ImapCommandHandler<CopyCommand> = {
  name: 'MOVE',
  states: ['selected'],
  async run(s, cmd) {
    const view = s.selected!;
    const what = cmd.uid ? 'UID MOVE' : 'MOVE';
    if (view.readOnly) return no('Mailbox is read-only.');
    const uids = resolveMessageSet(view, cmd.set, cmd.uid);
    if (!Array.isArray(uids)) return uids;
    const target = await findFolder(s, cmd.mailbox);
    if (!target) return no('Mailbox does not exist.', 'TRYCREATE');
    if (uids.length === 0) return ok(`${what} completed, no messages moved`);
    let r: CopyResult;
    try {
      r = await s.store.moveMessages(view.accountId, view.folder.id, uids, target.id);
    } catch (e) {
      const refusal = storeFailure(e, 'TRYCREATE');
      if (refusal) return refusal;
      throw e;
    }
    if (target.id === view.folder.id) s.dirty = true;
    if (r.mapping.length === 0) return ok(`${what} completed, no messages moved`);
    await s.send(untaggedStatus('OK', 'Moved', copyUidCode(r)));
    const lines = view.applyOwnExpunge(r.mapping.map(([src]) => src));
    if (lines.length) await s.send(lines.map((l) => `* ${l}\r\n`).join(''));
    return ok(`${what} completed`);
  },
};
