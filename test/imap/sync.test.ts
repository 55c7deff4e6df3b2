// A replayed Thunderbird first sync and incremental sync of a 10,000-message folder, with
// Thunderbird's exact commands (shared/reference/client-flows.md §1), against a store that
// counts blob reads: the header-first path must read no message bytes (DESIGN.md §5.5).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMailbox, deliverToInbox } from '../../core/admin/mailboxes.js';
import { indexMessage } from '../../core/mime/indexer.js';
import { ensureDefaultFolders } from '../../core/store/default-folders.js';
import { newBlobKey } from '../../core/store/deliver.js';
import { openLocalStore } from '../../core/store/local/index.js';
import type { BlobStore, Store } from '../../core/store/port.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';
import { TB_FIELDS, TB_HEADER_FETCH, TB_LABEL, chunkedSets, parseFetch } from './thunderbird.js';
import { WireClient, compressSet, type Reply } from './wire-client.js';

const SEEDED = 11_000;
/** Every 11th UID is expunged before the sync, so UID sets have gaps like a real folder's. */
const GAP = 11;
const COUNT = SEEDED - SEEDED / GAP;

function rawMessage(i: number): Buffer {
  const day = 1 + (i % 28);
  return Buffer.from(
    `Received: from mx.example.org by mail.example.test; Mon, ${day} Feb 2026 10:00:00 +0000\r\n` +
      `From: Sender ${i} <s${i}@example.org>\r\n` +
      `To: ${USER}\r\n` +
      `Subject: Message ${i}\r\n` +
      `Date: Mon, ${day} Feb 2026 10:00:00 +0000\r\n` +
      `Message-ID: <m${i}@example.org>\r\n` +
      `X-Mailer: seed\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n` +
      `\r\n` +
      `Body of message ${i}.\r\n`,
  );
}

/** The header block Thunderbird's HEADER.FIELDS list selects from rawMessage(i). */
function expectedHeaders(i: number): string {
  const lines = rawMessage(i).toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');
  const wanted = new Set(TB_FIELDS.toLowerCase().split(' '));
  return lines.filter((l) => wanted.has(l.slice(0, l.indexOf(':')).toLowerCase())).join('\r\n') + '\r\n\r\n';
}

describe('Thunderbird-style sync of a 10,000-message folder', () => {
  let s: TestServer;
  let dir: string;
  const blobReads = { get: 0, stream: 0 };
  let accountId = '';
  let inboxId = '';
  let expectedUids: number[] = [];
  const sizeOf = new Map<number, number>();

  before(async () => {
    // The store lives in memory-backed storage when there is some: seeding is about I/O.
    dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mab-sync-'));
    const real = await openLocalStore(dir);
    const countingBlobs: BlobStore = new Proxy(real.blobs, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop === 'get' || prop === 'stream') {
          return (...args: unknown[]) => {
            blobReads[prop]++;
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const counting: Store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'blobs') return countingBlobs;
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });

    const t0 = Date.now();
    const acc = await createMailbox(counting, { address: USER, password: PASSWORD });
    const inbox = await ensureDefaultFolders(counting, acc.id);
    accountId = acc.id;
    inboxId = inbox.id;
    // The delivery path (index, durable blob, then metadata), in batches: blobs written in
    // parallel, then one turn of appends that the local store group-commits in issue order.
    const BATCH = 250;
    for (let b = 0; b < SEEDED; b += BATCH) {
      const items: Array<{ raw: Buffer; key: string; index: ReturnType<typeof indexMessage> }> = [];
      for (let i = b; i < Math.min(SEEDED, b + BATCH); i++) {
        const raw = rawMessage(i);
        items.push({ raw, key: newBlobKey(acc.id), index: indexMessage(raw) });
      }
      await Promise.all(items.map((it) => counting.blobs.put(it.key, it.raw)));
      const results = await Promise.all(
        items.map((it) =>
          counting.appendMessage(acc.id, inbox.id, { blobKey: it.key, size: it.raw.length, internalDate: Date.UTC(2026, 1, 1) + it.raw.length, flags: [], index: it.index }),
        ),
      );
      results.forEach((r, k) => sizeOf.set(r.uid, items[k]!.raw.length));
    }
    const all = (await counting.listMessages(acc.id, inbox.id)).map((m) => m.uid);
    assert.deepEqual(all, Array.from({ length: SEEDED }, (_, i) => i + 1), 'seeded UIDs are 1..N in delivery order');
    const gone = all.filter((u) => u % GAP === 0);
    await counting.expunge(acc.id, inbox.id, gone);
    expectedUids = all.filter((u) => u % GAP !== 0);
    assert.equal(expectedUids.length, COUNT);
    console.log(`seeded ${SEEDED} messages and expunged ${gone.length} in ${Date.now() - t0} ms`);

    s = await startTestServer({ store: counting, user: false });
    blobReads.get = blobReads.stream = 0;
  });

  after(async () => {
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('first sync, then incremental sync, read no message blob; a body fetch does', async () => {
    const c = await WireClient.connect(s.ports.imap!);
    const tLogin = Date.now();
    const greeting = await c.response();
    assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 /);
    assert.equal((await c.cmd('capability')).status, 'OK');
    assert.equal((await c.cmd('STARTTLS')).status, 'OK');
    await c.startTls();
    const caps = await c.cmd('capability');
    assert.match(caps.untagged[0]!, /AUTH=PLAIN/);
    // AUTHENTICATE PLAIN in two steps (Thunderbird sends no SASL-IR).
    const tag = c.nextTag();
    c.write(`${tag} authenticate PLAIN\r\n`);
    assert.match(await c.line(), /^\+ ?\r\n$/);
    c.write(Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64') + '\r\n');
    assert.equal((await c.reply(tag)).status, 'OK');
    assert.equal((await c.cmd('namespace')).status, 'OK');
    assert.equal((await c.cmd('ID ("name" "Thunderbird" "version" "128.5.0")')).status, 'OK');
    const list = await c.cmd('list (subscribed) "" "*" return (special-use)');
    assert.equal(list.status, 'OK', list.tagged);
    assert.ok(list.untagged.some((l) => /\\Sent\b.* "Sent"\r\n$/.test(l)), 'Sent is listed with \\Sent');
    assert.equal((await c.cmd('list "" "INBOX"')).untagged.length, 1);
    console.log(`login and folder discovery: ${Date.now() - tLogin} ms`);

    // ---- first sync ----
    const t0 = Date.now();
    const sel = await c.cmd('select "INBOX"');
    assert.equal(sel.status, 'OK', sel.tagged);
    assert.ok(sel.untagged.includes(`* ${COUNT} EXISTS\r\n`), `EXISTS ${COUNT}: ${sel.untagged.join('')}`);
    assert.ok(sel.untagged.includes(`* OK [UIDNEXT ${SEEDED + 1}] Predicted next UID.\r\n`) || sel.untagged.some((l) => l.includes(`[UIDNEXT ${SEEDED + 1}]`)));

    const flags = await c.cmd('UID fetch 1:* (FLAGS)');
    assert.equal(flags.status, 'OK', flags.tagged);
    const infos = flags.untagged.map(parseFetch);
    assert.equal(infos.length, COUNT, 'one FETCH per message');
    assert.deepEqual(infos.map((f) => f.seq), Array.from({ length: COUNT }, (_, i) => i + 1), 'sequence numbers ascend 1..N');
    assert.deepEqual(infos.map((f) => f.uid), expectedUids, 'UIDs ascend and match the folder');
    const tFlags = Date.now() - t0;

    const sets = chunkedSets(expectedUids);
    assert.ok(sets.length >= 5 && sets.every((x) => x.length <= 950), `UID sets cut at ~950 characters (${sets.length} commands)`);
    let seen = 0;
    let lastUid = 0;
    for (const set of sets) {
      const r: Reply = await c.cmd(`UID fetch ${set} ${TB_HEADER_FETCH}`);
      assert.equal(r.status, 'OK', r.tagged);
      for (const line of r.untagged) {
        const f = parseFetch(line);
        assert.ok(f.uid > lastUid, `UIDs ascend across replies (${f.uid} after ${lastUid})`);
        lastUid = f.uid;
        assert.equal(f.seq, expectedUids.indexOf(f.uid) + 1);
        assert.equal(f.label, TB_LABEL, 'the section label echoes the requested field list exactly');
        assert.equal(f.size, sizeOf.get(f.uid));
        assert.equal(f.header, expectedHeaders(f.uid - 1), `header block of UID ${f.uid}`);
        assert.equal(f.flags, '');
        seen++;
      }
    }
    assert.equal(seen, COUNT, 'every message got its headers');
    const tFirst = Date.now() - t0;
    assert.deepEqual(blobReads, { get: 0, stream: 0 }, 'the header-first path read no blob');
    console.log(`first sync of ${COUNT} messages: SELECT + UID FETCH 1:* (FLAGS) ${tFlags} ms; headers in ${sets.length} commands; total ${tFirst} ms`);

    // ---- incremental sync: new mail and a flag change from elsewhere ----
    const fresh: number[] = [];
    for (let i = 0; i < 5; i++) fresh.push((await deliverToInbox(s.store, USER, rawMessage(SEEDED + i))).uid);
    assert.deepEqual(fresh, [SEEDED + 1, SEEDED + 2, SEEDED + 3, SEEDED + 4, SEEDED + 5]);
    await s.store.updateFlags(accountId, inboxId, { uids: [expectedUids[0]!], op: 'add', flags: ['\\Seen'] });

    const t1 = Date.now();
    const noop = await c.cmd('noop');
    assert.equal(noop.status, 'OK');
    assert.ok(noop.untagged.includes(`* ${COUNT + 5} EXISTS\r\n`), `NOOP reports the new mail: ${noop.untagged.join('')}`);
    assert.ok(
      noop.untagged.some((l) => /^\* 1 FETCH \(.*FLAGS \(\\Seen\)/.test(l)),
      `NOOP reports the flag change of message 1: ${noop.untagged.join('')}`,
    );
    const inc = await c.cmd(`UID fetch ${lastUid + 1}:* (FLAGS)`);
    assert.equal(inc.status, 'OK');
    const incInfos = inc.untagged.map(parseFetch);
    assert.deepEqual(incInfos.map((f) => f.uid), fresh);
    assert.deepEqual(incInfos.map((f) => f.seq), [1, 2, 3, 4, 5].map((k) => COUNT + k));
    const hdr = await c.cmd(`UID fetch ${compressSet(fresh)} ${TB_HEADER_FETCH}`);
    assert.equal(hdr.status, 'OK');
    const hdrInfos = hdr.untagged.map(parseFetch);
    assert.deepEqual(hdrInfos.map((f) => f.uid), fresh);
    hdrInfos.forEach((f) => {
      assert.equal(f.label, TB_LABEL);
      assert.equal(f.header, expectedHeaders(f.uid - 1));
    });
    // With no new mail, "UID fetch <highest+1>:*" still answers the last message: a range
    // n:* always includes the highest UID, even when n is above it (RFC 3501 §6.4.8).
    const none = await c.cmd(`UID fetch ${SEEDED + 6}:* (FLAGS)`);
    assert.equal(none.status, 'OK');
    assert.deepEqual(none.untagged.map((l) => parseFetch(l).uid), [SEEDED + 5], '"n:*" with n past the end means the last message (RFC 3501 §6.4.8)');
    console.log(`incremental sync (noop, UID fetch n:* (FLAGS), headers of 5 new): ${Date.now() - t1} ms`);
    assert.deepEqual(blobReads, { get: 0, stream: 0 }, 'the incremental sync read no blob');

    // The counter does see blob reads: opening a message reads its bytes.
    const body = await c.cmd(`UID fetch ${fresh[0]} (UID RFC822.SIZE BODY[])`);
    assert.equal(body.status, 'OK');
    assert.ok(body.untagged.some((l) => l.includes(rawMessage(SEEDED).toString('latin1'))), 'BODY[] is the message byte-exact');
    assert.ok(blobReads.get + blobReads.stream > 0, 'a body fetch reads the blob (the counter works)');
    assert.equal((await c.cmd('logout')).status, 'OK');
    c.close();
  });
});
