// Every command parser, fed with lines real clients send (shared/reference/client-flows.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bad, ok, parse } from './helpers.js';
import { decodeSaslResponse } from '../../../protocol-tasks/imap/codec/commands/index.js';
import { ParseError } from '../../../protocol-tasks/imap/codec/commands/reader.js';
import type {
  AppendCommand,
  AuthenticateCommand,
  CopyCommand,
  CreateCommand,
  EnableCommand,
  ExpungeCommand,
  FetchCommand,
  IdCommand,
  ListCommand,
  LoginCommand,
  LsubCommand,
  RenameCommand,
  SearchCommand,
  SelectCommand,
  StatusCommand,
  StoreCommand,
} from '../../../protocol-tasks/imap/codec/commands/types.js';

describe('commands without arguments', () => {
  for (const line of ['capability', 'CAPABILITY', '1.854 CAPABILITY', 'noop', 'LOGOUT', 'STARTTLS', 'check', 'CLOSE', 'UNSELECT', 'IDLE', '8.569 IDLE', 'namespace', 'EXPUNGE']) {
    it(line, () => {
      const text = /^\d/.test(line) ? line : `A1 ${line}`;
      const r = parse(text);
      assert.ok(r.ok);
      assert.equal(r.command.name, line.replace(/^[\d.]+ /, '').toUpperCase());
    });
  }
  it('refuses arguments', () => {
    bad('A NOOP now');
    bad('A CAPABILITY x');
    bad('A IDLE 5');
  });
  it('unknown commands are BAD and flagged unknown', () => {
    const r = parse('A XLIST "" "%"');
    assert.ok(!r.ok && r.unknown && r.status === 'BAD');
    const g = parse('A GETQUOTAROOT "INBOX"');
    assert.ok(!g.ok && g.unknown);
    const u = parse('A UID FROB 1');
    assert.ok(!u.ok && !u.unknown && u.name === 'UID');
  });
});

describe('AUTHENTICATE and LOGIN', () => {
  it('two-step AUTHENTICATE PLAIN (Thunderbird, K-9, iOS)', () => {
    const c = ok<AuthenticateCommand>('3.853 AUTHENTICATE PLAIN');
    assert.deepEqual(c, { name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: null });
    assert.equal(ok<AuthenticateCommand>('A authenticate plain').mechanism, 'PLAIN');
  });
  it('SASL-IR initial response, and = for empty', () => {
    const c = ok<AuthenticateCommand>('A AUTHENTICATE PLAIN AHVzZXIAcGFzcw==');
    assert.equal(c.initialResponse!.toString('latin1'), '\0user\0pass');
    assert.equal(ok<AuthenticateCommand>('A AUTHENTICATE XOAUTH2 =').initialResponse!.length, 0);
  });
  it('checklist B18: invalid base64 is BAD; * cancels', () => {
    bad('A AUTHENTICATE PLAIN AHVzZXIAcGFzcw=');
    bad('A AUTHENTICATE PLAIN !!!!');
    bad('A AUTHENTICATE PLAIN AHVzZXIAcGFzcw==x');
    bad('A AUTHENTICATE');
    assert.deepEqual(decodeSaslResponse(Buffer.from('*')), { cancel: true });
    const r = decodeSaslResponse(Buffer.from('AHVzZXIAcGFzcw=='));
    assert.ok(!r.cancel && r.data.toString('latin1') === '\0user\0pass');
    assert.deepEqual(decodeSaslResponse(Buffer.from('')), { cancel: false, data: Buffer.alloc(0) });
    for (const l of ['abc', 'ab=c', 'AHVz ZXIA', 'AB==AB==', 'QQ=']) {
      assert.throws(() => decodeSaslResponse(Buffer.from(l)), ParseError, l);
    }
  });
  it('LOGIN with quoted, atom and literal arguments (AOSP: user unquoted)', () => {
    assert.deepEqual(ok<LoginCommand>('A LOGIN "u" "p"'), { name: 'LOGIN', username: 'u', password: 'p' });
    assert.deepEqual(ok<LoginCommand>('A LOGIN user@example.com "pa ss\\"word"'), {
      name: 'LOGIN',
      username: 'user@example.com',
      password: 'pa ss"word',
    });
    assert.equal(ok<LoginCommand>('A LOGIN {4}\r\nuser {5}\r\np\r\nss\r\n').password, 'p\r\nss');
    bad('A LOGIN onlyuser');
    bad('A LOGIN a b c');
    bad('A LOGIN (a) b');
  });
});

describe('SELECT / EXAMINE', () => {
  it('plain, CONDSTORE, QRESYNC', () => {
    assert.deepEqual(ok<SelectCommand>('A select "INBOX"'), { name: 'SELECT', mailbox: 'INBOX', condstore: false, qresync: null });
    assert.equal(ok<SelectCommand>('A SELECT inbox').mailbox, 'INBOX');
    const s = ok<SelectCommand>('A SELECT "[Gmail]/All Mail" (CONDSTORE)');
    assert.deepEqual([s.mailbox, s.condstore], ['[Gmail]/All Mail', true]);
    assert.equal(ok<SelectCommand>('A5 SELECT "INBOX" (CONDSTORE)').condstore, true);
    assert.equal(ok<SelectCommand>('A EXAMINE "INBOX"').name, 'EXAMINE');
    const q = ok<SelectCommand>('A SELECT INBOX (QRESYNC (67890007 90060715194045 41,43:211,214:541 (1:5 1:5)))');
    assert.deepEqual(q.qresync, {
      uidValidity: 67890007,
      modseq: 90060715194045,
      knownUids: [
        { from: 41, to: 41 },
        { from: 43, to: 211 },
        { from: 214, to: 541 },
      ],
      seqMatch: { seqs: [{ from: 1, to: 5 }], uids: [{ from: 1, to: 5 }] },
    });
    assert.equal(ok<SelectCommand>('A SELECT INBOX (QRESYNC (1 2))').qresync!.knownUids, null);
  });
  it('refuses unknown parameters and bad QRESYNC', () => {
    bad('A SELECT INBOX (FOO)');
    bad('A SELECT INBOX (QRESYNC (0 5))');
    bad('A SELECT INBOX (QRESYNC (1 0))');
    bad('A SELECT INBOX CONDSTORE');
    bad('A SELECT');
  });
});

describe('CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE', () => {
  it('parses them', () => {
    assert.deepEqual(ok<CreateCommand>('A create "Trash"'), { name: 'CREATE', mailbox: 'Trash', specialUse: [] });
    assert.deepEqual(ok<CreateCommand>('A CREATE MySent (USE (\\sent \\Archive))').specialUse, ['\\Sent', '\\Archive']);
    assert.equal(parse('A CREATE X (USE (\\Bogus))').ok, false);
    assert.equal(bad('A CREATE X (USE (\\Bogus))', 'NO').code, 'USEATTR');
    assert.deepEqual(ok('A DELETE "Old"'), { name: 'DELETE', mailbox: 'Old' });
    assert.deepEqual(ok<RenameCommand>('A RENAME "INBOX" "Old Mail"'), { name: 'RENAME', from: 'INBOX', to: 'Old Mail' });
    assert.deepEqual(ok('A subscribe "Trash"'), { name: 'SUBSCRIBE', mailbox: 'Trash' });
    assert.deepEqual(ok('A UNSUBSCRIBE Trash'), { name: 'UNSUBSCRIBE', mailbox: 'Trash' });
    bad('A RENAME a');
    bad('A DELETE');
    bad('A CREATE X (FOO)');
  });
});

describe('LIST / LSUB', () => {
  it('basic LIST (Apple Mail, Outlook, mbsync)', () => {
    const l = ok<ListCommand>('A LIST "" ""');
    assert.deepEqual([l.reference, l.patterns, l.extended], ['', [''], false]);
    assert.deepEqual(ok<ListCommand>('A list "" "*"').patterns, ['*']);
    assert.deepEqual(ok<ListCommand>('A LIST "" INBOX*').patterns, ['INBOX*']);
    assert.deepEqual(ok<ListCommand>('A LIST "" %').patterns, ['%']);
    assert.deepEqual(ok<ListCommand>('A LIST "" "Pfx/%/*"').patterns, ['Pfx/%/*']);
    assert.deepEqual(ok<ListCommand>('A LIST ~smith/Mail/ "foo.*"').reference, '~smith/Mail/');
  });
  it('LIST-EXTENDED: Thunderbird, iOS and K-9', () => {
    const tb = ok<ListCommand>('A list (subscribed) "" "*" return (special-use)');
    assert.equal(tb.selection.subscribed, true);
    assert.equal(tb.returns.specialUse, true);
    assert.equal(tb.extended, true);
    const ios = ok<ListCommand>('A4 LIST "" "*" RETURN (SPECIAL-USE)');
    assert.deepEqual(ios.returns, { subscribed: false, children: false, specialUse: true, status: null });
    const full = ok<ListCommand>('A LIST (SUBSCRIBED RECURSIVEMATCH REMOTE) "" ("INBOX" "Sent/%") RETURN (CHILDREN SUBSCRIBED STATUS (MESSAGES UNSEEN SIZE))');
    assert.deepEqual(full.patterns, ['INBOX', 'Sent/%']);
    assert.deepEqual(full.selection, { subscribed: true, remote: true, recursiveMatch: true, specialUse: false });
    assert.deepEqual(full.returns.status, ['MESSAGES', 'UNSEEN', 'SIZE']);
    assert.equal(ok<ListCommand>('A LIST (SPECIAL-USE) "" "*"').selection.specialUse, true);
    assert.equal(ok<ListCommand>('A LIST () "" "*" RETURN ()').extended, true);
  });
  it('refuses bad LIST forms', () => {
    bad('A LIST (RECURSIVEMATCH) "" "*"');
    bad('A LIST (FOO) "" "*"');
    bad('A LIST "" "*" RETURN (FOO)');
    bad('A LIST "" "*" FOO (CHILDREN)');
    bad('A LIST "" ()');
    bad('A LIST ""');
    bad('A LIST "" "*" RETURN (STATUS (BOGUS))');
  });
  it('LSUB', () => {
    assert.deepEqual(ok<LsubCommand>('A lsub "" "*"'), { name: 'LSUB', reference: '', pattern: '*' });
    bad('A LSUB "" ("*")');
  });
});

describe('STATUS', () => {
  it('parses Thunderbird, Apple Mail and extension items', () => {
    assert.deepEqual(ok<StatusCommand>('A STATUS "INBOX" (UIDNEXT MESSAGES UNSEEN RECENT)').items, ['UIDNEXT', 'MESSAGES', 'UNSEEN', 'RECENT']);
    assert.deepEqual(ok<StatusCommand>('A STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)').mailbox, 'INBOX');
    assert.deepEqual(ok<StatusCommand>('A status "Work" (highestmodseq size)').items, ['HIGHESTMODSEQ', 'SIZE']);
    bad('A STATUS INBOX ()');
    bad('A STATUS INBOX (FOO)');
    bad('A STATUS INBOX MESSAGES');
  });
});

describe('APPEND', () => {
  it('Thunderbird sent copy with flags and date (sync, LITERAL+ and UTF8 forms)', () => {
    const a = ok<AppendCommand>('A append "Sent" (\\Seen) "05-Mar-2026 10:00:00 +0100" {5}\r\nhello\r\n');
    assert.equal(a.mailbox, 'Sent');
    assert.equal(a.messages.length, 1);
    const m = a.messages[0]!;
    assert.deepEqual(m.flags, ['\\Seen']);
    assert.equal(m.date!.toISOString(), '2026-03-05T09:00:00.000Z');
    assert.equal(m.dateOffsetMinutes, 60);
    assert.equal(m.data.toString(), 'hello');
    assert.equal(ok<AppendCommand>('A APPEND "Sent" (\\Seen) {5+}\r\nhello\r\n').messages[0]!.data.toString(), 'hello');
    const u = ok<AppendCommand>('A APPEND "Sent" (\\Seen) UTF8 (~{5}\r\nhe\0lo)\r\n');
    assert.deepEqual([u.messages[0]!.utf8, u.messages[0]!.binary, u.messages[0]!.data.length], [true, true, 5]);
    const d = ok<AppendCommand>('A APPEND Drafts (\\Draft $MDNSent) {3}\r\nabc\r\n');
    assert.deepEqual(d.messages[0]!.flags, ['\\Draft', '$MDNSent']);
    assert.equal(d.messages[0]!.date, null);
    assert.equal(ok<AppendCommand>('A APPEND x ~{2}\r\nab\r\n').messages[0]!.binary, true);
  });
  it('MULTIAPPEND', () => {
    const a = ok<AppendCommand>('A APPEND x (\\Seen) {1}\r\na () " 1-Jan-2020 00:00:00 +0000" {1+}\r\nb\r\n');
    assert.equal(a.messages.length, 2);
    assert.equal(a.messages[1]!.date!.toISOString(), '2020-01-01T00:00:00.000Z');
  });
  it('refuses bad APPENDs', () => {
    bad('A APPEND x "not a literal"');
    bad('A APPEND x (\\Seen)');
    bad('A APPEND x (\\Recent) {1}\r\na\r\n');
    bad('A APPEND x (\\Bogus) {1}\r\na\r\n');
    bad('A APPEND x "32-Jan-2026 10:00:00 +0000" {1}\r\na\r\n');
    bad('A APPEND x UTF8 ({1}\r\na)\r\n');
    bad('A APPEND x CATENATE (TEXT {1}\r\na)\r\n');
    bad('A APPEND');
  });
});

describe('EXPUNGE / UID EXPUNGE, COPY / MOVE', () => {
  it('parses them', () => {
    assert.deepEqual(ok<ExpungeCommand>('A expunge'), { name: 'EXPUNGE', uids: null });
    assert.deepEqual(ok<ExpungeCommand>('A uid expunge 3:5,9').uids, [
      { from: 3, to: 5 },
      { from: 9, to: 9 },
    ]);
    bad('A UID EXPUNGE');
    bad('A EXPUNGE 1:3');
    assert.deepEqual(ok<CopyCommand>('A uid move 1:3 "Trash"'), { name: 'MOVE', uid: true, set: [{ from: 1, to: 3 }], mailbox: 'Trash' });
    assert.deepEqual(ok<CopyCommand>('A uid copy 4 "Trash"').name, 'COPY');
    assert.deepEqual(ok<CopyCommand>('A COPY 2:4 MEETING').uid, false);
    assert.deepEqual(ok<CopyCommand>('A MOVE 1 Archive').name, 'MOVE');
    bad('A COPY 1');
    bad('A COPY x Trash');
  });
});

describe('STORE', () => {
  it('parses the forms clients use', () => {
    const s = ok<StoreCommand>('A uid store 1:3 +FLAGS (\\Deleted \\Seen)');
    assert.deepEqual([s.uid, s.operation, s.silent, s.flags], [true, 'add', false, ['\\Deleted', '\\Seen']]);
    const k9 = ok<StoreCommand>('A UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    assert.deepEqual([k9.operation, k9.silent], ['add', true]);
    const fm = ok<StoreCommand>('A STORE 3 +flags.silent (\\seen \\DELETED \\Seen)');
    assert.deepEqual(fm.flags, ['\\Seen', '\\Deleted']);
    assert.equal(ok<StoreCommand>('A STORE 1 -FLAGS \\Flagged').operation, 'remove');
    assert.deepEqual(ok<StoreCommand>('A STORE 1 FLAGS ()').flags, []);
    assert.deepEqual(ok<StoreCommand>('A STORE 1 FLAGS \\Seen $Forwarded NonJunk').flags, ['\\Seen', '$Forwarded', 'NonJunk']);
    const c = ok<StoreCommand>('A UID STORE 1:* (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)');
    assert.equal(c.unchangedSince, 320162338);
  });
  it('refuses bad STOREs', () => {
    bad('A STORE 1 +FLAGS (\\Recent)');
    bad('A STORE 1 +FLAGS (\\Foo)');
    bad('A STORE 1 +FLAGS (a]b)');
    bad('A STORE 1 +FLAGS (a%)');
    bad('A STORE 1 FLAG (\\Seen)');
    bad('A STORE 1 +FLAGS');
    bad('A STORE 1 +FLAGS ("\\\\Seen")');
    bad('A STORE 1 (FOO 1) FLAGS (\\Seen)');
    bad('A STORE 1 +FLAGS ((\\Seen))');
  });
});

describe('ENABLE and ID', () => {
  it('ENABLE', () => {
    assert.deepEqual(ok<EnableCommand>('A ENABLE CONDSTORE').capabilities, ['CONDSTORE']);
    assert.deepEqual(ok<EnableCommand>('4.853 ENABLE QRESYNC').capabilities, ['QRESYNC']);
    assert.deepEqual(ok<EnableCommand>('A enable utf8=accept condstore').capabilities, ['UTF8=ACCEPT', 'CONDSTORE']);
    bad('A ENABLE');
    bad('A ENABLE "CONDSTORE"');
  });
  it('ID from Thunderbird, Apple Mail, iOS, OfflineIMAP; ID NIL', () => {
    assert.deepEqual(ok<IdCommand>('A ID ("name" "Thunderbird" "version" "128.3.0")').params, [
      ['name', 'Thunderbird'],
      ['version', '128.3.0'],
    ]);
    const mac = ok<IdCommand>(
      '2.854 ID ("name" "Mac OS X Mail" "version" "11.5 (3445.9.1)" "os" "Mac OS X" "os-version" "10.13.6 (17G3025)" "vendor" "Apple Inc.")',
    );
    assert.equal(mac.params!.length, 5);
    assert.equal(ok<IdCommand>('A ID ("version" "21B101" "os" "iOS" "name" "iPhone Mail" "os-version" "17.1.2 (21B101)")').params![2]![1], 'iPhone Mail');
    assert.deepEqual(ok<IdCommand>('A ID ("name" "OfflineIMAP" "version" "x" "support-url" NIL)').params![2], ['support-url', null]);
    assert.deepEqual(ok<IdCommand>('A ID NIL').params, null);
    assert.deepEqual(ok<IdCommand>('A ID ("guid" "1")').params, [['guid', '1']]);
    assert.deepEqual(ok<IdCommand>('A ID ()').params, []);
    bad('A ID ("name")');
    bad('A ID "name"');
    bad('A ID');
  });
});

describe('FETCH', () => {
  const item = (line: string, i = 0) => ok<FetchCommand>(line).items[i]!;

  it('Thunderbird flag sync and header download', () => {
    const f = ok<FetchCommand>('A UID fetch 1:* (FLAGS)');
    assert.deepEqual([f.uid, f.set, f.items, f.changedSince], [true, [{ from: 1, to: '*' }], [{ type: 'FLAGS' }], null]);
    assert.equal(ok<FetchCommand>('9 UID fetch 74133:* (FLAGS)').set[0]!.from, 74133);
    const fields =
      'From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To Received';
    const h = ok<FetchCommand>(`A UID fetch 1:5,7 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (${fields})])`);
    assert.deepEqual(
      h.items.map((i) => i.type),
      ['UID', 'RFC822.SIZE', 'FLAGS', 'section'],
    );
    const sec = h.items[3]!;
    assert.ok(sec.type === 'section');
    assert.equal(sec.peek, true);
    assert.deepEqual(sec.section.fields, fields.split(' '));
    assert.equal(sec.label, `BODY[HEADER.FIELDS (${fields})]`);
  });

  it('Apple Mail: the reply label repeats the requested field list exactly', () => {
    const fields =
      'date subject from to cc message-id in-reply-to references x-priority x-uniform-type-identifier x-universally-unique-identifier list-id list-unsubscribe';
    const f = ok<FetchCommand>(`A FETCH 1:50 (INTERNALDATE UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (${fields})])`);
    const s = f.items[4]!;
    assert.ok(s.type === 'section');
    assert.equal(s.label, `BODY[HEADER.FIELDS (${fields})]`);
    // Odd spacing and quoting are echoed as sent.
    const odd = item('A FETCH 1 body.peek[header.fields ("Date"  From)]');
    assert.ok(odd.type === 'section');
    assert.equal(odd.label, 'BODY[header.fields ("Date"  From)]');
    assert.deepEqual(odd.section.fields, ['Date', 'From']);
  });

  it('body downloads: whole, partial, parts, TEXT, MIME', () => {
    const whole = item('A UID fetch 5 (UID RFC822.SIZE BODY[])', 2);
    assert.deepEqual(whole, { type: 'section', peek: false, section: { part: [], text: null, fields: null }, partial: null, label: 'BODY[]' });
    const chunk = item('A UID fetch 96 (UID RFC822.SIZE BODY.PEEK[]<99614720.65536>)', 2);
    assert.ok(chunk.type === 'section');
    assert.deepEqual(chunk.partial, { offset: 99614720, length: 65536 });
    assert.equal(chunk.label, 'BODY[]<99614720>');
    const preview = ok<FetchCommand>('A UID fetch 5 (UID BODY.PEEK[HEADER.FIELDS (Content-Type Content-Transfer-Encoding)] BODY.PEEK[TEXT]<0.2048>)');
    const t = preview.items[2]!;
    assert.ok(t.type === 'section' && t.section.text === 'TEXT' && t.label === 'BODY[TEXT]<0>');
    const part = item('A UID FETCH 7840 (UID BODY.PEEK[1]<0.393216>)', 1);
    assert.ok(part.type === 'section');
    assert.deepEqual(part.section.part, [1]);
    const apple = ok<FetchCommand>('A UID FETCH 133 (BODY.PEEK[3]<0.5877469> BODY.PEEK[1] BODY.PEEK[2])');
    assert.equal(apple.items.length, 3);
    const single = item('A UID FETCH 5 BODY.PEEK[1]');
    assert.ok(single.type === 'section' && single.label === 'BODY[1]');
    const mime = item('A FETCH 1 BODY[1.2.MIME]');
    assert.ok(mime.type === 'section');
    assert.deepEqual([mime.section.part, mime.section.text], [[1, 2], 'MIME']);
    const nested = item('A FETCH 1 BODY[4.2.2.HEADER.FIELDS.NOT (Received)]');
    assert.ok(nested.type === 'section');
    assert.deepEqual([nested.section.part, nested.section.text, nested.section.fields], [[4, 2, 2], 'HEADER.FIELDS.NOT', ['Received']]);
    const hdr = item('A UID FETCH 5 (BODYSTRUCTURE BODY.PEEK[HEADER])', 1);
    assert.ok(hdr.type === 'section' && hdr.section.text === 'HEADER');
  });

  it('RFC822 forms (fetchmail, Outlook RFC822.peek, offlineimap rfc822.header)', () => {
    const r = ok<FetchCommand>('A UID fetch 39 (UID RFC822.SIZE RFC822.peek)');
    assert.deepEqual(r.items[2], { type: 'section', peek: true, section: { part: [], text: null, fields: null }, partial: null, label: 'RFC822' });
    assert.deepEqual(item('A FETCH 3 RFC822.HEADER'), { type: 'section', peek: true, section: { part: [], text: 'HEADER', fields: null }, partial: null, label: 'RFC822.HEADER' });
    assert.deepEqual(item('A UID FETCH 5:* rfc822.header'), item('A FETCH 3 RFC822.HEADER'));
    const text = item('A FETCH 3 RFC822.TEXT');
    assert.ok(text.type === 'section' && !text.peek && text.label === 'RFC822.TEXT');
    const full = item('A FETCH 3 RFC822');
    assert.ok(full.type === 'section' && !full.peek && full.label === 'RFC822');
    assert.deepEqual(item('A FETCH 1:5 RFC822.SIZE'), { type: 'RFC822.SIZE' });
  });

  it('macros ALL / FAST / FULL and single items', () => {
    const all = ok<FetchCommand>('A FETCH 1:* ALL');
    assert.deepEqual([all.macro, all.items.map((i) => i.type)], ['ALL', ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE']]);
    assert.deepEqual(ok<FetchCommand>('A fetch 1 fast').items.length, 3);
    assert.deepEqual(ok<FetchCommand>('A FETCH 1 FULL').items.map((i) => i.type).pop(), 'BODY');
    assert.deepEqual(ok<FetchCommand>('A fetch 1:* (FLAGS)').items, [{ type: 'FLAGS' }]);
    assert.deepEqual(ok<FetchCommand>('A UID FETCH * (UID)').set, [{ from: '*', to: '*' }]);
    assert.deepEqual(
      ok<FetchCommand>('A FETCH 1 (ENVELOPE BODYSTRUCTURE BODY INTERNALDATE MODSEQ)').items.map((i) => i.type),
      ['ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'INTERNALDATE', 'MODSEQ'],
    );
    bad('A FETCH 1 (ALL)');
  });

  it('BINARY', () => {
    const b = item('A FETCH 1 BINARY.PEEK[1.2]<0.100>');
    assert.deepEqual(b, { type: 'binary', peek: true, part: [1, 2], partial: { offset: 0, length: 100 }, label: 'BINARY[1.2]<0>' });
    assert.deepEqual(item('A FETCH 1 BINARY.SIZE[3]'), { type: 'binary.size', part: [3], label: 'BINARY.SIZE[3]' });
    assert.deepEqual(item('A FETCH 1 BINARY[]'), { type: 'binary', peek: false, part: [], partial: null, label: 'BINARY[]' });
    bad('A FETCH 1 BINARY[TEXT]');
    bad('A FETCH 1 BINARY.SIZE[1]<0.5>');
  });

  it('CONDSTORE / QRESYNC modifiers (Apple Mail, Thunderbird, iOS CHANGEDSINCE 0)', () => {
    const a = ok<FetchCommand>('A UID FETCH 1:6131 (FLAGS UID) (CHANGEDSINCE 1433050)');
    assert.equal(a.changedSince, 1433050);
    assert.equal(ok<FetchCommand>('A UID fetch 1:* (FLAGS) (CHANGEDSINCE 0)').changedSince, 0);
    const v = ok<FetchCommand>('A UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)');
    assert.equal(v.vanished, true);
    assert.equal(ok<FetchCommand>('A UID FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775807)').changedSince, Number.MAX_SAFE_INTEGER);
    bad('A UID FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)');
    bad('A UID FETCH 1 (FLAGS) (CHANGEDSINCE 18446744073709551615)');
    bad('A FETCH 1 (FLAGS) (CHANGEDSINCE 12345 VANISHED)');
    bad('A UID FETCH 1 (FLAGS) (VANISHED)');
    bad('A UID FETCH 1 (FLAGS) (CHANGEDSINCE x)');
    bad('A UID FETCH 1 (FLAGS) (FOO 1)');
  });

  it('refuses bad FETCH items', () => {
    for (const s of [
      'A FETCH 1 ()',
      'A FETCH 1 (FOO)',
      'A FETCH 1 BODY.PEEK',
      'A FETCH 1 BODY[0]',
      'A FETCH 1 BODY[1.0]',
      'A FETCH 1 BODY[MIME]',
      'A FETCH 1 BODY[FOO]',
      'A FETCH 1 BODY[HEADER.FIELDS]',
      'A FETCH 1 BODY[HEADER.FIELDS ()]',
      'A FETCH 1 BODY[HEADER.FIELDS (a:b)]',
      'A FETCH 1 BODY[TEXT (x)]',
      'A FETCH 1 BODY[]<0.0>',
      'A FETCH 1 BODY[]<1>',
      'A FETCH 1 BODY[]<a.b>',
      'A FETCH 1 BODY[]<0.4294967296>',
      'A FETCH 1 BODY[]x',
      'A FETCH 1',
      'A FETCH (FLAGS)',
      'A FETCH 1 FLAGS UID',
    ]) {
      bad(s);
    }
  });
});

describe('SEARCH', () => {
  const crit = (line: string | Buffer) => ok<SearchCommand>(line).criteria;

  it('client searches from client-flows.md', () => {
    assert.deepEqual(crit('A uid SEARCH UNDELETED HEADER Message-ID <abc@example.com>'), {
      type: 'and',
      keys: [
        { type: 'flag', flag: '\\Deleted', not: true },
        { type: 'header', field: 'Message-ID', value: '<abc@example.com>' },
      ],
    });
    assert.deepEqual(crit('A UID SEARCH 1:50 SINCE 01-Sep-2019'), {
      type: 'and',
      keys: [
        { type: 'seq', set: [{ from: 1, to: 50 }] },
        { type: 'date', field: 'internal', op: 'since', date: { year: 2019, month: 9, day: 1 } },
      ],
    });
    assert.deepEqual(crit('A UID SEARCH 1:25 SINCE 1-Feb-2024 NOT DELETED').type, 'and');
    assert.deepEqual(crit('A SEARCH UID 5:* SMALLER 100000'), {
      type: 'and',
      keys: [
        { type: 'uid', set: [{ from: 5, to: '*' }] },
        { type: 'size', op: 'smaller', size: 100000 },
      ],
    });
    assert.deepEqual(crit('A SEARCH UNSEEN'), { type: 'flag', flag: '\\Seen', not: true });
    assert.deepEqual(crit('A UID SEARCH HEADER X-OfflineIMAP 12345-abc').type, 'header');
    const s = ok<SearchCommand>('A UID SEARCH HEADER MESSAGE-ID <id@x>');
    assert.equal(s.uid, true);
  });

  it('every RFC 3501 key', () => {
    const line =
      'A SEARCH CHARSET UTF-8 ALL ANSWERED BCC b BEFORE 1-Feb-1994 BODY x CC c DELETED DRAFT FLAGGED FROM f HEADER X-A v ' +
      'KEYWORD $Forwarded LARGER 10 NEW NOT SEEN OLD ON "2-Feb-1994" OR SEEN FLAGGED RECENT SEEN SENTBEFORE 1-Jan-2000 ' +
      'SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 SINCE 1-Jan-2000 SMALLER 5 SUBJECT s TEXT t TO o UID 1:* UNANSWERED ' +
      'UNDELETED UNDRAFT UNFLAGGED UNKEYWORD Junk UNSEEN 1,3:* (SEEN (DELETED)) MODSEQ 5 MODSEQ "/flags/\\\\draft" all 620162338 ' +
      'OLDER 3600 YOUNGER 60';
    const c = ok<SearchCommand>(line);
    assert.equal(c.charset, 'UTF-8');
    assert.ok(c.criteria.type === 'and');
    const types = c.criteria.keys.map((k) => (k.type === 'flag' ? `${k.not ? '-' : ''}${k.flag}` : k.type === 'header' ? `h:${k.field}` : k.type));
    assert.deepEqual(types, [
      'all', '\\Answered', 'h:Bcc', 'date', 'body', 'h:Cc', '\\Deleted', '\\Draft', '\\Flagged', 'h:From', 'h:X-A',
      '$Forwarded', 'size', 'and', 'not', '-\\Recent', 'date', 'or', '\\Recent', '\\Seen', 'date',
      'date', 'date', 'date', 'size', 'h:Subject', 'text', 'h:To', 'uid', '-\\Answered',
      '-\\Deleted', '-\\Draft', '-\\Flagged', '-Junk', '-\\Seen', 'seq', 'and', 'modseq', 'modseq',
      'age', 'age',
    ]);
    const modseq = c.criteria.keys[38]!;
    assert.deepEqual(modseq, { type: 'modseq', modseq: 620162338, entry: { name: '/flags/\\draft', kind: 'all' } });
  });

  it('nesting, OR, NOT, strings as literals, RETURN for ESEARCH', () => {
    assert.deepEqual(crit('A SEARCH OR (FROM a SUBJECT b) NOT (TO c)'), {
      type: 'or',
      left: {
        type: 'and',
        keys: [
          { type: 'header', field: 'From', value: 'a' },
          { type: 'header', field: 'Subject', value: 'b' },
        ],
      },
      right: { type: 'not', key: { type: 'header', field: 'To', value: 'c' } },
    });
    const lit = crit(Buffer.concat([Buffer.from('A SEARCH CHARSET UTF-8 SUBJECT {5}\r\n'), Buffer.from('büro', 'utf8'), Buffer.from('\r\n')]));
    assert.deepEqual(lit, { type: 'header', field: 'Subject', value: 'büro' });
    const r = ok<SearchCommand>('A UID SEARCH RETURN (MIN MAX COUNT) UNSEEN');
    assert.deepEqual(r.returnOptions, ['MIN', 'MAX', 'COUNT']);
    assert.deepEqual(ok<SearchCommand>('A SEARCH RETURN () ALL').returnOptions, []);
    assert.deepEqual(ok<SearchCommand>('A SEARCH RETURN (ALL) CHARSET US-ASCII ALL').charset, 'US-ASCII');
    assert.deepEqual(ok<SearchCommand>('A search all').criteria, { type: 'all' });
  });

  it('string without CHARSET: UTF-8, else Latin-1', () => {
    assert.deepEqual(crit(Buffer.concat([Buffer.from('A SEARCH SUBJECT "caf'), Buffer.from([0xe9]), Buffer.from('"')])), {
      type: 'header',
      field: 'Subject',
      value: 'café',
    });
    bad(Buffer.concat([Buffer.from('A SEARCH CHARSET UTF-8 SUBJECT "caf'), Buffer.from([0xe9]), Buffer.from('"')]));
  });

  it('refuses bad SEARCHes; unknown charset is NO [BADCHARSET]', () => {
    const r = bad('A SEARCH CHARSET ISO-8859-1 SUBJECT x', 'NO');
    assert.equal(r.code, 'BADCHARSET (UTF-8 US-ASCII)');
    for (const s of [
      'A SEARCH',
      'A SEARCH FOO',
      'A SEARCH SINCE 32-Jan-2020',
      'A SEARCH SINCE',
      'A SEARCH OR SEEN',
      'A SEARCH NOT',
      'A SEARCH ()',
      'A SEARCH LARGER x',
      'A SEARCH LARGER -1',
      'A SEARCH UID 0',
      'A SEARCH 0:5',
      'A SEARCH 1,,2',
      'A SEARCH HEADER "a:b" x',
      'A SEARCH KEYWORD a%b',
      'A SEARCH RETURN (FOO) ALL',
      'A SEARCH YOUNGER 0',
      'A SEARCH MODSEQ "/flags/\\\\draft" bogus 5',
      'A SEARCH $',
      'A SEARCH BODY[] x',
    ]) {
      bad(s);
    }
  });

  it('deep NOT/OR chains are bounded (BAD), not a stack overflow', () => {
    const deep = 'A SEARCH ' + 'NOT '.repeat(2000) + 'ALL';
    const r = parse(Buffer.from(deep));
    assert.ok(!r.ok);
    const ors = 'A SEARCH ' + 'OR SEEN '.repeat(900) + 'ALL';
    assert.ok(parse(ors).ok);
  });
});

describe('tolerance of what real clients send', () => {
  it('lower-case commands and arguments, tags with dots', () => {
    assert.ok(parse('1.854 uid fetch 1:* (flags uid)').ok);
    assert.ok(parse('a001 list "" "*" return (special-use children)').ok);
    assert.ok(parse('tag.1 Select Inbox').ok);
  });
});
