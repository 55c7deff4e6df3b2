// STATUS (RFC 3501 §6.3.10), with SIZE (RFC 8438), APPENDLIMIT (RFC 7889), DELETED
// (RFC 9051) and HIGHESTMODSEQ (RFC 7162).
//
// Counters come from the folder record (MESSAGES, SIZE, UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ),
// so a STATUS sweep over many folders is one key lookup each. UNSEEN and DELETED need the
// flags: only when one of them is asked for are the small per-message records read (one
// range query). RECENT is always 0: this server keeps no \Recent state. STATUS of the
// selected mailbox is allowed; the values are the store's, which may run ahead of what the
// session has reported with EXISTS. LIST-STATUS (list.ts) uses statusResponse() too.

import type { StatusCommand, StatusItem } from '../codec/commands/types.js';
import { raw, type ImapValue } from '../codec/serialize.js';
import { MAX_MESSAGE_SIZE } from '../../../core/store/deliver.js';
import type { Folder } from '../../../core/store/port.js';
import { findFolder } from '../folders.js';
import { wireName } from '../mailbox-names.js';
import { bad, no, ok, type ImapCommandHandler, type ImapSession } from '../session.js';

/** HIGHESTMODSEQ is answered only where CONDSTORE is on or advertised (RFC 7162 §3.1). */
export function modseqAllowed(s: ImapSession): boolean {
  return s.enabled.has('CONDSTORE') || s.enabled.has('QRESYNC') || s.capabilities().includes('CONDSTORE');
}

/** The values of the status items, in the order asked: [ITEM, value, ITEM, value, ...]. */
export async function statusValues(s: ImapSession, folder: Folder, items: readonly StatusItem[]): Promise<ImapValue[]> {
  let unseen = 0;
  let deleted = 0;
  if (items.includes('UNSEEN') || items.includes('DELETED')) {
    const metas = await s.store.listMessages(s.account!.id, folder.id);
    for (const m of metas) {
      if (!m.flags.includes('\\Seen')) unseen++;
      if (m.flags.includes('\\Deleted')) deleted++;
    }
  }
  const out: ImapValue[] = [];
  for (const item of items) {
    let v: ImapValue;
    switch (item) {
      case 'MESSAGES':
        v = folder.messageCount;
        break;
      case 'RECENT':
        v = 0;
        break;
      case 'UIDNEXT':
        v = folder.uidNext;
        break;
      case 'UIDVALIDITY':
        v = folder.uidValidity;
        break;
      case 'UNSEEN':
        v = unseen;
        break;
      case 'DELETED':
        v = deleted;
        break;
      case 'SIZE':
        v = folder.totalSize;
        break;
      case 'HIGHESTMODSEQ':
        v = folder.highestModseq;
        break;
      case 'APPENDLIMIT':
        v = MAX_MESSAGE_SIZE;
        break;
      default:
        continue;
    }
    out.push(raw(item), v);
  }
  return out;
}

/** Writes `* STATUS name (items)` for a folder. */
export async function statusResponse(s: ImapSession, folder: Folder, items: readonly StatusItem[]): Promise<void> {
  const values = await statusValues(s, folder, items);
  await s.untagged([raw('STATUS'), wireName(folder.name, s.utf8), values]);
}

export const status: ImapCommandHandler<StatusCommand> = {
  name: 'STATUS',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    if (cmd.items.includes('HIGHESTMODSEQ') && !modseqAllowed(s)) {
      return bad('STATUS HIGHESTMODSEQ needs CONDSTORE.');
    }
    const folder = await findFolder(s, cmd.mailbox);
    if (!folder) return no('No such mailbox.', 'NONEXISTENT');
    await statusResponse(s, folder, cmd.items);
    return ok('STATUS completed');
  },
};
