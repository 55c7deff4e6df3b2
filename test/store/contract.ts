// The storage contract: every adapter of core/store/port.ts must pass these tests unchanged.
// They use only the port. Each test gets a fresh store from `open`; `reopen`
// closes nothing itself: the test closes the store, then reopen() must see everything.
//
// Usage (in an adapter's test file):
//   storeContract('local', async () => { ...; return { store, reopen, cleanup }; });

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { imapForms } from '../../core/mime/imap-forms.js';
import { searchFields } from '../../core/mime/search-fields.js';
import type { MessageIndex } from '../../core/mime/types.js';
import { defaultProtocolSettings } from '../../core/settings/schema.js';
import { newBlobKey } from '../../core/store/deliver.js';
import type { Account, Folder, MessagePart, Store } from '../../core/store/port.js';
import { deliver, newAccount, putMessage, rawMessage, rejectsWith } from './fixtures.js';

export interface ContractHandle {
  store: Store;
  /** Opens the same data again (after the test closed `store`). */
  /** Opens the same data again (durability: what was acknowledged must still be there). */
  reopen: () => Promise<Store>;
  /** Closes whatever is open and removes the data. */
  cleanup: () => Promise<void>;
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function uidsOf(list: Array<{ uid: number }>): number[] {
  return list.map((m) => m.uid);
}

export function storeContract(name: string, open: () => Promise<ContractHandle>): void {
  describe(`store contract: ${name}`, () => {
    let h: ContractHandle;
    let store: Store;
    let acct: Account;
    let inbox: Folder;

    beforeEach(async () => {
      h = await open();
      store = h.store;
      acct = await store.createAccount(newAccount(`user-${randomUUID()}@example.com`));
      inbox = await store.createFolder(acct.id, 'INBOX', { subscribed: true });
    });
    afterEach(async () => {
      await h.cleanup();
    });

    const folder = async (id = inbox.id) => (await store.getFolder(acct.id, id, { subscribed: true }))!;

    // ---------------------------------------------------------------- accounts
    describe('accounts', () => {
      it('creates, reads by id and by canonical address', async () => {
        const a = await store.createAccount(newAccount('  Carol@Example.COM ', { role: 'admin', homeSite: 'site-b' }));
        assert.equal(a.address, 'carol@example.com');
        assert.equal(a.version, 1);
        assert.equal(a.role, 'admin');
        assert.equal(a.homeSite, 'site-b');
        assert.equal(typeof a.id, 'string');
        assert.ok(a.id.length > 0);
        assert.ok(Number.isFinite(a.createdAt));
        assert.deepEqual(await store.getAccount(a.id), a);
        assert.deepEqual(await store.getAccountByAddress('carol@example.com'), a);
        assert.deepEqual(await store.getAccountByAddress('CAROL@example.com'), a);
        assert.equal(await store.getAccount(randomUUID()), null);
        assert.equal(await store.getAccountByAddress('nobody@example.com'), null);
      });

      it('refuses a second account with the same address, in any case', async () => {
        await store.createAccount(newAccount('dave@example.com'));
        await rejectsWith(store.createAccount(newAccount('dave@example.com')), 'ALREADY_EXISTS');
        await rejectsWith(store.createAccount(newAccount('DAVE@example.com')), 'ALREADY_EXISTS');
      });

      it('refuses an empty address and an unknown role', async () => {
        await rejectsWith(store.createAccount(newAccount('   ')), 'INVALID');
        await rejectsWith(store.createAccount(newAccount('x@example.com', { role: 'root' as never })), 'INVALID');
      });

      it('updates with optimistic versions', async () => {
        const a = await store.createAccount(newAccount('erin@example.com'));
        const b = await store.updateAccount(a.id, { passwordHash: 'h2', imap4: { ...a.imap4, enabled: false } }, 1);
        assert.equal(b.version, 2);
        assert.equal(b.passwordHash, 'h2');
        assert.equal(b.imap4.enabled, false);
        assert.equal(b.address, a.address);
        assert.equal(b.createdAt, a.createdAt);
        assert.deepEqual(await store.getAccount(a.id), b);
        await rejectsWith(store.updateAccount(a.id, { role: 'guest' }, 1), 'CONFLICT');
        assert.equal((await store.getAccount(a.id))!.role, 'user');
        const c = await store.updateAccount(a.id, { role: 'guest' }); // unconditional
        assert.equal(c.version, 3);
        assert.equal(c.role, 'guest');
        await rejectsWith(store.updateAccount(randomUUID(), { role: 'user' }), 'NOT_FOUND');
      });

      it('pages through accounts ordered by address', async () => {
        await store.deleteAccount(acct.id);
        const addrs = ['m@x.org', 'b@x.org', 'z@x.org', 'a@x.org', 'k@x.org'];
        for (const a of addrs) await store.createAccount(newAccount(a));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listAccounts({ limit: 2, ...(cursor ? { cursor } : {}) });
          assert.ok(page.items.length <= 2);
          seen.push(...page.items.map((a) => a.address));
          cursor = page.next;
          pages++;
        } while (cursor !== undefined && pages < 10);
        assert.deepEqual(seen, [...addrs].sort());
        assert.equal(pages, 3);
        const all = await store.listAccounts({ limit: 10 });
        assert.equal(all.items.length, 5);
        assert.equal(all.next, undefined);
      });

      it('deletes an account with its folders and messages; the address is free again', async () => {
        const uid = await deliver(store, acct.id, inbox.id);
        const m = (await store.getMessage(acct.id, inbox.id, uid))!;
        await store.deleteAccount(acct.id);
        assert.equal(await store.getAccount(acct.id), null);
        assert.equal(await store.getAccountByAddress(acct.address), null);
        assert.equal(await store.getFolder(acct.id, inbox.id), null);
        assert.deepEqual(await store.listFolders(acct.id), []);
        await store.sweepOrphanBlobs(0);
        await rejectsWith(store.blobs.get(m.blobKey), 'NOT_FOUND');
        const again = await store.createAccount(newAccount(acct.address));
        assert.notEqual(again.id, acct.id);
        assert.deepEqual(await store.listFolders(again.id), []);
        await store.deleteAccount(acct.id); // idempotent
      });
    });

    // ---------------------------------------------------------------- folders
    describe('folders', () => {
      it('creates folders with fresh counters and lists them', async () => {
        assert.equal(inbox.name, 'INBOX');
        assert.equal(inbox.accountId, acct.id);
        assert.equal(inbox.uidNext, 1);
        assert.equal(inbox.highestModseq, 0);
        assert.equal(inbox.messageCount, 0);
        assert.equal(inbox.totalSize, 0);
        assert.equal(inbox.subscribed, true);
        assert.equal(inbox.specialUse, null);
        assert.ok(Number.isInteger(inbox.uidValidity) && inbox.uidValidity > 0 && inbox.uidValidity <= 0xffffffff);
        const sent = await store.createFolder(acct.id, 'Sent', { specialUse: '\\Sent' });
        assert.equal(sent.specialUse, '\\Sent');
        assert.equal(sent.subscribed, false);
        const sub = await store.createFolder(acct.id, 'Projects/2024/Q1 Ünïcode');
        assert.equal(sub.name, 'Projects/2024/Q1 Ünïcode');
        assert.deepEqual(await store.getFolder(acct.id, sent.id, { subscribed: true }), sent);
        assert.deepEqual(await store.getFolderByName(acct.id, 'Sent', { subscribed: true }), sent);
        assert.equal(await store.getFolderByName(acct.id, 'sent'), null, 'names other than INBOX are case-sensitive');
        const names = (await store.listFolders(acct.id)).map((f) => f.name).sort();
        assert.deepEqual(names, ['INBOX', 'Projects/2024/Q1 Ünïcode', 'Sent']);
      });

      it('treats INBOX case-insensitively', async () => {
        assert.equal((await store.getFolderByName(acct.id, 'inbox'))?.id, inbox.id);
        assert.equal((await store.getFolderByName(acct.id, 'InBoX'))?.id, inbox.id);
        await rejectsWith(store.createFolder(acct.id, 'Inbox'), 'ALREADY_EXISTS');
        const child = await store.createFolder(acct.id, 'inbox/Child');
        assert.equal(child.name, 'INBOX/Child');
      });

      it('refuses duplicate and ill-formed names', async () => {
        await store.createFolder(acct.id, 'Work');
        await rejectsWith(store.createFolder(acct.id, 'Work'), 'ALREADY_EXISTS');
        for (const bad of ['', '/Work', 'Work/', 'a//b', 'a\x00b', 'tab\there']) {
          await rejectsWith(store.createFolder(acct.id, bad), 'INVALID');
        }
        await rejectsWith(store.createFolder(randomUUID(), 'X'), 'NOT_FOUND');
      });

      it('keeps folders of different accounts apart', async () => {
        const other = await store.createAccount(newAccount(`other-${randomUUID()}@example.com`));
        const theirs = await store.createFolder(other.id, 'INBOX');
        assert.notEqual(theirs.id, inbox.id);
        assert.equal(await store.getFolder(acct.id, theirs.id), null);
        await rejectsWith(store.appendMessage(acct.id, theirs.id, await putMessage(store, acct.id)), 'NONEXISTENT');
        await rejectsWith(store.listMessages(acct.id, theirs.id), 'NONEXISTENT');
        await rejectsWith(store.deleteFolder(acct.id, theirs.id), 'NONEXISTENT');
        assert.ok(await store.getFolder(other.id, theirs.id));
      });

      it('renames, keeping id, UIDVALIDITY and messages', async () => {
        const f = await store.createFolder(acct.id, 'Old');
        const uid = await deliver(store, acct.id, f.id);
        const r = await store.renameFolder(acct.id, f.id, 'New/Name');
        assert.equal(r.id, f.id);
        assert.equal(r.name, 'New/Name');
        assert.equal(r.uidValidity, f.uidValidity);
        assert.equal(await store.getFolderByName(acct.id, 'Old'), null);
        assert.equal((await store.getFolderByName(acct.id, 'New/Name'))?.id, f.id);
        assert.deepEqual(uidsOf(await store.listMessages(acct.id, f.id)), [uid]);
        await store.createFolder(acct.id, 'Taken');
        await rejectsWith(store.renameFolder(acct.id, f.id, 'Taken'), 'ALREADY_EXISTS');
        await rejectsWith(store.renameFolder(acct.id, f.id, ''), 'INVALID');
        await rejectsWith(store.renameFolder(acct.id, randomUUID(), 'Z'), 'NONEXISTENT');
      });

      it('subscribes and unsubscribes', async () => {
        const f = await store.createFolder(acct.id, 'S');
        await store.setSubscribed(acct.id, f.id, true);
        assert.equal((await folder(f.id)).subscribed, true);
        await store.setSubscribed(acct.id, f.id, false);
        assert.equal((await folder(f.id)).subscribed, false);
        await rejectsWith(store.setSubscribed(acct.id, randomUUID(), true), 'NONEXISTENT');
      });

      it('keeps a subscription list by name: idempotent, names need not exist, INBOX canonical', async () => {
        assert.deepEqual(await store.listSubscriptions(acct.id), ['INBOX']);
        await store.subscribe(acct.id, 'Nowhere/Deep');
        await store.subscribe(acct.id, 'Nowhere/Deep'); // idempotent
        await store.subscribe(acct.id, 'inbox'); // the canonical INBOX, already there
        await store.subscribe(acct.id, 'Ünïcode');
        assert.deepEqual((await store.listSubscriptions(acct.id)).sort(), ['INBOX', 'Nowhere/Deep', 'Ünïcode']);
        // Creating the folder finds its name subscribed.
        const f = await store.createFolder(acct.id, 'Nowhere/Deep');
        assert.equal(f.subscribed, true);
        assert.equal((await folder(f.id)).subscribed, true);
        assert.equal((await store.getFolderByName(acct.id, 'Nowhere/Deep', { subscribed: true }))?.subscribed, true);
        await store.unsubscribe(acct.id, 'Nowhere/Deep');
        await store.unsubscribe(acct.id, 'Nowhere/Deep'); // idempotent
        await store.unsubscribe(acct.id, 'Never'); // never subscribed
        assert.equal((await folder(f.id)).subscribed, false);
        assert.equal((await store.listFolders(acct.id)).find((x) => x.id === f.id)?.subscribed, false);
        assert.deepEqual((await store.listSubscriptions(acct.id)).sort(), ['INBOX', 'Ünïcode']);
        await rejectsWith(store.subscribe(acct.id, ''), 'INVALID');
        await rejectsWith(store.subscribe(acct.id, 'a//b'), 'INVALID');
        await rejectsWith(store.subscribe(randomUUID(), 'X'), 'NOT_FOUND');
        assert.deepEqual(await store.listSubscriptions(randomUUID()), []);
      });

      it('tells subscribed from getFolder and getFolderByName when asked; unasked, it is left out or exact', async () => {
        const yes = await store.createFolder(acct.id, 'Asked', { subscribed: true });
        const no = await store.createFolder(acct.id, 'Unasked');
        for (const [f, want] of [
          [yes, true],
          [no, false],
        ] as const) {
          assert.equal((await store.getFolder(acct.id, f.id, { subscribed: true }))?.subscribed, want);
          assert.equal((await store.getFolderByName(acct.id, f.name, { subscribed: true }))?.subscribed, want);
          for (const plain of [await store.getFolder(acct.id, f.id), await store.getFolderByName(acct.id, f.name)]) {
            assert.ok(plain);
            assert.ok(plain.subscribed === undefined || plain.subscribed === want, `${f.name}: ${String(plain.subscribed)}`);
            const { subscribed: _a, ...rest } = plain;
            const { subscribed: _b, ...expected } = f;
            assert.deepEqual(rest, expected);
          }
        }
        assert.equal((await store.listFolders(acct.id)).find((x) => x.id === yes.id)?.subscribed, true);
      });

      it('keeps a subscription when its folder is deleted (RFC 3501 §6.3.6)', async () => {
        const f = await store.createFolder(acct.id, 'Gone', { subscribed: true });
        assert.equal(f.subscribed, true);
        await store.deleteFolder(acct.id, f.id);
        assert.ok((await store.listSubscriptions(acct.id)).includes('Gone'));
        const again = await store.createFolder(acct.id, 'Gone');
        assert.equal(again.subscribed, true);
      });

      it('moves a subscription with renameFolder; an unsubscribed folder leaves the list alone', async () => {
        const f = await store.createFolder(acct.id, 'Old', { subscribed: true });
        const moved = await store.renameFolder(acct.id, f.id, 'New/Place');
        assert.equal(moved.subscribed, true);
        assert.equal((await folder(f.id)).subscribed, true);
        let subs = await store.listSubscriptions(acct.id);
        assert.ok(subs.includes('New/Place'));
        assert.ok(!subs.includes('Old'));
        const g = await store.createFolder(acct.id, 'Plain');
        await store.subscribe(acct.id, 'Elsewhere');
        const g2 = await store.renameFolder(acct.id, g.id, 'Plainer');
        assert.equal(g2.subscribed, false);
        subs = await store.listSubscriptions(acct.id);
        assert.ok(!subs.includes('Plain') && !subs.includes('Plainer') && subs.includes('Elsewhere'));
      });

      it('deleteAccount removes the subscriptions', async () => {
        await store.subscribe(acct.id, 'Some/Name');
        await store.deleteAccount(acct.id);
        assert.deepEqual(await store.listSubscriptions(acct.id), []);
      });

      it('deletes a folder with its messages; later operations on it fail with NONEXISTENT', async () => {
        const f = await store.createFolder(acct.id, 'Gone');
        const uid = await deliver(store, acct.id, f.id);
        const m = (await store.getMessage(acct.id, f.id, uid))!;
        await store.deleteFolder(acct.id, f.id);
        assert.equal(await store.getFolder(acct.id, f.id), null);
        assert.equal(await store.getFolderByName(acct.id, 'Gone'), null);
        await rejectsWith(store.listMessages(acct.id, f.id), 'NONEXISTENT');
        await rejectsWith(store.getMessage(acct.id, f.id, uid), 'NONEXISTENT');
        await rejectsWith(store.appendMessage(acct.id, f.id, await putMessage(store, acct.id)), 'NONEXISTENT');
        await rejectsWith(store.updateFlags(acct.id, f.id, { uids: [uid], op: 'add', flags: ['\\Seen'] }), 'NONEXISTENT');
        await rejectsWith(store.expunge(acct.id, f.id, [uid]), 'NONEXISTENT');
        await rejectsWith(store.copyMessages(acct.id, inbox.id, [1], f.id), 'NONEXISTENT');
        await rejectsWith(store.changesSince(acct.id, f.id, 0), 'NONEXISTENT');
        await rejectsWith(store.deleteFolder(acct.id, f.id), 'NONEXISTENT');
        await store.sweepOrphanBlobs(0);
        await rejectsWith(store.blobs.get(m.blobKey), 'NOT_FOUND');
      });

      it('gives DELETE then CREATE of a name a new UIDVALIDITY (D27)', async () => {
        const seen = new Set<number>([inbox.uidValidity]);
        let f = await store.createFolder(acct.id, 'Cycle');
        for (let i = 0; i < 5; i++) {
          assert.ok(!seen.has(f.uidValidity), 'UIDVALIDITY reused');
          seen.add(f.uidValidity);
          await deliver(store, acct.id, f.id);
          await store.deleteFolder(acct.id, f.id);
          f = await store.createFolder(acct.id, 'Cycle');
          assert.equal(f.uidNext, 1);
        }
        assert.ok(!seen.has(f.uidValidity));
      });

      it('gives a name renamed over a deleted folder a new UIDVALIDITY (D27)', async () => {
        const a = await store.createFolder(acct.id, 'A');
        const b = await store.createFolder(acct.id, 'B');
        assert.notEqual(a.uidValidity, b.uidValidity);
        await store.deleteFolder(acct.id, b.id);
        const moved = await store.renameFolder(acct.id, a.id, 'B');
        assert.notEqual(moved.uidValidity, b.uidValidity);
        // And the name left behind by a rename, created again:
        const a2 = await store.createFolder(acct.id, 'A');
        assert.notEqual(a2.uidValidity, a.uidValidity);
        assert.notEqual(a2.uidValidity, b.uidValidity);
      });

      it('never reuses a UIDVALIDITY within an account', async () => {
        const vals = new Set<number>([inbox.uidValidity]);
        for (let i = 0; i < 20; i++) {
          const f = await store.createFolder(acct.id, `F${i}`);
          assert.ok(!vals.has(f.uidValidity));
          vals.add(f.uidValidity);
          if (i % 2 === 0) await store.deleteFolder(acct.id, f.id);
        }
      });
    });

    // ---------------------------------------------------------------- messages
    describe('messages', () => {
      it('appends with ascending UIDs, counters, metadata and index', async () => {
        const m1 = await putMessage(store, acct.id, { subject: 'one', flags: ['\\Seen'], internalDate: 1_600_000_000_000 });
        const { raw, ...n1 } = m1;
        const r1 = await store.appendMessage(acct.id, inbox.id, n1);
        assert.equal(r1.uid, 1);
        assert.equal(r1.uidValidity, inbox.uidValidity);
        assert.ok(r1.modseq > 0);
        const u2 = await deliver(store, acct.id, inbox.id, { subject: 'two' });
        const u3 = await deliver(store, acct.id, inbox.id, { subject: 'three' });
        assert.ok(u2 > r1.uid && u3 > u2);
        const f = await folder();
        assert.equal(f.messageCount, 3);
        assert.equal(f.uidNext, u3 + 1);
        assert.ok(f.highestModseq >= 3);
        const list = await store.listMessages(acct.id, inbox.id);
        assert.deepEqual(uidsOf(list), [1, u2, u3]);
        assert.equal(f.totalSize, list.reduce((s, m) => s + m.size, 0));
        const got = (await store.getMessage(acct.id, inbox.id, 1))!;
        assert.equal(got.folderId, inbox.id);
        assert.equal(got.size, raw.length);
        assert.equal(got.internalDate, 1_600_000_000_000);
        assert.deepEqual(got.flags, ['\\Seen']);
        assert.equal(got.blobKey, n1.blobKey);
        assert.equal(got.modseq, r1.modseq);
        assert.deepEqual(got.index, n1.index);
        assert.deepEqual(await store.blobs.get(got.blobKey), raw);
        assert.equal(await store.getMessage(acct.id, inbox.id, 99), null);
      });

      it('lists UID ranges and batch-reads full records', async () => {
        const uids: number[] = [];
        for (let i = 0; i < 6; i++) uids.push(await deliver(store, acct.id, inbox.id, { subject: `s${i}` }));
        assert.deepEqual(uidsOf(await store.listMessages(acct.id, inbox.id, { uidFrom: 2, uidTo: 4 })), [2, 3, 4]);
        assert.deepEqual(uidsOf(await store.listMessages(acct.id, inbox.id, { uidFrom: 5 })), [5, 6]);
        assert.deepEqual(uidsOf(await store.listMessages(acct.id, inbox.id, { uidTo: 1 })), [1]);
        assert.deepEqual(uidsOf(await store.listMessages(acct.id, inbox.id, { uidFrom: 7 })), []);
        const full = await store.getMessages(acct.id, inbox.id, [5, 2, 40]);
        assert.deepEqual(uidsOf(full).sort((a, b) => a - b), [2, 5]);
        const five = full.find((m) => m.uid === 5)!;
        assert.equal(five.index.envelope.subject, 's4');
      });

      it('reads only the parts asked for (at least those), for dense and sparse UID sets', async () => {
        const sent = new Map<number, MessageIndex>();
        for (let i = 0; i < 12; i++) {
          const { raw: _raw, ...m } = await putMessage(store, acct.id, { subject: `part ${i}` });
          sent.set((await store.appendMessage(acct.id, inbox.id, m)).uid, m.index);
        }
        await store.expunge(acct.id, inbox.id, [4]);
        sent.delete(4);
        const all: MessagePart[] = ['structure', 'header', 'imap', 'search'];
        for (const list of [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [12, 1, 6, 6, 40], [3, 4, 5], [4], []]) {
          const want = [...new Set(list)].filter((u) => sent.has(u)).sort((a, b) => a - b);
          for (const parts of [...all.map((p) => [p]), all]) {
            const got = await store.getMessages(acct.id, inbox.id, list, { parts });
            assert.deepEqual(uidsOf(got), want, `${parts.join('+')} of ${list.join(',')}`);
            for (const m of got) {
              const ix = sent.get(m.uid)!;
              const has = (p: MessagePart) => parts.includes(p);
              if (has('structure')) {
                const { header: _h, ...structure } = ix;
                assert.deepEqual({ ...structure, ...m.index, header: undefined }, { ...structure, header: undefined });
                assert.deepEqual(m.index.envelope, ix.envelope);
                assert.deepEqual(m.index.root, ix.root);
              }
              if (has('header')) assert.deepEqual([m.index.header, m.index.headerSize], [ix.header, ix.headerSize]);
              // Kept forms and values are those of the index; without them, what to compute them from.
              if (m.imap !== undefined) assert.deepEqual(m.imap, imapForms(ix));
              else if (has('imap')) assert.deepEqual([m.index.envelope, m.index.root], [ix.envelope, ix.root]);
              if (m.search !== undefined) assert.deepEqual(m.search, searchFields(ix.header!));
              else if (has('search')) assert.equal(m.index.header, ix.header);
            }
          }
        }
        await rejectsWith(store.getMessages(acct.id, randomUUID(), [1], { parts: ['header'] }), 'NONEXISTENT');
      });

      it('gives APPEND after EXPUNGE of everything a higher UID (D26)', async () => {
        const first = [];
        for (let i = 0; i < 3; i++) first.push(await deliver(store, acct.id, inbox.id));
        const removed = await store.expunge(acct.id, inbox.id, first);
        assert.deepEqual(removed, first);
        const f = await folder();
        assert.equal(f.messageCount, 0);
        assert.equal(f.totalSize, 0);
        assert.equal(f.uidNext, Math.max(...first) + 1, 'expunge never lowers UIDNEXT');
        const next = await deliver(store, acct.id, inbox.id);
        assert.ok(next > Math.max(...first));
      });

      it('makes a retried append with the same appendId return the first result', async () => {
        const m = await putMessage(store, acct.id, { appendId: 'retry-1' });
        const { raw: _r, ...n } = m;
        const a = await store.appendMessage(acct.id, inbox.id, n);
        const again = await putMessage(store, acct.id, { appendId: 'retry-1' });
        const { raw: _r2, ...n2 } = again;
        const b = await store.appendMessage(acct.id, inbox.id, n2);
        assert.deepEqual(b, a);
        assert.equal((await folder()).messageCount, 1);
        // The key is per folder: another folder takes it as new.
        const other = await store.createFolder(acct.id, 'Other');
        const c = await store.appendMessage(acct.id, other.id, n2);
        assert.equal(c.uid, 1);
        assert.equal(c.uidValidity, other.uidValidity);
        // A different key is a different message.
        const d = await store.appendMessage(acct.id, inbox.id, { ...n2, appendId: 'retry-2' });
        assert.ok(d.uid > a.uid);
      });

      it('canonicalises flags: system flags case-insensitive, \\Recent never stored, sorted, unique', async () => {
        const uid = await deliver(store, acct.id, inbox.id, {
          flags: ['\\SEEN', '$Label1', '\\recent', '\\seen', 'Work', '$Label1', '\\flagged'],
        });
        const m = (await store.getMessage(acct.id, inbox.id, uid))!;
        assert.deepEqual(m.flags, ['$Label1', 'Work', '\\Flagged', '\\Seen'].sort());
        await rejectsWith(
          (async () => store.appendMessage(acct.id, inbox.id, { ...(await putMessage(store, acct.id)), flags: ['\\Bogus'] }))(),
          'INVALID',
        );
        await rejectsWith(store.updateFlags(acct.id, inbox.id, { uids: [uid], op: 'add', flags: ['has space'] }), 'INVALID');
        await rejectsWith(store.updateFlags(acct.id, inbox.id, { uids: [uid], op: 'add', flags: [''] }), 'INVALID');
      });

      it('adds, removes and replaces flags with modseq and journal; no-ops change nothing', async () => {
        const u1 = await deliver(store, acct.id, inbox.id);
        const u2 = await deliver(store, acct.id, inbox.id);
        const before = (await folder()).highestModseq;

        const add = await store.updateFlags(acct.id, inbox.id, { uids: [u1, u2, 999], op: 'add', flags: ['\\Seen', 'Todo'] });
        assert.deepEqual(uidsOf(add.updated), [u1, u2]);
        assert.deepEqual(add.modified, []);
        for (const m of add.updated) {
          assert.deepEqual(m.flags, ['Todo', '\\Seen']);
          assert.ok(m.modseq > before);
        }
        const f1 = await folder();
        assert.equal(f1.highestModseq, Math.max(...add.updated.map((m) => m.modseq)));
        const m1 = (await store.getMessage(acct.id, inbox.id, u1))!;
        assert.deepEqual(m1.flags, ['Todo', '\\Seen']);
        assert.equal(m1.modseq, add.updated[0]!.modseq);

        const noop = await store.updateFlags(acct.id, inbox.id, { uids: [u1, u2], op: 'add', flags: ['\\seen'] });
        assert.deepEqual(noop.updated, []);
        assert.equal((await folder()).highestModseq, f1.highestModseq, 'a no-op does not bump modseq');

        const rm = await store.updateFlags(acct.id, inbox.id, { uids: [u1], op: 'remove', flags: ['Todo', '\\SEEN'] });
        assert.deepEqual(uidsOf(rm.updated), [u1]);
        assert.deepEqual(rm.updated[0]!.flags, []);
        assert.ok(rm.updated[0]!.modseq > f1.highestModseq);

        const rep = await store.updateFlags(acct.id, inbox.id, { uids: [u2], op: 'replace', flags: ['\\Answered', '\\Recent'] });
        assert.deepEqual(rep.updated[0]!.flags, ['\\Answered']);
        const sameRep = await store.updateFlags(acct.id, inbox.id, { uids: [u2], op: 'replace', flags: ['\\answered'] });
        assert.deepEqual(sameRep.updated, []);

        const changes = await store.changesSince(acct.id, inbox.id, before);
        assert.deepEqual(
          changes.map((c) => [c.kind, c.uid, c.flags]),
          [
            ['flags', u1, ['Todo', '\\Seen']],
            ['flags', u2, ['Todo', '\\Seen']],
            ['flags', u1, []],
            ['flags', u2, ['\\Answered']],
          ],
        );
        assert.equal(changes[changes.length - 1]!.modseq, (await folder()).highestModseq);
      });

      it('honours unchangedSince (CONDSTORE)', async () => {
        const u1 = await deliver(store, acct.id, inbox.id);
        const u2 = await deliver(store, acct.id, inbox.id);
        const base = (await folder()).highestModseq;
        await store.updateFlags(acct.id, inbox.id, { uids: [u2], op: 'add', flags: ['\\Flagged'] });
        const r = await store.updateFlags(acct.id, inbox.id, {
          uids: [u1, u2],
          op: 'add',
          flags: ['\\Seen'],
          unchangedSince: base,
        });
        assert.deepEqual(uidsOf(r.updated), [u1]);
        assert.deepEqual(r.modified, [u2]);
        assert.deepEqual((await store.getMessage(acct.id, inbox.id, u2))!.flags, ['\\Flagged']);
        const zero = await store.updateFlags(acct.id, inbox.id, { uids: [u1], op: 'add', flags: ['x'], unchangedSince: 0 });
        assert.deepEqual(zero.updated, []);
        assert.deepEqual(zero.modified, [u1]);
      });

      it('expunges, returning only removed UIDs, with journal entries and counters', async () => {
        const uids = [];
        for (let i = 0; i < 4; i++) uids.push(await deliver(store, acct.id, inbox.id));
        const before = await folder();
        const removed = await store.expunge(acct.id, inbox.id, [uids[1]!, uids[3]!, 777]);
        assert.deepEqual(removed, [uids[1], uids[3]]);
        assert.deepEqual(await store.expunge(acct.id, inbox.id, [uids[1]!]), []);
        const after = await folder();
        assert.equal(after.messageCount, 2);
        assert.equal(after.uidNext, before.uidNext);
        assert.ok(after.highestModseq > before.highestModseq);
        const list = await store.listMessages(acct.id, inbox.id);
        assert.deepEqual(uidsOf(list), [uids[0], uids[2]]);
        assert.equal(after.totalSize, list.reduce((s, m) => s + m.size, 0));
        const j = await store.changesSince(acct.id, inbox.id, before.highestModseq);
        assert.deepEqual(
          j.map((e) => [e.kind, e.uid]),
          [
            ['expunge', uids[1]],
            ['expunge', uids[3]],
          ],
        );
        assert.equal(await store.getMessage(acct.id, inbox.id, uids[1]!), null);
      });

      it('copies with a UID mapping, flags and index, sharing the blob', async () => {
        const dst = await store.createFolder(acct.id, 'Archive');
        await deliver(store, acct.id, dst.id); // dst UIDs do not start at 1
        const u1 = await deliver(store, acct.id, inbox.id, { flags: ['\\Seen'], subject: 'c1' });
        const u2 = await deliver(store, acct.id, inbox.id, { subject: 'c2' });
        const u3 = await deliver(store, acct.id, inbox.id, { subject: 'c3' });
        const r = await store.copyMessages(acct.id, inbox.id, [u3, u1, 555], dst.id);
        assert.equal(r.uidValidity, dst.uidValidity);
        assert.deepEqual(r.mapping, [
          [u1, 2],
          [u3, 3],
        ]);
        const src1 = (await store.getMessage(acct.id, inbox.id, u1))!;
        const c1 = (await store.getMessage(acct.id, dst.id, 2))!;
        assert.deepEqual(c1.flags, ['\\Seen']);
        assert.equal(c1.blobKey, src1.blobKey);
        assert.equal(c1.size, src1.size);
        assert.equal(c1.internalDate, src1.internalDate);
        assert.deepEqual(c1.index, src1.index);
        const fd = await folder(dst.id);
        assert.equal(fd.messageCount, 3);
        assert.equal(fd.uidNext, 4);
        assert.equal((await folder()).messageCount, 3, 'the source keeps its messages');
        const j = await store.changesSince(acct.id, dst.id, 0);
        assert.deepEqual(
          j.map((e) => [e.kind, e.uid]),
          [
            ['new', 1],
            ['new', 2],
            ['new', 3],
          ],
        );
        assert.deepEqual(j[1]!.flags, ['\\Seen']);
        void u2;
        // Copy within one folder is allowed too.
        const same = await store.copyMessages(acct.id, inbox.id, [u2], inbox.id);
        assert.deepEqual(same.mapping, [[u2, u3 + 1]]);
        await rejectsWith(store.copyMessages(acct.id, inbox.id, [u1], randomUUID()), 'NONEXISTENT');
      });

      it('gives back every blob key as appended, whatever its form, through copy, move and expunge', async () => {
        const dst = await store.createFolder(acct.id, 'Keys');
        const keys = [
          newBlobKey(acct.id), // what delivery makes
          `${acct.id}/${randomUUID()}`,
          `${acct.id}/AAAAAAAAAAA`, // random part all zero bits
          `${acct.id}/x`,
          `${acct.id}/a.b_c-d`,
          `${acct.id}/nested/${randomUUID()}`,
          `elsewhere/${randomUUID()}`, // another prefix than the account's
        ];
        const uids: number[] = [];
        const raws = new Map<string, Buffer>();
        for (const [i, key] of keys.entries()) {
          const { raw, ...n } = await putMessage(store, acct.id, { subject: `key ${i}`, blobKey: key, flags: i % 2 ? ['\\Seen', 'kw'] : [] });
          raws.set(key, raw);
          uids.push((await store.appendMessage(acct.id, inbox.id, n)).uid);
        }
        const byUid = (list: Array<{ uid: number; blobKey: string }>) => list.map((m) => m.blobKey);
        assert.deepEqual(byUid(await store.listMessages(acct.id, inbox.id)), keys);
        assert.deepEqual(byUid(await store.getMessages(acct.id, inbox.id, uids)), keys);
        for (const [i, uid] of uids.entries()) assert.equal((await store.getMessage(acct.id, inbox.id, uid))?.blobKey, keys[i]);
        const { updated } = await store.updateFlags(acct.id, inbox.id, { uids, op: 'add', flags: ['\\Flagged'] });
        assert.deepEqual(byUid(updated), keys);
        const copied = await store.copyMessages(acct.id, inbox.id, uids, dst.id);
        assert.deepEqual(byUid(await store.listMessages(acct.id, dst.id)), keys);
        const moved = await store.moveMessages(acct.id, dst.id, copied.mapping.map(([, u]) => u), inbox.id);
        assert.deepEqual(byUid(await store.listMessages(acct.id, dst.id)), []);
        assert.deepEqual(byUid(await store.listMessages(acct.id, inbox.id)), [...keys, ...keys]);
        // One reference left after expunging the originals: the blobs stay; then none.
        await store.expunge(acct.id, inbox.id, uids);
        await store.sweepOrphanBlobs(0);
        for (const k of keys) assert.deepEqual(await store.blobs.get(k), raws.get(k));
        await store.expunge(acct.id, inbox.id, moved.mapping.map(([, u]) => u));
        await store.sweepOrphanBlobs(0);
        for (const k of keys) await rejectsWith(store.blobs.get(k), 'NOT_FOUND');
      });

      it('keeps a shared blob until its last reference is expunged', async () => {
        const dst = await store.createFolder(acct.id, 'Copy');
        const { raw, ...n } = await putMessage(store, acct.id, { subject: 'shared' });
        const { uid } = await store.appendMessage(acct.id, inbox.id, n);
        const { mapping } = await store.copyMessages(acct.id, inbox.id, [uid], dst.id);
        await store.expunge(acct.id, inbox.id, [uid]);
        await store.sweepOrphanBlobs(0);
        assert.deepEqual(await store.blobs.get(n.blobKey), raw, 'the copy still needs the blob');
        await store.expunge(acct.id, dst.id, [mapping[0]![1]]);
        await store.sweepOrphanBlobs(0);
        await rejectsWith(store.blobs.get(n.blobKey), 'NOT_FOUND');
      });

      it('moves: mapping, source expunged, destination new, blob kept', async () => {
        const dst = await store.createFolder(acct.id, 'Moved');
        const u1 = await deliver(store, acct.id, inbox.id, { flags: ['\\Flagged'] });
        const u2 = await deliver(store, acct.id, inbox.id);
        const u3 = await deliver(store, acct.id, inbox.id);
        const m2 = (await store.getMessage(acct.id, inbox.id, u2))!;
        const srcBefore = await folder();
        const r = await store.moveMessages(acct.id, inbox.id, [u2, u1], dst.id);
        assert.equal(r.uidValidity, dst.uidValidity);
        assert.deepEqual(r.mapping, [
          [u1, 1],
          [u2, 2],
        ]);
        assert.deepEqual(uidsOf(await store.listMessages(acct.id, inbox.id)), [u3]);
        const moved = await store.listMessages(acct.id, dst.id);
        assert.deepEqual(uidsOf(moved), [1, 2]);
        assert.deepEqual(moved[0]!.flags, ['\\Flagged']);
        const src = await folder();
        assert.equal(src.messageCount, 1);
        assert.equal(src.totalSize, srcBefore.totalSize - moved.reduce((s, m) => s + m.size, 0));
        assert.equal((await folder(dst.id)).messageCount, 2);
        const js = await store.changesSince(acct.id, inbox.id, srcBefore.highestModseq);
        assert.deepEqual(
          js.map((e) => [e.kind, e.uid]),
          [
            ['expunge', u1],
            ['expunge', u2],
          ],
        );
        await store.sweepOrphanBlobs(0);
        assert.ok((await store.blobs.get(m2.blobKey)).length > 0);
        const none = await store.moveMessages(acct.id, inbox.id, [u1], dst.id);
        assert.deepEqual(none.mapping, []);
      });

      it('returns journal entries in modseq order, after a given modseq, with a limit', async () => {
        const u1 = await deliver(store, acct.id, inbox.id);
        const u2 = await deliver(store, acct.id, inbox.id);
        await store.updateFlags(acct.id, inbox.id, { uids: [u1], op: 'add', flags: ['\\Seen'] });
        await store.expunge(acct.id, inbox.id, [u2]);
        const all = await store.changesSince(acct.id, inbox.id, 0);
        assert.deepEqual(
          all.map((e) => [e.kind, e.uid]),
          [
            ['new', u1],
            ['new', u2],
            ['flags', u1],
            ['expunge', u2],
          ],
        );
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.modseq > all[i - 1]!.modseq);
        assert.ok(all.every((e) => e.folderId === inbox.id));
        assert.deepEqual(all[0]!.flags, []);
        assert.equal(all[3]!.flags, undefined);
        assert.equal(all[3]!.modseq, (await folder()).highestModseq);
        assert.deepEqual(await store.changesSince(acct.id, inbox.id, all[1]!.modseq), all.slice(2));
        assert.deepEqual(await store.changesSince(acct.id, inbox.id, 0, 2), all.slice(0, 2));
        assert.deepEqual(await store.changesSince(acct.id, inbox.id, all[3]!.modseq), []);
      });

      it('gives 200 concurrent appends distinct UIDs, ascending in commit order (D28)', async () => {
        const results = await Promise.all(
          Array.from({ length: 200 }, async (_, i) => {
            const { raw: _raw, ...n } = await putMessage(store, acct.id, { subject: `c${i}` });
            return { ...(await store.appendMessage(acct.id, inbox.id, n)), blobKey: n.blobKey };
          }),
        );
        const uids = results.map((r) => r.uid);
        assert.equal(new Set(uids).size, 200);
        const byModseq = [...results].sort((a, b) => a.modseq - b.modseq);
        for (let i = 1; i < byModseq.length; i++) assert.ok(byModseq[i]!.uid > byModseq[i - 1]!.uid);
        const list = await store.listMessages(acct.id, inbox.id);
        assert.deepEqual(
          uidsOf(list),
          [...uids].sort((a, b) => a - b),
        );
        assert.equal(new Set(list.map((m) => m.blobKey)).size, 200);
        const f = await folder();
        assert.equal(f.messageCount, 200);
        assert.equal(f.uidNext, Math.max(...uids) + 1);
      });

      it('keeps UIDs distinct under concurrent APPEND, COPY and MOVE into one folder (D28)', async () => {
        const target = await store.createFolder(acct.id, 'Target');
        const src = await store.createFolder(acct.id, 'Src');
        const srcUids = [];
        for (let i = 0; i < 20; i++) srcUids.push(await deliver(store, acct.id, src.id));
        const ops: Array<Promise<number[]>> = [];
        for (let i = 0; i < 20; i++) {
          ops.push(deliver(store, acct.id, target.id).then((u) => [u]));
          if (i < 10) ops.push(store.copyMessages(acct.id, src.id, [srcUids[i]!], target.id).then((r) => r.mapping.map((p) => p[1])));
          else ops.push(store.moveMessages(acct.id, src.id, [srcUids[i]!], target.id).then((r) => r.mapping.map((p) => p[1])));
        }
        const got = (await Promise.all(ops)).flat();
        assert.equal(got.length, 40);
        assert.equal(new Set(got).size, 40);
        const list = await store.listMessages(acct.id, target.id);
        assert.deepEqual(
          uidsOf(list),
          [...got].sort((a, b) => a - b),
        );
        assert.equal((await folder(src.id)).messageCount, 10);
      });

      it('never loses a flag under concurrent adds of different flags (D30)', async () => {
        const uid = await deliver(store, acct.id, inbox.id);
        const before = (await folder()).highestModseq;
        const ops: Array<Promise<unknown>> = [];
        for (let i = 0; i < 300; i++) {
          ops.push(store.updateFlags(acct.id, inbox.id, { uids: [uid], op: 'add', flags: [`a${i}`] }));
          ops.push(store.updateFlags(acct.id, inbox.id, { uids: [uid], op: 'add', flags: [`b${i}`] }));
        }
        await Promise.all(ops);
        const m = (await store.getMessage(acct.id, inbox.id, uid))!;
        assert.equal(m.flags.length, 600);
        for (let i = 0; i < 300; i++) {
          assert.ok(m.flags.includes(`a${i}`) && m.flags.includes(`b${i}`), `lost a${i} or b${i}`);
        }
        const f = await folder();
        assert.equal(f.highestModseq - before, 600, 'every add changed something');
        assert.equal(m.modseq, f.highestModseq);
        assert.equal((await store.changesSince(acct.id, inbox.id, before)).length, 600);
      });

      it('refuses bad input', async () => {
        const { raw: _r, ...n } = await putMessage(store, acct.id);
        await rejectsWith(store.appendMessage(acct.id, inbox.id, { ...n, blobKey: '../escape' }), 'INVALID');
        await rejectsWith(store.appendMessage(acct.id, inbox.id, { ...n, size: -1 }), 'INVALID');
        await rejectsWith(store.updateFlags(acct.id, inbox.id, { uids: [0], op: 'add', flags: ['\\Seen'] }), 'INVALID');
        await rejectsWith(store.updateFlags(acct.id, inbox.id, { uids: [1], op: 'toggle' as never, flags: [] }), 'INVALID');
        await rejectsWith(store.expunge(acct.id, inbox.id, [1.5]), 'INVALID');
        await rejectsWith(store.appendMessage(acct.id, randomUUID(), n), 'NONEXISTENT');
        assert.equal((await folder()).messageCount, 0);
      });
    });

    // ---------------------------------------------------------------- settings
    describe('settings', () => {
      it('puts and gets protocol settings with optimistic versions', async () => {
        assert.equal(await store.getProtocolSettings('pop3'), null);
        const v = defaultProtocolSettings('pop3');
        const r1 = await store.putProtocolSettings('pop3', v);
        assert.equal(r1.version, 1);
        assert.deepEqual(r1.value, v);
        assert.deepEqual(await store.getProtocolSettings('pop3'), r1);
        assert.equal(await store.getProtocolSettings('imap4'), null, 'per protocol');
        const r2 = await store.putProtocolSettings('pop3', { ...v, banner: 'Hi.' }, 1);
        assert.equal(r2.version, 2);
        await rejectsWith(store.putProtocolSettings('pop3', { ...v, banner: 'Lost.' }, 1), 'CONFLICT');
        assert.equal((await store.getProtocolSettings('pop3'))!.value.banner, 'Hi.');
        await rejectsWith(store.putProtocolSettings('imap4', defaultProtocolSettings('imap4'), 3), 'CONFLICT');
        const i1 = await store.putProtocolSettings('imap4', defaultProtocolSettings('imap4'));
        assert.equal(i1.version, 1);
      });
    });

    // ---------------------------------------------------------------- blobs
    describe('blobs', () => {
      it('stores, reads whole and by range, streams, deletes', async () => {
        const key = `${acct.id}/${randomUUID()}`;
        const data = Buffer.from('0123456789abcdefghij');
        assert.deepEqual(await store.blobs.put(key, data), { size: 20 });
        assert.deepEqual(await store.blobs.get(key), data);
        assert.deepEqual(await store.blobs.get(key, { start: 3, end: 7 }), Buffer.from('3456'));
        assert.deepEqual(await store.blobs.get(key, { start: 15, end: 100 }), Buffer.from('fghij'));
        assert.deepEqual(await store.blobs.get(key, { start: 5, end: 5 }), Buffer.alloc(0));
        assert.deepEqual(await readAll(store.blobs.stream(key)), data);
        assert.deepEqual(await readAll(store.blobs.stream(key, { start: 10, end: 12 })), Buffer.from('ab'));
        await store.blobs.delete(key);
        await rejectsWith(store.blobs.get(key), 'NOT_FOUND');
        await rejectsWith(readAll(store.blobs.stream(key)), 'NOT_FOUND');
      });

      it('stores a blob from a stream of chunks, larger than one read', async () => {
        const key = `${acct.id}/${randomUUID()}`;
        const parts = Array.from({ length: 5 }, (_, i) => Buffer.alloc(50_000, 65 + i));
        async function* gen() {
          for (const p of parts) yield p;
        }
        assert.deepEqual(await store.blobs.put(key, gen()), { size: 250_000 });
        const all = Buffer.concat(parts);
        assert.deepEqual(await store.blobs.get(key), all);
        assert.deepEqual(await readAll(store.blobs.stream(key)), all);
        assert.deepEqual(await readAll(store.blobs.stream(key, { start: 49_999, end: 150_001 })), all.subarray(49_999, 150_001));
      });

      it('never overwrites a blob', async () => {
        const key = `${acct.id}/${randomUUID()}`;
        await store.blobs.put(key, Buffer.from('first'));
        await rejectsWith(store.blobs.put(key, Buffer.from('second')), 'ALREADY_EXISTS');
        assert.deepEqual(await store.blobs.get(key), Buffer.from('first'));
      });

      it('refuses keys that could escape the blob space', async () => {
        for (const bad of ['../x', '/abs', 'a/../b', 'a/./b', '', 'a//b', 'a/', 'sp ace', 'back\\slash', '..', 'ok/..']) {
          await rejectsWith(store.blobs.put(bad, Buffer.from('x')), 'INVALID');
          await rejectsWith(store.blobs.get(bad), 'INVALID');
          await rejectsWith(() => readAll(store.blobs.stream(bad)), 'INVALID');
          await rejectsWith(store.blobs.delete(bad), 'INVALID');
        }
      });

      it('sweeps orphan blobs and keeps referenced and young ones', async () => {
        const uid = await deliver(store, acct.id, inbox.id);
        const kept = (await store.getMessage(acct.id, inbox.id, uid))!.blobKey;
        const orphan = `${acct.id}/${randomUUID()}`;
        await store.blobs.put(orphan, rawMessage('orphan'));
        assert.equal(await store.sweepOrphanBlobs(60 * 60 * 1000), 0, 'young orphans are left alone');
        await store.blobs.get(orphan);
        assert.equal(await store.sweepOrphanBlobs(0), 1);
        await rejectsWith(store.blobs.get(orphan), 'NOT_FOUND');
        assert.ok((await store.blobs.get(kept)).length > 0);
        assert.equal(await store.sweepOrphanBlobs(0), 0);
      });
    });

    // ---------------------------------------------------------------- durability
    describe('durability', () => {
      it('sees everything after a reopen', async () => {
        const sub = await store.createFolder(acct.id, 'Kept', { specialUse: '\\Archive', subscribed: true });
        const { raw, ...n } = await putMessage(store, acct.id, { flags: ['\\Seen'], appendId: 'dur-1' });
        const app = await store.appendMessage(acct.id, inbox.id, n);
        const u2 = await deliver(store, acct.id, inbox.id);
        await store.updateFlags(acct.id, inbox.id, { uids: [u2], op: 'add', flags: ['Kw'] });
        await store.copyMessages(acct.id, inbox.id, [app.uid], sub.id);
        const s = await store.putProtocolSettings('imap4', defaultProtocolSettings('imap4'));
        const acctNow = (await store.getAccount(acct.id))!;
        const foldersNow = await store.listFolders(acct.id);
        const msgsNow = await store.listMessages(acct.id, inbox.id);
        const journalNow = await store.changesSince(acct.id, inbox.id, 0);
        await store.close();

        store = await h.reopen();
        assert.deepEqual(await store.getAccount(acct.id), acctNow);
        assert.deepEqual(await store.listFolders(acct.id), foldersNow);
        assert.deepEqual(await store.listMessages(acct.id, inbox.id), msgsNow);
        assert.deepEqual(await store.changesSince(acct.id, inbox.id, 0), journalNow);
        assert.deepEqual(await store.getProtocolSettings('imap4'), s);
        assert.deepEqual((await store.getMessage(acct.id, inbox.id, app.uid))!.index, n.index);
        assert.deepEqual(await store.blobs.get(n.blobKey), raw);
        assert.deepEqual(await store.appendMessage(acct.id, inbox.id, n), app, 'appendId survives too');
        const u3 = await deliver(store, acct.id, inbox.id);
        assert.ok(u3 > u2);
        const again = await store.createFolder(acct.id, 'Fresh');
        assert.ok(!foldersNow.some((f) => f.uidValidity === again.uidValidity));
      });
    });
  });
}
