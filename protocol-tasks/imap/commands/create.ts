// CREATE (RFC 3501 §6.3.3) with CREATE-SPECIAL-USE (RFC 6154 §3).
//
// - One trailing delimiter is dropped ("foo/" creates "foo").
// - Missing superior levels are created too (not subscribed), so the hierarchy has no holes.
// - "INBOX" (any case) and existing names: NO [ALREADYEXISTS].
// - Names are checked (mailbox-names.ts invalidNewName): not empty, no control characters,
//   no wildcards, at most 1000 octets and 50 levels, no empty level. Otherwise NO [CANNOT].
//   ".." and the like are ordinary level names inside the account (checklist B17).
// - USE (...): one of \Sent \Drafts \Trash \Junk \Archive is stored with the folder. \All and
//   \Flagged name virtual views this store does not provide, \Important is not kept, and a
//   folder has one special use here: all these get NO [USEATTR] and nothing is created.
// - A new folder is not subscribed (clients subscribe explicitly); its UIDVALIDITY is one the
//   account never used before, also when a folder of the same name was deleted (D27).

import type { CreateCommand } from '../codec/commands/types.js';
import { StoreError, type SpecialUse } from '../../../core/store/port.js';
import { invalidNewName, newMailboxName, parentNames } from '../mailbox-names.js';
import { no, ok, type Done, type ImapCommandHandler, type ImapSession } from '../session.js';

const ASSIGNABLE: ReadonlySet<string> = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive']);

/** Maps a store refusal to the tagged reply; rethrows anything else. */
export function storeRefusal(e: unknown): Done {
  if (e instanceof StoreError) {
    switch (e.code) {
      case 'ALREADY_EXISTS':
        return no('Mailbox already exists.', 'ALREADYEXISTS');
      case 'NONEXISTENT':
      case 'NOT_FOUND':
        return no('No such mailbox.', 'NONEXISTENT');
      case 'LIMIT':
        return no('Too many mailboxes.', 'LIMIT');
      case 'INVALID':
        return no('Invalid mailbox name.', 'CANNOT');
      case 'UNAVAILABLE':
        return no('Storage is busy, try again.', 'UNAVAILABLE');
    }
  }
  throw e;
}

/** Creates the missing superior levels of `name` (an existing one is fine). */
export async function createParents(s: ImapSession, name: string): Promise<void> {
  const accountId = s.account!.id;
  for (const p of parentNames(name)) {
    if (await s.store.getFolderByName(accountId, p)) continue;
    try {
      await s.store.createFolder(accountId, p, { subscribed: false });
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'ALREADY_EXISTS')) throw e;
    }
  }
}

export const create: ImapCommandHandler<CreateCommand> = {
  name: 'CREATE',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const name = newMailboxName(cmd.mailbox);
    if (name === 'INBOX') return no('INBOX always exists.', 'ALREADYEXISTS');
    const invalid = invalidNewName(name);
    if (invalid) return no(invalid, 'CANNOT');
    let specialUse: SpecialUse | null = null;
    if (cmd.specialUse.length > 1) return no('A mailbox can have one special use here.', 'USEATTR');
    if (cmd.specialUse.length === 1) {
      const use = cmd.specialUse[0]!;
      if (!ASSIGNABLE.has(use)) return no(`The special use ${use} cannot be assigned here.`, 'USEATTR');
      specialUse = use as SpecialUse;
    }
    const accountId = s.account!.id;
    if (await s.store.getFolderByName(accountId, name)) return no('Mailbox already exists.', 'ALREADYEXISTS');
    try {
      await createParents(s, name);
      await s.store.createFolder(accountId, name, { specialUse, subscribed: false });
    } catch (e) {
      return storeRefusal(e);
    }
    return ok('CREATE completed');
  },
};
