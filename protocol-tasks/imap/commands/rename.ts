// RENAME (RFC 3501 §6.3.5).
//
// - The folder and all its inferiors move: "a" -> "b" renames "a/x" to "b/x" too. Each keeps
//   its id, UIDVALIDITY and messages, and its subscription follows it (the store's
//   renameFolder moves the old name's subscription to the new name in the same write, as
//   Dovecot does; it renames one folder, this walks the subtree, parents first). Subscribed
//   names below the old name that are not mailboxes stay as they are. Should a rename fail
//   midway, the ones already done are renamed back (best effort; that moves their
//   subscriptions back too).
// - Missing superior levels of the new name are created (not subscribed).
// - Source missing: NO [NONEXISTENT]. New name (or the new name of any inferior) taken:
//   NO [ALREADYEXISTS]. New name below the old one ("a" -> "a/b"): NO [CANNOT]. New name
//   invalid (mailbox-names.ts invalidNewName, also for every inferior's new name): NO [CANNOT].
// - RENAME INBOX: a new folder with the new name gets all of INBOX's messages (moved in
//   batches with store.moveMessages, so they get new UIDs there) and INBOX stays, empty.
//   INBOX's inferiors do not move. The target may itself be below INBOX ("INBOX/old").
//   INBOX keeps its subscription; the new folder is subscribed only if its name already was.
// - Renaming onto a name deleted earlier: the moved folder keeps its own UIDVALIDITY, which
//   differs from the deleted folder's (the store never reuses one; checklist D27).
// - Renaming the selected mailbox is fine: the session's view is keyed by folder id.

import type { RenameCommand } from '../codec/commands/types.js';
import type { Folder } from '../../../core/store/port.js';
import { findFolder, normalizeName } from '../folders.js';
import { invalidNewName, isInferior, newMailboxName } from '../mailbox-names.js';
import { no, ok, type ImapCommandHandler, type ImapSession } from '../session.js';
import { createParents, storeRefusal } from './create.js';

/** UIDs moved per store call when INBOX is renamed. */
const MOVE_BATCH = 1000;

async function renameInbox(s: ImapSession, inbox: Folder, to: string): Promise<void> {
  const accountId = s.account!.id;
  await createParents(s, to);
  const dst = await s.store.createFolder(accountId, to, { subscribed: false });
  for (;;) {
    const metas = await s.store.listMessages(accountId, inbox.id);
    if (metas.length === 0) break;
    const uids = metas.slice(0, MOVE_BATCH).map((m) => m.uid);
    await s.store.moveMessages(accountId, inbox.id, uids, dst.id);
    if (metas.length <= MOVE_BATCH) break;
  }
}

export const rename: ImapCommandHandler<RenameCommand> = {
  name: 'RENAME',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const accountId = s.account!.id;
    const from = normalizeName(cmd.from);
    const to = newMailboxName(cmd.to);
    const invalid = invalidNewName(to);
    if (invalid) return no(invalid, 'CANNOT');
    const src = await findFolder(s, from);
    if (!src) return no('No such mailbox.', 'NONEXISTENT');
    if (to === 'INBOX' || from === to) return no('Mailbox already exists.', 'ALREADYEXISTS');
    if (await s.store.getFolderByName(accountId, to)) return no('Mailbox already exists.', 'ALREADYEXISTS');

    if (src.name === 'INBOX') {
      try {
        await renameInbox(s, src, to);
      } catch (e) {
        return storeRefusal(e);
      }
      return ok('RENAME completed');
    }

    if (isInferior(to, src.name)) return no('A mailbox cannot be moved below itself.', 'CANNOT');

    const folders = await s.store.listFolders(accountId);
    const moving = [src, ...folders.filter((f) => isInferior(f.name, src.name))];
    const movingIds = new Set(moving.map((f) => f.id));
    const taken = new Map(folders.map((f) => [f.name, f.id]));
    const plan: Array<{ folder: Folder; newName: string }> = [];
    for (const f of moving) {
      const newName = to + f.name.slice(src.name.length);
      if (f !== src) {
        const bad = invalidNewName(newName);
        if (bad) return no(`Cannot rename ${f.name}: ${bad}`, 'CANNOT');
      }
      const holder = taken.get(newName);
      if (holder !== undefined && !movingIds.has(holder)) return no(`Mailbox ${newName} already exists.`, 'ALREADYEXISTS');
      plan.push({ folder: f, newName });
    }
    // Parents first: when the new name is above the old one ("a/b" -> "a"), a folder's new
    // name can be the old name of a shallower one, which is then already free.
    plan.sort((a, b) => a.folder.name.length - b.folder.name.length);

    const done: Array<{ folder: Folder; newName: string }> = [];
    try {
      await createParents(s, to);
      for (const step of plan) {
        await s.store.renameFolder(accountId, step.folder.id, step.newName);
        done.push(step);
      }
    } catch (e) {
      for (const step of done.reverse()) {
        await s.store.renameFolder(accountId, step.folder.id, step.folder.name).catch(() => undefined);
      }
      return storeRefusal(e);
    }
    return ok('RENAME completed');
  },
};
