// COPY / MOVE sequence-set mailbox (RFC 3501 §6.4.7, RFC 6851), with or without UID.

import type { Args } from './reader.js';
import type { CopyCommand, ParseContext } from './types.js';

export function parseCopy(name: 'COPY' | 'MOVE', args: Args, uid: boolean, ctx: ParseContext): CopyCommand {
  const set = args.sequenceSet(uid ? 'UID set' : 'sequence set');
  const mailbox = args.mailbox(ctx);
  args.end();
  return { name, uid, set, mailbox };
}
