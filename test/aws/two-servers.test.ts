// Two real server processes on the AWS adapter, sharing DynamoDB Local and s3rver: 50 IMAP
// clients APPEND into one folder at the same moment, half through each server. Every APPEND
// gets its own UID, UIDs ascend in commit order, every message has exactly one blob (no
// duplicate, no stray upload), and each server serves what the other stored.

import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import { createMailbox } from '../../core/admin/mailboxes.js';
import { defaultProtocolSettings } from '../../core/settings/schema.js';
import { AwsStore } from '../../core/store/aws/store.js';
import { BUCKET } from '../../core/store/aws/tables.js';
import { ensureDefaultFolders } from '../../core/store/default-folders.js';
import { startAwsLocal, type AwsLocal, type AwsSpace } from '../helpers/aws-local.js';
import { startServerProcess, type ServerProcess } from '../helpers/aws-server-process.js';
import { WireClient, quote } from '../imap/wire-client.js';

const USER = 'shared@example.test';
const PASSWORD = 'correct horse battery';
const N = 50;

let local: AwsLocal;
let space: AwsSpace;
let store: AwsStore;
const servers: ServerProcess[] = [];

before(async () => {
  local = await startAwsLocal();
  space = await local.createSpace();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.dynamodbEndpoint;
  process.env.AWS_ENDPOINT_URL_S3 = local.s3Endpoint;
  store = new AwsStore({ names: space.names, bucket: space.bucket, region: local.region, credentials: local.credentials, conditionalPut: false });
  // 25 sessions of one user on each server: above the default cap of 16 per user.
  await store.putProtocolSettings('imap4', { ...defaultProtocolSettings('imap4'), maxConnectionsPerUser: 64 });
  const acct = await createMailbox(store, { address: USER, password: PASSWORD });
  // The cheapest hash the server accepts (N = 2^14): 50 logins at the default cost (2^17,
  // two at a time per server) would take longer than the appends this test is about.
  const salt = randomBytes(16);
  const hash = scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1 });
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  await store.updateAccount(acct.id, { passwordHash: `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(hash)}` });
  servers.push(...(await Promise.all([startServerProcess(local, space), startServerProcess(local, space)])));
});
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await store?.close();
  await space?.drop().catch(() => undefined);
  await local?.stop();
});

function message(i: number, via: string): Buffer {
  return Buffer.from(
    `From: Sender ${i} <s${i}@example.org>\r\nTo: ${USER}\r\nSubject: append ${i} via ${via}\r\n` +
      `Message-ID: <m${i}.${via}@example.org>\r\nDate: Tue, 3 Mar 2026 09:00:00 +0000\r\n\r\nBody ${i}.\r\n`,
  );
}

describe('two server processes on the AWS adapter', () => {
  it(`${N} concurrent APPENDs into one folder through both: distinct ascending UIDs, exactly one blob each`, async () => {
    const clients = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const c = await WireClient.open(servers[i % 2]!.ports, { login: false });
        const r = await c.cmd(`LOGIN ${quote(USER)} ${quote(PASSWORD)}`, 120_000);
        assert.equal(r.status, 'OK', r.tagged);
        return c;
      }),
    );
    try {
      const sent = clients.map((_, i) => ({ i, via: i % 2 === 0 ? 'A' : 'B', raw: message(i, i % 2 === 0 ? 'A' : 'B') }));
      // All at once: each client sends its whole APPEND (LITERAL+) in one write.
      const replies = await Promise.all(
        clients.map((c, i) => {
          const raw = sent[i]!.raw;
          return c.cmd(Buffer.concat([Buffer.from(`APPEND INBOX {${raw.length}+}\r\n`), raw]), 60_000);
        }),
      );
      const uids = replies.map((r, i) => {
        assert.equal(r.status, 'OK', `APPEND ${i}: ${r.tagged}`);
        const m = /\[APPENDUID (\d+) (\d+)\]/.exec(r.tagged);
        assert.ok(m, r.tagged);
        return { uidValidity: Number(m[1]), uid: Number(m[2]) };
      });
      assert.equal(new Set(uids.map((u) => u.uidValidity)).size, 1, 'one UIDVALIDITY');
      assert.equal(new Set(uids.map((u) => u.uid)).size, N, 'distinct UIDs');

      const acct = (await store.getAccountByAddress(USER))!;
      const inbox = await ensureDefaultFolders(store, acct.id);
      const list = await store.listMessages(acct.id, inbox.id);
      assert.equal(list.length, N);
      assert.deepEqual(
        list.map((m) => m.uid),
        [...uids.map((u) => u.uid)].sort((a, b) => a - b),
        'the folder holds exactly the UIDs the clients were given',
      );
      // Commit order: modseqs (one per append, dense) ascend with the UIDs.
      const byModseq = [...list].sort((a, b) => a.modseq - b.modseq);
      for (let k = 1; k < byModseq.length; k++) assert.ok(byModseq[k]!.uid > byModseq[k - 1]!.uid, 'UIDs ascend in commit order');
      const folder = (await store.getFolder(acct.id, inbox.id))!;
      assert.equal(folder.messageCount, N);
      assert.equal(folder.uidNext, Math.max(...list.map((m) => m.uid)) + 1);
      assert.deepEqual(
        (await store.changesSince(acct.id, inbox.id, 0)).map((e) => e.kind),
        Array.from({ length: N }, () => 'new'),
        'one journal entry per append',
      );

      // Exactly one blob per message: distinct keys, each the message's bytes, nothing else in the bucket.
      assert.equal(new Set(list.map((m) => m.blobKey)).size, N, 'one blob per message');
      const byUid = new Map(uids.map((u, i) => [u.uid, sent[i]!]));
      for (const m of list) {
        const blob = await store.blobs.get(m.blobKey);
        assert.ok(blob.equals(byUid.get(m.uid)!.raw), `UID ${m.uid} holds the message its APPEND sent`);
      }
      const listed = await local.s3.send(new ListObjectsV2Command({ Bucket: space.bucket, Prefix: BUCKET.blobPrefix }));
      assert.equal(listed.KeyCount, N, 'no stray object in the bucket');
      assert.equal(await store.sweepOrphanBlobs(0), 0, 'no orphan');

      // Each server serves what the other stored.
      for (const [k, srv] of servers.entries()) {
        const c = await WireClient.open(srv.ports, { user: USER, password: PASSWORD, select: 'INBOX' });
        try {
          const other = uids.findIndex((_, i) => i % 2 !== k);
          const r = await c.cmd(`UID FETCH ${uids[other]!.uid} (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])`);
          assert.equal(r.status, 'OK');
          assert.match(r.untagged.join(''), new RegExp(`Subject: append ${other} via ${sent[other]!.via}\\r\\n[\\s\\S]*Body ${other}\\.`));
          const st = await c.cmd(`STATUS INBOX (MESSAGES UIDNEXT)`);
          assert.match(st.untagged.join(''), new RegExp(`MESSAGES ${N} UIDNEXT ${folder.uidNext}`));
        } finally {
          c.close();
        }
      }
      assert.doesNotMatch(servers.map((s) => s.stderr()).join(''), /"level":50/, 'no error logged by either server');
    } finally {
      await Promise.all(clients.map((c) => c.cmd('LOGOUT').catch(() => undefined)));
      for (const c of clients) c.close();
    }
  });
});


