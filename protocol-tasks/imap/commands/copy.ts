// COPY and UID COPY (RFC 3501 §6.4.7) with COPYUID (RFC 4315).
//
// The store copies metadata and shares the immutable blobs, allocating the target's UIDs
// atomically (invariant 1). Decisions:
//   - sequence numbers beyond the mailbox are BAD (RFC 3501 §9); UIDs that do not exist are
//     skipped, and a UID COPY that names none is OK with nothing copied (RFC 4315);
//   - a COPY by sequence number that includes a message another session expunged (still in
//     this session's view) is refused whole with NO [EXPUNGEISSUED] (RFC 5530), nothing copied;
//   - a missing target is NO [TRYCREATE]; COPY is allowed from a read-only (EXAMINEd) mailbox.

import type { CopyResult } from '../../../core/store/port.js';
import type { CopyCommand } from '../codec/commands/types.js';
import { raw, type ResponseCode } from '../codec/serialize.js';
import { compressNumbersInOrder, resolveSeqSet, seqSetOutOfRange, uidsInSet, type SequenceSet } from '../codec/sequence.js';
import { findFolder } from '../folders.js';
import type { MailboxView } from '../mailbox-view.js';
import { bad, no, ok, type Done, type ImapCommandHandler } from '../session.js';
import { storeFailure } from './store-failure.js';

/** The UIDs (ascending) a COPY/MOVE set names in the view, or the refusal. */
export function resolveMessageSet(view: MailboxView, set: SequenceSet, uid: boolean): number[] | Done {
  if (uid) return uidsInSet(set, view.uids);
  if (seqSetOutOfRange(set, view.exists)) return bad('Invalid sequence number.');
  const out: number[] = [];
  for (const [lo, hi] of resolveSeqSet(set, view.exists)) {
    for (let seq = lo; seq <= hi; seq++) out.push(view.uids[seq - 1]!);
  }
  if (out.some((u) => view.isExpunged(u))) return no('Some of the requested messages no longer exist.', 'EXPUNGEISSUED');
  return out;
}

export function copyUidCode(r: CopyResult): ResponseCode {
  return {
    name: 'COPYUID',
    args: [r.uidValidity, raw(compressNumbersInOrder(r.mapping.map(([src]) => src))), raw(compressNumbersInOrder(r.mapping.map(([, dst]) => dst)))],
  };
}

export const copy: ImapCommandHandler<CopyCommand> = {
  name: 'COPY',
  states: ['selected'],
  async run(s, cmd) {
    const view = s.selected!;
    const what = cmd.uid ? 'UID COPY' : 'COPY';
    const uids = resolveMessageSet(view, cmd.set, cmd.uid);
    if (!Array.isArray(uids)) return uids;
    const target = await findFolder(s, cmd.mailbox);
    if (!target) return no('Mailbox does not exist.', 'TRYCREATE');
    if (uids.length === 0) return ok(`${what} completed, no messages copied`);
    let r: CopyResult;
    try {
      r = await s.store.copyMessages(view.accountId, view.folder.id, uids, target.id);
    } catch (e) {
      const refusal = storeFailure(e, 'TRYCREATE');
      if (refusal) return refusal;
      throw e;
    }
    if (target.id === view.folder.id) s.dirty = true;
    if (r.mapping.length === 0) return ok(`${what} completed, no messages copied`);
    return ok(`${what} completed`, copyUidCode(r));
  },
};
