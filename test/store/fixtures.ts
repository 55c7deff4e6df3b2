// Test data for the store contract: accounts, raw messages and a hand-made MessageIndex (the
// store keeps the index opaque, so it only has to round-trip; the real indexer is not used).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { MessageIndex, MimePart } from '../../core/mime/types.js';
import { StoreError, type NewAccount, type NewMessage, type Store, type StoreErrorCode } from '../../core/store/port.js';
import { defaultMailboxProtocolSettings } from '../../core/settings/schema.js';

export function newAccount(address: string, extra: Partial<NewAccount> = {}): NewAccount {
  return {
    address,
    passwordHash: 'scrypt$test',
    role: 'user',
    pop3: defaultMailboxProtocolSettings(),
    imap4: defaultMailboxProtocolSettings(),
    homeSite: 'local',
    ...extra,
  };
}

export function rawMessage(subject: string, body = 'Hello.\r\n'): Buffer {
  return Buffer.from(
    `From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: ${subject}\r\n` +
      `Message-ID: <${randomUUID()}@example.com>\r\n\r\n${body}`,
    'latin1',
  );
}

/** A minimal index of a single-part text/plain message. */
export function makeIndex(raw: Buffer): MessageIndex {
  const sep = raw.indexOf('\r\n\r\n');
  const headerSize = sep < 0 ? raw.length : sep + 4;
  const header = raw.subarray(0, headerSize).toString('latin1');
  const subject = /^Subject: (.*)\r$/m.exec(header)?.[1] ?? null;
  const root: MimePart = {
    headerStart: 0,
    bodyStart: headerSize,
    bodyEnd: raw.length,
    type: 'text',
    subtype: 'plain',
    params: [['charset', 'us-ascii']],
    id: null,
    description: null,
    encoding: '7BIT',
    size: raw.length - headerSize,
    lines: raw.subarray(headerSize).toString('latin1').split('\r\n').length - 1,
    md5: null,
    disposition: null,
    language: null,
    location: null,
  };
  return {
    size: raw.length,
    headerSize,
    header,
    envelope: {
      date: null,
      subject,
      from: [{ name: 'Alice', adl: null, mailbox: 'alice', host: 'example.com' }],
      sender: null,
      replyTo: null,
      to: [{ name: null, adl: null, mailbox: 'bob', host: 'example.com' }],
      cc: null,
      bcc: null,
      inReplyTo: null,
      messageId: null,
    },
    root,
    truncated: false,
  };
}

export interface PutOptions {
  subject?: string;
  body?: string;
  flags?: string[];
  internalDate?: number;
  appendId?: string;
  /** Default `<accountId>/<uuid>`. */
  blobKey?: string;
}

/** Writes the blob (as every delivery path does first) and returns the NewMessage to append. */
export async function putMessage(store: Store, accountId: string, opts: PutOptions = {}): Promise<NewMessage & { raw: Buffer }> {
  const raw = rawMessage(opts.subject ?? 'test', opts.body);
  const blobKey = opts.blobKey ?? `${accountId}/${randomUUID()}`;
  await store.blobs.put(blobKey, raw);
  const msg: NewMessage & { raw: Buffer } = {
    raw,
    blobKey,
    size: raw.length,
    internalDate: opts.internalDate ?? 1_700_000_000_000,
    flags: opts.flags ?? [],
    index: makeIndex(raw),
  };
  if (opts.appendId !== undefined) msg.appendId = opts.appendId;
  return msg;
}

/** Puts a blob and appends it; returns the new UID. */
export async function deliver(store: Store, accountId: string, folderId: string, opts: PutOptions = {}): Promise<number> {
  const { raw: _raw, ...msg } = await putMessage(store, accountId, opts);
  return (await store.appendMessage(accountId, folderId, msg)).uid;
}

/** Asserts that `p` rejects with a StoreError of the given code. */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), code: StoreErrorCode): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? await p() : await p),
    (e: unknown) => {
      assert.ok(e instanceof StoreError, `expected a StoreError, got ${String(e)}`);
      assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
      return true;
    },
  );
}
