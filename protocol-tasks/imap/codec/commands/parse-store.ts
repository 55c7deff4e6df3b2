// STORE sequence-set [(UNCHANGEDSINCE n)] (FLAGS | +FLAGS | -FLAGS)[.SILENT] (flags | flag...)
// (RFC 3501 §6.4.6, RFC 7162 §3.1.3), with or without UID.

import { Args, ParseError, flagsOf } from './reader.js';
import type { StoreCommand } from './types.js';

export function parseStore(args: Args, uid: boolean): StoreCommand {
  const set = args.sequenceSet(uid ? 'UID set' : 'sequence set');
  let unchangedSince: number | null = null;
  if (args.peek()?.type === 'list') {
    const mods = new Args(args.list('STORE modifiers'), 'STORE');
    while (!mods.done) {
      const mod = mods.keyword('STORE modifier');
      if (mod !== 'UNCHANGEDSINCE') throw new ParseError(`STORE: unknown modifier ${mod.slice(0, 40)}`);
      if (unchangedSince !== null) throw new ParseError('STORE: UNCHANGEDSINCE given twice');
      unchangedSince = mods.modseq('UNCHANGEDSINCE value', true);
    }
  }
  const item = args.keyword('data item name');
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new ParseError(`STORE: invalid data item ${item.slice(0, 40)}`);
  const operation = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'replace';
  const silent = m[2] !== undefined;
  let flags: string[];
  if (args.peek()?.type === 'list') {
    flags = args.flagList();
    args.end();
  } else {
    // flag *(SP flag) without parentheses; at least one.
    const rest: import('../tokens.js').Token[] = [];
    while (!args.done) rest.push(args.next('flag'));
    if (rest.length === 0) throw new ParseError('STORE: missing flags');
    flags = flagsOf(rest, 'STORE');
  }
  return { name: 'STORE', uid, set, operation, silent, flags, unchangedSince };
}
