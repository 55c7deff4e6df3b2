// Big APPEND literals stream to storage as they arrive (core/store/stage.ts,
// protocol-tasks/imap/literal-stream.ts), here on the embedded store: the message is stored
// byte-exact with its line ends normalised across chunk edges and indexed as deliverMessage
// would index it; a staged message that no APPEND claims (TRYCREATE, a syntax error after
// the literal, a dropped connection, an oversized message) leaves no blob and no spool file.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { indexMessage } from '../../core/mime/indexer.js';
import { normalizeLineEnds } from '../../core/store/deliver.js';
import { openLocalStore } from '../../core/store/local/index.js';
import { MessageStage } from '../../core/store/stage.js';
import type { Store } from '../../core/store/port.js';
import { STREAM_APPEND_MIN } from '../../protocol-tasks/imap/literal-stream.js';
import { USER, startTestServer, type TestServer } from '../helpers/server.js';
import { WireClient } from './wire-client.js';

/** A multipart message of about `size` octets with bare LF line ends in its text part. */
function bigMessage(size: number, subject: string): Buffer {
  const head =
    `From: Big Sender <big@example.org>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
    'Content-Type: multipart/mixed; boundary="b-1"\r\n\r\n--b-1\r\nContent-Type: text/plain\r\n\r\n' +
    'bare LF line\n'.repeat(2000) +
    '\r\n--b-1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n';
  const b64 = randomBytes(Math.ceil(((size - head.length) * 3) / 4 / 1.03)).toString('base64').replace(/(.{76})/g, '$1\r\n');
  return Buffer.from(head + b64 + '\r\n--b-1--\r\n', 'latin1');
}

async function stageFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.startsWith('mail-stage-'));
}

describe('MessageStage', () => {
  let dir: string;
  let store: Store;
  let accountId: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mab-stage-'));
    store = await openLocalStore(join(dir, 'store'));
    accountId = (await store.createAccount({ address: 'stage@example.test', passwordHash: '', role: 'user', pop3: { enabled: true } as never, imap4: { enabled: true } as never, homeSite: 'local' })).id;
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('normalises line ends across chunk edges, stores the blob and indexes it like deliverMessage', async () => {
    const raw = Buffer.from('Subject: edges\n\r\nline one\r\nline two\nthree\r\r\nfour\n\n', 'latin1');
    for (let cut = 1; cut < raw.length; cut += 3) {
      const stage = new MessageStage(store, accountId, { tmpDir: dir });
      for (let i = 0; i < raw.length; i += cut) stage.write(raw.subarray(i, i + cut));
      stage.end();
      const staged = await stage.claim();
      const expected = normalizeLineEnds(raw);
      assert.equal(staged.size, expected.length);
      assert.ok((await store.blobs.get(staged.blobKey)).equals(expected), `chunks of ${cut}`);
      assert.deepEqual(staged.index, indexMessage(expected));
      await stage.release(); // claimed: the blob stays
      assert.ok(await store.blobs.get(staged.blobKey));
      await store.blobs.delete(staged.blobKey); // (no message points at it here)
    }
    assert.deepEqual(await stageFiles(dir), [], 'no spool file left');
  });

  it('an unclaimed, aborted or oversized message leaves no blob and no spool file', async () => {
    const s1 = new MessageStage(store, accountId, { tmpDir: dir });
    s1.write(Buffer.from('Subject: x\r\n\r\nbody\r\n'));
    s1.end();
    const staged = await s1.done();
    await s1.release();
    await assert.rejects(store.blobs.get(staged.blobKey), /not found/i);

    const s2 = new MessageStage(store, accountId, { tmpDir: dir });
    s2.write(Buffer.alloc(300_000, 0x61));
    s2.abort();
    await assert.rejects(s2.done(), /abandoned/);

    const s3 = new MessageStage(store, accountId, { tmpDir: dir, maxSize: 1000 });
    s3.write(Buffer.from('a\n'.repeat(400))); // 800 octets, 1200 once LF becomes CRLF
    s3.write(Buffer.from('ignored after the failure'));
    s3.end();
    await assert.rejects(s3.done(), (e: Error) => e.name === 'MessageTooLargeError');
    await s3.release();

    assert.equal(await store.sweepOrphanBlobs(0), 0, 'nothing left for the sweep');
    assert.deepEqual(await stageFiles(dir), []);
  });

  it('reports a backlog and calls onDrain when the pipeline catches up', async () => {
    const stage = new MessageStage(store, accountId, { tmpDir: dir, highWaterMark: 64 * 1024 });
    for (let i = 0; i < 40; i++) stage.write(Buffer.alloc(16 * 1024, 0x62));
    assert.ok(stage.backlog > stage.highWaterMark);
    await new Promise<void>((resolve) => stage.onDrain(resolve));
    assert.ok(stage.backlog <= stage.highWaterMark / 2);
    stage.end();
    assert.equal((await stage.claim()).size, 40 * 16 * 1024);
  });
});

describe('IMAP APPEND of a big message, streamed', () => {
  let s: TestServer;
  let spoolDir: string;
  const savedTmp = process.env.TMPDIR;
  before(async () => {
    // Spool files go to the OS temp directory: a private one here, to see that none is left.
    spoolDir = await mkdtemp(join(tmpdir(), 'mab-spool-'));
    process.env.TMPDIR = spoolDir;
    s = await startTestServer();
  });
  after(async () => {
    await s?.stop();
    process.env.TMPDIR = savedTmp;
    if (savedTmp === undefined) delete process.env.TMPDIR;
    await rm(spoolDir, { recursive: true, force: true });
  });

  async function appendLiteral(c: WireClient, mailbox: string, data: Buffer, extra = ''): Promise<{ status: string; tagged: string }> {
    const tag = c.nextTag();
    c.write(`${tag} APPEND ${mailbox} (\\Seen) {${data.length}}\r\n`);
    const cont = await c.line();
    if (!cont.startsWith('+')) return { status: cont.split(' ')[1]!, tagged: cont.trim() };
    for (let i = 0; i < data.length; i += 100_000) c.write(data.subarray(i, i + 100_000));
    c.write(`${extra}\r\n`);
    return c.reply(tag, 60_000);
  }

  it('stores it byte-exact (line ends normalised), indexed, fetchable whole and in part', async () => {
    const raw = bigMessage(3 * 1024 * 1024, 'streamed');
    assert.ok(raw.length >= STREAM_APPEND_MIN, 'big enough to stream');
    const stored = normalizeLineEnds(raw);
    const c = await WireClient.open(s.ports, { select: 'INBOX' });
    try {
      const r = await appendLiteral(c, 'INBOX', raw);
      assert.equal(r.status, 'OK', r.tagged);
      const uid = Number(/APPENDUID \d+ (\d+)/.exec(r.tagged)![1]);
      const meta = await c.cmd(`UID FETCH ${uid} (RFC822.SIZE FLAGS ENVELOPE)`);
      assert.match(meta.untagged.join(''), new RegExp(`RFC822\\.SIZE ${stored.length}\\b`));
      assert.match(meta.untagged.join(''), /FLAGS \(\\Seen\)/);
      assert.match(meta.untagged.join(''), /"streamed"/);
      const body = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[])`, 60_000);
      const text = body.untagged.join('');
      const start = text.indexOf(`{${stored.length}}\r\n`);
      assert.ok(start > 0);
      const got = Buffer.from(text.slice(start + `{${stored.length}}\r\n`.length, start + `{${stored.length}}\r\n`.length + stored.length), 'latin1');
      assert.ok(got.equals(stored), 'BODY[] is the normalised message, byte-exact');
      const part = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[1]<0.28>)`);
      assert.match(part.untagged.join(''), /\{28\}\r\nbare LF line\r\nbare LF line\r\n\)/);
      const acc = (await s.store.getAccountByAddress(USER))!;
      const inbox = (await s.store.getFolderByName(acc.id, 'INBOX'))!;
      const m = (await s.store.getMessage(acc.id, inbox.id, uid))!;
      assert.deepEqual(m.index, indexMessage(stored), 'the same index deliverMessage would compute');
    } finally {
      c.close();
    }
  });

  it('a streamed message no APPEND claims leaves no blob: TRYCREATE, a syntax error after the literal, a dropped connection', async () => {
    const raw = bigMessage(STREAM_APPEND_MIN + 1000, 'unclaimed');
    const c = await WireClient.open(s.ports);
    try {
      const r1 = await appendLiteral(c, 'NoSuchFolder', raw);
      assert.equal(r1.status, 'NO');
      assert.match(r1.tagged, /\[TRYCREATE\]/);
      const r2 = await appendLiteral(c, 'INBOX', raw, ' )');
      assert.equal(r2.status, 'BAD');
      // Dropped half way through the literal.
      c.write(`A99 APPEND INBOX {${raw.length}}\r\n`);
      assert.match(await c.line(), /^\+/);
      c.write(raw.subarray(0, raw.length >> 1));
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      c.close();
    }
    // Blobs are deleted once their stage settles: give it a moment.
    let left = -1;
    for (let i = 0; i < 50 && left !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = (await stageFiles(spoolDir)).length;
    }
    assert.equal(left, 0, 'no spool file left');
    assert.equal(await s.store.sweepOrphanBlobs(0), 0, 'no orphan blob left');
  });
});
