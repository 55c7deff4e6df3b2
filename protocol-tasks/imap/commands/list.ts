// LIST (RFC 3501 §6.3.8) with LIST-EXTENDED (RFC 5258), CHILDREN (RFC 3348), SPECIAL-USE
// (RFC 6154) and LIST-STATUS (RFC 5819).
//
// What is listed: every name that matches the canonical pattern (reference + pattern, any of
// the patterns) and meets the selection criteria: by default "exists"; with SUBSCRIBED also
// "is subscribed"; with SPECIAL-USE also "has a special use". Besides those (RFC 5258 §3.3):
//   - with RECURSIVEMATCH, a name that does not meet the criteria but has a descendant that
//     does and that no pattern matches, with ("CHILDINFO" (...));
//   - without selection options, a missing parent level (a "hole": "a" when only "a/b"
//     exists, e.g. after DELETE "a") whose existing descendants no pattern matches, as
//     (\NonExistent \HasChildren) in extended LIST, (\Noselect \HasChildren) in plain LIST.
//     So `LIST "" %` shows "a" and `LIST "" *` shows only "a/b" (RFC 3501's DELETE example,
//     RFC 5258 example 11).
// Attributes: \HasChildren / \HasNoChildren always (the CHILDREN capability); the special-use
// attribute always (RFC 6154 §2 allows it without RETURN (SPECIAL-USE), and clients that list
// with plain LIST then still find Sent and Trash); \Subscribed with SUBSCRIBED as selection or
// return option. Subscriptions are the store's list of names, kept apart from folders: a
// subscribed name need not exist (DELETE keeps it, SUBSCRIBE accepts a missing name), and
// LIST (SUBSCRIBED) reports such a name as (\NonExistent \Subscribed) (RFC 5258 §3.1,
// example 5). With SUBSCRIBED, "meets the criteria" is about the name, existing or not.
//
// `LIST ref ""` answers the delimiter and the root: * LIST (\Noselect) "/" "".
// Wildcards match Unicode names with a linear dynamic program (mailbox-names.ts), never a
// regular expression built from client input.

import type { ListCommand } from '../codec/commands/types.js';
import { raw, untaggedBuffers, type ImapValue } from '../codec/serialize.js';
import type { Folder } from '../../../core/store/port.js';
import { DELIMITER } from '../folders.js';
import { compareNames, compilePatterns, parentNames, wireName } from '../mailbox-names.js';
import { bad, ok, type ImapCommandHandler, type ImapSession } from '../session.js';
import { modseqAllowed, statusValues } from './status.js';

/** Output is sent in chunks of about this many octets. */
const FLUSH_AT = 64 * 1024;

/** Buffers untagged lines and writes them in chunks. */
export class LineBatch {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private s: ImapSession) {}

  async add(values: readonly ImapValue[]): Promise<void> {
    for (const b of untaggedBuffers(values, { utf8: this.s.utf8 })) {
      this.parts.push(b);
      this.size += b.length;
    }
    if (this.size >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const p = this.parts;
    this.parts = [];
    this.size = 0;
    await this.s.send(p);
  }
}

/** The folder tree of an account: folders by name, parent levels that are missing, which names have children. */
export interface FolderTree {
  folders: Folder[];
  byName: Map<string, Folder>;
  holes: Set<string>;
  parents: Set<string>;
  /** Folders and holes, parents before children, INBOX first. */
  names: string[];
}

/** The account's subscribed names. */
export async function subscribedNames(s: ImapSession): Promise<Set<string>> {
  return new Set(await s.store.listSubscriptions(s.account!.id));
}

export async function folderTree(s: ImapSession): Promise<FolderTree> {
  const folders = await s.store.listFolders(s.account!.id);
  const byName = new Map(folders.map((f) => [f.name, f]));
  const holes = new Set<string>();
  const parents = new Set<string>();
  for (const f of folders) {
    for (const p of parentNames(f.name)) {
      parents.add(p);
      if (!byName.has(p)) holes.add(p);
    }
  }
  const names = [...byName.keys(), ...holes].sort(compareNames);
  return { folders, byName, holes, parents, names };
}

export const list: ImapCommandHandler<ListCommand> = {
  name: 'LIST',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const sel = cmd.selection;
    const ret = cmd.returns;
    const statusItems = ret.status;
    if (statusItems?.includes('HIGHESTMODSEQ') && !modseqAllowed(s)) return bad('LIST RETURN (STATUS (HIGHESTMODSEQ)) needs CONDSTORE.');
    const out = new LineBatch(s);

    // An empty pattern asks for the hierarchy delimiter and the root name.
    if (cmd.patterns.some((p) => p === '')) {
      await out.add([raw('LIST'), [raw('\\Noselect')], DELIMITER, '']);
    }
    const patterns = cmd.patterns.filter((p) => p !== '');
    if (patterns.length === 0) {
      await out.flush();
      return ok('LIST completed');
    }

    const showSubscribed = sel.subscribed || ret.subscribed;
    const [tree, subs] = await Promise.all([folderTree(s), showSubscribed ? subscribedNames(s) : Promise.resolve(new Set<string>())]);
    const matchPattern = compilePatterns(cmd.reference, patterns);
    const matched = new Map<string, boolean>();
    const matches = (name: string): boolean => {
      let m = matched.get(name);
      if (m === undefined) matched.set(name, (m = matchPattern(name)));
      return m;
    };
    const criteria = sel.subscribed || sel.specialUse;
    const meets = (name: string, f: Folder | undefined): boolean =>
      (sel.subscribed ? subs.has(name) : f !== undefined) && (!sel.specialUse || (f !== undefined && f.specialUse !== null));

    // The names to consider: folders and holes, and with SUBSCRIBED also subscribed names that
    // do not exist, with their parent levels.
    let names = tree.names;
    const candidates = tree.folders.map((f) => f.name);
    if (sel.subscribed) {
      const all = new Set(names);
      for (const n of subs) {
        if (tree.byName.has(n)) continue;
        candidates.push(n);
        all.add(n);
        for (const p of parentNames(n)) all.add(p);
      }
      if (all.size !== names.length) names = [...all].sort(compareNames);
    }

    // Names with a descendant that meets the criteria: any (CHILDINFO), or one that no
    // pattern matches (what makes a non-matching parent worth a line of its own).
    const meetingBelow = new Set<string>();
    const unmatchedBelow = new Set<string>();
    for (const n of candidates) {
      if (!meets(n, tree.byName.get(n))) continue;
      const ps = parentNames(n);
      if (ps.length === 0) continue;
      const hidden = !matches(n);
      for (const p of ps) {
        meetingBelow.add(p);
        if (hidden) unmatchedBelow.add(p);
      }
    }
    const baseOptions: string[] = [];
    if (sel.subscribed) baseOptions.push('SUBSCRIBED');
    if (sel.specialUse) baseOptions.push('SPECIAL-USE');

    for (const name of names) {
      if (!matches(name)) continue;
      const f = tree.byName.get(name);
      let childInfo = false;
      if (meets(name, f)) {
        childInfo = sel.recursiveMatch && meetingBelow.has(name);
      } else if (sel.recursiveMatch && unmatchedBelow.has(name)) {
        childInfo = true;
      } else if (!criteria && !f && unmatchedBelow.has(name)) {
        // A hole above folders the pattern does not reach.
      } else {
        continue;
      }

      const attrs: string[] = [];
      if (!f) attrs.push(cmd.extended ? '\\NonExistent' : '\\Noselect');
      attrs.push(tree.parents.has(name) ? '\\HasChildren' : '\\HasNoChildren');
      if (showSubscribed && subs.has(name)) attrs.push('\\Subscribed');
      if (f?.specialUse) attrs.push(f.specialUse);

      const line: ImapValue[] = [raw('LIST'), attrs.map((a) => raw(a)), DELIMITER, wireName(name, s.utf8)];
      if (childInfo) line.push([raw('"CHILDINFO"'), baseOptions]);
      await out.add(line);

      // LIST-STATUS: right after the mailbox's LIST line, for mailboxes that can be selected.
      if (statusItems && f) {
        const values = await statusValues(s, f, statusItems);
        await out.add([raw('STATUS'), wireName(name, s.utf8), values]);
      }
    }
    await out.flush();
    return ok('LIST completed');
  },
};
