// Real IMAP clients against a real server: imapflow and Python's imaplib each run a full
// mail-client day over STARTTLS (plain port) and over implicit TLS: folders with special-use,
// Inbox, envelopes and structures, a body and an attachment byte-exact, partial fetch, flags,
// search by header / date / flag / body text, copy, move, delete + expunge, a sent copy
// appended to Sent, folder create / rename / delete, and IDLE woken by another session.
// Shared by test/imap/clients.test.ts (embedded store) and test/aws/clients.test.ts (AWS adapter).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ImapFlow, type FetchMessageObject } from 'imapflow';
import { createMailbox, deliverToInbox } from '../../core/admin/mailboxes.js';
import { demoMessages, demoPng } from '../../core/mime/samples.js';
import { PASSWORD, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const SCRIPT = new URL('./imaplib_client.py', import.meta.url).pathname;
/** Fixed "now" for the demo messages, so dates (and date searches) are deterministic. */
const NOW = new Date('2026-03-10T12:00:00Z');
const SUBJECTS = [
  'Welcome to your new mailbox',
  'Your monthly product update',
  'Logo draft for the launch',
  'Grüße aus München – 東京の写真',
  'Project kickoff on Thursday',
  'Re: Project kickoff on Thursday',
  'Fwd: Your invoice INV-2041',
];
const SPECIAL = { Sent: '\\Sent', Drafts: '\\Drafts', Trash: '\\Trash', Junk: '\\Junk', Archive: '\\Archive' };
type Mode = 'starttls' | 'tls';

/** BODY[2] of demo message 3: the base64 text of the PNG exactly as stored (CRLF lines). */
function pngPartEncoded(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const start = text.indexOf('\r\n\r\n', text.indexOf('Content-Type: image/png')) + 4;
  const end = text.indexOf('\r\n--', start);
  return raw.subarray(start, end);
}

function sentMessage(from: string): Buffer {
  return Buffer.from(
    `From: ${from}\r\nTo: Priya Natarajan <priya@example.com>\r\nSubject: Re: Project kickoff on Thursday\r\n` +
      `Date: Tue, 10 Mar 2026 12:30:00 +0000\r\nMessage-ID: <sent.${Date.now()}@example.test>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n\r\nSee you on Thursday.\r\n`,
  );
}

async function mailbox(s: TestServer, user: string): Promise<Buffer[]> {
  await createMailbox(s.store, { address: user, password: PASSWORD });
  const raws: Buffer[] = [];
  for (const m of demoMessages(user, NOW)) {
    await deliverToInbox(s.store, user, m.raw, { internalDate: m.internalDate, flags: m.flags });
    raws.push(m.raw);
  }
  return raws;
}

// The four days use four mailboxes and run at the same time (scrypt logins dominate the time).
export function imapClientDayTests(title: string, start: () => Promise<TestServer>): void {
  describe(title, { concurrency: true }, () => {
    let s: TestServer;
    const raws = new Map<string, Buffer[]>();
    const user = (client: string, mode: Mode) => `${client}-${mode}@example.test`;

    before(async () => {
      s = await start();
      const users = ['flow', 'py'].flatMap((client) => (['starttls', 'tls'] as const).map((mode) => user(client, mode)));
      await Promise.all(users.map(async (u) => raws.set(u, await mailbox(s, u))));
    });
    after(() => s.stop());

    for (const mode of ['starttls', 'tls'] as const) {
      it(`imapflow over ${mode === 'tls' ? 'implicit TLS' : 'STARTTLS'}`, async () => {
        const address = user('flow', mode);
        const raw = raws.get(address)!;
        const client = new ImapFlow({
          host: '127.0.0.1',
          port: mode === 'tls' ? s.ports.imaps! : s.ports.imap!,
          secure: mode === 'tls',
          doSTARTTLS: mode === 'starttls' ? true : undefined,
          tls: { rejectUnauthorized: false },
          auth: { user: address, pass: PASSWORD },
          logger: false,
          disableAutoIdle: true,
        });
        client.on('error', () => undefined);
        await client.connect();
        try {

          // Folders with special-use.
          const folders = await client.list();
          const byPath = new Map(folders.map((f) => [f.path, f]));
          assert.ok(byPath.has('INBOX'), 'INBOX listed');
          for (const [name, use] of Object.entries(SPECIAL)) assert.equal(byPath.get(name)?.specialUse, use, `${name} is ${use}`);

          // Inbox: envelopes and structures of every message.
          const box = await client.mailboxOpen('INBOX');
          assert.equal(box.exists, raw.length);
          const all: FetchMessageObject[] = await client.fetchAll('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, size: true, internalDate: true });
          assert.deepEqual(all.map((m) => m.uid), [1, 2, 3, 4, 5, 6, 7]);
          assert.deepEqual(all.map((m) => m.envelope?.subject), SUBJECTS);
          assert.deepEqual(all.map((m) => m.size), raw.map((r) => r.length));
          assert.deepEqual(all[3]!.envelope!.from, [{ name: '山田 太郎', address: 'taro.yamada@example.jp' }]);
          assert.equal(all[5]!.envelope!.inReplyTo, all[4]!.envelope!.messageId);
          assert.equal(new Date(all[6]!.internalDate!).toISOString(), '2026-03-10T09:00:07.000Z');
          assert.deepEqual([...all[6]!.flags!], ['\\Flagged']);
          const logo = all[2]!.bodyStructure!;
          assert.equal(logo.type, 'multipart/mixed');
          const png = logo.childNodes![1]!;
          assert.equal(png.part, '2');
          assert.equal(png.type, 'image/png');
          assert.equal(png.encoding, 'base64');
          assert.equal(png.disposition, 'attachment');
          assert.equal(png.dispositionParameters?.filename, 'logo-draft.png');
          assert.equal(png.size, pngPartEncoded(raw[2]!).length);
          const fwd = all[6]!.bodyStructure!.childNodes![1]!;
          assert.equal(fwd.type, 'message/rfc822');
          assert.equal(fwd.envelope?.subject, 'Your invoice INV-2041');
          assert.equal(all[1]!.bodyStructure!.type, 'multipart/alternative');

          // One body and one attachment part byte-exact; the attachment decodes to the PNG.
          const whole = await client.fetchOne('2', { source: true }, { uid: true });
          assert.ok(whole && whole.source!.equals(raw[1]!), 'BODY[] byte-exact');
          const part = await client.fetchOne('3', { bodyParts: ['2'] }, { uid: true });
          assert.ok(part && part.bodyParts!.get('2')!.equals(pngPartEncoded(raw[2]!)), 'BODY[2] byte-exact (encoded form)');
          const dl = await client.download('3', '2', { uid: true });
          const chunks: Buffer[] = [];
          for await (const c of dl.content as AsyncIterable<Buffer>) chunks.push(c);
          assert.ok(Buffer.concat(chunks).equals(demoPng()), 'the attachment decodes to the PNG');
          const partial = await client.fetchOne('1', { source: { start: 100, maxLength: 200 } }, { uid: true });
          assert.ok(partial && partial.source!.equals(raw[0]!.subarray(100, 300)), 'partial BODY[]<100.200> byte-exact');
          const seenBefore = await client.fetchOne('2', { flags: true }, { uid: true });
          assert.ok(seenBefore && !seenBefore.flags!.has('\\Seen'), 'peeks leave \\Seen alone');

          // Flags: set, read back, clear.
          assert.equal(await client.messageFlagsAdd('1', ['\\Flagged', '$Work'], { uid: true }), true);
          assert.deepEqual([...(await client.fetchOne('1', { flags: true }, { uid: true }) as FetchMessageObject).flags!].sort(), ['$Work', '\\Flagged']);
          assert.deepEqual(await client.search({ flagged: true }, { uid: true }), [1, 7]);
          assert.deepEqual(await client.search({ keyword: '$Work' }, { uid: true }), [1]);
          assert.equal(await client.messageFlagsRemove('1', ['\\Flagged', '$Work'], { uid: true }), true);
          assert.deepEqual([...(await client.fetchOne('1', { flags: true }, { uid: true }) as FetchMessageObject).flags!], []);

          // Search by header, date, flag and body text.
          assert.deepEqual(await client.search({ header: { subject: 'Logo draft' } }, { uid: true }), [3]);
          assert.deepEqual(await client.search({ from: 'marco.rossi@example.net' }, { uid: true }), [6]);
          assert.deepEqual(await client.search({ since: new Date('2026-03-07T12:00:00Z') }, { uid: true }), [4, 5, 6, 7]);
          // imapflow sends BEFORE for the day after the given date (BEFORE 06-Mar-2026 here).
          assert.deepEqual(await client.search({ before: new Date('2026-03-05T12:00:00Z') }, { uid: true }), [1, 2]);
          assert.deepEqual(await client.search({ seen: true }, { uid: true }), [5]);
          assert.deepEqual(await client.search({ seen: false, flagged: false }, { uid: true }), [1, 2, 3, 4, 6]);
          assert.deepEqual(await client.search({ body: 'Tokio schicke' }, { uid: true }), [4]);
          assert.deepEqual(await client.search({ body: 'München' }, { uid: true }), [4], 'body text is matched decoded (quoted-printable UTF-8)');
          assert.deepEqual(await client.search({ text: 'INV-2041' }, { uid: true }), [7]);
          assert.deepEqual(await client.search({ subject: 'kickoff', not: { header: { 'in-reply-to': 'kickoff' } } }, { uid: true }), [5]);

          // Copy, move, delete + expunge.
          const copied = await client.messageCopy('1', 'Archive', { uid: true });
          assert.ok(copied && copied.uidMap?.get(1) === 1, `COPYUID maps 1 -> 1: ${copied && [...(copied.uidMap ?? [])]}`);
          const moved = await client.messageMove('2', 'Trash', { uid: true });
          assert.ok(moved && moved.uidMap?.get(2) === 1, `MOVE maps 2 -> 1: ${moved && [...(moved.uidMap ?? [])]}`);
          assert.equal(await client.messageDelete('6', { uid: true }), true);
          assert.deepEqual(await client.search({ all: true }, { uid: true }), [1, 3, 4, 5, 7]);
          assert.equal(client.mailbox && client.mailbox.exists, 5, 'EXISTS follows the expunges');
          const archive = await client.status('Archive', { messages: true });
          const trash = await client.status('Trash', { messages: true });
          assert.equal(archive && archive.messages, 1);
          assert.equal(trash && trash.messages, 1);

          // A sent copy to Sent.
          const sent = sentMessage(address);
          const appended = await client.append('Sent', sent, ['\\Seen'], new Date('2026-03-10T12:30:00Z'));
          assert.ok(appended && appended.uid === 1 && appended.uidValidity, `APPENDUID: ${appended && appended.uid}`);
          {
            const lock = await client.getMailboxLock('Sent', { readOnly: true });
            try {
              const m = await client.fetchOne('1', { source: true, flags: true, internalDate: true }, { uid: true });
              assert.ok(m && m.source!.equals(sent), 'the sent copy is stored byte-exact');
              assert.deepEqual([...m.flags!], ['\\Seen']);
              assert.equal(new Date(m.internalDate!).toISOString(), '2026-03-10T12:30:00.000Z');
            } finally {
              lock.release();
            }
          }

          // Folders: create, rename (children follow), delete.
          assert.equal((await client.mailboxCreate('Projects/2026')).created, true);
          await client.mailboxRename('Projects', 'Old Projects');
          const renamed = (await client.list()).map((f) => f.path).sort();
          assert.ok(renamed.includes('Old Projects') && renamed.includes('Old Projects/2026'), `renamed tree: ${renamed.join(', ')}`);
          assert.ok(!renamed.includes('Projects') && !renamed.includes('Projects/2026'));
          await client.mailboxDelete('Old Projects/2026');
          await client.mailboxDelete('Old Projects');
          assert.deepEqual((await client.list()).map((f) => f.path).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);

          // IDLE, woken by a delivery from another session (the server's store publishes it).
          await client.mailboxOpen('INBOX');
          const before = client.mailbox ? client.mailbox.exists : 0;
          let woke = 0;
          const exists = new Promise<number>((resolve) => client.on('exists', (e: { count: number }) => resolve(e.count)));
          const idling = client.idle();
          await new Promise((r) => setTimeout(r, 100));
          assert.equal(client.idling, true, 'the client is in IDLE');
          // "Within a second" of the delivery being committed: the wait starts when
          // deliverToInbox resolves (the notice itself goes out inside it).
          const t0 = Date.now();
          let wokeAt = 0;
          void exists.then(() => (wokeAt = Date.now()));
          await deliverToInbox(s.store, address, Buffer.from('From: a@example.org\r\nSubject: ping\r\n\r\nping\r\n'));
          const delivered = Date.now() - t0;
          const count = await Promise.race([exists, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no EXISTS within 1 s of the delivery')), 1000))]);
          woke = (wokeAt || Date.now()) - t0;
          console.log(`imapflow/${mode}: IDLE woken ${woke} ms after the delivery began (the delivery took ${delivered} ms)`);
          assert.equal(count, before + 1);
          await client.noop();
          await idling;
        } finally {
          await client.logout().catch(() => client.close());
        }
      });
    }

    for (const mode of ['starttls', 'tls'] as const) {
      it(`Python imaplib over ${mode === 'tls' ? 'implicit TLS' : 'STARTTLS'}`, async () => {
        const address = user('py', mode);
        const raw = raws.get(address)!;
        const sentFile = join(s.dataDir, `sent-${mode}.eml`);
        const sent = sentMessage(address);
        await writeFile(sentFile, sent);
        const port = mode === 'tls' ? s.ports.imaps! : s.ports.imap!;
        const { stdout } = await run('python3', [SCRIPT, '127.0.0.1', String(port), mode === 'tls' ? 'ssl' : 'starttls', address, PASSWORD, sentFile], { timeout: 180_000 });
        const r = JSON.parse(stdout.trim().split('\n').pop() || '{}');
        const b64 = (x: string) => Buffer.from(x, 'base64');
        if (r.error) assert.fail(`imaplib: ${r.error}\n${r.traceback}\n(results so far: ${JSON.stringify(r).slice(0, 3000)})`);

        if (mode === 'starttls') {
          assert.ok(r.caps_plain.includes('STARTTLS') && r.caps_plain.includes('LOGINDISABLED'), `plain caps: ${r.caps_plain}`);
          assert.ok(!r.caps.includes('STARTTLS') && !r.caps.includes('LOGINDISABLED'), `caps after STARTTLS: ${r.caps}`);
        }
        assert.ok(r.caps.includes('AUTH=PLAIN') && r.caps.includes('IDLE'));

        // Folders with special-use.
        for (const [name, use] of Object.entries(SPECIAL)) {
          assert.ok(
            r.list.some((l: string) => l.includes(use) && l.endsWith(`"/" ${name}`) || l.endsWith(`"/" "${name}"`) && l.includes(use)),
            `${name} listed with ${use}: ${r.list.join(' | ')}`,
          );
        }
        assert.ok(r.list.some((l: string) => /"INBOX"$|\bINBOX$/.test(l)));

        // Envelopes and structures.
        assert.equal(r.exists, raw.length);
        assert.equal(r.envelopes.length, raw.length);
        r.envelopes.forEach((e: string, i: number) => assert.match(e, new RegExp(`^${i + 1} \\(UID ${i + 1} FLAGS \\(`), e));
        assert.match(r.envelopes[2], /"Logo draft for the launch"/);
        assert.match(r.envelopes[2], /\("image" "png" \("name" "logo-draft\.png"\) "<logo\.[a-z0-9]+@example\.org>" NIL "base64" \d+/i);
        assert.match(r.envelopes[6], /"message" "rfc822"/i);

        // Body and attachment part byte-exact; MIME header of the part; partials.
        assert.ok(b64(r.body1[0]).equals(raw[0]!), 'BODY[] byte-exact');
        assert.ok(b64(r.part3_2[0]).equals(pngPartEncoded(raw[2]!)), 'BODY[2] byte-exact');
        assert.ok(Buffer.from(b64(r.part3_2[0]).toString('latin1'), 'base64').equals(demoPng()), 'the attachment decodes to the PNG');
        assert.match(b64(r.mime3_2[0]).toString('latin1'), /^Content-Type: image\/png; name="logo-draft\.png"\r\n[\s\S]*\r\n\r\n$/);
        assert.match(r.partial.text[0], /BODY\[\]<10> \{100\}/);
        assert.ok(b64(r.partial.data[0]).equals(raw[0]!.subarray(10, 110)), 'BODY[]<10.100> byte-exact');
        const text4 = raw[3]!.subarray(raw[3]!.indexOf('\r\n\r\n') + 4);
        assert.ok(b64(r.text4[0]).equals(text4.subarray(0, 20)), 'BODY[TEXT]<0.20> byte-exact');

        // Flags.
        assert.match(r.store_add[0], /FLAGS \((?=.*\\Flagged)(?=.*\$Work)[^)]*\)/);
        assert.match(r.flags_after_add[0], /FLAGS \((?=.*\\Flagged)(?=.*\$Work)[^)]*\)/);
        assert.deepEqual(r.search_flagged, [1, 7]);
        assert.deepEqual(r.search_keyword, [1]);
        assert.deepEqual(r.store_remove, [], '.SILENT sends no FETCH for its own change');
        assert.match(r.flags_after_remove[0], /FLAGS \(\)/);

        // Search.
        assert.deepEqual(r.search_subject, [3]);
        assert.deepEqual(r.search_from, [5]);
        assert.deepEqual(r.search_since, [4, 5, 6, 7]);
        assert.deepEqual(r.search_before, [1, 2]);
        assert.deepEqual(r.search_sentsince, [6, 7]);
        assert.deepEqual(r.search_seen, [5]);
        assert.deepEqual(r.search_unseen_unflagged, [1, 2, 3, 4, 6]);
        assert.deepEqual(r.search_body, [4]);
        assert.deepEqual(r.search_body_softbreak, [4], 'a soft line break in quoted-printable does not hide text');
        assert.deepEqual(r.search_body_utf8, [4], 'CHARSET UTF-8 BODY matches decoded text');
        assert.deepEqual(r.search_text_or, [5, 6, 7]);

        // Copy, move, delete + expunge.
        assert.match(r.copy[0], /^\[COPYUID \d+ 1 1\]/);
        assert.match(r.move[0], /OK|completed/i);
        assert.equal(r.move_copyuid.length, 1, `MOVE sends COPYUID once (RFC 6851 §4.3): ${JSON.stringify(r.move_copyuid)}`);
        assert.match(r.move_copyuid[0], /^\d+ 2 1$/);
        assert.deepEqual(r.move_untagged, ['2'], 'MOVE expunges the source message (seq 2)');
        assert.deepEqual(r.expunge, ['5'], 'UID 6 was at seq 5 after the move');
        assert.deepEqual(r.uids_after, [1, 3, 4, 5, 7]);
        assert.match(r.status_archive[0], /MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+/);
        assert.match(r.status_trash[0], /MESSAGES 1\)/);

        // Sent copy.
        assert.match(r.append[0], /^\[APPENDUID \d+ 1\]/);
        assert.ok(b64(r.sent_fetch[0]).equals(sent), 'the sent copy is stored byte-exact');
        assert.match(r.sent_flags[0], /FLAGS \(\\Seen\)/);

        // Folders.
        assert.equal(r.list_renamed.length, 2, r.list_renamed.join(' | '));
        assert.ok(r.list_renamed.some((l: string) => /"Old-Projects"$|Old-Projects$/.test(l)));
        assert.ok(r.list_renamed.some((l: string) => /Old-Projects\/Q1"?$/.test(l)));
        assert.equal(r.list_final.length, 6, r.list_final.join(' | '));
        assert.equal(r.delete_inbox, 'NO', 'INBOX cannot be deleted');

        // IDLE woken by an APPEND from a second connection.
        assert.equal(r.exists_before_idle, 5);
        assert.match(r.idle_cont, /^\+ /);
        assert.equal(r.idle_lines.at(-1), '* 6 EXISTS\r\n');
        assert.ok(r.idle_lines.every((l: string) => l.startsWith('* ')), r.idle_lines.join(''));
        assert.ok(r.idle_wake_ms < 1000 + r.idle_append_ms, `IDLE woke ${r.idle_wake_ms} ms after the APPEND began (APPEND took ${r.idle_append_ms} ms)`);
        assert.match(r.idle_done.at(-1), /^[A-Z]+\d+ OK /);
        console.log(`imaplib/${mode}: IDLE woken ${r.idle_wake_ms} ms after the other session's APPEND began (the APPEND took ${r.idle_append_ms} ms)`);
        assert.equal(r.logout, 'BYE');
      });
    }
  });
}
