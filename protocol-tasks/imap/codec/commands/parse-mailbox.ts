// CREATE [(USE (...))] (RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE.

import { Args, ParseError } from './reader.js';
import type { CreateCommand, DeleteCommand, ParseContext, RenameCommand, SubscribeCommand } from './types.js';

const SPECIAL_USE = new Map(
  ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important'].map((f) => [f.toLowerCase(), f]),
);

export function parseCreate(args: Args, ctx: ParseContext): CreateCommand {
  const mailbox = args.mailbox(ctx);
  const specialUse: string[] = [];
  if (!args.done) {
    const params = new Args(args.list('CREATE parameters'), 'CREATE');
    while (!params.done) {
      const p = params.keyword('CREATE parameter');
      if (p !== 'USE') throw new ParseError(`CREATE: unknown parameter ${p.slice(0, 40)}`);
      const uses = new Args(params.list('special-use attributes'), 'CREATE');
      while (!uses.done) {
        const a = uses.atom('special-use attribute');
        const known = SPECIAL_USE.get(a.toLowerCase());
        // Unknown attributes: NO [USEATTR] (RFC 6154 §5.3), decided here as it is static.
        if (!known) throw new ParseError(`CREATE: unsupported special-use attribute ${a.slice(0, 40)}`, 'NO', 'USEATTR');
        if (!specialUse.includes(known)) specialUse.push(known);
      }
    }
  }
  args.end();
  return { name: 'CREATE', mailbox, specialUse };
}

export function parseDelete(args: Args, ctx: ParseContext): DeleteCommand {
  const mailbox = args.mailbox(ctx);
  args.end();
  return { name: 'DELETE', mailbox };
}

export function parseRename(args: Args, ctx: ParseContext): RenameCommand {
  const from = args.mailbox(ctx, 'existing mailbox name');
  const to = args.mailbox(ctx, 'new mailbox name');
  args.end();
  return { name: 'RENAME', from, to };
}

export function parseSubscribe(name: 'SUBSCRIBE' | 'UNSUBSCRIBE', args: Args, ctx: ParseContext): SubscribeCommand {
  const mailbox = args.mailbox(ctx);
  args.end();
  return { name, mailbox };
}
