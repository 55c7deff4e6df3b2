// LIST (RFC 3501 §6.3.8, LIST-EXTENDED RFC 5258, SPECIAL-USE RFC 6154, LIST-STATUS
// RFC 5819) and LSUB (RFC 3501 §6.3.9).
//
//   LIST [(selection-options)] reference (pattern | (pattern ...)) [RETURN (return-options)]

import { Args, ParseError, decodeMailbox } from './reader.js';
import { statusItems } from './parse-status.js';
import type { ListCommand, LsubCommand, ParseContext } from './types.js';
import type { Token } from '../tokens.js';

/** list-mailbox: atom (wildcards allowed) or string, decoded like a mailbox name. */
function pattern(t: Token | undefined, ctx: ParseContext, command: string): string {
  if (!t) throw new ParseError(`${command}: missing mailbox pattern`);
  let data: Buffer;
  if (t.type === 'string') data = t.value;
  else if (t.type === 'atom' && !t.section) data = Buffer.from(t.value, 'latin1');
  else throw new ParseError(`${command}: invalid mailbox pattern`);
  return decodeMailbox(data, ctx, 'Mailbox pattern');
}

export function parseList(args: Args, ctx: ParseContext): ListCommand {
  const selection = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  const returns = { subscribed: false, children: false, specialUse: false, status: null as ListCommand['returns']['status'] };
  let extended = false;

  if (args.peek()?.type === 'list') {
    extended = true;
    const opts = new Args(args.list('selection options'), 'LIST');
    while (!opts.done) {
      const o = opts.keyword('selection option');
      if (o === 'SUBSCRIBED') selection.subscribed = true;
      else if (o === 'REMOTE') selection.remote = true;
      else if (o === 'RECURSIVEMATCH') selection.recursiveMatch = true;
      else if (o === 'SPECIAL-USE') selection.specialUse = true;
      else throw new ParseError(`LIST: unknown selection option ${o.slice(0, 40)}`);
    }
    if (selection.recursiveMatch && !selection.subscribed && !selection.specialUse) {
      throw new ParseError('LIST: RECURSIVEMATCH needs another selection option');
    }
  }

  const reference = decodeMailbox(args.astring('reference name'), ctx, 'Reference name');
  const patterns: string[] = [];
  const p = args.next('mailbox pattern');
  if (p.type === 'list') {
    extended = true;
    if (p.items.length === 0) throw new ParseError('LIST: empty pattern list');
    for (const item of p.items) patterns.push(pattern(item, ctx, 'LIST'));
  } else {
    patterns.push(pattern(p, ctx, 'LIST'));
  }

  if (!args.done) {
    const kw = args.keyword('RETURN');
    if (kw !== 'RETURN') throw new ParseError(`LIST: unexpected ${kw.slice(0, 40)}`);
    extended = true;
    const opts = new Args(args.list('return options'), 'LIST');
    while (!opts.done) {
      const o = opts.keyword('return option');
      if (o === 'SUBSCRIBED') returns.subscribed = true;
      else if (o === 'CHILDREN') returns.children = true;
      else if (o === 'SPECIAL-USE') returns.specialUse = true;
      else if (o === 'STATUS') returns.status = statusItems(opts.list('status items'), 'LIST');
      else throw new ParseError(`LIST: unknown return option ${o.slice(0, 40)}`);
    }
  }
  args.end();
  return { name: 'LIST', reference, patterns, selection, returns, extended };
}

export function parseLsub(args: Args, ctx: ParseContext): LsubCommand {
  const reference = decodeMailbox(args.astring('reference name'), ctx, 'Reference name');
  const p = pattern(args.next('mailbox pattern'), ctx, 'LSUB');
  args.end();
  return { name: 'LSUB', reference, pattern: p };
}
