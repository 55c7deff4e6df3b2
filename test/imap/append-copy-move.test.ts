// APPEND (flags, date, LITERAL+, MULTIAPPEND, APPENDUID, TOOBIG, TRYCREATE), COPY and MOVE
// with COPYUID, EXPUNGE and UID EXPUNGE, read-only refusals, and the checklist items
// D26 (UIDs never reused), D28 (concurrent APPEND/COPY/MOVE: distinct ascending UIDs) and
// D29 (no EXPUNGE during FETCH/STORE/SEARCH; they come at NOOP).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { openLocalStore } from '../../core/store/local/index.js';
import { StoreError } from '../../core/store/port.js';
import { deliverMessage } from '../../core/store/deliver.js';
import type { Account, Folder } from '../../core/store/port.js';
import { PASSWORD, startTestServer, USER, type TestServer } from '../helpers/server.js';
import { expandSet, searchResult, TaggedClient, type Reply } from './tagged-client.js';

const msg = (subject: string, body = 'Hello.') => Buffer.from(`From: a@example.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);

/** "[APPENDUID v set]" -> { v, uids } */
function appendUid(r: Reply): { v: number; uids: number[] } {
  const m = /^\[APPENDUID (\d+) ([\d:,]+)\]/.exec(r.text);
  assert.ok(m, `no APPENDUID in ${JSON.stringify(r.raw)}`);
  return { v: Number(m[1]), uids: expandSet(m[2]!) };
}

/** "[COPYUID v src dst]" in a tagged or untagged text -> pairs */
function copyUid(text: string): { v: number; src: number[]; dst: number[] } {
  const m = /\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]/.exec(text);
  assert.ok(m, `no COPYUID in ${JSON.stringify(text)}`);
  return { v: Number(m[1]), src: expandSet(m[2]!), dst: expandSet(m[3]!) };
}

describe('IMAP APPEND, COPY, MOVE, EXPUNGE', () => {
  let server: TestServer;
  let acc: Account;
  let port: number;
  const open: TaggedClient[] = [];

  async function client(select?: string, examine = false): Promise<TaggedClient> {
    const c = await TaggedClient.open(port, { select, examine });
    open.push(c);
    return c;
  }
  async function folder(name: string): Promise<Folder> {
    const f = await server.store.getFolderByName(acc.id, name);
    return f ?? server.store.createFolder(acc.id, name);
  }
  async function seed(name: string, n: number, flags: string[] = []): Promise<{ f: Folder; uids: number[] }> {
    const f = await folder(name);
    const uids: number[] = [];
    for (let i = 0; i < n; i++) {
      uids.push((await deliverMessage(server.store, { accountId: acc.id, folderId: f.id, raw: msg(`${name} ${i + 1}`), flags })).uid);
    }
    return { f, uids };
  }
  async function uidsOf(name: string): Promise<number[]> {
    const f = (await server.store.getFolderByName(acc.id, name))!;
    return (await server.store.listMessages(acc.id, f.id)).map((m) => m.uid);
  }

  before(async () => {
    server = await startTestServer();
    port = server.ports.imaps!;
    acc = (await server.store.getAccountByAddress(USER))!;
    await server.setSettings('imap4', { maxConnectionsPerUser: 100 });
  });

  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });

  after(async () => {
    for (const c of open) c.close();
    await server?.stop();
  });

  describe('APPEND', () => {
    it('stores flags and the internal date, and answers APPENDUID', async () => {
      const c = await client();
      const data = msg('sent copy');
      c.write(`A1 APPEND Sent (\\Seen $Label) "05-Mar-2026 10:00:00 +0100" {${data.length}}\r\n`);
      await c.readUntil(/\+ [^\r\n]*\r\n/);
      c.write(Buffer.concat([data, Buffer.from('\r\n')]));
      const r = await c.reply('A1');
      assert.equal(r.status, 'OK', r.raw);
      const sent = (await server.store.getFolderByName(acc.id, 'Sent'))!;
      const { v, uids } = appendUid(r);
      assert.equal(v, sent.uidValidity);
      assert.equal(uids.length, 1);
      const [m] = await server.store.listMessages(acc.id, sent.id, { uidFrom: uids[0], uidTo: uids[0] });
      assert.ok(m);
      assert.deepEqual([...m.flags].sort(), ['$Label', '\\Seen']);
      assert.equal(m.internalDate, Date.parse('2026-03-05T09:00:00Z'));
      assert.equal(m.size, data.length);
      assert.deepEqual(await server.store.blobs.get(m.blobKey), data);
    });

    it('without a date uses now; bare LFs become CRLF', async () => {
      const c = await client();
      const data = Buffer.from('Subject: lf\n\nline one\nline two\n');
      const t0 = Date.now();
      const r = await c.run(Buffer.concat([Buffer.from(`APPEND Drafts (\\Draft) {${data.length}+}\r\n`), data]));
      assert.equal(r.status, 'OK', r.raw);
      const drafts = (await server.store.getFolderByName(acc.id, 'Drafts'))!;
      const uid = appendUid(r).uids[0]!;
      const m = (await server.store.getMessage(acc.id, drafts.id, uid))!;
      assert.ok(m.internalDate >= t0 - 1000 && m.internalDate <= Date.now() + 1000);
      assert.deepEqual(m.flags, ['\\Draft']);
      assert.equal((await server.store.blobs.get(m.blobKey)).toString(), 'Subject: lf\r\n\r\nline one\r\nline two\r\n');
    });

    it('LITERAL+ {n+}: no continuation is sent', async () => {
      const c = await client();
      const data = msg('literal plus');
      const r = await c.run(Buffer.concat([Buffer.from(`APPEND INBOX {${data.length}+}\r\n`), data]));
      assert.equal(r.status, 'OK', r.raw);
      assert.deepEqual(r.continuations, []);
      assert.equal(appendUid(r).uids.length, 1);
    });

    it('MULTIAPPEND: several messages, one APPENDUID uid-set', async () => {
      const c = await client();
      const a = msg('multi 1');
      const b = msg('multi 2');
      const d = msg('multi 3');
      const r = await c.run(
        Buffer.concat([
          Buffer.from(`APPEND Archive (\\Seen) {${a.length}+}\r\n`),
          a,
          Buffer.from(` (\\Flagged) "01-Feb-2026 00:00:00 +0000" {${b.length}+}\r\n`),
          b,
          Buffer.from(` {${d.length}+}\r\n`),
          d,
        ]),
      );
      assert.equal(r.status, 'OK', r.raw);
      const { uids } = appendUid(r);
      assert.equal(uids.length, 3);
      assert.deepEqual(uids, [...uids].sort((x, y) => x - y));
      const archive = (await server.store.getFolderByName(acc.id, 'Archive'))!;
      const metas = await server.store.listMessages(acc.id, archive.id);
      assert.deepEqual(
        metas.filter((m) => uids.includes(m.uid)).map((m) => m.flags),
        [['\\Seen'], ['\\Flagged'], []],
      );
      assert.equal(metas.find((m) => m.uid === uids[1])!.internalDate, Date.parse('2026-02-01T00:00:00Z'));
    });

    it('a missing folder is NO [TRYCREATE]; nothing is stored', async () => {
      const c = await client();
      const data = msg('nowhere');
      const r = await c.run(Buffer.concat([Buffer.from(`APPEND "No Such Folder" {${data.length}+}\r\n`), data]));
      assert.equal(r.status, 'NO');
      assert.match(r.text, /^\[TRYCREATE\]/);
    });

    it('a literal over the limit is NO [TOOBIG] before any continuation (B8)', async () => {
      const c = await client();
      c.write('A2 APPEND INBOX {999999999}\r\n');
      const r = await c.reply('A2');
      assert.equal(r.status, 'NO');
      assert.match(r.text, /^\[TOOBIG\]/);
      assert.deepEqual(r.continuations, []);
      assert.equal((await c.run('NOOP')).status, 'OK', 'the session goes on');
    });

    it('an empty message is refused', async () => {
      const c = await client();
      const r = await c.run('APPEND INBOX {0+}\r\n');
      assert.equal(r.status, 'NO', r.raw);
    });

    it('into the selected mailbox: EXISTS comes before the tagged OK', async () => {
      await seed('Selected', 2);
      const c = await client('Selected');
      const data = msg('into selected');
      const r = await c.run(Buffer.concat([Buffer.from(`APPEND Selected {${data.length}+}\r\n`), data]));
      assert.equal(r.status, 'OK');
      assert.ok(r.untagged.includes('3 EXISTS'), r.raw);
      const uid = appendUid(r).uids[0]!;
      assert.deepEqual(searchResult(await c.run(`UID SEARCH UID ${uid}`)), [uid]);
    });

    it('D26: APPEND 3, EXPUNGE all, APPEND 1: the new UID is above every earlier one', async () => {
      await folder('D26');
      const c = await client('D26');
      const first: number[] = [];
      for (let i = 0; i < 3; i++) {
        const data = msg(`d26 ${i}`);
        const r = await c.run(Buffer.concat([Buffer.from(`APPEND D26 {${data.length}+}\r\n`), data]));
        first.push(appendUid(r).uids[0]!);
      }
      assert.equal((await c.run('STORE 1:* +FLAGS.SILENT (\\Deleted)')).status, 'OK');
      const e = await c.run('EXPUNGE');
      assert.deepEqual(e.untagged, ['3 EXPUNGE', '2 EXPUNGE', '1 EXPUNGE']);
      assert.deepEqual(await uidsOf('D26'), []);
      const data = msg('d26 after');
      const r = await c.run(Buffer.concat([Buffer.from(`APPEND D26 {${data.length}+}\r\n`), data]));
      const uid = appendUid(r).uids[0]!;
      assert.ok(uid > Math.max(...first), `${uid} > ${first}`);
      // Also after reconnecting: UIDNEXT did not go back.
      const d = await client();
      const sel = await d.run('SELECT D26');
      assert.ok(sel.untagged.includes(`OK [UIDNEXT ${uid + 1}] Predicted next UID.`), sel.raw);
    });

    it('D28: 50 concurrent APPENDs from 5 connections plus COPY and MOVE into one folder get distinct, ascending UIDs', async () => {
      const target = await folder('Busy');
      await seed('BusySrcCopy', 10);
      await seed('BusySrcMove', 10);
      const appenders = await Promise.all(Array.from({ length: 5 }, () => client()));
      const copier = await client('BusySrcCopy');
      const mover = await client('BusySrcMove');
      const runs = appenders.map(async (c, ci) => {
        // Each connection pipelines its 10 APPENDs in one write (LITERAL+).
        const tags: string[] = [];
        const parts: Buffer[] = [];
        for (let i = 0; i < 10; i++) {
          const tag = c.nextTag();
          tags.push(tag);
          const data = msg(`busy ${ci}-${i}`, `body ${ci}-${i}`);
          parts.push(Buffer.from(`${tag} APPEND Busy {${data.length}+}\r\n`), data, Buffer.from('\r\n'));
        }
        c.write(Buffer.concat(parts));
        const got: number[] = [];
        for (const tag of tags) {
          const r = await c.reply(tag, 30000);
          assert.equal(r.status, 'OK', r.raw);
          got.push(appendUid(r).uids[0]!);
        }
        return got;
      });
      const copyRun = (async () => {
        const out: number[] = [];
        for (const set of ['1:3', '4:6', '7:10']) {
          const r = await copier.run(`UID COPY ${set} Busy`);
          assert.equal(r.status, 'OK', r.raw);
          out.push(...copyUid(r.text).dst);
        }
        return out;
      })();
      const moveRun = (async () => {
        const out: number[] = [];
        for (const set of ['1:5', '6:10']) {
          const r = await mover.run(`UID MOVE ${set} Busy`);
          assert.equal(r.status, 'OK', r.raw);
          const ok = r.untagged.find((l) => l.startsWith('OK [COPYUID'))!;
          out.push(...copyUid(ok).dst);
        }
        return out;
      })();
      const perConn = await Promise.all(runs);
      const copied = await copyRun;
      const moved = await moveRun;
      for (const got of perConn) assert.deepEqual(got, [...got].sort((a, b) => a - b), 'ascending in commit order');
      const all = [...perConn.flat(), ...copied, ...moved];
      assert.equal(all.length, 70);
      assert.equal(new Set(all).size, 70, 'no UID given twice');
      const metas = await server.store.listMessages(acc.id, target.id);
      assert.deepEqual(
        metas.map((m) => m.uid),
        [...all].sort((a, b) => a - b),
      );
      // Every appended message has a blob of its own (copies share their source's blob).
      const appendedBlobs = metas.filter((m) => perConn.flat().includes(m.uid)).map((m) => m.blobKey);
      assert.equal(new Set(appendedBlobs).size, 50);
      assert.deepEqual(await uidsOf('BusySrcMove'), []);
      assert.equal((await uidsOf('BusySrcCopy')).length, 10);
    });
  });

  describe('COPY and MOVE', () => {
    it('COPY answers COPYUID with the source-to-target mapping', async () => {
      const { uids: src } = await seed('CopySrc', 4);
      const c = await client('CopySrc');
      const r = await c.run('COPY 2:3 Trash');
      assert.equal(r.status, 'OK', r.raw);
      const trash = (await server.store.getFolderByName(acc.id, 'Trash'))!;
      const cu = copyUid(r.text);
      assert.equal(cu.v, trash.uidValidity);
      assert.deepEqual(cu.src, [src[1], src[2]]);
      assert.equal(cu.dst.length, 2);
      const [a, b] = await server.store.getMessages(acc.id, trash.id, cu.dst);
      assert.equal(a!.index.envelope.subject, 'CopySrc 2');
      assert.equal(b!.index.envelope.subject, 'CopySrc 3');
      assert.equal(r.untagged.filter((l) => /EXPUNGE/.test(l)).length, 0);
      assert.equal((await uidsOf('CopySrc')).length, 4, 'COPY leaves the source as it was');
    });

    it('UID COPY: only existing UIDs are copied; none is OK without COPYUID', async () => {
      const { uids: src } = await seed('CopySrc2', 3);
      const c = await client('CopySrc2');
      const r = await c.run(`UID COPY ${src[0]},${src[2]},9999 Archive`);
      assert.equal(r.status, 'OK');
      assert.deepEqual(copyUid(r.text).src, [src[0], src[2]]);
      const none = await c.run('UID COPY 5000:6000 Archive');
      assert.equal(none.status, 'OK');
      assert.doesNotMatch(none.text, /COPYUID/);
    });

    it('COPY into the selected mailbox itself shows the copies with EXISTS', async () => {
      await seed('SelfCopy', 2);
      const c = await client('SelfCopy');
      const r = await c.run('COPY 1:2 SelfCopy');
      assert.equal(r.status, 'OK');
      assert.ok(r.untagged.includes('4 EXISTS'), r.raw);
    });

    it('COPY to a missing folder is NO [TRYCREATE]; a bad sequence number is BAD', async () => {
      await seed('CopySrc3', 2);
      const c = await client('CopySrc3');
      const r = await c.run('COPY 1 Nowhere');
      assert.equal(r.status, 'NO');
      assert.match(r.text, /^\[TRYCREATE\]/);
      assert.equal((await c.run('COPY 3 Trash')).status, 'BAD');
      assert.equal((await c.run('MOVE 5:7 Trash')).status, 'BAD');
    });

    it('UID MOVE: untagged COPYUID, then EXPUNGE, then the tagged OK', async () => {
      const { uids: src } = await seed('MoveSrc', 4);
      const c = await client('MoveSrc');
      const r = await c.run(`UID MOVE ${src[1]} Archive`);
      assert.equal(r.status, 'OK', r.raw);
      assert.equal(r.untagged.length, 2, r.raw);
      const archive = (await server.store.getFolderByName(acc.id, 'Archive'))!;
      const cu = copyUid(r.untagged[0]!);
      assert.match(r.untagged[0]!, /^OK \[COPYUID/);
      assert.equal(cu.v, archive.uidValidity);
      assert.deepEqual(cu.src, [src[1]]);
      assert.equal(r.untagged[1], '2 EXPUNGE');
      assert.deepEqual(await uidsOf('MoveSrc'), [src[0], src[2], src[3]]);
      const moved = (await server.store.getMessage(acc.id, archive.id, cu.dst[0]!))!;
      assert.equal(moved.index.envelope.subject, 'MoveSrc 2');
      // The session's sequence numbers follow: message 2 is now the old third one.
      assert.deepEqual(searchResult(await c.run('UID SEARCH 2')), [src[2]]);
    });

    it('MOVE by sequence numbers: EXPUNGEs from the highest number down', async () => {
      const { uids: src } = await seed('MoveSrc2', 5);
      const c = await client('MoveSrc2');
      const r = await c.run('MOVE 2,4:5 Trash');
      assert.equal(r.status, 'OK', r.raw);
      const cu = copyUid(r.untagged[0]!);
      assert.deepEqual(cu.src, [src[1], src[3], src[4]]);
      assert.deepEqual(r.untagged.slice(1), ['5 EXPUNGE', '4 EXPUNGE', '2 EXPUNGE']);
      assert.deepEqual(await uidsOf('MoveSrc2'), [src[0], src[2]]);
      assert.deepEqual(searchResult(await c.run('SEARCH ALL')), [1, 2]);
    });

    it('MOVE to a missing folder is NO [TRYCREATE] and moves nothing', async () => {
      const { uids: src } = await seed('MoveSrc3', 2);
      const c = await client('MoveSrc3');
      const r = await c.run('MOVE 1:2 "Not There"');
      assert.equal(r.status, 'NO');
      assert.match(r.text, /^\[TRYCREATE\]/);
      assert.deepEqual(await uidsOf('MoveSrc3'), src);
    });

    it('imapflow reads APPENDUID, COPYUID and MOVE replies', async () => {
      await folder('Flow');
      const flow = new ImapFlow({
        host: '127.0.0.1',
        port,
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: USER, pass: PASSWORD },
        logger: false,
      });
      await flow.connect();
      try {
        const appended = await flow.append('Flow', msg('from imapflow'), ['\\Seen'], new Date('2026-01-02T03:04:05Z'));
        assert.ok(appended && appended.uid);
        const flowFolder = (await server.store.getFolderByName(acc.id, 'Flow'))!;
        assert.equal(Number(appended.uidValidity), flowFolder.uidValidity);
        const lock = await flow.getMailboxLock('Flow');
        try {
          const copied = await flow.messageCopy(String(appended.uid), 'Archive', { uid: true });
          assert.ok(copied && copied.uidMap && copied.uidMap.get(appended.uid!));
          const found = await flow.search({ seen: true, subject: 'imapflow' }, { uid: true });
          assert.deepEqual(found, [appended.uid]);
          const moved = await flow.messageMove(String(appended.uid), 'Trash', { uid: true });
          assert.ok(moved && moved.uidMap && moved.uidMap.get(appended.uid!));
        } finally {
          lock.release();
        }
        assert.deepEqual(await uidsOf('Flow'), []);
      } finally {
        await flow.logout();
      }
    });
  });

  describe('EXPUNGE', () => {
    it('removes the \\Deleted messages, reporting each from the highest sequence number down', async () => {
      const { f, uids } = await seed('Exp', 5);
      await server.store.updateFlags(acc.id, f.id, { uids: [uids[0]!, uids[2]!, uids[3]!], op: 'add', flags: ['\\Deleted'] });
      const c = await client('Exp');
      const r = await c.run('EXPUNGE');
      assert.equal(r.status, 'OK');
      assert.deepEqual(r.untagged, ['4 EXPUNGE', '3 EXPUNGE', '1 EXPUNGE']);
      assert.deepEqual(await uidsOf('Exp'), [uids[1], uids[4]]);
      const again = await c.run('EXPUNGE');
      assert.deepEqual(again.untagged, []);
    });

    it('counts a \\Deleted flag another session set after this one last synced', async () => {
      const { f, uids } = await seed('Exp2', 3);
      const c = await client('Exp2');
      await server.store.updateFlags(acc.id, f.id, { uids: [uids[1]!], op: 'add', flags: ['\\Deleted'] });
      const r = await c.run('EXPUNGE');
      assert.equal(r.status, 'OK');
      assert.ok(r.untagged.includes('2 EXPUNGE'), r.raw);
      assert.deepEqual(await uidsOf('Exp2'), [uids[0], uids[2]]);
    });

    it('UID EXPUNGE removes only the \\Deleted messages in the set', async () => {
      const { f, uids } = await seed('UidExp', 4);
      await server.store.updateFlags(acc.id, f.id, { uids: [uids[0]!, uids[1]!, uids[3]!], op: 'add', flags: ['\\Deleted'] });
      const c = await client('UidExp');
      const r = await c.run(`UID EXPUNGE ${uids[1]}:${uids[2]}`);
      assert.equal(r.status, 'OK', r.raw);
      assert.deepEqual(r.untagged, ['2 EXPUNGE']);
      assert.deepEqual(await uidsOf('UidExp'), [uids[0], uids[2], uids[3]]);
      const star = await c.run('UID EXPUNGE *');
      assert.deepEqual(star.untagged, ['3 EXPUNGE']);
      assert.deepEqual(await uidsOf('UidExp'), [uids[0], uids[2]]);
      assert.equal((await c.run('UID EXPUNGE 0')).status, 'BAD');
    });
  });

  describe('read-only mailbox (EXAMINE)', () => {
    it('COPY is allowed; MOVE, EXPUNGE and UID EXPUNGE are refused and change nothing', async () => {
      const { f, uids } = await seed('RO', 3);
      await server.store.updateFlags(acc.id, f.id, { uids, op: 'add', flags: ['\\Deleted'] });
      const c = await client('RO', true);
      const cp = await c.run('COPY 1 Archive');
      assert.equal(cp.status, 'OK');
      copyUid(cp.text);
      for (const cmd of ['MOVE 1 Archive', 'UID MOVE 1:* Archive', 'EXPUNGE', `UID EXPUNGE ${uids[0]}`]) {
        const r = await c.run(cmd);
        assert.equal(r.status, 'NO', `${cmd}: ${r.raw}`);
        assert.equal(r.untagged.filter((l) => /EXPUNGE/.test(l)).length, 0);
      }
      assert.deepEqual(await uidsOf('RO'), uids);
    });

    it('commands that need a selected mailbox are BAD without one', async () => {
      const c = await client();
      for (const cmd of ['COPY 1 Trash', 'MOVE 1 Trash', 'EXPUNGE', 'UID EXPUNGE 1']) {
        assert.equal((await c.run(cmd)).status, 'BAD', cmd);
      }
    });
  });

  it('COPY by sequence number of a message another session expunged: NO [EXPUNGEISSUED], nothing copied', async () => {
    const { f, uids } = await seed('Issued', 3);
    const s1 = await client('Issued');
    const s2 = await client('Issued');
    await server.store.updateFlags(acc.id, f.id, { uids: [uids[1]!], op: 'add', flags: ['\\Deleted'] });
    await s1.run('EXPUNGE');
    await s2.run('FETCH 1 (UID)'); // s2 now knows of the expunge but may not report it yet
    const trashBefore = (await uidsOf('Trash')).length;
    const r = await s2.run('COPY 1:3 Trash');
    assert.equal(r.status, 'NO', r.raw);
    assert.match(r.text, /^\[EXPUNGEISSUED\]/);
    assert.ok(r.untagged.includes('2 EXPUNGE'), 'the expunge is reported after COPY');
    assert.equal((await uidsOf('Trash')).length, trashBefore);
    const again = await s2.run('COPY 1:2 Trash');
    assert.equal(again.status, 'OK', again.raw);
    assert.deepEqual(copyUid(again.text).src, [uids[0], uids[2]]);
  });

  it('D29: no EXPUNGE reaches session 2 during FETCH, STORE or SEARCH; they come at NOOP', async () => {
    const { f, uids } = await seed('D29', 4);
    const s1 = await client('D29');
    const s2 = await client('D29');
    await server.store.updateFlags(acc.id, f.id, { uids: [uids[1]!, uids[2]!], op: 'add', flags: ['\\Deleted'] });
    const e = await s1.run('EXPUNGE');
    assert.deepEqual(
      e.untagged.filter((l) => /EXPUNGE/.test(l)),
      ['3 EXPUNGE', '2 EXPUNGE'],
    );
    await new Promise((r) => setTimeout(r, 50)); // let the change notice reach session 2

    const fetch = await s2.run('FETCH 1:4 (UID)');
    assert.equal(fetch.status, 'OK', fetch.raw);
    assert.equal(fetch.untagged.filter((l) => /EXPUNGE/.test(l)).length, 0, fetch.raw);
    const store = await s2.run('STORE 4 +FLAGS (\\Seen)');
    assert.equal(store.status, 'OK', store.raw);
    assert.equal(store.untagged.filter((l) => /EXPUNGE/.test(l)).length, 0, store.raw);
    assert.ok(store.untagged.some((l) => /^4 FETCH/.test(l)), 'sequence number 4 still names the last message');
    const search = await s2.run('SEARCH ALL');
    assert.deepEqual(searchResult(search), [1, 2, 3, 4], 'sequence numbers are still the old ones');
    assert.equal(search.untagged.filter((l) => /EXPUNGE/.test(l)).length, 0, search.raw);
    const seen = await s2.run('SEARCH SEEN');
    assert.deepEqual(searchResult(seen), [4]);

    const noop = await s2.run('NOOP');
    assert.deepEqual(
      noop.untagged.filter((l) => /EXPUNGE/.test(l)),
      ['3 EXPUNGE', '2 EXPUNGE'],
    );
    assert.deepEqual(searchResult(await s2.run('SEARCH ALL')), [1, 2]);
    assert.deepEqual(searchResult(await s2.run('UID SEARCH SEEN')), [uids[3]]);
  });
});

describe('IMAP APPEND under storage faults (D32)', () => {
  let server: TestServer;
  let dir: string;
  let acc: Account;
  /** put: blob writes fail; failFrom: the n-th metadata write from now on fails (0: none). */
  const faults = { put: false, failFrom: 0, calls: 0 };
  let c: TaggedClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mab-append-fault-'));
    const base = await openLocalStore(dir);
    const put = base.blobs.put.bind(base.blobs);
    base.blobs.put = async (key, data) => {
      if (faults.put) throw new Error('injected blob write failure');
      return put(key, data);
    };
    const appendMessage = base.appendMessage.bind(base);
    base.appendMessage = async (...a) => {
      faults.calls++;
      if (faults.failFrom && faults.calls >= faults.failFrom) throw new StoreError('injected throttling', 'UNAVAILABLE');
      return appendMessage(...a);
    };
    server = await startTestServer({ store: base });
    acc = (await server.store.getAccountByAddress(USER))!;
    c = await TaggedClient.open(server.ports.imaps!, { select: 'INBOX' });
  });

  after(async () => {
    c?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const inbox = async () => server.store.listMessages(acc.id, (await server.store.getFolderByName(acc.id, 'INBOX'))!.id);

  it('a failed blob write is NO; no message appears and the session goes on', async () => {
    faults.put = true;
    const data = msg('lost');
    const r = await c.run(Buffer.concat([Buffer.from(`APPEND INBOX {${data.length}+}\r\n`), data]));
    faults.put = false;
    assert.equal(r.status, 'NO', r.raw);
    assert.match(r.text, /^\[UNAVAILABLE\]/);
    assert.deepEqual(await inbox(), []);
    assert.equal((await c.run('NOOP')).status, 'OK');
  });

  it('a failed metadata write is NO; the written blob is an orphan the sweep collects', async () => {
    faults.calls = 0;
    faults.failFrom = 1;
    const data = msg('orphan');
    const r = await c.run(Buffer.concat([Buffer.from(`APPEND INBOX {${data.length}+}\r\n`), data]));
    faults.failFrom = 0;
    assert.equal(r.status, 'NO', r.raw);
    assert.match(r.text, /^\[UNAVAILABLE\]/);
    assert.deepEqual(await inbox(), []);
    assert.equal(r.untagged.filter((l) => /EXISTS/.test(l)).length, 0);
    assert.equal(await server.store.sweepOrphanBlobs(0), 1);
  });

  it('MULTIAPPEND is all or nothing: a failure on the third message leaves none of them', async () => {
    faults.calls = 0;
    faults.failFrom = 3;
    const parts = [msg('m1'), msg('m2'), msg('m3')];
    const r = await c.run(
      Buffer.concat([Buffer.from('APPEND INBOX'), ...parts.flatMap((p) => [Buffer.from(` {${p.length}+}\r\n`), p])]),
    );
    faults.failFrom = 0;
    assert.equal(r.status, 'NO', r.raw);
    assert.deepEqual(await inbox(), []);
    // The same messages then go in whole, above the UIDs the failed attempt used.
    const ok = await c.run(
      Buffer.concat([Buffer.from('APPEND INBOX'), ...parts.flatMap((p) => [Buffer.from(` {${p.length}+}\r\n`), p])]),
    );
    assert.equal(ok.status, 'OK', ok.raw);
    const uids = appendUid(ok).uids;
    assert.deepEqual((await inbox()).map((m) => m.uid), uids);
    assert.ok(uids[0]! > 2, 'UIDs of the rolled-back messages are not reused');
    assert.ok(ok.untagged.includes('3 EXISTS'), ok.raw);
  });
});
