// LSUB (RFC 3501 §6.3.9): the subscribed names that match the pattern.
//
// RFC 3501's special rule for "%": when "foo/bar" is subscribed and "foo" is not, `LSUB "" %`
// returns "foo" flagged \Noselect (in LSUB, \Noselect means "not subscribed itself, but has
// subscribed descendants"). Generalized as in LIST: a name that matches the pattern and is
// not subscribed is returned with \Noselect when it has a subscribed descendant that the
// pattern does not match. Subscribed names are returned with no attributes (LSUB attributes
// are not meant to be accurate; LIST (SUBSCRIBED) gives the accurate ones). Subscribed names
// are listed whether or not a mailbox of that name exists (RFC 3501 §6.3.6: DELETE leaves
// the subscription).

import type { LsubCommand } from '../codec/commands/types.js';
import { raw } from '../codec/serialize.js';
import { DELIMITER } from '../folders.js';
import { compareNames, compilePatterns, parentNames, wireName } from '../mailbox-names.js';
import { ok, type ImapCommandHandler } from '../session.js';
import { LineBatch, subscribedNames } from './list.js';

export const lsub: ImapCommandHandler<LsubCommand> = {
  name: 'LSUB',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const out = new LineBatch(s);
    if (cmd.pattern !== '') {
      const subs = await subscribedNames(s);
      const matches = compilePatterns(cmd.reference, [cmd.pattern]);
      const unmatchedBelow = new Set<string>();
      const names = new Set(subs);
      for (const n of subs) {
        const hidden = !matches(n);
        for (const p of parentNames(n)) {
          names.add(p);
          if (hidden) unmatchedBelow.add(p);
        }
      }
      for (const name of [...names].sort(compareNames)) {
        if (!matches(name)) continue;
        let attrs: string[];
        if (subs.has(name)) attrs = [];
        else if (unmatchedBelow.has(name)) attrs = ['\\Noselect'];
        else continue;
        await out.add([raw('LSUB'), attrs.map((a) => raw(a)), DELIMITER, wireName(name, s.utf8)]);
      }
    }
    await out.flush();
    return ok('LSUB completed');
  },
};
