// IMAP STORE / UID STORE: FLAGS, +FLAGS, -FLAGS, .SILENT, read-only refusal, \Recent, set
// validation, other sessions' view of the change, and concurrent flag changes (D30).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { createMailbox, deliverToInbox, getMailbox } from '../../core/admin/mailboxes.js';
import { PASSWORD, startTestServer, type TestServer } from '../helpers/server.js';
import { ImapTestClient, fetches } from './fetch-client.js';

describe('IMAP STORE', () => {
  let s: TestServer;

  before(async () => {
    s = await startTestServer();
  });
  after(() => s.stop());

  /** A fresh mailbox with n plain messages; returns the store handles to check flags. */
  async function mailbox(address: string, n: number, flags: string[] = []) {
    await createMailbox(s.store, { address, password: PASSWORD });
    for (let i = 1; i <= n; i++) {
      await deliverToInbox(s.store, address, Buffer.from(`From: a@example.test\r\nSubject: m${i}\r\n\r\nbody ${i}\r\n`), { flags });
    }
    const acc = await getMailbox(s.store, address);
    const inbox = (await s.store.getFolderByName(acc.id, 'INBOX'))!;
    const flagsOf = async (uid: number) => (await s.store.getMessage(acc.id, inbox.id, uid))!.flags;
    return { acc, inbox, flagsOf };
  }

  it('FLAGS replaces, +FLAGS adds, -FLAGS removes, each answered with the new flags', async () => {
    const { flagsOf } = await mailbox('store1@example.test', 3);
    const c = await ImapTestClient.open(s.ports.imaps!, { user: 'store1@example.test', select: 'INBOX' });
    let r = await c.cmd('STORE 1:2 +FLAGS (\\Seen $Important)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, ['* 1 FETCH (FLAGS ($Important \\Seen))\r\n', '* 2 FETCH (FLAGS ($Important \\Seen))\r\n']);
    assert.deepEqual(await flagsOf(1), ['$Important', '\\Seen']);
    r = await c.cmd('STORE 2 -FLAGS ($Important)');
    assert.deepEqual(r.untagged, ['* 2 FETCH (FLAGS (\\Seen))\r\n']);
    r = await c.cmd('STORE 3 FLAGS (\\Flagged \\Answered)');
    assert.deepEqual(r.untagged, ['* 3 FETCH (FLAGS (\\Answered \\Flagged))\r\n']);
    r = await c.cmd('STORE 3 FLAGS ()');
    assert.deepEqual(r.untagged, ['* 3 FETCH (FLAGS ())\r\n']);
    assert.deepEqual(await flagsOf(3), []);
    // Unchanged messages are reported too (RFC 3501: the flags after the store).
    r = await c.cmd('STORE 1:3 +FLAGS \\Seen');
    assert.equal(fetches(r).length, 3);
    // Flags without parentheses, several of them; system flags in any case.
    r = await c.cmd('STORE 3 +FLAGS \\deleted \\DRAFT');
    assert.deepEqual(r.untagged, ['* 3 FETCH (FLAGS (\\Deleted \\Draft \\Seen))\r\n']);
    // FETCH sees the same.
    r = await c.cmd('FETCH 1:3 FLAGS');
    assert.deepEqual(
      fetches(r).map((f) => f.items.get('FLAGS')),
      [['$Important', '\\Seen'], ['\\Seen'], ['\\Deleted', '\\Draft', '\\Seen']],
    );
    c.close();
  });

  it('.SILENT sends no FETCH; UID STORE includes UID; unknown UIDs are skipped', async () => {
    const { flagsOf } = await mailbox('store2@example.test', 3);
    const c = await ImapTestClient.open(s.ports.imaps!, { user: 'store2@example.test', select: 'INBOX' });
    let r = await c.cmd('STORE 1:* +FLAGS.SILENT (\\Deleted)');
    assert.equal(r.status, 'OK');
    assert.deepEqual(r.untagged, []);
    assert.deepEqual(await flagsOf(3), ['\\Deleted']);
    r = await c.cmd('UID STORE 2,3,99 -FLAGS (\\Deleted)');
    assert.equal(r.status, 'OK');
    assert.deepEqual(r.untagged, ['* 2 FETCH (UID 2 FLAGS ())\r\n', '* 3 FETCH (UID 3 FLAGS ())\r\n']);
    r = await c.cmd('UID STORE 1 FLAGS.SILENT (\\Answered)');
    assert.deepEqual(r.untagged, []);
    assert.deepEqual(await flagsOf(1), ['\\Answered']);
    r = await c.cmd('UID STORE 500:* +FLAGS (\\Flagged)');
    assert.deepEqual(r.untagged, ['* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\n'], 'n:* includes the last message');
    c.close();
  });

  it('refuses STORE in a read-only (EXAMINEd) mailbox, \\Recent, bad sets and bad flags', async () => {
    const { flagsOf } = await mailbox('store3@example.test', 2);
    const e = await ImapTestClient.open(s.ports.imaps!, { user: 'store3@example.test', select: 'INBOX', examine: true });
    let r = await e.cmd('STORE 1 +FLAGS (\\Seen)');
    assert.equal(r.status, 'NO');
    assert.deepEqual(await flagsOf(1), []);
    r = await e.cmd('UID STORE 1:* FLAGS (\\Deleted)');
    assert.equal(r.status, 'NO');
    assert.deepEqual(await flagsOf(2), []);
    e.close();
    const c = await ImapTestClient.open(s.ports.imaps!, { user: 'store3@example.test', select: 'INBOX' });
    assert.equal((await c.cmd('STORE 1 +FLAGS (\\Recent)')).status, 'BAD');
    assert.equal((await c.cmd('STORE 1 +FLAGS (\\Bogus)')).status, 'BAD');
    assert.equal((await c.cmd('STORE 3 +FLAGS (\\Seen)')).status, 'BAD', 'sequence number past EXISTS');
    assert.equal((await c.cmd('STORE 1 +FLAGZ (\\Seen)')).status, 'BAD');
    assert.equal((await c.cmd('STORE 1 (UNCHANGEDSINCE 5) +FLAGS (\\Seen)')).status, 'BAD', 'CONDSTORE is not enabled');
    assert.deepEqual(await flagsOf(1), []);
    c.close();
    const n = await ImapTestClient.open(s.ports.imaps!, { user: 'store3@example.test' });
    assert.equal((await n.cmd('STORE 1 +FLAGS (\\Seen)')).status, 'BAD', 'no mailbox selected');
    n.close();
  });

  it('other sessions on the mailbox hear of the change as FETCH FLAGS', async () => {
    await mailbox('store4@example.test', 2);
    const a = await ImapTestClient.open(s.ports.imaps!, { user: 'store4@example.test', select: 'INBOX' });
    const b = await ImapTestClient.open(s.ports.imaps!, { user: 'store4@example.test', select: 'INBOX' });
    await a.cmd('STORE 2 +FLAGS (\\Flagged)');
    await new Promise((r) => setTimeout(r, 50));
    const r = await b.cmd('NOOP');
    assert.ok(
      r.untagged.some((u) => /^\* 2 FETCH \(.*FLAGS \(\\Flagged\)/.test(u)),
      JSON.stringify(r.untagged),
    );
    // The storing session itself is not told twice.
    const again = await a.cmd('NOOP');
    assert.deepEqual(again.untagged, []);
    a.close();
    b.close();
  });

  it('two sessions adding different flags to one message 200 times each lose none (D30)', async () => {
    const { flagsOf } = await mailbox('d30@example.test', 1);
    const a = await ImapTestClient.open(s.ports.imaps!, { user: 'd30@example.test', select: 'INBOX' });
    const b = await ImapTestClient.open(s.ports.imaps!, { user: 'd30@example.test', select: 'INBOX' });
    const run = async (c: ImapTestClient, prefix: string) => {
      for (let i = 0; i < 200; i++) {
        const r = await c.cmd(i % 2 ? `UID STORE 1 +FLAGS.SILENT (${prefix}${i})` : `STORE 1 +FLAGS (${prefix}${i})`);
        assert.equal(r.status, 'OK', r.tagged);
      }
    };
    await Promise.all([run(a, 'a'), run(b, 'b')]);
    const want = [...Array.from({ length: 200 }, (_, i) => `a${i}`), ...Array.from({ length: 200 }, (_, i) => `b${i}`)].sort();
    assert.deepEqual(await flagsOf(1), want);
    for (const c of [a, b]) {
      const f = fetches(await c.cmd('FETCH 1 FLAGS'))[0]!;
      assert.deepEqual([...(f.items.get('FLAGS') as string[])].sort(), want);
    }
    a.close();
    b.close();
  });

  it('imapflow: messageFlagsAdd / Remove / Set', async () => {
    const { flagsOf } = await mailbox('flow@example.test', 3);
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: s.ports.imaps!,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'flow@example.test', pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      assert.ok(await client.messageFlagsAdd('1:3', ['\\Seen', '$Work']));
      assert.ok(await client.messageFlagsRemove('2', ['$Work'], { uid: true }));
      assert.ok(await client.messageFlagsSet('3', ['\\Flagged']));
      assert.deepEqual(await flagsOf(1), ['$Work', '\\Seen']);
      assert.deepEqual(await flagsOf(2), ['\\Seen']);
      assert.deepEqual(await flagsOf(3), ['\\Flagged']);
      const got: Record<number, string[]> = {};
      for await (const m of client.fetch('1:*', { uid: true, flags: true })) got[m.uid] = [...(m.flags ?? [])].sort();
      assert.deepEqual(got, { 1: ['$Work', '\\Seen'], 2: ['\\Seen'], 3: ['\\Flagged'] });
    } finally {
      lock.release();
      await client.logout();
    }
  });

  it('STORE on a message another session expunged leaves it out and numbers stay put', async () => {
    const { acc, inbox } = await mailbox('store5@example.test', 3);
    const c = await ImapTestClient.open(s.ports.imaps!, { user: 'store5@example.test', select: 'INBOX' });
    await s.store.expunge(acc.id, inbox.id, [2]);
    await new Promise((r) => setTimeout(r, 50));
    const r = await c.cmd('STORE 1:3 +FLAGS (\\Seen)');
    assert.equal(r.status, 'OK');
    assert.ok(!r.untagged.some((u) => /EXPUNGE/.test(u)), 'no EXPUNGE during STORE');
    const seqs = fetches(r).map((f) => f.seq);
    assert.ok(seqs.includes(1) && seqs.includes(3), JSON.stringify(r.untagged));
    const n = await c.cmd('NOOP');
    assert.ok(n.untagged.includes('* 2 EXPUNGE\r\n'));
    c.close();
  });
});


