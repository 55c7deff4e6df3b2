// The ingest Lambda handler on the AWS adapter (DynamoDB Local + s3rver): an S3 event for a raw
// message under incoming/ delivers it to every local recipient's Inbox, byte for byte, and
// deletes the object; unknown recipients are rejected; an object nobody could receive stays.
// Plus the recipient rules of core/admin/ingest.ts and the idempotency of a retried object.

import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findRecipients, ingestMessage } from '../../core/admin/ingest.js';
import { createMailbox, getMailbox } from '../../core/admin/mailboxes.js';
import { AwsStore } from '../../core/store/aws/store.js';
import type { S3Event } from '../../functions/ingest/handler.js';
import { startAwsLocal, type AwsLocal, type AwsSpace } from '../helpers/aws-local.js';

const PW = 'Ingest-Test-Password-1';

function s3Event(bucket: string, key: string, eventTime = '2026-03-01T10:00:00.000Z'): S3Event {
  return {
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        eventTime,
        s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: 1 } },
      },
    ],
  };
}

describe('ingest handler (S3 incoming/ -> Inboxes)', () => {
  let local: AwsLocal;
  let space: AwsSpace;
  let store: AwsStore;
  let handler: (e: S3Event) => Promise<{ objects: Array<Record<string, any>> }>;
  const saved = { ...process.env };

  before(async () => {
    local = await startAwsLocal();
    space = await local.createSpace();
    Object.assign(process.env, {
      STORE: 'aws',
      BUCKET: space.bucket,
      TABLE_PREFIX: space.tablePrefix,
      AWS_REGION: local.region,
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: local.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: local.s3Endpoint,
      LOCAL_DOMAINS: 'example.test',
    });
    store = new AwsStore({ names: space.names, bucket: space.bucket, dynamodb: local.ddb, s3: local.s3, conditionalPut: false });
    for (const u of ['alice', 'bob', 'erin']) await createMailbox(store, { address: `${u}@example.test`, password: PW });
    ({ handler } = await import('../../functions/ingest/handler.js'));
  });

  after(async () => {
    await store?.close();
    await local?.stop();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  async function put(key: string, raw: string): Promise<void> {
    await local.s3.send(new PutObjectCommand({ Bucket: space.bucket, Key: key, Body: Buffer.from(raw, 'latin1') }));
  }

  async function exists(key: string): Promise<boolean> {
    try {
      const r = await local.s3.send(new GetObjectCommand({ Bucket: space.bucket, Key: key }));
      await r.Body?.transformToByteArray();
      return true;
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') return false;
      throw e;
    }
  }

  async function inbox(address: string): Promise<Buffer[]> {
    const acc = await getMailbox(store, address);
    const folder = await store.getFolderByName(acc.id, 'INBOX');
    const metas = await store.listMessages(acc.id, folder!.id);
    const out: Buffer[] = [];
    for (const m of metas) {
      const full = await store.getMessage(acc.id, folder!.id, m.uid);
      out.push(await store.blobs.get(full!.blobKey));
    }
    return out;
  }

  it('delivers to every local recipient, byte for byte, rejects the unknown one and deletes the object', async () => {
    const raw =
      'Return-Path: <sender@elsewhere.example>\r\n' +
      'From: Sender <sender@elsewhere.example>\r\n' +
      'To: "Alice, A." <alice@example.test>, carol@example.test\r\n' +
      'Cc: Bob <BOB@Example.Test>, dave@elsewhere.example\r\n' +
      'Subject: team lunch\r\n' +
      'Message-ID: <lunch-1@elsewhere.example>\r\n' +
      '\r\n' +
      'See you at noon.\r\n';
    const key = 'incoming/lunch message 1';
    await put(key, raw);
    const r = await handler(s3Event(space.bucket, key));
    const o = r.objects[0]!;
    assert.equal(o.key, key);
    assert.deepEqual(o.recipients.addresses.sort(), ['alice@example.test', 'bob@example.test', 'carol@example.test']);
    assert.equal(o.recipients.source, 'headers');
    assert.deepEqual(o.delivered.map((d: { address: string }) => d.address).sort(), ['alice@example.test', 'bob@example.test']);
    assert.deepEqual(o.unknown, ['carol@example.test'], 'carol has no mailbox: rejected');
    assert.equal(o.deleted, true);
    assert.equal(await exists(key), false, 'the source object is deleted once every local delivery succeeded');
    for (const who of ['alice@example.test', 'bob@example.test']) {
      const msgs = await inbox(who);
      assert.equal(msgs.length, 1, who);
      assert.equal(msgs[0]!.toString('latin1'), raw, `${who}: byte for byte`);
    }
    assert.equal((await inbox('erin@example.test')).length, 0);
  });

  it('keeps the object when no recipient is local (unknown recipients only)', async () => {
    const raw = 'From: x@elsewhere.example\r\nTo: nobody@example.test, someone@elsewhere.example\r\nSubject: lost\r\n\r\nhello\r\n';
    const key = 'incoming/lost-1';
    await put(key, raw);
    const r = await handler(s3Event(space.bucket, key));
    const o = r.objects[0]!;
    assert.deepEqual(o.delivered, []);
    assert.deepEqual(o.unknown, ['nobody@example.test']);
    assert.equal(o.deleted, false);
    assert.equal(await exists(key), true, 'nothing delivered: the object stays');
    await local.s3.send(new DeleteObjectCommand({ Bucket: space.bucket, Key: key }));
  });

  it('keeps the object when the message names no address at all', async () => {
    const key = 'incoming/no-rcpt';
    await put(key, 'From: x@elsewhere.example\r\nTo: undisclosed-recipients:;\r\nSubject: ?\r\n\r\nx\r\n');
    const o = (await handler(s3Event(space.bucket, key))).objects[0]!;
    assert.equal(o.recipients.source, 'none');
    assert.equal(o.deleted, false);
    assert.equal(await exists(key), true);
  });

  it("uses SES's envelope recipient (Received ... for <addr>) over the To/Cc headers", async () => {
    const raw =
      'Return-Path: <list@elsewhere.example>\r\n' +
      'Received: from mail.elsewhere.example (mail.elsewhere.example [192.0.2.1])\r\n' +
      ' by inbound-smtp.eu-west-1.amazonaws.com with SMTP id abc123\r\n' +
      ' for erin@example.test;\r\n' +
      ' Sun, 01 Mar 2026 10:00:00 +0000 (UTC)\r\n' +
      'X-SES-Spam-Verdict: PASS\r\n' +
      'From: list@elsewhere.example\r\n' +
      'To: everyone@lists.elsewhere.example, alice@example.test\r\n' +
      'Subject: digest\r\n' +
      '\r\n' +
      'digest\r\n';
    const key = 'incoming/ses-1';
    await put(key, raw);
    const o = (await handler(s3Event(space.bucket, key))).objects[0]!;
    assert.equal(o.recipients.source, 'envelope');
    assert.deepEqual(o.delivered.map((d: { address: string }) => d.address), ['erin@example.test'], 'alice was not an envelope recipient (Bcc-style delivery)');
    assert.equal(o.deleted, true);
    assert.equal((await inbox('erin@example.test')).length, 1);
  });

  it('delivers a retried object once per recipient (append ids derived from the object)', async () => {
    const raw = Buffer.from('From: r@elsewhere.example\r\nTo: alice@example.test\r\nSubject: retried\r\n\r\nonce\r\n');
    const before = (await inbox('alice@example.test')).length;
    const first = await ingestMessage(store, raw, { sourceId: 'bucket/incoming/retry/etag1', localDomains: ['example.test'] });
    const second = await ingestMessage(store, raw, { sourceId: 'bucket/incoming/retry/etag1', localDomains: ['example.test'] });
    assert.equal(first.delivered[0]!.uid, second.delivered[0]!.uid);
    assert.equal((await inbox('alice@example.test')).length, before + 1);
  });

  it('ignores objects outside incoming/', async () => {
    const o = (await handler(s3Event(space.bucket, 'blobs/some/thing'))).objects[0]!;
    assert.equal(o.skipped, 'not under incoming/');
    assert.equal(o.deleted, false);
  });
});

describe('recipient rules', () => {
  const f = (s: string, d?: string[]) => findRecipients(Buffer.from(s.replace(/\n/g, '\r\n') + '\r\n\r\nbody\r\n'), d);

  it('parses display names, quoted commas, comments, groups and folded lines', () => {
    const r = f(
      'To: "Doe, John" <john@example.test>, (comment, with comma) jane@example.test,\n' +
        '  Team: a@example.test, b@example.test;\nCc: <C@EXAMPLE.TEST>, undisclosed-recipients:;',
    );
    assert.deepEqual(r.addresses.sort(), ['a@example.test', 'b@example.test', 'c@example.test', 'jane@example.test', 'john@example.test']);
  });

  it('keeps only the local domains when given, and dedupes', () => {
    const r = f('To: x@example.test, y@other.example\nCc: X@Example.Test\nDelivered-To: z@example.test', ['example.test']);
    assert.deepEqual(r.addresses.sort(), ['x@example.test', 'z@example.test']);
  });

  it('trusts X-Envelope-To only above the first Received header (added by the receiving side)', () => {
    const top = f('X-Envelope-To: env@example.test\nReceived: from a by b; Sun, 1 Mar 2026\nTo: to@example.test');
    assert.deepEqual(top, { addresses: ['env@example.test'], source: 'envelope' });
    const forged = f('Received: from a by b; Sun, 1 Mar 2026\nX-Envelope-To: ceo@example.test\nTo: to@example.test');
    assert.deepEqual(forged, { addresses: ['to@example.test'], source: 'headers' });
  });

  it('does not take a "for" clause from a Received header that SES did not write', () => {
    const r = f('Received: from a by mx.example.org with SMTP id 1 for other@example.test; Sun, 1 Mar 2026\nTo: to@example.test');
    assert.deepEqual(r, { addresses: ['to@example.test'], source: 'headers' });
  });
});
