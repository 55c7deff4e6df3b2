// DELETE (RFC 3501 §6.3.4).
//
// - INBOX cannot be deleted: NO [CANNOT].
// - The folder and its messages go; its inferior names stay (RFC 3501: DELETE MUST NOT
//   remove inferiors). The name becomes a missing parent level, which LIST shows as
//   \Noselect / \NonExistent where a "%" pattern stops at it, and which CREATE can make a
//   folder again. Deleting such a missing level: NO [NONEXISTENT] (RFC 3501: deleting a
//   \Noselect name that has inferiors is an error).
// - A later CREATE of the same name gets a new UIDVALIDITY (the store never hands one out
//   twice; checklist D27), so clients never mix up old and new UIDs.
// - Deleting the selected mailbox is allowed: this session returns to the authenticated
//   state with `* OK [CLOSED]`; other sessions that have it selected notice the folder is
//   gone at their next command and get BYE (session.ts).
// - The name's subscription stays (RFC 3501 §6.3.6: the server MUST NOT remove a name from
//   the subscription list because the mailbox is deleted); LIST (SUBSCRIBED) then shows it
//   \NonExistent, and a later CREATE of the name finds it subscribed again.

import type { DeleteCommand } from '../codec/commands/types.js';
import { findFolder, normalizeName } from '../folders.js';
import { isInferior } from '../mailbox-names.js';
import { no, ok, type ImapCommandHandler } from '../session.js';
import { storeRefusal } from './create.js';

export const del: ImapCommandHandler<DeleteCommand> = {
  name: 'DELETE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const name = normalizeName(cmd.mailbox);
    if (name === 'INBOX') return no('INBOX cannot be deleted.', 'CANNOT');
    const folder = await findFolder(s, name);
    if (!folder) {
      const folders = await s.store.listFolders(s.account!.id);
      if (folders.some((f) => isInferior(f.name, name))) {
        return no('Only inferior names of this name exist; it is not a mailbox itself.', 'NONEXISTENT');
      }
      return no('No such mailbox.', 'NONEXISTENT');
    }
    try {
      await s.store.deleteFolder(s.account!.id, folder.id);
    } catch (e) {
      return storeRefusal(e);
    }
    if (s.selected?.folder.id === folder.id) {
      s.select(null);
      await s.untaggedLine('OK [CLOSED] The selected mailbox was deleted.');
    }
    return ok('DELETE completed');
  },
};
