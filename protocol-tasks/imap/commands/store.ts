// STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8): FLAGS / +FLAGS / -FLAGS, with .SILENT.
//
// The store applies each operation atomically per message (add/remove against the flags it
// holds, not against this session's copy), so concurrent sessions never lose each other's
// flags (checklist D30). Unless .SILENT, every message in the set gets an untagged
// FETCH (FLAGS ...) with its flags after the change, changed or not (UID included for UID
// STORE). \Recent cannot be stored (the parser refuses it). A read-only (EXAMINEd) mailbox
// refuses STORE with NO. UNCHANGEDSINCE (RFC 7162) needs CONDSTORE; when it is on, messages
// modified since are left alone and listed in [MODIFIED ...].
import type { StoreCommand } from '../codec/commands/types.js';
import { compressNumbers } from '../codec/sequence.js';
import { raw } from '../codec/serialize.js';
import { FLAG_BATCH, condstoreOn, resolveTargets, storeFailure } from '../fetch-items.js';
import { bad, no, ok, type ImapCommandHandler } from '../session.js';

/** Untagged FETCH lines per write. */
const LINES_PER_WRITE = 250;

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
    const changed = new Set<number>();
    for (let i = 0; i < live.length; i += FLAG_BATCH) {
      const uids = live.slice(i, i + FLAG_BATCH).map((t) => t.uid);
      try {
        const r = await s.store.updateFlags(view.accountId, view.folder.id, {
          uids,
          op: cmd.operation,
          flags: cmd.flags,
          ...(cmd.unchangedSince !== null ? { unchangedSince: cmd.unchangedSince } : {}),
        });
        view.applyOwnFlags(r.updated);
        for (const m of r.updated) changed.add(m.uid);
        modified.push(...r.modified);
      } catch (e) {
        const f = storeFailure(e);
        if (f) return f;
        throw e;
      }
    }

    const skipped = new Set(modified);
    if (!cmd.silent || condstore) {
      let lines = '';
      let n = 0;
      for (const t of live) {
        if (skipped.has(t.uid)) continue;
        const m = view.meta.get(t.uid);
        if (!m) continue;
        const items: string[] = [];
        if (cmd.uid) items.push(`UID ${t.uid}`);
        // With CONDSTORE, .SILENT still reports the new MODSEQ of changed messages (RFC 7162 §3.2).
        if (!cmd.silent) items.push(`FLAGS (${m.flags.join(' ')})`);
        else if (!changed.has(t.uid)) continue;
        if (condstore) items.push(`MODSEQ (${m.modseq})`);
        lines += `* ${t.seq} FETCH (${items.join(' ')})\r\n`;
        if (++n % LINES_PER_WRITE === 0) {
          await s.send(lines);
          lines = '';
        }
      }
      if (lines) await s.send(lines);
    }

    if (modified.length > 0) {
      const list = cmd.uid ? modified : modified.map((u) => view.seqOf(u)).filter((x) => x > 0);
      return ok('Conditional STORE failed for some messages.', { name: 'MODIFIED', args: [raw(compressNumbers(list))] });
    }
    return ok(cmd.uid ? 'UID STORE completed' : 'STORE completed');
  },
};
