// The AWS adapter (DynamoDB + S3) on DynamoDB Local and s3rver: the store contract, unchanged,
// plus what only this adapter can show (fault injection through the SDK clients, request
// counts and read units of a header-only sync).

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { demoMessages } from '../../core/mime/samples.js';
import { attachMeter, type Meter } from '../../core/store/aws/metering.js';
import { openAwsStore, type AwsStore, type AwsStoreOptions } from '../../core/store/aws/store.js';
import { deliverMessage } from '../../core/store/deliver.js';
import type { Account, Folder, MessageMeta } from '../../core/store/port.js';
import { localClients, startAwsLocal, type AwsLocal, type AwsSpace } from '../helpers/aws-local.js';
import { storeContract } from './contract.js';
import { newAccount, putMessage, rawMessage, rejectsWith } from './fixtures.js';

let local: AwsLocal;
before(async () => {
  local = await startAwsLocal();
  // The store's clients take their endpoints from the SDK's standard variables, as in production.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.dynamodbEndpoint;
  process.env.AWS_ENDPOINT_URL_S3 = local.s3Endpoint;
});
after(async () => {
  await local?.stop();
});

function openOn(space: AwsSpace, extra: Partial<AwsStoreOptions> = {}): AwsStore {
  return openAwsStore({
    names: space.names,
    bucket: space.bucket,
    region: local.region,
    credentials: local.credentials,
    conditionalPut: false, // s3rver ignores If-None-Match
    ...extra,
  });
}

storeContract('aws', async () => {
  const space = await local.createSpace();
  let current = openOn(space);
  return {
    store: current,
    reopen: async () => (current = openOn(space)),
    cleanup: async () => {
      await current.close();
      await space.drop();
    },
  };
});

// ------------------------------------------------------------------ AWS adapter only

/** Errors on cue, from middleware on the store's own SDK clients (above the SDK's retries). */
interface Fault {
  client: 'dynamodb' | 's3';
  command: string;
  times: number;
  error: () => unknown;
  /** Let the request reach the service, then fail (the reply is lost). */
  afterSend?: boolean;
}

class Faults {
  private readonly list: Fault[] = [];
  fired = 0;

  add(f: Fault): void {
    this.list.push(f);
  }

  clear(): void {
    this.list.length = 0;
  }

  attach(client: 'dynamodb' | 's3', stack: DynamoDBClient['middlewareStack'] | S3Client['middlewareStack']): void {
    (stack as DynamoDBClient['middlewareStack']).add(
      (next, context) => async (args) => {
        const name = (context as { commandName?: string }).commandName;
        const f = this.list.find((x) => x.client === client && x.command === name && x.times > 0);
        if (f !== undefined) {
          f.times--;
          this.fired++;
          if (!f.afterSend) throw f.error();
          await next(args);
          throw f.error();
        }
        return await next(args);
      },
      { step: 'initialize', name: 'faultInjection', priority: 'high' },
    );
  }
}

const s3Unavailable = () =>
  new S3ServiceException({ name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Service Unavailable' });
const throttled = () => new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity', $metadata: {} });
const lostCondition = () =>
  new TransactionCanceledException({
    message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]',
    $metadata: {},
    CancellationReasons: [{ Code: 'ConditionalCheckFailed' }],
  });
const connectionReset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

interface Rig {
  store: AwsStore;
  faults: Faults;
  meter: Meter;
  acct: Account;
  inbox: Folder;
  done(): Promise<void>;
}

async function rig(extra: Partial<AwsStoreOptions> = {}): Promise<Rig> {
  const space = await local.createSpace();
  const { ddb, s3 } = localClients(local.dynamodbEndpoint, local.s3Endpoint);
  const faults = new Faults();
  faults.attach('dynamodb', ddb.middlewareStack);
  faults.attach('s3', s3.middlewareStack);
  const meter = attachMeter({ dynamodb: ddb, s3 });
  const store = openOn(space, { dynamodb: ddb, s3, ...extra });
  const acct = await store.createAccount(newAccount(`rig-${randomUUID()}@example.com`));
  const inbox = await store.createFolder(acct.id, 'INBOX');
  return {
    store,
    faults,
    meter,
    acct,
    inbox,
    async done() {
      await store.close();
      ddb.destroy();
      s3.destroy();
      await space.drop();
    },
  };
}

/** DESIGN §5 invariants 1 and 2 as seen through the port, plus exact counters. */
async function assertConsistent(r: Rig, expectedCount: number): Promise<MessageMeta[]> {
  const { store, acct, inbox } = r;
  const list = await store.listMessages(acct.id, inbox.id);
  assert.equal(list.length, expectedCount);
  for (let i = 1; i < list.length; i++) assert.ok(list[i]!.uid > list[i - 1]!.uid, 'UIDs ascend');
  const f = (await store.getFolder(acct.id, inbox.id))!;
  assert.equal(f.messageCount, list.length);
  assert.equal(f.totalSize, list.reduce((t, m) => t + m.size, 0));
  assert.ok(list.every((m) => m.uid < f.uidNext));
  const journal = await store.changesSince(acct.id, inbox.id, 0);
  assert.equal(journal.length === 0 ? 0 : journal[journal.length - 1]!.modseq, f.highestModseq, 'journal reaches HIGHESTMODSEQ');
  for (const m of list) {
    const blob = await store.blobs.get(m.blobKey);
    assert.equal(blob.length, m.size, 'every visible message has its blob');
    assert.ok((await store.getMessage(acct.id, inbox.id, m.uid))!.index);
  }
  return list;
}

function deliverTo(r: Rig, subject: string, extra: { appendId?: string } = {}) {
  return deliverMessage(r.store, { accountId: r.acct.id, folderId: r.inbox.id, raw: rawMessage(subject), ...extra });
}

describe('aws store only: fault injection', () => {
  it('S3 put fails: UNAVAILABLE, no message, nothing to sweep; a retry succeeds', async () => {
    const r = await rig();
    try {
      r.faults.add({ client: 's3', command: 'PutObjectCommand', times: 1, error: s3Unavailable });
      await rejectsWith(deliverTo(r, 'first try'), 'UNAVAILABLE');
      await assertConsistent(r, 0);
      assert.equal(await r.store.sweepOrphanBlobs(0), 0);
      const ok = await deliverTo(r, 'second try');
      assert.equal(ok.uid, 1);
      await assertConsistent(r, 1);
    } finally {
      await r.done();
    }
  });

  it('a lost folder condition is retried; losing every time answers UNAVAILABLE, the orphan is swept, a retry succeeds', async () => {
    const r = await rig({ maxWriteAttempts: 3 });
    try {
      r.faults.add({ client: 'dynamodb', command: 'TransactWriteItemsCommand', times: 1, error: lostCondition });
      assert.equal((await deliverTo(r, 'retried inside')).uid, 1);
      assert.equal(r.faults.fired, 1);
      await assertConsistent(r, 1);

      r.faults.add({ client: 'dynamodb', command: 'TransactWriteItemsCommand', times: 3, error: lostCondition });
      await rejectsWith(deliverTo(r, 'never lands'), 'UNAVAILABLE');
      await assertConsistent(r, 1);
      assert.equal(await r.store.sweepOrphanBlobs(0), 1, 'the blob written before the failed metadata write');
      assert.equal((await deliverTo(r, 'lands')).uid, 2);
      await assertConsistent(r, 2);

      // A plain conditional write that fails: an account update with a version is a CONFLICT.
      const before = (await r.store.getAccount(r.acct.id))!;
      r.faults.add({
        client: 'dynamodb',
        command: 'PutItemCommand',
        times: 1,
        error: () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
      });
      await rejectsWith(r.store.updateAccount(r.acct.id, { homeSite: 'elsewhere' }, before.version), 'CONFLICT');
      assert.deepEqual(await r.store.getAccount(r.acct.id), before);
      assert.equal((await r.store.updateAccount(r.acct.id, { homeSite: 'elsewhere' }, before.version)).homeSite, 'elsewhere');
    } finally {
      await r.done();
    }
  });

  it('throttling: UNAVAILABLE for writes and reads, the mailbox unchanged; retries succeed', async () => {
    const r = await rig();
    try {
      const { uid } = await deliverTo(r, 'throttle me');
      r.faults.add({ client: 'dynamodb', command: 'TransactWriteItemsCommand', times: 1, error: throttled });
      await rejectsWith(deliverTo(r, 'throttled append'), 'UNAVAILABLE');
      r.faults.add({ client: 'dynamodb', command: 'TransactWriteItemsCommand', times: 1, error: throttled });
      await rejectsWith(r.store.updateFlags(r.acct.id, r.inbox.id, { uids: [uid], op: 'add', flags: ['\\Seen'] }), 'UNAVAILABLE');
      r.faults.add({ client: 'dynamodb', command: 'QueryCommand', times: 1, error: throttled });
      await rejectsWith(r.store.listMessages(r.acct.id, r.inbox.id), 'UNAVAILABLE');
      const list = await assertConsistent(r, 1);
      assert.deepEqual(list[0]!.flags, []);
      await r.store.updateFlags(r.acct.id, r.inbox.id, { uids: [uid], op: 'add', flags: ['\\Seen'] });
      await deliverTo(r, 'after the throttle');
      const after = await assertConsistent(r, 2);
      assert.deepEqual(after[0]!.flags, ['\\Seen']);
    } finally {
      await r.done();
    }
  });

  it('crash between blob and metadata: nothing visible, the orphan is swept; a reply lost after commit is made good by the append id', async () => {
    const r = await rig();
    try {
      // The metadata write never reaches DynamoDB.
      r.faults.add({ client: 'dynamodb', command: 'TransactWriteItemsCommand', times: 1, error: connectionReset });
      await rejectsWith(deliverTo(r, 'lost'), 'UNAVAILABLE');
      await assertConsistent(r, 0);
      // A process that died right after its blob PUT (no metadata call at all).
      const raw = rawMessage('crashed');
      await r.store.blobs.put(`${r.acct.id}/${randomUUID()}`, raw);
      assert.equal(await r.store.sweepOrphanBlobs(60_000), 0, 'young orphans wait');
      assert.equal(await r.store.sweepOrphanBlobs(0), 2);
      await assertConsistent(r, 0);

      // The transaction commits but its reply is lost: the client retries with its append id.
      const { raw: _raw, ...n } = await putMessage(r.store, r.acct.id, { appendId: 'lost-reply' });
      r.faults.add({ client: 'dynamodb', command: 'TransactWriteItemsCommand', times: 1, error: connectionReset, afterSend: true });
      await rejectsWith(r.store.appendMessage(r.acct.id, r.inbox.id, n), 'UNAVAILABLE');
      const again = await r.store.appendMessage(r.acct.id, r.inbox.id, n);
      assert.equal(again.uid, 1);
      const list = await assertConsistent(r, 1);
      assert.equal(list[0]!.blobKey, n.blobKey);
      assert.equal(await r.store.sweepOrphanBlobs(0), 0, 'the blob is referenced');
      assert.equal((await deliverTo(r, 'next')).uid, 2);
    } finally {
      await r.done();
    }
  });
});

/** A message with the header weight of real mail (trace, authentication, list headers). */
function realisticMessage(i: number, demo: Array<{ raw: Buffer }>): Buffer {
  const trace =
    `Received: from mail-out-${i % 7}.example.net (mail-out-${i % 7}.example.net [192.0.2.${i % 250}])\r\n` +
    `\tby mx.example.test (Postfix) with ESMTPS id 4Z${(i * 7919).toString(36).toUpperCase()}\r\n` +
    `\tfor <demo@example.test>; Tue, 3 Mar 2026 09:05:00 +0000\r\n` +
    `Received: from localhost by mail-out-${i % 7}.example.net with LMTP id ${randomUUID()}; Tue, 3 Mar 2026 09:04:59 +0000\r\n` +
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s2026; t=1772528700;\r\n` +
    `\th=from:to:subject:date:message-id:mime-version:content-type;\r\n` +
    `\tbh=${randomBytes(32).toString('base64')};\r\n` +
    `\tb=${randomBytes(256).toString('base64').replace(/(.{72})/g, '$1\r\n\t')}\r\n` +
    `Authentication-Results: mx.example.test; dkim=pass header.d=example.net; spf=pass smtp.mailfrom=example.net; dmarc=pass\r\n` +
    `List-Id: <team-${i % 5}.lists.example.net>\r\nList-Unsubscribe: <mailto:leave-${i % 5}@lists.example.net>\r\n` +
    `X-Spam-Status: No, score=-0.${i % 10} required=5.0\r\n`;
  return Buffer.concat([Buffer.from(trace, 'latin1'), demo[i % demo.length]!.raw]);
}

describe('aws store only: cost of a header-only sync', () => {
  it('reads 1,000 messages\' flags, envelopes, structures and headers with zero S3 requests and no Scan', async (t) => {
    const r = await rig({ verifyBlobOnAppend: false }); // seeding speed only; the reads measured are the same
    try {
      const N = 1000;
      const demo = demoMessages('demo@example.test', new Date('2026-03-03T09:00:00Z'));
      for (let i = 0; i < N; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, N - i) }, (_, j) =>
            deliverMessage(r.store, { accountId: r.acct.id, folderId: r.inbox.id, raw: realisticMessage(i + j, demo) }),
          ),
        );
      }
      r.meter.reset();
      // SELECT, then UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)
      const folder = (await r.store.getFolder(r.acct.id, r.inbox.id))!;
      const list = await r.store.listMessages(r.acct.id, r.inbox.id);
      const flagsSync = r.meter.snapshot();
      // then FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (...)]) from the stored index
      r.meter.reset();
      const full = await r.store.getMessages(
        r.acct.id,
        r.inbox.id,
        list.map((m) => m.uid),
      );
      const headerSync = r.meter.snapshot();
      // and a sparse set (every 10th message), which takes the batch path
      r.meter.reset();
      const sparse = await r.store.getMessages(
        r.acct.id,
        r.inbox.id,
        list.filter((_, i) => i % 10 === 0).map((m) => m.uid),
      );
      const sparseSync = r.meter.snapshot();

      assert.equal(folder.messageCount, N);
      assert.equal(list.length, N);
      assert.equal(full.length, N);
      assert.equal(sparse.length, N / 10);
      assert.ok(full.every((m) => m.index.header !== null && m.index.envelope.subject !== undefined));
      for (const u of [flagsSync, headerSync, sparseSync]) {
        assert.deepEqual(u.s3, {}, 'no S3 request at all');
        assert.equal(u.dynamodb.ScanCommand, undefined, 'no Scan');
      }
      const per1000 = (units: number, n: number) => ((units * 1000) / n).toFixed(1);
      t.diagnostic(
        `strongly consistent read units per 1,000 messages: flags sync ${per1000(flagsSync.readUnits, N)} ` +
          `(${JSON.stringify(flagsSync.dynamodb)}); envelope+structure+headers ${per1000(headerSync.readUnits, N)} ` +
          `(${JSON.stringify(headerSync.dynamodb)}); sparse (every 10th, batch reads) ${per1000(sparseSync.readUnits, N / 10)}`,
      );
      assert.ok(flagsSync.readUnits > 0, 'DynamoDB Local reports consumed capacity');

      // And what one write of each kind costs (units as reported; transactions count double).
      r.meter.reset();
      await deliverMessage(r.store, { accountId: r.acct.id, folderId: r.inbox.id, raw: realisticMessage(N, demo) });
      const append = r.meter.snapshot();
      r.meter.reset();
      await r.store.updateFlags(r.acct.id, r.inbox.id, { uids: [list[5]!.uid], op: 'add', flags: ['\\Seen'] });
      const store1 = r.meter.snapshot();
      t.diagnostic(
        `one APPEND: ${append.writeUnits} write units, ${append.readUnits} read units, S3 ${JSON.stringify(append.s3)}; ` +
          `one STORE +FLAGS: ${store1.writeUnits} write units, ${store1.readUnits} read units`,
      );
      assert.deepEqual(store1.s3, {});
      // The sweep pages through the 1,001 blobs and deletes none: all are referenced.
      assert.equal(await r.store.sweepOrphanBlobs(0), 0);
    } finally {
      await r.done();
    }
  });

  it('has no Scan anywhere in the adapter', async () => {
    const dir = new URL('../../core/store/aws/', import.meta.url);
    for (const name of await readdir(dir)) {
      if (!name.endsWith('.ts')) continue;
      const src = await readFile(new URL(name, dir), 'utf8');
      assert.ok(!/\bScan(Command)?\b/.test(src.replace(/'ScanCommand'/g, '')), `${name} mentions a Scan`);
    }
  });
});

describe('aws store only: item layout', () => {
  it('keeps message records small: short folder id, blob key as its random bytes, flags as a bitmask, empty attributes left out', async () => {
    const r = await rig();
    try {
      const doc = DynamoDBDocumentClient.from(r.store.ddb);
      assert.match(r.inbox.id, /^[A-Za-z0-9_-]{22}$/);
      const plain = await deliverTo(r, 'plain');
      const flagged = await deliverMessage(r.store, { accountId: r.acct.id, folderId: r.inbox.id, raw: rawMessage('flagged'), flags: ['\\Seen', '\\Draft', '$Label1', 'Work'] });
      const item = async (uid: number) =>
        (await doc.send(new GetCommand({ TableName: r.store.names.messages, Key: { f: r.inbox.id, u: uid }, ConsistentRead: true }))).Item!;
      const p = await item(plain.uid);
      assert.deepEqual(Object.keys(p).sort(), ['b', 'd', 'f', 'ms', 'u', 'z']);
      assert.ok(p.b instanceof Uint8Array && p.b.length === 8, 'the random part of the blob key, as 8 bytes');
      const q = await item(flagged.uid);
      assert.equal(q.fl, 1 | 16);
      assert.equal(q.kw, '$Label1 Work');
      const list = await r.store.listMessages(r.acct.id, r.inbox.id);
      assert.deepEqual(list.map((m) => m.flags), [[], ['$Label1', 'Work', '\\Draft', '\\Seen']]);
      for (const m of list) {
        assert.match(m.blobKey, new RegExp(`^${r.acct.id}/[A-Za-z0-9_-]{11}$`));
        assert.equal((await r.store.blobs.get(m.blobKey)).length, m.size);
      }
      // Clearing every flag leaves no flag attribute behind.
      await r.store.updateFlags(r.acct.id, r.inbox.id, { uids: [flagged.uid], op: 'replace', flags: [] });
      assert.deepEqual(Object.keys(await item(flagged.uid)).sort(), ['b', 'd', 'f', 'ms', 'u', 'z']);
      await r.store.updateFlags(r.acct.id, r.inbox.id, { uids: [flagged.uid], op: 'add', flags: ['kw'] });
      const k = await item(flagged.uid);
      assert.equal(k.fl, undefined);
      assert.equal(k.kw, 'kw');
    } finally {
      await r.done();
    }
  });

  it('reads and rewrites items of the earlier layout: UUID folder id, flags and blob key as strings', async () => {
    const r = await rig();
    try {
      const { store, acct } = r;
      const doc = DynamoDBDocumentClient.from(store.ddb);
      const id = randomUUID();
      await doc.send(new PutCommand({ TableName: store.names.folders, Item: { a: acct.id, s: `F#${id}`, id, n: 'Legacy', uv: 7, un: 1, hm: 0, su: null, mc: 0, ts: 0 } }));
      await doc.send(new PutCommand({ TableName: store.names.folders, Item: { a: acct.id, s: 'N#Legacy', id } }));
      const legacy = (await store.getFolderByName(acct.id, 'Legacy'))!;
      assert.equal(legacy.id, id);
      const keys: string[] = [];
      for (const flags of [['\\Seen', 'kw'], []]) {
        const { raw: _raw, ...n } = await putMessage(store, acct.id, { flags });
        await store.appendMessage(acct.id, id, n);
        keys.push(n.blobKey);
      }
      // Rewrite both records, and the first journal entry, as the earlier code wrote them.
      for (const [i, uid] of [1, 2].entries()) {
        const it = (await doc.send(new GetCommand({ TableName: store.names.messages, Key: { f: id, u: uid }, ConsistentRead: true }))).Item!;
        const flags = i === 0 ? '\\Seen kw' : '';
        await doc.send(new PutCommand({ TableName: store.names.messages, Item: { f: id, u: uid, ms: it.ms, fl: flags, d: it.d, z: it.z, b: keys[i] } }));
      }
      const j = (await doc.send(new GetCommand({ TableName: store.names.journal, Key: { f: id, m: 1 }, ConsistentRead: true }))).Item!;
      await doc.send(new PutCommand({ TableName: store.names.journal, Item: { f: id, m: 1, u: 1, k: 'n', fl: '\\Seen kw', exp: j.exp } }));

      let list = await store.listMessages(acct.id, id);
      assert.deepEqual(list.map((m) => [m.uid, m.flags, m.blobKey]), [
        [1, ['\\Seen', 'kw'], keys[0]],
        [2, [], keys[1]],
      ]);
      assert.deepEqual((await store.changesSince(acct.id, id, 0)).map((e) => e.flags), [['\\Seen', 'kw'], []]);
      const { updated } = await store.updateFlags(acct.id, id, { uids: [1, 2], op: 'add', flags: ['\\Flagged'] });
      assert.deepEqual(updated.map((m) => [m.flags, m.blobKey]), [
        [['\\Flagged', '\\Seen', 'kw'], keys[0]],
        [['\\Flagged'], keys[1]],
      ]);
      const one = (await doc.send(new GetCommand({ TableName: store.names.messages, Key: { f: id, u: 1 }, ConsistentRead: true }))).Item!;
      assert.equal(one.fl, 1 | 4);
      assert.equal(one.kw, 'kw');
      list = await store.listMessages(acct.id, id);
      assert.deepEqual(list.map((m) => m.flags), [['\\Flagged', '\\Seen', 'kw'], ['\\Flagged']]);
      // Copy out of the old folder, expunge everything: the blobs go with their last reference.
      const { mapping } = await store.copyMessages(acct.id, id, [1, 2], r.inbox.id);
      assert.deepEqual((await store.listMessages(acct.id, r.inbox.id)).map((m) => [m.flags, m.blobKey]), [
        [['\\Flagged', '\\Seen', 'kw'], keys[0]],
        [['\\Flagged'], keys[1]],
      ]);
      assert.deepEqual(await store.expunge(acct.id, id, [1, 2]), [1, 2]);
      await store.expunge(acct.id, r.inbox.id, mapping.map(([, u]) => u));
      await store.sweepOrphanBlobs(0);
      for (const k of keys) await rejectsWith(store.blobs.get(k), 'NOT_FOUND');
    } finally {
      await r.done();
    }
  });
});

describe('aws store only: hot-path reads', () => {
  it('reads only the folder item for getFolder (1 unit), the name and folder items for getFolderByName (2), one more when subscribed is asked', async () => {
    const r = await rig();
    try {
      const reads = async (fn: () => Promise<unknown>) => {
        r.meter.reset();
        await fn();
        return r.meter.snapshot();
      };
      let u = await reads(() => r.store.getFolder(r.acct.id, r.inbox.id));
      assert.deepEqual([u.readUnits, u.dynamodb], [1, { GetItemCommand: 1 }]);
      u = await reads(() => r.store.getFolderByName(r.acct.id, 'INBOX'));
      assert.deepEqual([u.readUnits, u.dynamodb], [2, { GetItemCommand: 2 }]);
      u = await reads(() => r.store.getFolder(r.acct.id, r.inbox.id, { subscribed: true }));
      assert.deepEqual(u.dynamodb, { GetItemCommand: 2 });
      u = await reads(() => r.store.getFolderByName(r.acct.id, 'INBOX', { subscribed: true }));
      assert.deepEqual(u.dynamodb, { GetItemCommand: 3 });
    } finally {
      await r.done();
    }
  });
});

interface ChildResult {
  uid: number;
  modseq: number;
  blobKey: string;
  subject: string;
}

function startChild(args: string[]) {
  const script = fileURLToPath(new URL('./aws-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    async ready() {
      const l = await lines.next();
      assert.equal(l.value, 'ready');
    },
    go() {
      child.stdin!.end('go\n');
    },
    async result(): Promise<ChildResult[]> {
      const l = await lines.next();
      assert.equal(await exited, 0);
      return JSON.parse(l.value as string) as ChildResult[];
    },
  };
}

describe('aws store only: two processes', () => {
  it('50 concurrent appends and flag adds from each of two processes: distinct ascending UIDs, one blob each, no lost flag', async () => {
    const r = await rig();
    try {
      const target = (await deliverTo(r, 'target')).uid;
      const N = 50;
      const opts = JSON.stringify({ names: r.store.names, bucket: r.store.bucket, region: local.region, credentials: local.credentials, conditionalPut: false });
      const a = startChild([opts, r.acct.id, r.inbox.id, String(N), 'A', String(target)]);
      const b = startChild([opts, r.acct.id, r.inbox.id, String(N), 'B', String(target)]);
      await Promise.all([a.ready(), b.ready()]);
      a.go();
      b.go();
      const results = [...(await a.result()), ...(await b.result())];
      assert.equal(results.length, 2 * N);
      assert.equal(new Set(results.map((x) => x.uid)).size, 2 * N, 'UIDs collided');
      assert.equal(new Set(results.map((x) => x.modseq)).size, 2 * N, 'modseqs collided');
      const byModseq = [...results].sort((x, y) => x.modseq - y.modseq);
      for (let i = 1; i < byModseq.length; i++) assert.ok(byModseq[i]!.uid > byModseq[i - 1]!.uid, 'UIDs ascend in commit order');

      const list = await assertConsistent(r, 2 * N + 1);
      const byUid = new Map(results.map((x) => [x.uid, x]));
      for (const m of list.slice(1)) {
        const x = byUid.get(m.uid)!;
        assert.equal(m.blobKey, x.blobKey);
        assert.equal((await r.store.getMessage(r.acct.id, r.inbox.id, m.uid))!.index.envelope.subject, x.subject);
      }
      assert.equal(new Set(list.map((m) => m.blobKey)).size, 2 * N + 1, 'one blob per message');
      assert.equal(await r.store.sweepOrphanBlobs(0), 0, 'no stray blobs');
      const flags = (await r.store.getMessage(r.acct.id, r.inbox.id, target))!.flags;
      assert.equal(flags.length, 2 * N);
      const f = (await r.store.getFolder(r.acct.id, r.inbox.id))!;
      assert.equal(f.highestModseq, 1 + 4 * N);
      assert.deepEqual(
        (await r.store.changesSince(r.acct.id, r.inbox.id, 0)).map((e) => e.modseq),
        Array.from({ length: 1 + 4 * N }, (_, i) => i + 1),
        'one journal entry per change, dense modseqs',
      );
    } finally {
      await r.done();
    }
  });
});
