// The local adapter (SQLite + files): the store contract, plus what only a local data
// directory can show (two OS processes on one directory, files on disk, pruning).

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openLocalStore, type LocalStore, type LocalStoreOptions } from '../../core/store/local/index.js';
import { SCHEMA_VERSION } from '../../core/store/local/schema.js';
import type { Store } from '../../core/store/port.js';
import { storeContract } from './contract.js';
import { deliver, newAccount, putMessage, rawMessage, rejectsWith } from './fixtures.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'store-local-'));
  dirs.push(d);
  return d;
}
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

storeContract('local', async () => {
  const dir = await tempDir();
  let current: Store = await openLocalStore(dir);
  return {
    store: current,
    reopen: async () => (current = await openLocalStore(dir)),
    cleanup: async () => {
      await current.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

async function fresh(opts?: LocalStoreOptions): Promise<{ dir: string; store: LocalStore }> {
  const dir = await tempDir();
  return { dir, store: await openLocalStore(dir, opts) };
}

async function setup(store: Store) {
  const acct = await store.createAccount(newAccount('local@example.com'));
  const inbox = await store.createFolder(acct.id, 'INBOX');
  return { acct, inbox };
}

interface ChildResult {
  uid: number;
  modseq: number;
  blobKey: string;
  subject: string;
}

function startChild(args: string[]) {
  const script = fileURLToPath(new URL('./local-child.ts', import.meta.url));
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

describe('local store only', () => {
  it('two processes appending and flagging in one folder: distinct UIDs, one blob each, no lost flag (D28, D30)', async () => {
    const { dir, store } = await fresh();
    const { acct, inbox } = await setup(store);
    const target = await deliver(store, acct.id, inbox.id);
    const N = 50;
    const a = startChild([dir, acct.id, inbox.id, String(N), 'A', String(target)]);
    const b = startChild([dir, acct.id, inbox.id, String(N), 'B', String(target)]);
    await Promise.all([a.ready(), b.ready()]);
    a.go();
    b.go();
    const results = [...(await a.result()), ...(await b.result())];
    assert.equal(results.length, 2 * N);
    assert.equal(new Set(results.map((r) => r.uid)).size, 2 * N, 'UIDs collided');
    assert.equal(new Set(results.map((r) => r.modseq)).size, 2 * N, 'modseqs collided');
    assert.ok(results.every((r) => r.uid > target));
    // Ascending in commit order: ordering by modseq orders by UID.
    const byModseq = [...results].sort((x, y) => x.modseq - y.modseq);
    for (let i = 1; i < byModseq.length; i++) assert.ok(byModseq[i]!.uid > byModseq[i - 1]!.uid);

    const list = await store.listMessages(acct.id, inbox.id);
    assert.deepEqual(
      list.map((m) => m.uid),
      [target, ...results.map((r) => r.uid).sort((x, y) => x - y)],
    );
    const byUid = new Map(results.map((r) => [r.uid, r]));
    const keys = new Set<string>();
    for (const m of list.slice(1)) {
      const r = byUid.get(m.uid)!;
      assert.equal(m.blobKey, r.blobKey);
      keys.add(m.blobKey);
      const body = (await store.blobs.get(m.blobKey)).toString('latin1');
      assert.ok(body.includes(`Subject: ${r.subject}\r\n`), `UID ${m.uid} points at the wrong blob`);
      assert.equal((await store.getMessage(acct.id, inbox.id, m.uid))!.index.envelope.subject, r.subject);
    }
    assert.equal(keys.size, 2 * N);
    assert.equal((await readdir(join(dir, 'blobs', acct.id))).length, 2 * N + 1, 'one blob per message, no strays');

    const flags = (await store.getMessage(acct.id, inbox.id, target))!.flags;
    assert.equal(flags.length, 2 * N);
    for (let i = 0; i < N; i++) assert.ok(flags.includes(`A${i}`) && flags.includes(`B${i}`), `lost A${i} or B${i}`);

    const f = (await store.getFolder(acct.id, inbox.id))!;
    assert.equal(f.messageCount, 2 * N + 1);
    assert.equal(f.uidNext, 2 * N + 2);
    assert.equal(f.highestModseq, 1 + 4 * N);
    const journal = await store.changesSince(acct.id, inbox.id, 0);
    assert.deepEqual(
      journal.map((e) => e.modseq),
      Array.from({ length: 1 + 4 * N }, (_, i) => i + 1),
    );
    await store.close();
  });

  it('collects a blob whose metadata was never committed, and stale temp files', async () => {
    const { dir, store } = await fresh();
    const { acct, inbox } = await setup(store);
    const kept = await deliver(store, acct.id, inbox.id);
    const keptKey = (await store.getMessage(acct.id, inbox.id, kept))!.blobKey;
    // The "crash": a blob written, then no appendMessage.
    const { blobKey } = await putMessage(store, acct.id);
    const path = join(dir, 'blobs', ...blobKey.split('/'));
    assert.ok(existsSync(path));
    const tmp = join(dir, 'tmp', 'interrupted-put');
    await writeFile(tmp, 'partial');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(path, old, old);
    await utimes(tmp, old, old);
    assert.equal(await store.sweepOrphanBlobs(60 * 60 * 1000), 1);
    assert.ok(!existsSync(path));
    assert.ok(!existsSync(tmp));
    assert.ok(existsSync(join(dir, 'blobs', ...keptKey.split('/'))));
    // An append that names the swept blob now fails instead of pointing at nothing.
    const { raw: _r, ...late } = await putMessage(store, acct.id);
    await store.blobs.delete(late.blobKey);
    await rejectsWith(store.appendMessage(acct.id, inbox.id, late), 'NOT_FOUND');
    assert.equal((await store.getFolder(acct.id, inbox.id))!.messageCount, 1);
    await store.close();
  });

  it('refuses an append whose size differs from its blob', async () => {
    const { store } = await fresh();
    const { acct, inbox } = await setup(store);
    const { raw: _r, ...n } = await putMessage(store, acct.id);
    await rejectsWith(store.appendMessage(acct.id, inbox.id, { ...n, size: n.size + 1 }), 'INVALID');
    await store.close();
  });

  it('deletes the file of an expunged blob at once, and keeps blobs inside blobs/', async () => {
    const { dir, store } = await fresh();
    const { acct, inbox } = await setup(store);
    const uid = await deliver(store, acct.id, inbox.id);
    const key = (await store.getMessage(acct.id, inbox.id, uid))!.blobKey;
    const path = join(dir, 'blobs', ...key.split('/'));
    assert.ok(existsSync(path));
    await store.expunge(acct.id, inbox.id, [uid]);
    assert.ok(!existsSync(path));
    await rejectsWith(store.blobs.put('../meta.sqlite3', rawMessage('x')), 'INVALID');
    assert.ok(existsSync(join(dir, 'meta.sqlite3')));
    await store.close();
  });

  it('prunes old journal entries but keeps each folder newest one', async () => {
    let now = 1_800_000_000_000;
    const { store } = await fresh({ now: () => now, journalRetentionMs: 1000 });
    const { acct, inbox } = await setup(store);
    const u = [];
    for (let i = 0; i < 3; i++) u.push(await deliver(store, acct.id, inbox.id));
    now += 500;
    await store.updateFlags(acct.id, inbox.id, { uids: [u[0]!], op: 'add', flags: ['\\Seen'] });
    assert.equal((await store.changesSince(acct.id, inbox.id, 0)).length, 4);
    now += 700; // the appends are 1200 ms old, the flag change 700 ms
    assert.equal(store.pruneJournal(now), 3);
    const left = await store.changesSince(acct.id, inbox.id, 0);
    assert.deepEqual(
      left.map((e) => e.kind),
      ['flags'],
    );
    now += 5000;
    assert.equal(store.pruneJournal(now), 0, 'the newest entry stays');
    assert.equal((await store.changesSince(acct.id, inbox.id, 0)).length, 1);
    await store.close();
  });

  it('seeds UIDVALIDITY from the clock and keeps it growing', async () => {
    const now = 1_900_000_000_000;
    const { store } = await fresh({ now: () => now });
    const { acct, inbox } = await setup(store);
    assert.equal(inbox.uidValidity, Math.floor(now / 1000));
    const next = await store.createFolder(acct.id, 'Next');
    assert.equal(next.uidValidity, inbox.uidValidity + 1);
    await store.close();
    const { store: later } = await fresh({ now: () => now + 10_000 });
    const other = await later.createFolder((await setup(later)).acct.id, 'X');
    assert.ok(other.uidValidity > next.uidValidity);
    await later.close();
  });

  it('answers UNAVAILABLE after close, and close is idempotent', async () => {
    const { store } = await fresh();
    await store.close();
    await store.close();
    await rejectsWith(store.createAccount(newAccount('late@example.com')), 'UNAVAILABLE');
    await rejectsWith(store.getAccount('x'), 'UNAVAILABLE');
  });

  it('group-commits concurrent writes, each still atomic on its own', async () => {
    const { store } = await fresh({ maxFlagsPerMessage: 3 });
    const { acct, inbox } = await setup(store);
    const u1 = await deliver(store, acct.id, inbox.id, { flags: ['a'] });
    const u2 = await deliver(store, acct.id, inbox.id, { flags: ['a', 'b', 'c'] });
    const before = (await store.getFolder(acct.id, inbox.id))!;
    const { raw: _r, ...n } = await putMessage(store, acct.id);
    // Issued in one turn, so they share one transaction; the middle one fails half-way
    // (u1 would change, u2 would exceed the flag limit) and must leave no trace.
    const [ok1, bad, ok2] = await Promise.allSettled([
      store.updateFlags(acct.id, inbox.id, { uids: [u1], op: 'add', flags: ['x'] }),
      store.updateFlags(acct.id, inbox.id, { uids: [u1, u2], op: 'add', flags: ['d'] }),
      store.appendMessage(acct.id, inbox.id, n),
    ]);
    assert.equal(ok1.status, 'fulfilled');
    assert.equal(ok2.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
    await rejectsWith(Promise.reject((bad as PromiseRejectedResult).reason), 'LIMIT');
    assert.deepEqual((await store.getMessage(acct.id, inbox.id, u1))!.flags, ['a', 'x']);
    assert.deepEqual((await store.getMessage(acct.id, inbox.id, u2))!.flags, ['a', 'b', 'c']);
    const after = (await store.getFolder(acct.id, inbox.id))!;
    assert.equal(after.highestModseq, before.highestModseq + 2);
    assert.deepEqual(
      (await store.changesSince(acct.id, inbox.id, before.highestModseq)).map((e) => [e.kind, e.uid]),
      [
        ['flags', u1],
        ['new', 3],
      ],
    );
    await store.close();
  });

  it('keeps its metadata in WAL mode', async () => {
    const { dir, store } = await fresh();
    await setup(store);
    const db = new Database(join(dir, 'meta.sqlite3'), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
    await store.close();
  });

  it('refuses more folders than the limit', async () => {
    const { store } = await fresh({ maxFoldersPerAccount: 3 });
    const { acct } = await setup(store);
    await store.createFolder(acct.id, 'a');
    await store.createFolder(acct.id, 'b');
    await rejectsWith(store.createFolder(acct.id, 'c'), 'LIMIT');
    await store.close();
  });

  it('refuses more subscriptions than the limit (idempotent re-subscribe is fine)', async () => {
    const { store } = await fresh({ maxSubscriptionsPerAccount: 2 });
    const { acct } = await setup(store);
    await store.subscribe(acct.id, 'a');
    await store.subscribe(acct.id, 'b');
    await store.subscribe(acct.id, 'b');
    await rejectsWith(store.subscribe(acct.id, 'c'), 'LIMIT');
    await rejectsWith(store.createFolder(acct.id, 'd', { subscribed: true }), 'LIMIT');
    assert.equal(await store.getFolderByName(acct.id, 'd'), null);
    await store.unsubscribe(acct.id, 'a');
    await store.subscribe(acct.id, 'c');
    await store.close();
  });

  it('migrates a schema-1 data directory: subscriptions seeded from folders.subscribed', async () => {
    const { dir, store } = await fresh();
    const { acct } = await setup(store);
    const a = await store.createFolder(acct.id, 'A');
    await store.createFolder(acct.id, 'B');
    await store.close();
    // Make it look like schema 1: no subscriptions table, the flag on the folder row.
    const db = new Database(join(dir, 'meta.sqlite3'));
    db.exec('DROP TABLE subscriptions');
    db.prepare("UPDATE meta SET value = 1 WHERE key = 'schema_version'").run();
    db.prepare('UPDATE folders SET subscribed = 1 WHERE id = ?').run(a.id);
    db.close();
    const again = await openLocalStore(dir);
    assert.deepEqual(await again.listSubscriptions(acct.id), ['A']);
    assert.equal((await again.getFolder(acct.id, a.id))?.subscribed, true);
    assert.equal((await again.getFolderByName(acct.id, 'B'))?.subscribed, false);
    await again.close();
    const check = new Database(join(dir, 'meta.sqlite3'), { readonly: true });
    assert.equal(check.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value, SCHEMA_VERSION);
    check.close();
  });
});
