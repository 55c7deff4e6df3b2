// EXPUNGE, and UID EXPUNGE <uid-set> (RFC 4315 UIDPLUS).

import type { Args } from './reader.js';
import type { ExpungeCommand } from './types.js';

export function parseExpunge(args: Args, uid: boolean): ExpungeCommand {
  if (!uid) {
    args.end();
    return { name: 'EXPUNGE', uids: null };
  }
  const uids = args.sequenceSet('UID set');
  args.end();
  return { name: 'EXPUNGE', uids };
}
