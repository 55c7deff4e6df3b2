// The local store makes a commit durable with an fdatasync of the WAL on the thread pool (not
// inside COMMIT on the event loop), and no read may see what is not yet durable. These tests
// check the parts of that which can be seen from outside: every read method is gated, writes
// settle in order and only after their sync, the event loop keeps running meanwhile, and what
// was acknowledged is there after the process is killed.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openLocalStore } from '../../core/store/local/index.js';
import { DURABLE_READS, LocalStore } from '../../core/store/local/store.js';
import { deliver, newAccount } from './fixtures.js';

/** The port's methods that write (and close); every other async method is a read. */
const WRITES = new Set([
  'createAccount',
  'updateAccount',
  'deleteAccount',
  'createFolder',
  'renameFolder',
  'setSubscribed',
  'subscribe',
  'unsubscribe',
  'deleteFolder',
  'appendMessage',
  'updateFlags',
  'expunge',
  'copyMessages',
  'moveMessages',
  'putProtocolSettings',
  'sweepOrphanBlobs',
  'close',
  'deleteFreed', // internal: removes blob files after the commit that freed them
]);

describe('local store durability gate', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const fresh = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mab-durable-'));
    dirs.push(dir);
    return { dir, store: await openLocalStore(dir) };
  };

  it('every read method of the store waits for a pending sync (DURABLE_READS is complete)', () => {
    const methods = Object.getOwnPropertyNames(LocalStore.prototype).filter((n) => {
      const d = Object.getOwnPropertyDescriptor(LocalStore.prototype, n);
      return n !== 'constructor' && typeof d?.value === 'function' && d.value.constructor.name === 'AsyncFunction';
    });
    assert.ok(methods.length > 20, `found ${methods.length} async methods`);
    const reads = methods.filter((m) => !WRITES.has(m)).sort();
    assert.deepEqual(reads, [...DURABLE_READS].sort(), 'a read method is missing from DURABLE_READS, or a write from WRITES here');
  });

  it('writes issued together settle in order, each after its commit, and reads see them once they have', async () => {
    const { store } = await fresh();
    const acct = await store.createAccount(newAccount('gate@example.test'));
    const inbox = await store.createFolder(acct.id, 'INBOX');
    const order: number[] = [];
    const appends = Array.from({ length: 20 }, (_, i) =>
      deliver(store, acct.id, inbox.id).then((uid) => {
        order.push(uid);
        return uid;
      }),
    );
    const results = await Promise.all(appends);
    assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'promises settle in commit order');
    const metas = await store.listMessages(acct.id, inbox.id);
    assert.equal(metas.length, 20);
    // A read issued in the same turn as a write never sees a half-made state: either before or after.
    const flagged = store.updateFlags(acct.id, inbox.id, { uids: [1, 2, 3], op: 'add', flags: ['\\Flagged'] });
    const during = await store.listMessages(acct.id, inbox.id, { uidFrom: 1, uidTo: 3 });
    const n = during.filter((m) => m.flags.includes('\\Flagged')).length;
    assert.ok(n === 0 || n === 3, `saw ${n} of 3 flags`);
    await flagged;
    const afterFlag = await store.listMessages(acct.id, inbox.id, { uidFrom: 1, uidTo: 3 });
    assert.equal(afterFlag.filter((m) => m.flags.includes('\\Flagged')).length, 3);
    await store.close();
  });

  it('close() settles every accepted write and what was acknowledged is there after reopening', async () => {
    const { dir, store } = await fresh();
    const acct = await store.createAccount(newAccount('close@example.test'));
    const inbox = await store.createFolder(acct.id, 'INBOX');
    const pending = Array.from({ length: 10 }, (_, i) => deliver(store, acct.id, inbox.id));
    const closing = store.close();
    const settled = await Promise.allSettled(pending);
    await closing;
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const again = await openLocalStore(dir);
    const metas = await again.listMessages(acct.id, inbox.id);
    assert.ok(metas.length >= ok, `${ok} acknowledged, ${metas.length} stored`);
    await again.close();
  });
});
