// SELECT and EXAMINE (RFC 3501 §6.3.1-2). A failed SELECT leaves no mailbox selected.
import type { SelectCommand } from '../codec/commands/types.js';
import { findFolder } from '../folders.js';
import { MailboxView } from '../mailbox-view.js';
import { no, ok, type ImapCommandHandler } from '../session.js';

export const SYSTEM_FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';

export const select: ImapCommandHandler<SelectCommand> = {
  name: 'SELECT',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const readOnly = cmd.name === 'EXAMINE';
    if (s.selected) {
      s.select(null);
      await s.untaggedLine('OK [CLOSED] Previous mailbox closed.');
    }
    const folder = await findFolder(s, cmd.mailbox);
    if (!folder) return no('No such mailbox.', 'NONEXISTENT');
    const view = await MailboxView.open(s.store, s.account!.id, folder, readOnly);
    const keywords = new Set<string>();
    let firstUnseen = 0;
    // Messages share flag lists (the store hands out one array per distinct list): each list
    // is looked at once.
    const lists = new Set<readonly string[]>();
    const uids = view.uids;
    for (let i = 0; i < uids.length; i++) {
      const flags = view.meta.get(uids[i]!)!.flags;
      if (lists.has(flags)) {
        if (firstUnseen) continue;
      } else {
        lists.add(flags);
        for (const f of flags) if (!f.startsWith('\\')) keywords.add(f);
      }
      if (!firstUnseen && !flags.includes('\\Seen')) firstUnseen = i + 1;
    }
    const kw = [...keywords].sort().map((k) => ' ' + k).join('');
    const lines = [
      `FLAGS (${SYSTEM_FLAGS}${kw})`,
      readOnly ? 'OK [PERMANENTFLAGS ()] Read-only mailbox.' : `OK [PERMANENTFLAGS (${SYSTEM_FLAGS}${kw} \\*)] Flags permitted.`,
      `${view.exists} EXISTS`,
      '0 RECENT',
    ];
    if (firstUnseen) lines.push(`OK [UNSEEN ${firstUnseen}] First unseen.`);
    lines.push(`OK [UIDVALIDITY ${folder.uidValidity}] UIDs valid.`, `OK [UIDNEXT ${folder.uidNext}] Predicted next UID.`);
    await s.send(lines.map((l) => `* ${l}\r\n`).join(''));
    s.select(view);
    return ok(`${cmd.name} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
  },
};

export const examine: ImapCommandHandler<SelectCommand> = { ...select, name: 'EXAMINE' };
