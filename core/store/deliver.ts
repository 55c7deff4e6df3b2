// Delivery of one raw message into a folder: the single path for ingest, APPEND, mailctl
// and the admin API. Order is what invariant 2 needs: index (pure), blob (durable), then
// metadata (one transaction). If the metadata write fails the blob is an orphan that
// Store.sweepOrphanBlobs collects; no message ever points at a missing blob.

import { randomBytes } from 'node:crypto';
import { indexMessage } from '../mime/indexer.js';
import type { AppendResult, Store } from './port.js';

export interface DeliverOptions {
  accountId: string;
  folderId: string;
  raw: Buffer;
  flags?: string[];
  internalDate?: Date;
  appendId?: string;
}

/** Largest message accepted by any delivery path (the IMAP APPENDLIMIT advertises it). */
export const MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

export class MessageTooLargeError extends Error {
  constructor(size: number) {
    super(`message of ${size} octets is over the limit of ${MAX_MESSAGE_SIZE}`);
    this.name = 'MessageTooLargeError';
  }
}

/**
 * Line ends are normalised to CRLF (a bare LF gets a CR; a bare CR stays) so that sizes,
 * offsets and the bytes served by POP3 and IMAP are all the same octets.
 */
export function normalizeLineEnds(raw: Buffer): Buffer {
  let bare = 0;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (i === 0 || raw[i - 1] !== 0x0d) bare++;
  }
  if (bare === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length + bare);
  let o = 0;
  let from = 0;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (i === 0 || raw[i - 1] !== 0x0d) {
      o += raw.copy(out, o, from, i);
      out[o++] = 0x0d;
      from = i;
    }
  }
  o += raw.copy(out, o, from);
  return out.subarray(0, o);
}

/**
 * A new blob's key: the account id, '/', and 8 random bytes in base64url (11 characters).
 * Short because the AWS adapter keeps the random part on the per-message record that every
 * flags sync reads (core/store/aws/DESIGN.md, "messages"). 64 random bits are unique within
 * one account for all practical purposes, and a collision is never silent: every blob store
 * refuses to put a key that exists (ALREADY_EXISTS), so that delivery fails and is retried.
 */
export function newBlobKey(accountId: string): string {
  return `${accountId}/${randomBytes(8).toString('base64url')}`;
}

export async function deliverMessage(store: Store, opts: DeliverOptions): Promise<AppendResult> {
  const raw = normalizeLineEnds(opts.raw);
  if (raw.length > MAX_MESSAGE_SIZE) throw new MessageTooLargeError(raw.length);
  const index = indexMessage(raw);
  const blobKey = newBlobKey(opts.accountId);
  await store.blobs.put(blobKey, raw);
  return store.appendMessage(opts.accountId, opts.folderId, {
    blobKey,
    size: raw.length,
    internalDate: (opts.internalDate ?? new Date()).getTime(),
    flags: opts.flags ?? [],
    index,
    appendId: opts.appendId,
  });
}
