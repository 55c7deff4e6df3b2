// APPEND (RFC 3501 §6.3.11), MULTIAPPEND (RFC 3502) and APPENDUID (RFC 4315).
//
// Every message goes through deliverMessage, the one delivery path: line ends normalised,
// index computed, blob written, then metadata in one transaction. The tagged OK is written
// only after that resolved for every message (DESIGN §5 invariant 2). MULTIAPPEND is all or
// nothing as far as the store port allows: sizes are checked before anything is written,
// and if a later message fails the ones already added are expunged again before the NO.
//
// Big messages (STREAM_APPEND_MIN and up) were streamed to storage while the literal arrived
// (literal-stream.ts); their staged blob and index are claimed here and only the metadata
// is written. A staged message this command does not claim is deleted by the session.
//
// Sizes: the receiver refuses a literal over MAX_MESSAGE_SIZE before reading it (NO [TOOBIG],
// and a {n+} literal's octets are discarded); a message that grows past the limit when its
// bare LFs become CRLF gets NO [TOOBIG] here. A missing folder gets NO [TRYCREATE]. When the
// target is the selected mailbox, the session syncs before the tagged reply, so the client
// hears EXISTS first.

import { deliverMessage, MAX_MESSAGE_SIZE, MessageTooLargeError } from '../../../core/store/deliver.js';
import type { AppendResult } from '../../../core/store/port.js';
import type { AppendCommand } from '../codec/commands/types.js';
import { raw } from '../codec/serialize.js';
import { compressNumbersInOrder } from '../codec/sequence.js';
import { findFolder } from '../folders.js';
import { stageOf } from '../literal-stream.js';
import { no, ok, type ImapCommandHandler } from '../session.js';
import { storeFailure } from './store-failure.js';

export const append: ImapCommandHandler<AppendCommand> = {
  name: 'APPEND',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const accountId = s.account!.id;
    const folder = await findFolder(s, cmd.mailbox);
    if (!folder) return no('Mailbox does not exist.', 'TRYCREATE');
    for (const m of cmd.messages) {
      if (m.size === 0) return no('An empty message cannot be stored.');
      if (m.size > MAX_MESSAGE_SIZE) return no(`Message is over the limit of ${MAX_MESSAGE_SIZE} octets.`, 'TOOBIG');
    }
    const results: AppendResult[] = [];
    try {
      for (const m of cmd.messages) {
        const stage = stageOf(m.sink);
        if (stage) {
          // Streamed as it arrived (literal-stream.ts): the blob is stored and indexed already.
          const staged = await stage.claim();
          results.push(
            await s.store.appendMessage(accountId, folder.id, {
              blobKey: staged.blobKey,
              size: staged.size,
              internalDate: (m.date ?? new Date()).getTime(),
              flags: m.flags,
              index: staged.index,
            }),
          );
          continue;
        }
        results.push(
          await deliverMessage(s.store, {
            accountId,
            folderId: folder.id,
            raw: m.data,
            flags: m.flags,
            internalDate: m.date ?? undefined,
          }),
        );
      }
    } catch (e) {
      if (results.length > 0) {
        await s.store.expunge(accountId, folder.id, results.map((r) => r.uid)).catch(() => undefined);
      }
      if (s.selected?.folder.id === folder.id) s.dirty = true;
      if (e instanceof MessageTooLargeError) return no(`Message is over the limit of ${MAX_MESSAGE_SIZE} octets.`, 'TOOBIG');
      const refusal = storeFailure(e, 'TRYCREATE');
      if (refusal) return refusal;
      // A failed blob or metadata write: nothing became visible, the client may retry.
      s.services.log?.('error', 'imap append failed', { id: s.conn.id, err: String(e) });
      return no('The message could not be stored; try again.', 'UNAVAILABLE');
    }
    if (s.selected?.folder.id === folder.id) s.dirty = true;
    const last = results[results.length - 1]!;
    return ok('APPEND completed', {
      name: 'APPENDUID',
      args: [last.uidValidity, raw(compressNumbersInOrder(results.map((r) => r.uid)))],
    });
  },
};
