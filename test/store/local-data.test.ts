// The local adapter's message data (schema 3: core/store/local/message-data.ts): the index
// split into structure and header, the derived IMAP forms and SEARCH values with their
// versions, reads by parts over dense and sparse UID sets, and the migration of a schema 2
// data directory (one JSON index row per message) with its messages, blobs and flags.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { indexMessage } from '../../core/mime/index.js';
import { IMAP_FORMS_VERSION, imapForms } from '../../core/mime/imap-forms.js';
import { SEARCH_FIELDS_VERSION, searchFields } from '../../core/mime/search-fields.js';
import type { MessageIndex } from '../../core/mime/types.js';
import { openLocalStore, type LocalStore } from '../../core/store/local/index.js';
import { DERIVED_VERSION } from '../../core/store/local/message-data.js';
import type { MessageParts, Store } from '../../core/store/port.js';
import { newAccount, rejectsWith } from './fixtures.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'store-data-'));
  dirs.push(d);
  return d;
}
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Messages whose headers exercise the byte-exact paths: 8-bit, UTF-8, encoded words, NUL. */
function sampleRaw(i: number): Buffer {
  const kinds = [
    `Subject: plain ${i}\r\nFrom: Alice <alice@example.com>\r\nTo: bob@example.com\r\n`,
    `Subject: =?UTF-8?B?${Buffer.from(`Grüße ${i}`).toString('base64')}?=\r\nFrom: =?ISO-8859-1?Q?J=F6rg?= <j@example.com>\r\nCc: c@example.com\r\n`,
    `Subject: raw UTF-8 ${Buffer.from('naïve café', 'utf8').toString('latin1')} ${i}\r\nFrom: x@example.com\r\nBcc: hidden@example.com\r\n`,
    `Subject: latin1 \xe9t\xe9 ${i}\r\nFrom: "Q \\"uoted\\"" <q@example.com>\r\nX-Odd: a\x00b\r\n`,
  ];
  const head = kinds[i % kinds.length]! + `Message-ID: <m${i}@example.com>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n`;
  return Buffer.from(`${head}\r\nBody ${i}.\r\n`, 'latin1');
}

async function setup(store: Store, count: number) {
  const acct = await store.createAccount(newAccount(`data${Math.random()}@example.com`));
  const inbox = await store.createFolder(acct.id, 'INBOX');
  const indexes = new Map<number, MessageIndex>();
  for (let i = 1; i <= count; i++) {
    const raw = sampleRaw(i);
    const key = `${acct.id}/m${i}`;
    await store.blobs.put(key, raw);
    const index = indexMessage(raw);
    const r = await store.appendMessage(acct.id, inbox.id, { blobKey: key, size: raw.length, internalDate: 1_700_000_000_000 + i, flags: i % 2 ? ['\\Seen'] : [], index });
    indexes.set(r.uid, index);
  }
  return { acct, inbox, indexes };
}

function structureOf(index: MessageIndex): Omit<MessageIndex, 'header'> {
  const { header: _h, ...rest } = index;
  return rest;
}

const ALL = { parts: ['structure', 'header', 'imap', 'search'] as ('structure' | 'header' | 'imap' | 'search')[] };

/** Checks every part (of those asked for) of every message read against what was appended. */
function checkParts(got: MessageParts[], uids: number[], indexes: Map<number, MessageIndex>, parts: readonly string[] = ALL.parts): void {
  assert.deepEqual(
    got.map((m) => m.uid),
    uids,
  );
  for (const m of got) {
    const ix = indexes.get(m.uid)!;
    if (parts.includes('structure')) assert.deepEqual({ ...m.index, header: undefined }, { ...structureOf(ix), header: undefined });
    if (parts.includes('header')) assert.equal(m.index.header, ix.header);
    if (parts.includes('imap')) assert.deepEqual(m.imap, imapForms(ix));
    if (parts.includes('search')) assert.deepEqual(m.search, searchFields(ix.header!));
  }
}


function db(dir: string): Database.Database {
  return new Database(join(dir, 'meta.sqlite3'));
}

/** Waits for the background backfill to mark every derived row current. */
async function backfilled(dir: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const d = db(dir);
    const v = d.prepare(`SELECT value FROM meta WHERE key = 'derived_version'`).get() as { value: number } | undefined;
    d.close();
    if (v?.value === DERIVED_VERSION) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('the backfill did not finish');
}

describe('local store: message data by parts', () => {
  it('reads each part alone, and all together, for dense, sparse and gapped UID sets', async () => {
    const dir = await tempDir();
    const store = await openLocalStore(dir);
    const { acct, inbox, indexes } = await setup(store, 60);
    await store.expunge(acct.id, inbox.id, [7, 8, 30]);
    for (const uid of [7, 8, 30]) indexes.delete(uid);
    const present = (list: number[]) => [...new Set(list)].filter((u) => indexes.has(u)).sort((a, b) => a - b);
    const sets = [
      Array.from({ length: 60 }, (_, i) => i + 1), // dense, with gaps from the expunge
      [1, 2, 3, 4, 5, 6], // dense, complete
      [60, 1, 33, 59, 2, 2], // sparse, unsorted, a duplicate
      [1, 1000, 2000, 3000], // sparse, mostly absent
      Array.from({ length: 40 }, (_, i) => 10 + i * 1), // dense window
      [7, 8, 30], // all expunged
      [],
    ];
    for (const list of sets) {
      checkParts(await store.getMessages(acct.id, inbox.id, list, { parts: [...ALL.parts] }), present(list), indexes);
      for (const part of ALL.parts) {
        const got = await store.getMessages(acct.id, inbox.id, list, { parts: [part] });
        assert.deepEqual(
          got.map((m) => m.uid),
          present(list),
          `${part} ${list.join(',')}`,
        );
        for (const m of got) {
          const ix = indexes.get(m.uid)!;
          if (part === 'structure') {
            assert.deepEqual(m.index, structureOf(ix));
            assert.equal(m.imap, undefined);
          }
          if (part === 'header') assert.deepEqual(m.index, { header: ix.header, headerSize: ix.headerSize });
          if (part === 'imap') assert.deepEqual([m.index, m.imap], [{}, imapForms(ix)]);
          if (part === 'search') assert.deepEqual([m.index, m.search], [{}, searchFields(ix.header!)]);
        }
      }
      // Without parts: the whole record, as before.
      const full = await store.getMessages(acct.id, inbox.id, list);
      assert.deepEqual(
        full.map((m) => [m.uid, m.index]),
        present(list).map((u) => [u, indexes.get(u)]),
      );
    }
    await rejectsWith(store.getMessages(acct.id, inbox.id, [1], { parts: ['everything' as 'header'] }), 'INVALID');
    await rejectsWith(store.getMessages(acct.id, 'nope', [1], { parts: ['header'] }), 'NONEXISTENT');
    await store.close();
  });

  it('keeps header text byte for byte and NULL for a header too big to keep', async () => {
    const store = await openLocalStore(await tempDir());
    const acct = await store.createAccount(newAccount('big@example.com'));
    const inbox = await store.createFolder(acct.id, 'INBOX');
    const raw = Buffer.from(`Subject: big\r\nX-Pad: ${'y'.repeat(70 * 1024)}\r\n\r\nbody\r\n`, 'latin1');
    await store.blobs.put(`${acct.id}/big`, raw);
    const index = indexMessage(raw);
    assert.equal(index.header, null);
    const { uid } = await store.appendMessage(acct.id, inbox.id, { blobKey: `${acct.id}/big`, size: raw.length, internalDate: 1, flags: [], index });
    const [m] = await store.getMessages(acct.id, inbox.id, [uid], { parts: ['header', 'search', 'imap'] });
    assert.equal(m!.index.header, null);
    assert.equal(m!.index.headerSize, index.headerSize);
    assert.equal(m!.search, undefined, 'no SEARCH values without a kept header');
    assert.deepEqual(m!.imap, imapForms(index));
    assert.deepEqual((await store.getMessage(acct.id, inbox.id, uid))!.index, index);
    await store.close();
  });

  it('copies and moves the data with the message; expunge and folder delete remove it', async () => {
    const dir = await tempDir();
    const store = await openLocalStore(dir);
    const { acct, inbox, indexes } = await setup(store, 5);
    const other = await store.createFolder(acct.id, 'Other');
    const copied = await store.copyMessages(acct.id, inbox.id, [1, 2, 3], other.id);
    const moved = await store.moveMessages(acct.id, inbox.id, [4], other.id);
    const dst = new Map<number, MessageIndex>();
    for (const [s, d] of [...copied.mapping, ...moved.mapping]) dst.set(d, indexes.get(s)!);
    checkParts(await store.getMessages(acct.id, other.id, [...dst.keys()], { parts: [...ALL.parts] }), [...dst.keys()], dst);
    await store.expunge(acct.id, other.id, [copied.mapping[0]![1]]);
    await store.deleteFolder(acct.id, inbox.id);
    await store.close();
    const d = db(dir);
    for (const t of ['message_structure', 'message_header', 'message_forms', 'message_search']) {
      const n = (d.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      assert.equal(n, 3, `${t}: the three messages left in Other`);
    }
    d.close();
  });
});

describe('local store: derived data versions', () => {
  it('never serves forms or SEARCH values of another version, and rewrites them in the background', async () => {
    const dir = await tempDir();
    let store: LocalStore = await openLocalStore(dir);
    const { acct, inbox, indexes } = await setup(store, 30);
    await store.close();
    // As if an older version of the code had written them (a serializer fix since).
    const d = db(dir);
    d.prepare(`UPDATE message_forms SET v = v - 1, envelope = 'STALE', bodystructure = 'STALE' WHERE uid % 3 = 0`).run();
    d.prepare(`UPDATE message_search SET v = v + 7, subject = 'stale' WHERE uid % 4 = 0`).run();
    d.prepare(`DELETE FROM message_forms WHERE uid = 5`).run();
    d.prepare(`UPDATE meta SET value = 1 WHERE key = 'derived_version'`).run();
    d.close();
    store = await openLocalStore(dir);
    const uids = [...indexes.keys()];
    // Read at once (before or while the backfill runs): current values, computed on the fly.
    checkParts(await store.getMessages(acct.id, inbox.id, uids, { parts: ['imap', 'search'] }), uids, indexes, ['imap', 'search']);
    checkParts(await store.getMessages(acct.id, inbox.id, [3, 5, 12], { parts: [...ALL.parts] }), [3, 5, 12], indexes);
    await backfilled(dir);
    const check = db(dir);
    const staleForms = check.prepare(`SELECT count(*) AS n FROM message_forms WHERE v <> ?`).get(IMAP_FORMS_VERSION) as { n: number };
    const staleSearch = check.prepare(`SELECT count(*) AS n FROM message_search WHERE v <> ?`).get(SEARCH_FIELDS_VERSION) as { n: number };
    const forms = check.prepare(`SELECT count(*) AS n FROM message_forms`).get() as { n: number };
    check.close();
    assert.deepEqual([staleForms.n, staleSearch.n, forms.n], [0, 0, 30]);
    checkParts(await store.getMessages(acct.id, inbox.id, uids, { parts: [...ALL.parts] }), uids, indexes);
    await store.close();
  });

  it('a copy of a message whose derived rows are stale gets current ones', async () => {
    const dir = await tempDir();
    let store: LocalStore = await openLocalStore(dir);
    const { acct, inbox, indexes } = await setup(store, 3);
    await store.close();
    const d = db(dir);
    d.prepare(`UPDATE message_forms SET v = 0, envelope = 'STALE'`).run();
    d.prepare(`UPDATE message_search SET v = 99, subject = 'stale'`).run();
    d.close();
    store = await openLocalStore(dir);
    const other = await store.createFolder(acct.id, 'Other');
    const { mapping } = await store.copyMessages(acct.id, inbox.id, [1, 2, 3], other.id);
    await store.close();
    const c = db(dir);
    const rows = c.prepare(`SELECT f.v AS fv, s.v AS sv, f.envelope FROM message_forms f JOIN message_search s USING (folder_id, uid) WHERE folder_id = ?`).all(other.id) as Array<{ fv: number; sv: number; envelope: string }>;
    c.close();
    assert.equal(rows.length, 3);
    for (const r of rows) assert.deepEqual([r.fv, r.sv, r.envelope === 'STALE'], [IMAP_FORMS_VERSION, SEARCH_FIELDS_VERSION, false]);
    store = await openLocalStore(dir);
    const dst = new Map(mapping.map(([s, t]) => [t, indexes.get(s)!]));
    checkParts(await store.getMessages(acct.id, other.id, [...dst.keys()], { parts: [...ALL.parts] }), [...dst.keys()], dst);
    await store.close();
  });
});

describe('local store: migration from schema 2', () => {
  /** Turns a schema 3 directory back into what schema 2 wrote: one JSON index row per message. */
  function downgrade(dir: string, indexes: Map<string, MessageIndex>): void {
    const d = db(dir);
    d.transaction(() => {
      d.exec(`CREATE TABLE message_index (
        folder_id TEXT NOT NULL, uid INTEGER NOT NULL, idx TEXT NOT NULL,
        PRIMARY KEY (folder_id, uid),
        FOREIGN KEY (folder_id, uid) REFERENCES messages(folder_id, uid) ON DELETE CASCADE
      ) WITHOUT ROWID`);
      const put = d.prepare('INSERT INTO message_index (folder_id, uid, idx) VALUES (?, ?, ?)');
      for (const r of d.prepare('SELECT folder_id, uid FROM messages').all() as Array<{ folder_id: string; uid: number }>) {
        put.run(r.folder_id, r.uid, JSON.stringify(indexes.get(`${r.folder_id}/${r.uid}`)));
      }
      d.exec(`DROP TABLE message_structure; DROP TABLE message_header; DROP TABLE message_forms; DROP TABLE message_search;
              DELETE FROM meta WHERE key = 'derived_version'; UPDATE meta SET value = 2 WHERE key = 'schema_version';`);
    })();
    d.close();
  }

  it('keeps every message, flag and index byte for byte; derived data filled; the store works on', async () => {
    const dir = await tempDir();
    let store: LocalStore = await openLocalStore(dir);
    const a = await setup(store, 40);
    const b = await setup(store, 3);
    // A message whose header was too big to keep in the index.
    const raw = Buffer.from(`Subject: big\r\nX-Pad: ${'y'.repeat(70 * 1024)}\r\n\r\nbody\r\n`, 'latin1');
    await store.blobs.put(`${a.acct.id}/big`, raw);
    const big = indexMessage(raw);
    const bigUid = (await store.appendMessage(a.acct.id, a.inbox.id, { blobKey: `${a.acct.id}/big`, size: raw.length, internalDate: 5, flags: ['$Big'], index: big })).uid;
    a.indexes.set(bigUid, big);
    await store.updateFlags(a.acct.id, a.inbox.id, { uids: [2, 3], op: 'add', flags: ['\\Flagged'] });
    const metaBefore = await store.listMessages(a.acct.id, a.inbox.id);
    const folderBefore = await store.getFolder(a.acct.id, a.inbox.id);
    await store.close();
    const all = new Map<string, MessageIndex>();
    for (const s of [a, b]) for (const [uid, ix] of s.indexes) all.set(`${s.inbox.id}/${uid}`, ix);
    downgrade(dir, all);

    store = await openLocalStore(dir);
    const check = db(dir);
    assert.equal((check.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: number }).value, 3);
    assert.equal(check.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'message_index'`).get(), undefined);
    check.close();
    assert.deepEqual(await store.listMessages(a.acct.id, a.inbox.id), metaBefore);
    assert.deepEqual(await store.getFolder(a.acct.id, a.inbox.id), folderBefore);
    for (const s of [a, b]) {
      const uids = [...s.indexes.keys()];
      const full = await store.getMessages(s.acct.id, s.inbox.id, uids);
      assert.deepEqual(
        full.map((m) => [m.uid, m.index]),
        uids.map((u) => [u, s.indexes.get(u)]),
      );
    }
    // Derived data before the backfill has run (computed on read), then after.
    const small = [...a.indexes.keys()].filter((u) => u !== bigUid);
    checkParts(await store.getMessages(a.acct.id, a.inbox.id, small, { parts: [...ALL.parts] }), small, a.indexes);
    await backfilled(dir);
    checkParts(await store.getMessages(a.acct.id, a.inbox.id, small, { parts: [...ALL.parts] }), small, a.indexes);
    const [bigRead] = await store.getMessages(a.acct.id, a.inbox.id, [bigUid], { parts: ['header', 'search', 'imap'] });
    assert.deepEqual([bigRead!.index.header, bigRead!.search, bigRead!.imap], [null, undefined, imapForms(big)]);
    // The store works on: append, copy, expunge, blobs.
    const c = await setup(store, 2);
    checkParts(await store.getMessages(c.acct.id, c.inbox.id, [1, 2], { parts: [...ALL.parts] }), [1, 2], c.indexes);
    const other = await store.createFolder(a.acct.id, 'Other');
    const { mapping } = await store.copyMessages(a.acct.id, a.inbox.id, [1, 2], other.id);
    const copied = await store.getMessages(a.acct.id, other.id, mapping.map(([, d]) => d), { parts: ['header', 'imap'] });
    assert.deepEqual(
      copied.map((m) => m.index.header),
      [a.indexes.get(1)!.header, a.indexes.get(2)!.header],
    );
    assert.deepEqual(await store.expunge(a.acct.id, a.inbox.id, [1]), [1]);
    assert.deepEqual(await store.blobs.get(`${a.acct.id}/m2`), sampleRaw(2));
    await store.close();
    // Opening again is a no-op.
    store = await openLocalStore(dir);
    assert.equal((await store.getMessages(a.acct.id, a.inbox.id, [2], { parts: ['header'] }))[0]!.index.header, a.indexes.get(2)!.header);
    await store.close();
  });
});
