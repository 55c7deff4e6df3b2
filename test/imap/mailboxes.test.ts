// Mailbox commands end to end over implicit TLS: LIST (LIST-EXTENDED, SPECIAL-USE, CHILDREN,
// LIST-STATUS), LSUB, CREATE, DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE and STATUS, with raw
// protocol lines as real clients send them, imapflow and Python's imaplib; plus the mailbox
// checklist items B16 (modified UTF-7), B17 (names that look like paths) and D27 (a recreated
// name gets a new UIDVALIDITY). The wildcard matcher is unit-tested at the end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { createMailbox, deliverToInbox } from '../../core/admin/mailboxes.js';
import { run as mailctl } from '../../core/admin/mailctl.js';
import { canonicalPattern, compilePattern, invalidNewName } from '../../protocol-tasks/imap/mailbox-names.js';
import { LineClient } from '../helpers/line-client.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';

interface Reply {
  lines: string[];
  tagged: string;
  status: string;
}

class Imap {
  private n = 0;
  private constructor(readonly c: LineClient) {}

  static async open(s: TestServer, user = USER, password = PASSWORD): Promise<Imap> {
    const c = await LineClient.connect(s.ports.imaps!, { tls: true });
    await c.line();
    const i = new Imap(c);
    const r = await i.cmd(`LOGIN "${user}" "${password}"`);
    assert.equal(r.status, 'OK', r.tagged);
    return i;
  }

  async cmd(command: string): Promise<Reply> {
    const tag = `t${++this.n}`;
    this.c.write(`${tag} ${command}\r\n`);
    const text = await this.c.readUntil(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
    const lines = text.split('\r\n').filter((l) => l.length > 0);
    const tagged = lines.pop()!;
    return { lines, tagged, status: tagged.split(' ')[1]! };
  }

  /** Runs a command that must succeed; returns its untagged lines. */
  async ok(command: string): Promise<string[]> {
    const r = await this.cmd(command);
    assert.equal(r.status, 'OK', `${command} -> ${r.tagged}`);
    return r.lines;
  }

  /** `* LIST (attrs) "/" name` lines as [name, attrs]. */
  async list(command: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const l of await this.ok(command)) {
      const m = /^\* (?:LIST|LSUB) \(([^)]*)\) "\/" "((?:[^"\\]|\\.)*)"(.*)$/.exec(l);
      if (m) out.set(m[2]!.replace(/\\(.)/g, '$1'), m[1]! + m[3]!);
    }
    return out;
  }

  async status(mailbox: string, items = 'MESSAGES UIDNEXT UIDVALIDITY UNSEEN'): Promise<Record<string, number>> {
    const lines = await this.ok(`STATUS ${mailbox} (${items})`);
    const m = /^\* STATUS .* \(([^)]*)\)$/.exec(lines.find((l) => l.startsWith('* STATUS'))!)!;
    const parts = m[1]!.split(' ');
    const r: Record<string, number> = {};
    for (let i = 0; i < parts.length; i += 2) r[parts[i]!] = Number(parts[i + 1]);
    return r;
  }

  close(): void {
    this.c.close();
  }
}

const msg = (subject: string, body = 'Hello there.\r\n') =>
  Buffer.from(`From: a@example.test\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n\r\n${body}`);

describe('IMAP mailbox commands', () => {
  let s: TestServer;
  let accountId: string;

  before(async () => {
    s = await startTestServer();
    accountId = (await s.store.getAccountByAddress(USER))!.id;
  });
  after(() => s.stop());

  it('lists the default folders with their special use (iOS: LIST "" "*" RETURN (SPECIAL-USE))', async () => {
    const c = await Imap.open(s);
    const lines = await c.ok('LIST "" "*" RETURN (SPECIAL-USE)');
    assert.deepEqual(lines, [
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ]);
    // The special-use attributes come with plain LIST too (RFC 6154 §2 allows it).
    const plain = await c.list('LIST "" "*"');
    assert.equal(plain.get('Sent'), '\\HasNoChildren \\Sent');
    // SPECIAL-USE as a selection option: only the special-use folders.
    const only = await c.list('LIST (SPECIAL-USE) "" "*"');
    assert.deepEqual([...only.keys()], ['Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);
    // Apple Mail / K-9 / offlineimap ask for the delimiter with LIST "" "".
    assert.deepEqual(await c.ok('LIST "" ""'), ['* LIST (\\Noselect) "/" ""']);
    assert.deepEqual(await c.ok('list "Sent" ""'), ['* LIST (\\Noselect) "/" ""']);
    c.close();
  });

  it("Thunderbird's list (subscribed) \"\" \"*\" return (special-use), SUBSCRIBE and UNSUBSCRIBE", async () => {
    const c = await Imap.open(s);
    await c.ok('create "TB only"');
    let l = await c.list('list (subscribed) "" "*" return (special-use)');
    assert.deepEqual([...l.keys()], ['INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash']);
    assert.equal(l.get('Trash'), '\\HasNoChildren \\Subscribed \\Trash');
    assert.equal(l.get('INBOX'), '\\HasNoChildren \\Subscribed');
    await c.ok('subscribe "TB only"');
    await c.ok('unsubscribe "Junk"');
    l = await c.list('list (subscribed) "" "*" return (special-use)');
    assert.ok(l.has('TB only'));
    assert.ok(!l.has('Junk'));
    // RETURN (SUBSCRIBED): every folder, \Subscribed where it is.
    l = await c.list('LIST "" "*" RETURN (SUBSCRIBED)');
    assert.equal(l.get('Junk'), '\\HasNoChildren \\Junk');
    assert.equal(l.get('TB only'), '\\HasNoChildren \\Subscribed');
    // Subscribing a missing name: OK (RFC 3501 §6.3.6 allows it); LIST (SUBSCRIBED) shows it
    // \NonExistent (RFC 5258), plain LIST does not show it, LSUB does.
    await c.ok('SUBSCRIBE "No such"');
    await c.ok('SUBSCRIBE "No such"'); // twice is fine
    l = await c.list('list (subscribed) "" "*" return (special-use)');
    assert.equal(l.get('No such'), '\\NonExistent \\HasNoChildren \\Subscribed');
    assert.ok(!(await c.list('LIST "" "*"')).has('No such'));
    assert.equal((await c.list('LSUB "" "*"')).get('No such'), '');
    assert.equal((await c.cmd('UNSUBSCRIBE "No such"')).status, 'OK');
    assert.equal((await c.cmd('UNSUBSCRIBE "No such"')).status, 'OK'); // not subscribed: still OK
    assert.ok(!(await c.list('list (subscribed) "" "*"')).has('No such'));
    // DELETE keeps the subscription (RFC 3501 §6.3.6): the name is then \NonExistent, and a
    // CREATE of it finds it subscribed again.
    await c.ok('delete "TB only"');
    l = await c.list('list (subscribed) "" "*" return (special-use)');
    assert.equal(l.get('TB only'), '\\NonExistent \\HasNoChildren \\Subscribed');
    assert.equal((await c.list('LSUB "" "TB*"')).get('TB only'), '');
    await c.ok('create "TB only"');
    assert.equal((await c.list('LIST "" "TB*" RETURN (SUBSCRIBED)')).get('TB only'), '\\HasNoChildren \\Subscribed');
    await c.ok('subscribe "Junk"');
    await c.ok('unsubscribe "TB only"');
    await c.ok('delete "TB only"');
    assert.ok(!(await c.list('list (subscribed) "" "*"')).has('TB only'));
    // A subscribed missing name below a hole: RECURSIVEMATCH reports the parent with CHILDINFO.
    await c.ok('SUBSCRIBE "Ghost/Town"');
    const rec = await c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Ghost"');
    assert.deepEqual(rec, ['* LIST (\\NonExistent \\HasNoChildren) "/" "Ghost" ("CHILDINFO" ("SUBSCRIBED"))']);
    await c.ok('UNSUBSCRIBE "Ghost/Town"');
    c.close();
  });

  it('CHILDREN attributes, % versus *, reference names, several patterns, RECURSIVEMATCH', async () => {
    const c = await Imap.open(s);
    await c.ok('CREATE "Projects/2024/Q1"'); // parents are created as needed
    await c.ok('CREATE "Projects/2025/"'); // a trailing delimiter is ignored
    let l = await c.list('LIST "" "*"');
    assert.equal(l.get('Projects'), '\\HasChildren');
    assert.equal(l.get('Projects/2024'), '\\HasChildren');
    assert.equal(l.get('Projects/2024/Q1'), '\\HasNoChildren');
    assert.equal(l.get('Projects/2025'), '\\HasNoChildren');
    assert.ok(!l.has('Projects/2025/'));

    l = await c.list('LIST "" "%"');
    assert.deepEqual([...l.keys()], ['INBOX', 'Archive', 'Drafts', 'Junk', 'Projects', 'Sent', 'Trash']);
    l = await c.list('LIST "" "Projects/%"');
    assert.deepEqual([...l.keys()], ['Projects/2024', 'Projects/2025']);
    l = await c.list('LIST "Projects/" "%"');
    assert.deepEqual([...l.keys()], ['Projects/2024', 'Projects/2025']);
    l = await c.list('LIST "Projects" "/*"');
    assert.deepEqual([...l.keys()], ['Projects/2024', 'Projects/2024/Q1', 'Projects/2025']);
    l = await c.list('LIST "" "*Q1"');
    assert.deepEqual([...l.keys()], ['Projects/2024/Q1']);
    l = await c.list('LIST "" "%/%/Q%"');
    assert.deepEqual([...l.keys()], ['Projects/2024/Q1']);
    // INBOX matches case-insensitively, also through a wildcard.
    l = await c.list('LIST "" "inbox"');
    assert.deepEqual([...l.keys()], ['INBOX']);
    l = await c.list('LIST "" "in%"');
    assert.deepEqual([...l.keys()], ['INBOX']);
    // LIST-EXTENDED: several patterns, each mailbox once, CHILDREN asked for explicitly.
    l = await c.list('LIST () "" ("INBOX" "Sent" "Projects/%" "Sent") RETURN (CHILDREN)');
    assert.deepEqual([...l.keys()], ['INBOX', 'Projects/2024', 'Projects/2025', 'Sent']);
    // RFC 5258 example 8: a parent that is not subscribed but has a subscribed child.
    await c.ok('SUBSCRIBE "Projects/2024/Q1"');
    l = await c.list('LIST (SUBSCRIBED) "" "Projects/%"');
    assert.equal(l.size, 0);
    const rec = await c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Projects/%"');
    assert.deepEqual(rec, ['* LIST (\\HasChildren) "/" "Projects/2024" ("CHILDINFO" ("SUBSCRIBED"))']);
    // RECURSIVEMATCH alone is BAD (RFC 5258 §3.1).
    assert.equal((await c.cmd('LIST (RECURSIVEMATCH) "" "*"')).status, 'BAD');
    await c.ok('UNSUBSCRIBE "Projects/2024/Q1"');
    c.close();
  });

  it('LSUB, with the RFC 3501 \\Noselect rule for % over a subscribed child', async () => {
    const c = await Imap.open(s);
    await c.ok('CREATE "Lists/ietf/imap"');
    await c.ok('SUBSCRIBE "Lists/ietf/imap"');
    let l = await c.list('LSUB "" "*"');
    assert.deepEqual([...l.keys()], ['INBOX', 'Archive', 'Drafts', 'Junk', 'Lists/ietf/imap', 'Sent', 'Trash']);
    assert.equal(l.get('Lists/ietf/imap'), '');
    l = await c.list('LSUB "" "%"');
    assert.equal(l.get('Lists'), '\\Noselect');
    l = await c.list('LSUB "Lists/" "%"');
    assert.deepEqual([...l.entries()], [['Lists/ietf', '\\Noselect']]);
    l = await c.list('LSUB "" "Lists/ietf/%"');
    assert.deepEqual([...l.entries()], [['Lists/ietf/imap', '']]);
    await c.ok('SUBSCRIBE "Lists"');
    l = await c.list('LSUB "" "%"');
    assert.equal(l.get('Lists'), '');
    c.close();
  });

  it('CREATE: existing names, INBOX, USE (special-use), invalid names', async () => {
    const c = await Imap.open(s);
    assert.match((await c.cmd('CREATE INBOX')).tagged, /^t\d+ NO \[ALREADYEXISTS\]/);
    assert.match((await c.cmd('CREATE inbox')).tagged, /^t\d+ NO \[ALREADYEXISTS\]/);
    assert.match((await c.cmd('CREATE "Sent"')).tagged, /^t\d+ NO \[ALREADYEXISTS\]/);
    await c.ok('CREATE "Old mail/Sent 2019" (USE (\\Sent))');
    let l = await c.list('LIST "" "Old mail*" RETURN (SPECIAL-USE)');
    assert.equal(l.get('Old mail'), '\\HasChildren');
    assert.equal(l.get('Old mail/Sent 2019'), '\\HasNoChildren \\Sent');
    for (const use of ['\\All', '\\Flagged', '\\Important', '\\Sent \\Drafts']) {
      assert.match((await c.cmd(`CREATE "Virtual" (USE (${use}))`)).tagged, /^t\d+ NO \[USEATTR\]/, use);
    }
    assert.match((await c.cmd('CREATE "Virtual" (USE (\\Bogus))')).tagged, /^t\d+ NO \[USEATTR\]/);
    l = await c.list('LIST "" "Virtual"');
    assert.equal(l.size, 0);

    // Invalid names: nothing gets created.
    const before = (await s.store.listFolders(accountId)).length;
    const refuse = async (arg: string, status: 'NO' | 'BAD') => {
      const r = await c.cmd(`CREATE ${arg}`);
      assert.equal(r.status, status, `CREATE ${arg.slice(0, 60)} -> ${r.tagged}`);
    };
    await refuse('""', 'NO');
    await refuse('"/"', 'NO');
    await refuse('"a//b"', 'NO');
    await refuse('"/lead"', 'NO');
    await refuse('"star*"', 'NO');
    await refuse('"pct%x"', 'NO');
    await refuse('"&AAE-"', 'NO'); // U+0001 in modified UTF-7
    await refuse('"a&AA0-b"', 'NO'); // CR
    await refuse('"x&AAA-"', 'NO'); // NUL
    await refuse('"a\\"b\\\\c"', 'OK' as 'NO'); // quotes and backslashes are fine
    await refuse(`"${'a'.repeat(1001)}"`, 'NO');
    await refuse(`"${Array.from({ length: 51 }, (_, i) => 'l' + i).join('/')}"`, 'NO');
    await refuse('"tab\there"', 'BAD'); // raw control character: the codec refuses it
    assert.equal((await s.store.listFolders(accountId)).length, before + 1); // only a"b\c
    await c.ok(`CREATE "${Array.from({ length: 50 }, (_, i) => 'l' + i).join('/')}"`);
    await c.ok(`CREATE "${'b'.repeat(1000)}"`);
    const l2 = await c.list('LIST "" "a*"');
    assert.ok(l2.has('a"b\\c'));
    await c.ok('DELETE "a\\"b\\\\c"');
    c.close();
  });

  it('B16: invalid modified UTF-7 is refused; Entwürfe and 日本語 round-trip through CREATE, LIST and STATUS', async () => {
    const c = await Imap.open(s);
    for (const bad of ['"&"', '"&Jjo"', '"&Jjo!"', '"&AGE-"', '"&AOQ-&AOQ-"']) {
      const r = await c.cmd(`CREATE ${bad}`);
      assert.equal(r.status, 'BAD', `${bad} -> ${r.tagged}`);
    }
    // Raw 8-bit octets without UTF8=ACCEPT.
    c.c.write(Buffer.concat([Buffer.from('r1 CREATE "Entw'), Buffer.from('ü', 'utf8'), Buffer.from('rfe"\r\n')]));
    assert.match(await c.c.readUntil(/r1 [A-Z]+[^\r]*\r\n/), /r1 BAD/);

    await c.ok('CREATE "Entw&APw-rfe"');
    const jp = '&ZeVnLIqe-'; // 日本語
    await c.ok(`CREATE "Projekte/${jp}"`);
    assert.ok(await s.store.getFolderByName(accountId, 'Entwürfe'));
    assert.ok(await s.store.getFolderByName(accountId, 'Projekte/日本語'));
    const l = await c.list('LIST "" "*"');
    assert.ok(l.has('Entw&APw-rfe'));
    assert.ok(l.has(`Projekte/${jp}`));
    assert.ok(![...l.keys()].some((k) => /[^\x20-\x7e]/.test(k)), 'no 8-bit octets in LIST');
    // The pattern is matched on the decoded name.
    const p = await c.list('LIST "" "Entw&APw-*"');
    assert.deepEqual([...p.keys()], ['Entw&APw-rfe']);
    const st = await c.ok('STATUS "Entw&APw-rfe" (MESSAGES)');
    assert.deepEqual(st, ['* STATUS "Entw&APw-rfe" (MESSAGES 0)']);
    const sel = await c.cmd(`SELECT "Projekte/${jp}"`);
    assert.equal(sel.status, 'OK');
    await c.ok(`RENAME "Projekte/${jp}" "Projekte/&ZeVnLIqe-2"`);
    assert.ok(await s.store.getFolderByName(accountId, 'Projekte/日本語2'));
    c.close();
  });

  it('STATUS after deliveries: MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN, SIZE, APPENDLIMIT, and LIST-STATUS', async () => {
    const bob = 'status-bob@example.test';
    await createMailbox(s.store, { address: bob, password: PASSWORD });
    const m1 = msg('one');
    const m2 = msg('two', 'A longer body, to differ in size.\r\n');
    const m3 = msg('three');
    await deliverToInbox(s.store, bob, m1);
    await deliverToInbox(s.store, bob, m2, { flags: ['\\Seen'] });
    await deliverToInbox(s.store, bob, m3);
    const c = await Imap.open(s, bob);
    const inbox = (await s.store.getFolderByName((await s.store.getAccountByAddress(bob))!.id, 'INBOX'))!;
    const lines = await c.ok('STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE APPENDLIMIT)');
    assert.deepEqual(lines, [
      `* STATUS "INBOX" (MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY ${inbox.uidValidity} UNSEEN 2 SIZE ${m1.length + m2.length + m3.length} APPENDLIMIT ${64 * 1024 * 1024})`,
    ]);
    // Apple Mail's STATUS before SELECT; STATUS of the selected mailbox is fine too.
    assert.deepEqual(await c.status('INBOX'), { MESSAGES: 3, UIDNEXT: 4, UIDVALIDITY: inbox.uidValidity, UNSEEN: 2 });
    await c.ok('SELECT INBOX');
    assert.equal((await c.status('INBOX', 'UNSEEN')).UNSEEN, 2);
    // HIGHESTMODSEQ only for a CONDSTORE session; missing mailboxes: NO [NONEXISTENT].
    assert.equal((await c.cmd('STATUS INBOX (HIGHESTMODSEQ)')).status, 'BAD');
    assert.match((await c.cmd('STATUS "Nope" (MESSAGES)')).tagged, /^t\d+ NO \[NONEXISTENT\]/);

    // LIST-STATUS (RFC 5819): a STATUS line right after each listed mailbox.
    const ls = await c.ok('LIST "" "%" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))');
    const i = ls.indexOf('* LIST (\\HasNoChildren) "/" "INBOX"');
    assert.ok(i >= 0, ls.join('\n'));
    assert.equal(ls[i + 1], `* STATUS "INBOX" (MESSAGES 3 UNSEEN 2 SIZE ${m1.length + m2.length + m3.length})`);
    assert.equal(ls.filter((x) => x.startsWith('* STATUS')).length, 6);
    assert.ok(ls.includes('* STATUS "Trash" (MESSAGES 0 UNSEEN 0 SIZE 0)'));
    c.close();
  });

  it('DELETE: INBOX refused; the selected mailbox; inferiors stay; D27: DELETE + CREATE gives a new UIDVALIDITY', async () => {
    const c = await Imap.open(s);
    assert.match((await c.cmd('DELETE INBOX')).tagged, /^t\d+ NO \[CANNOT\]/);
    assert.match((await c.cmd('DELETE "Nothing here"')).tagged, /^t\d+ NO \[NONEXISTENT\]/);

    await c.ok('CREATE "Temp"');
    const v1 = (await c.status('Temp')).UIDVALIDITY!;
    await c.ok('SELECT "Temp"');
    const d = await c.ok('DELETE "Temp"');
    assert.deepEqual(d, ['* OK [CLOSED] The selected mailbox was deleted.']);
    assert.equal((await c.cmd('EXPUNGE')).status, 'BAD'); // back in the authenticated state
    assert.match((await c.cmd('SELECT "Temp"')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    await c.ok('CREATE "Temp"');
    const v2 = (await c.status('Temp')).UIDVALIDITY!;
    assert.notEqual(v2, v1);
    assert.ok(v2 > v1);

    // A folder with inferiors: it goes, they stay; its name is then a \Noselect level.
    await c.ok('CREATE "Parent/Child"');
    await c.ok('DELETE "Parent"');
    let l = await c.list('LIST "" "Parent*"');
    assert.deepEqual([...l.entries()], [['Parent/Child', '\\HasNoChildren']]);
    l = await c.list('LIST "" "%"');
    assert.equal(l.get('Parent'), '\\Noselect \\HasChildren');
    l = await c.list('LIST () "" "%"');
    assert.equal(l.get('Parent'), '\\NonExistent \\HasChildren');
    assert.match((await c.cmd('DELETE "Parent"')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    assert.match((await c.cmd('SELECT "Parent"')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    assert.match((await c.cmd('STATUS "Parent" (MESSAGES)')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    await c.ok('CREATE "Parent"'); // the level can be a mailbox again
    l = await c.list('LIST "" "Parent"');
    assert.equal(l.get('Parent'), '\\HasChildren');
    await c.ok('DELETE "Parent/Child"');
    await c.ok('DELETE "Parent"');
    c.close();
  });

  it('RENAME: with inferiors, onto existing names, missing sources, below itself; D27 onto a deleted name', async () => {
    const c = await Imap.open(s);
    await c.ok('CREATE "Clients/Acme/2024"');
    await c.ok('CREATE "Clients/Globex"');
    await c.ok('SUBSCRIBE "Clients/Acme/2024"');
    const before = new Map((await s.store.listFolders(accountId)).filter((f) => f.name.startsWith('Clients')).map((f) => [f.name, f]));
    await c.ok('RENAME "Clients" "Archive/Customers"');
    const after = new Map((await s.store.listFolders(accountId)).map((f) => [f.name, f]));
    for (const [name, f] of before) {
      const moved = after.get('Archive/Customers' + name.slice('Clients'.length));
      assert.ok(moved, name);
      assert.equal(moved.id, f.id);
      assert.equal(moved.uidValidity, f.uidValidity);
      assert.equal(moved.subscribed, f.subscribed);
      assert.ok(!after.has(name));
    }
    // The subscription followed the folder; the old name is no longer subscribed.
    const subs = await c.list('LIST (SUBSCRIBED) "" "*Acme*"');
    assert.deepEqual([...subs.entries()], [['Archive/Customers/Acme/2024', '\\HasNoChildren \\Subscribed']]);
    const l = await c.list('LIST "" "Archive*"');
    assert.deepEqual([...l.keys()], ['Archive', 'Archive/Customers', 'Archive/Customers/Acme', 'Archive/Customers/Acme/2024', 'Archive/Customers/Globex']);
    assert.equal(l.get('Archive'), '\\HasChildren \\Archive');

    assert.match((await c.cmd('RENAME "Archive/Customers/Globex" "Sent"')).tagged, /^t\d+ NO \[ALREADYEXISTS\]/);
    assert.match((await c.cmd('RENAME "Archive/Customers/Globex" "INBOX"')).tagged, /^t\d+ NO \[ALREADYEXISTS\]/);
    assert.match((await c.cmd('RENAME "Nope" "Nope2"')).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    assert.match((await c.cmd('RENAME "Archive/Customers" "Archive/Customers/Sub"')).tagged, /^t\d+ NO \[CANNOT\]/);
    assert.match((await c.cmd('RENAME "Archive/Customers/Globex" "bad*name"')).tagged, /^t\d+ NO \[CANNOT\]/);
    // An inferior's new name taken: nothing moves.
    await c.ok('CREATE "Elsewhere/Acme"');
    await c.ok('DELETE "Elsewhere"'); // "Elsewhere" is free, "Elsewhere/Acme" is not
    assert.match((await c.cmd('RENAME "Archive/Customers" "Elsewhere"')).tagged, /^t\d+ NO \[ALREADYEXISTS\]/);
    await c.ok('DELETE "Elsewhere/Acme"');
    assert.ok(await s.store.getFolderByName(accountId, 'Archive/Customers/Acme/2024'));

    // D27: RENAME onto a name whose folder was deleted: UIDVALIDITY differs from the old one.
    await c.ok('CREATE "Reports"');
    const oldValidity = (await c.status('Reports')).UIDVALIDITY!;
    await c.ok('DELETE "Reports"');
    await c.ok('RENAME "Archive/Customers/Globex" "Reports"');
    const newValidity = (await c.status('Reports')).UIDVALIDITY!;
    assert.notEqual(newValidity, oldValidity);
    await c.ok('DELETE "Reports"');
    c.close();
  });

  it('RENAME INBOX moves its messages to the new mailbox and leaves INBOX, empty', async () => {
    const addr = 'rename-inbox@example.test';
    await createMailbox(s.store, { address: addr, password: PASSWORD });
    for (const subj of ['r1', 'r2', 'r3']) await deliverToInbox(s.store, addr, msg(subj));
    const c = await Imap.open(s, addr);
    await c.ok('CREATE "INBOX/Kept"');
    const inboxBefore = await c.status('INBOX');
    assert.equal(inboxBefore.MESSAGES, 3);
    await c.ok('RENAME INBOX "Old Inbox"');
    const inbox = await c.status('INBOX');
    assert.equal(inbox.MESSAGES, 0);
    assert.equal(inbox.UIDVALIDITY, inboxBefore.UIDVALIDITY);
    const old = await c.status('"Old Inbox"');
    assert.equal(old.MESSAGES, 3);
    assert.equal(old.UNSEEN, 3);
    const l = await c.list('LIST "" "*"');
    assert.ok(l.has('INBOX'));
    assert.ok(l.has('INBOX/Kept'), 'inferiors of INBOX do not move');
    assert.ok(l.has('Old Inbox'));
    const sel = await c.ok('EXAMINE "Old Inbox"');
    assert.ok(sel.includes('* 3 EXISTS'));
    // Again, into INBOX's own hierarchy.
    // With INBOX selected: this session hears of the moved messages as EXPUNGE.
    await deliverToInbox(s.store, addr, msg('r4'));
    assert.ok((await c.ok('SELECT INBOX')).includes('* 1 EXISTS'));
    const moved = await c.ok('RENAME INBOX "INBOX/Older"');
    assert.deepEqual(moved, ['* 1 EXPUNGE']);
    assert.equal((await c.status('"INBOX/Older"')).MESSAGES, 1);
    assert.equal((await c.status('INBOX')).MESSAGES, 0);
    c.close();
  });

  it('B17: "../other/INBOX" is a folder name inside the account, never another account\'s data', async () => {
    const other = 'other@example.test';
    await createMailbox(s.store, { address: other, password: PASSWORD });
    await deliverToInbox(s.store, other, msg('private'));
    const otherId = (await s.store.getAccountByAddress(other))!.id;
    const snapshot = async () => JSON.stringify(await s.store.listFolders(otherId));
    const otherBefore = await snapshot();

    const c = await Imap.open(s);
    for (const name of ['../other/INBOX', `../${other}/INBOX`, '../../etc/passwd', './.', '~other/INBOX', '/other/INBOX', '#shared/other']) {
      const r = await c.cmd(`SELECT "${name}"`);
      assert.equal(r.status, 'NO', `SELECT ${name}`);
      assert.equal((await c.cmd(`STATUS "${name}" (MESSAGES)`)).status, 'NO');
    }
    await c.ok('CREATE "../other/INBOX"');
    await c.ok(`CREATE "../${other}/INBOX/x"`);
    const l = await c.list('LIST "" "*"');
    assert.equal(l.get('..'), '\\HasChildren');
    assert.equal(l.get('../other'), '\\HasChildren');
    assert.equal(l.get('../other/INBOX'), '\\HasNoChildren');
    const sel = await c.ok('SELECT "../other/INBOX"');
    assert.ok(sel.includes('* 0 EXISTS'));
    assert.equal((await c.status('"../other/INBOX"')).MESSAGES, 0);
    await c.ok('RENAME "../other/INBOX" "../other/INBOX2"');
    await c.ok('DELETE "../other/INBOX2"');
    assert.ok(await s.store.getFolderByName(accountId, '../other'));
    assert.equal(await snapshot(), otherBefore);
    // And the other account still sees its own mail only.
    const o = await Imap.open(s, other);
    assert.equal((await o.status('INBOX')).MESSAGES, 1);
    const ol = await o.list('LIST "" "*"');
    assert.ok(![...ol.keys()].some((k) => k.startsWith('..')));
    o.close();
    c.close();
  });

  it('imapflow: list, mailboxCreate (Unicode), mailboxRename, mailboxDelete, status', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: s.ports.imaps!,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    try {
      const boxes = await client.list();
      const byPath = new Map(boxes.map((b) => [b.path, b]));
      assert.equal(byPath.get('Sent')?.specialUse, '\\Sent');
      assert.equal(byPath.get('Trash')?.specialUse, '\\Trash');
      assert.equal(byPath.get('Drafts')?.specialUse, '\\Drafts');
      assert.equal(byPath.get('INBOX')?.specialUse, '\\Inbox');
      assert.equal(byPath.get('Sent')?.delimiter, '/');

      const created = await client.mailboxCreate(['Flow', 'Entwürfe']);
      assert.equal(created.path, 'Flow/Entwürfe');
      assert.ok(await s.store.getFolderByName(accountId, 'Flow/Entwürfe'));
      const again = await client.list({ statusQuery: { messages: true, unseen: true } });
      const e = again.find((b) => b.path === 'Flow/Entwürfe');
      assert.ok(e, 'created folder listed');
      assert.equal(e.name, 'Entwürfe');
      assert.equal(again.find((b) => b.path === 'Flow')?.flags.has('\\HasChildren'), true);

      const renamed = await client.mailboxRename('Flow', 'Fluss');
      assert.equal(renamed.newPath, 'Fluss');
      const st = await client.status('Fluss/Entwürfe', { messages: true, uidNext: true, uidValidity: true });
      assert.ok(st);
      assert.equal(st.messages, 0);
      assert.equal(st.uidNext, 1);
      assert.ok(Number(st.uidValidity) > 0);
      await client.mailboxDelete('Fluss/Entwürfe');
      await client.mailboxDelete('Fluss');
      const last = await client.list();
      assert.ok(!last.some((b) => b.path.startsWith('Flu')));
    } finally {
      await client.logout();
    }
  });

  it("Python's imaplib: list, create, rename, status, delete", async () => {
    const script = String.raw`
import imaplib, ssl, sys, json
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)
m.login(sys.argv[2], sys.argv[3])
out = {}
typ, data = m.list()
out['list'] = [d.decode() for d in data]
out['create'] = m.create('Py/Stuff')[0]
out['rename'] = m.rename('Py', 'Python')[0]
typ, data = m.status('Python/Stuff', '(MESSAGES UIDNEXT)')
out['status'] = data[0].decode()
typ, data = m.lsub('""', 'Python*')
out['lsub'] = [d.decode() for d in data if d]
out['subscribe'] = m.subscribe('Python/Stuff')[0]
typ, data = m.lsub('""', 'Python*')
out['lsub2'] = [d.decode() for d in data if d]
out['delete_parent'] = m.delete('Python')[0]
typ, data = m.list('""', 'Python*')
out['after'] = [d.decode() for d in data if d]
out['delete_child'] = m.delete('Python/Stuff')[0]
m.logout()
print(json.dumps(out))
`;
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('python3', ['-c', script, String(s.ports.imaps), USER, PASSWORD]);
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.ok(out.list.includes('(\\HasNoChildren \\Sent) "/" "Sent"'), out.list.join('\n'));
    assert.equal(out.create, 'OK');
    assert.equal(out.rename, 'OK');
    assert.equal(out.status, '"Python/Stuff" (MESSAGES 0 UIDNEXT 1)');
    assert.deepEqual(out.lsub, []);
    assert.deepEqual(out.lsub2, ['() "/" "Python/Stuff"']);
    assert.equal(out.delete_parent, 'OK');
    assert.deepEqual(out.after, ['(\\HasNoChildren) "/" "Python/Stuff"']);
    assert.equal(out.delete_child, 'OK');
  });

  it('mailctl folders shows folders made over IMAP, in Unicode', async () => {
    const c = await Imap.open(s);
    await c.ok('CREATE "Caf&AOk-/Men&APw-" (USE (\\Drafts))');
    c.close();
    const printed: string[] = [];
    const code = await mailctl(['--data-dir', s.dataDir, '--json', 'folders', USER], (line) => printed.push(line));
    assert.equal(code, 0);
    const rows = JSON.parse(printed.join('\n')) as Array<{ name: string; specialUse: string }>;
    assert.ok(rows.some((r) => r.name === 'Café'));
    assert.deepEqual(rows.find((r) => r.name === 'Café/Menü')?.specialUse, '\\Drafts');
  });
});

describe('LIST wildcard matcher', () => {
  // A reference implementation: naive recursion, only for short inputs.
  function slow(p: string, n: string): boolean {
    if (p.length === 0) return n.length === 0;
    const c = p[0]!;
    if (c === '*') {
      for (let i = 0; i <= n.length; i++) if (slow(p.slice(1), n.slice(i))) return true;
      return false;
    }
    if (c === '%') {
      for (let i = 0; i <= n.length; i++) {
        if (i > 0 && n[i - 1] === '/') break;
        if (slow(p.slice(1), n.slice(i))) return true;
      }
      return false;
    }
    return n.length > 0 && n[0] === c && slow(p.slice(1), n.slice(1));
  }

  it('agrees with a naive matcher on many random patterns and names', () => {
    const alphabet = ['a', 'b', '/', '*', '%'];
    let seed = 12345;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % k;
    };
    for (let i = 0; i < 5000; i++) {
      const p = Array.from({ length: rnd(7) }, () => alphabet[rnd(5)]).join('');
      const n = Array.from({ length: rnd(7) }, () => alphabet[rnd(3)]).join('');
      assert.equal(compilePattern(p)(n), slow(p, n), `${p} vs ${n}`);
    }
  });

  it('takes no exponential time with many wildcards', () => {
    const name = 'a'.repeat(1000);
    const started = Date.now();
    assert.equal(compilePattern('*a'.repeat(500) + 'b')(name), false);
    assert.equal(compilePattern('%a'.repeat(500) + 'b')(name), false);
    assert.equal(compilePattern('*%'.repeat(4000) + 'b')(name), false);
    assert.equal(compilePattern('a*'.repeat(900))(name), true);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });

  it('regex metacharacters are literal; INBOX is case-insensitive; references join', () => {
    assert.equal(compilePattern('a.c')('abc'), false);
    assert.equal(compilePattern('a.c')('a.c'), true);
    assert.equal(compilePattern('(x)+[y]?$')('(x)+[y]?$'), true);
    assert.equal(compilePattern('inbox/%')('INBOX/Sub'), true);
    assert.equal(compilePattern('inbox/sub')('INBOX/Sub'), false);
    assert.equal(compilePattern('inbox')('INBOXES'), false);
    assert.equal(canonicalPattern('a/', '/b'), 'a/b');
    assert.equal(canonicalPattern('a', '/b'), 'a/b');
    assert.equal(canonicalPattern('', '%'), '%');
    assert.equal(invalidNewName('../other/INBOX'), null);
    assert.notEqual(invalidNewName('a\u0085b'), null);
  });
});
