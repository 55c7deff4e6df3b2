// STATUS mailbox (items) (RFC 3501 §6.3.10; SIZE RFC 8438; HIGHESTMODSEQ RFC 7162;
// APPENDLIMIT RFC 7889; DELETED RFC 9051).

import { ParseError, type Args } from './reader.js';
import type { ParseContext, StatusCommand, StatusItem } from './types.js';
import type { Token } from '../tokens.js';

export const STATUS_ITEMS: ReadonlySet<string> = new Set<StatusItem>([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'SIZE',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
  'DELETED',
]);

/** Parses a list of status item names (STATUS, LIST RETURN (STATUS (...))). */
export function statusItems(items: readonly Token[], command: string): StatusItem[] {
  if (items.length === 0) throw new ParseError(`${command}: empty status item list`);
  const out: StatusItem[] = [];
  for (const t of items) {
    if (t.type !== 'atom' || t.section) throw new ParseError(`${command}: invalid status item`);
    const item = t.value.toUpperCase();
    if (!STATUS_ITEMS.has(item)) throw new ParseError(`${command}: unknown status item ${item.slice(0, 40)}`);
    if (!out.includes(item as StatusItem)) out.push(item as StatusItem);
  }
  return out;
}

export function parseStatus(args: Args, ctx: ParseContext): StatusCommand {
  const mailbox = args.mailbox(ctx);
  const items = statusItems(args.list('status items'), 'STATUS');
  args.end();
  return { name: 'STATUS', mailbox, items };
}
