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
    view.uids.forEach((uid, i) => {
      const m = view.meta.get(uid)!;
      for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
      if (!firstUnseen && !m.flags.includes('\\Seen')) firstUnseen = i + 1;
    });
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
