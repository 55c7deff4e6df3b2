// STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8): FLAGS / +FLAGS / -FLAGS, with .SILENT.
//
// The store applies each operation atomically per message (add/remove against the flags it
// holds, not against this session's copy), so concurrent sessions never lose each other's
// flags (checklist D30). Unless .SILENT, every message in the set gets an untagged
// FETCH (FLAGS ...) with its flags after the change, changed or not (UID included for UID
// STORE). \Recent cannot be stored (the parser refuses it). A read-only (EXAMINEd) mailbox
// refuses STORE with NO. UNCHANGEDSINCE (RFC 7162) needs CONDSTORE; when it is on, messages
// modified since are left alone and listed in [MODIFIED ...].
import type { FlagUpdateResult } from '../../../core/store/port.js';
import type { StoreCommand } from '../codec/commands/types.js';
import { compressNumbers } from '../codec/sequence.js';
import { raw } from '../codec/serialize.js';
import { FLAG_BATCH, condstoreOn, resolveTargets, storeFailure } from '../fetch-items.js';
import { bad, no, ok, type ImapCommandHandler } from '../session.js';

/** Pending response text past which it is written. */
const FLUSH_CHARS = 64 * 1024;
/**
 * updateFlags calls (of FLAG_BATCH UIDs each) asked for at once. A store may commit writes
 * asked for together in one transaction (the local one group-commits them: one fsync for the
 * lot instead of one per batch); the window bounds how long one such commit can take.
 */
const BATCH_WINDOW = 16;

export const store: ImapCommandHandler<StoreCommand> = {
  name: 'STORE',
  states: ['selected'],
  async run(s, cmd) {
    const view = s.selected!;
    const condstore = condstoreOn(s);
    if (cmd.unchangedSince !== null && !condstore) return bad('UNCHANGEDSINCE needs CONDSTORE, which is not enabled.');
    const targets = resolveTargets(view, cmd.set, cmd.uid);
    if (!targets) return bad('Invalid sequence set: no such message.');
    if (view.readOnly) return no('The mailbox is read-only (EXAMINE).', 'READ-ONLY');

    // Messages another session expunged are left out (RFC 2180 §4.2: nothing to store).
    const live = targets.filter((t) => !view.isExpunged(t.uid));
    const modified: number[] = [];
    // Changed UIDs, needed only to tell which messages .SILENT reports a MODSEQ for.
    const changed = cmd.silent && condstore ? new Set<number>() : null;
    const update = (uids: number[]) =>
      s.store.updateFlags(view.accountId, view.folder.id, {
        uids,
        op: cmd.operation,
        flags: cmd.flags,
        ...(cmd.unchangedSince !== null ? { unchangedSince: cmd.unchangedSince } : {}),
      });
    for (let w = 0; w < live.length; w += FLAG_BATCH * BATCH_WINDOW) {
      const calls: Array<Promise<FlagUpdateResult>> = [];
      const end = Math.min(live.length, w + FLAG_BATCH * BATCH_WINDOW);
      for (let i = w; i < end; i += FLAG_BATCH) {
        const uids: number[] = new Array(Math.min(FLAG_BATCH, end - i));
        for (let j = 0; j < uids.length; j++) uids[j] = live[i + j]!.uid;
        calls.push(update(uids));
      }
      // Every call is waited for, so what a failed window did change is still in the view.
      let failure: unknown = null;
      for (const r of await Promise.allSettled(calls)) {
        if (r.status === 'rejected') {
          failure ??= r.reason;
          continue;
        }
        view.applyOwnFlags(r.value.updated);
        if (changed) for (const m of r.value.updated) changed.add(m.uid);
        for (const u of r.value.modified) modified.push(u);
      }
      if (failure !== null) {
        const f = storeFailure(failure);
        if (f) return f;
        throw failure;
      }
    }

    const skipped = new Set(modified);
    if (!cmd.silent || condstore) {
      // Messages share flag lists (the store hands out one array per distinct list): each
      // list is formatted once.
      const flagText = new Map<readonly string[], string>();
      const uidPart = cmd.uid;
      let out = '';
      for (const t of live) {
        if (skipped.has(t.uid)) continue;
        const m = view.meta.get(t.uid);
        if (!m) continue;
        // With CONDSTORE, .SILENT still reports the new MODSEQ of changed messages (RFC 7162 §3.2).
        if (changed && !changed.has(t.uid)) continue;
        out += `* ${t.seq} FETCH (`;
        if (uidPart) out += `UID ${t.uid}`;
        if (!cmd.silent) {
          let f = flagText.get(m.flags);
          if (f === undefined) {
            f = `FLAGS (${m.flags.join(' ')})`;
            flagText.set(m.flags, f);
          }
          out += uidPart ? ' ' + f : f;
        }
        if (condstore) out += uidPart || !cmd.silent ? ` MODSEQ (${m.modseq})` : `MODSEQ (${m.modseq})`;
        out += ')\r\n';
        if (out.length >= FLUSH_CHARS) {
          await s.send(out);
          out = '';
        }
      }
      if (out) await s.send(out);
    }

    if (modified.length > 0) {
      const list = cmd.uid ? modified : modified.map((u) => view.seqOf(u)).filter((x) => x > 0);
      return ok('Conditional STORE failed for some messages.', { name: 'MODIFIED', args: [raw(compressNumbers(list))] });
    }
    return ok(cmd.uid ? 'UID STORE completed' : 'STORE completed');
  },
};
