// POP3 over real sockets: login policy, STLS, the checklist's POP3 items, DELE semantics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMailbox, deliverToInbox, updateMailbox } from '../../core/admin/mailboxes.js';
import { LineClient } from '../helpers/line-client.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';

const AUTH_FAILED = '-ERR [AUTH] Authentication failed.\r\n';

function msg(subject: string, body: string): Buffer {
  return Buffer.from(`From: Bob <bob@example.test>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n${body}`);
}

async function loginTls(s: TestServer, user = USER, pass = PASSWORD): Promise<LineClient> {
  const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
  await c.line();
  assert.match(await c.cmd(`USER ${user}`), /^\+OK/);
  assert.match(await c.cmd(`PASS ${pass}`), /^\+OK/);
  return c;
}

async function uidls(c: LineClient): Promise<string[]> {
  const r = await c.multi('UIDL');
  return r.split('\r\n').slice(1, -2).map((l) => l.split(' ')[1]!);
}

describe('POP3 session', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
    for (const [addr, role] of [
      ['admin@example.test', 'admin'],
      ['guest@example.test', 'guest'],
      ['anonymous@example.test', 'anonymous'],
    ] as const) {
      await createMailbox(s.store, { address: addr, password: PASSWORD, role });
    }
    await createMailbox(s.store, { address: 'nopop@example.test', password: PASSWORD, popEnabled: false });
    await deliverToInbox(s.store, USER, msg('one', 'first\r\n.leading dot\r\n..two dots\r\nend\r\n'));
    await deliverToInbox(s.store, USER, msg('two', 'second message\r\nline 2\r\nline 3\r\n'));
    await deliverToInbox(s.store, USER, msg('three', 'third\r\n'));
  });
  after(() => s.stop());

  it('greets with the banner and offers STLS but no login before TLS (A3, SecureLogin)', async () => {
    const c = await LineClient.connect(s.ports.pop3!);
    assert.equal(await c.line(), '+OK The POP3 service is ready.\r\n');
    const capa = await c.multi('CAPA');
    assert.match(capa, /\r\nSTLS\r\n/);
    assert.doesNotMatch(capa, /\r\nUSER\r\n|SASL/);
    // Valid credentials are refused on the plain connection, by every login command.
    assert.match(await c.cmd(`USER ${USER}`), /^-ERR \[AUTH\]/);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^-ERR \[AUTH\]/);
    const plain = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');
    assert.match(await c.cmd(`AUTH PLAIN ${plain}`), /^-ERR \[AUTH\]/);
    assert.match(await c.cmd('STAT'), /^-ERR/);
    c.close();
  });

  it('STLS discards pipelined commands and then allows login (A1, A4)', async () => {
    const c = await LineClient.connect(s.ports.pop3!);
    await c.line();
    c.write('STLS\r\nCAPA\r\n');
    assert.equal(await c.line(), '+OK Begin TLS negotiation\r\n');
    await c.startTls();
    // Nothing must answer the pipelined CAPA: send NOOP-like probe and check what comes first.
    c.write('QUIT-NOT-A-COMMAND\r\n');
    assert.equal(await c.line(), '-ERR Unknown command.\r\n');
    const capa = await c.multi('CAPA');
    assert.match(capa, /\r\nUSER\r\n/);
    assert.match(capa, /\r\nSASL PLAIN\r\n/);
    assert.doesNotMatch(capa, /STLS/);
    assert.match(await c.cmd('STLS'), /^-ERR/, 'second STLS refused (A5)');
    assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^\+OK Logged in, 3 messages/);
    c.close();
  });

  it('plaintext sent after +OK but before the handshake is never executed (A2)', async () => {
    const c = await LineClient.connect(s.ports.pop3!);
    await c.line();
    assert.equal(await c.cmd('STLS'), '+OK Begin TLS negotiation\r\n');
    c.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\nDELE 1\r\nQUIT\r\n`);
    await c.waitClosed();
    const check = await loginTls(s);
    assert.match(await c.pending(), /^$/);
    assert.match(await check.cmd('STAT'), /^\+OK 3 /);
    check.close();
  });

  it('STLS on the implicit-TLS port and after login is refused (A5)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    assert.match(await c.cmd('STLS'), /^-ERR/);
    assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await c.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    assert.match(await c.cmd('STLS'), /^-ERR/);
    c.close();
  });

  it('every refusal reason gets byte-identical -ERR [AUTH] (C20, invariant 7)', async () => {
    const cases: Array<[string, string]> = [
      ['nobody@example.test', PASSWORD],
      [USER, 'wrong password'],
      ['nopop@example.test', PASSWORD],
      ['admin@example.test', PASSWORD],
      ['guest@example.test', PASSWORD],
      ['anonymous@example.test', PASSWORD],
    ];
    for (const [u, p] of cases) {
      const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
      await c.line();
      assert.equal(await c.cmd(`USER ${u}`), '+OK Send your password\r\n', u);
      assert.equal(await c.cmd(`PASS ${p}`), AUTH_FAILED, u);
      const plain = Buffer.from(`\0${u}\0${p}`).toString('base64');
      assert.equal(await c.cmd(`AUTH PLAIN ${plain}`), AUTH_FAILED, u);
      c.close();
    }
  });

  it('AUTH PLAIN works with and without an initial response; bad forms fail (C24)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    assert.equal(await c.multi('AUTH'), '+OK Supported mechanisms follow\r\nPLAIN\r\n.\r\n');
    assert.match(await c.cmd('AUTH ANONYMOUS'), /^-ERR/);
    assert.match(await c.cmd('AUTH PLAIN not*base64'), /^-ERR/);
    assert.equal(await c.cmd('AUTH PLAIN'), '+ \r\n');
    assert.match(await c.cmd('*'), /^-ERR Authentication cancelled/);
    // authorization identity different from the user: refused like a bad password
    const other = Buffer.from(`admin@example.test\0${USER}\0${PASSWORD}`).toString('base64');
    assert.equal(await c.cmd(`AUTH PLAIN ${other}`), AUTH_FAILED);
    assert.equal(await c.cmd('AUTH PLAIN'), '+ \r\n');
    assert.match(await c.cmd(Buffer.from(`${USER}\0${USER}\0${PASSWORD}`).toString('base64')), /^\+OK Logged in/);
    c.close();
  });

  it('three failed logins end the connection (C21)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    for (let i = 0; i < 3; i++) {
      await c.cmd(`USER ${USER}`);
      assert.equal(await c.cmd('PASS nope'), AUTH_FAILED);
    }
    await c.waitClosed();
  });

  it('STAT, LIST, UIDL, TOP and byte-exact dot-stuffed RETR', async () => {
    const c = await loginTls(s);
    const stat = await c.cmd('STAT');
    const list = await c.multi('LIST');
    const sizes = list.split('\r\n').slice(1, -2).map((l) => Number(l.split(' ')[1]));
    assert.equal(stat, `+OK 3 ${sizes.reduce((a, b) => a + b, 0)}\r\n`);
    assert.equal(await c.cmd('LIST 2'), `+OK 2 ${sizes[1]}\r\n`);
    assert.match(await c.cmd('LIST 9'), /^-ERR/);
    assert.match(await c.cmd('LIST 0'), /^-ERR/);
    const retr = await c.multi('RETR 1');
    const raw = msg('one', 'first\r\n.leading dot\r\n..two dots\r\nend\r\n').toString('latin1');
    assert.equal(retr, `+OK ${raw.length} octets\r\n` + raw.replace(/\r\n\./g, '\r\n..') + '.\r\n');
    const topRes = await c.multi('TOP 2 1');
    assert.match(topRes, /Message-ID: <two@example.test>\r\n\r\nsecond message\r\n\.\r\n$/);
    const top0 = await c.multi('TOP 2 0');
    assert.match(top0, /Subject: two\r\nMessage-ID: <two@example.test>\r\n\r\n\.\r\n$/);
    assert.match(await c.cmd('TOP 2'), /^-ERR/);
    const ids = await uidls(c);
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 3);
    assert.match(await c.cmd('UIDL 3'), new RegExp(`^\\+OK 3 ${ids[2]!.replace('.', '\\.')}\r\n$`));
    assert.equal(await c.cmd('NOOP'), '+OK\r\n');
    assert.equal(await c.cmd('QUIT'), '+OK Bye\r\n');
    await c.waitClosed();
  });

  it('DELE+RSET keeps, DELE+QUIT removes, DELE then drop keeps, UIDLs never reused (D33, invariant 3)', async () => {
    const user = 'dele@example.test';
    await createMailbox(s.store, { address: user, password: PASSWORD });
    for (const n of ['a', 'b', 'c', 'd']) await deliverToInbox(s.store, user, msg(n, `${n}\r\n`));

    let c = await loginTls(s, user);
    const ids = await uidls(c);
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    assert.match(await c.cmd('DELE 1'), /^-ERR/, 'already marked');
    assert.match(await c.cmd('RETR 1'), /^-ERR/, 'marked messages are gone for this session');
    assert.match(await c.cmd('STAT'), /^\+OK 3 /);
    assert.match(await c.cmd('RSET'), /^\+OK/);
    assert.equal(await c.cmd('QUIT'), '+OK Bye\r\n');
    c = await loginTls(s, user);
    assert.deepEqual(await uidls(c), ids, 'RSET undid the DELE');
    assert.match(await c.cmd('DELE 2'), /^\+OK/);
    c.close(); // dropped connection: nothing deleted
    await new Promise((r) => setTimeout(r, 100));
    c = await loginTls(s, user);
    assert.deepEqual(await uidls(c), ids, 'a dropped connection deletes nothing');
    // Pipelined DELEs all apply.
    c.write('DELE 2\r\nDELE 3\r\nQUIT\r\n');
    assert.equal(await c.readUntil('Bye, 2 messages deleted\r\n'), '+OK Message 2 marked for deletion\r\n+OK Message 3 marked for deletion\r\n+OK Bye, 2 messages deleted\r\n');
    await deliverToInbox(s.store, user, msg('e', 'e\r\n'));
    c = await loginTls(s, user);
    const now = await uidls(c);
    assert.deepEqual(now.slice(0, 2), [ids[0], ids[3]], 'surviving messages keep their UIDLs');
    assert.ok(!ids.includes(now[2]!), 'a new message never reuses a UIDL');
    c.close();
  });

  it('a second session keeps a stable snapshot; a message removed meanwhile gives -ERR (D34)', async () => {
    const user = 'snap@example.test';
    await createMailbox(s.store, { address: user, password: PASSWORD });
    for (const n of ['a', 'b']) await deliverToInbox(s.store, user, msg(n, `${n}\r\n`));
    const c1 = await loginTls(s, user);
    const c2 = await loginTls(s, user);
    assert.match(await c1.cmd('DELE 1'), /^\+OK/);
    assert.match(await c1.cmd('QUIT'), /^\+OK Bye, 1 messages deleted/);
    // Session 2 still numbers the same way; the removed message answers -ERR, never another one.
    assert.match(await c2.cmd('STAT'), /^\+OK 2 /);
    assert.match(await c2.cmd('RETR 1'), /^-ERR/);
    const r2 = await c2.multi('RETR 2');
    assert.match(r2, /Subject: b\r\n/);
    assert.match(await c2.cmd('DELE 1'), /^\+OK/);
    assert.match(await c2.cmd('QUIT'), /^\+OK Bye/);
    const c3 = await loginTls(s, user);
    assert.match(await c3.cmd('STAT'), /^\+OK 1 /);
    c3.close();
  });

  it('numbering follows messageRetrievalSortOrder', async () => {
    await s.setSettings('pop3', { messageRetrievalSortOrder: 'Descending' });
    try {
      const c = await loginTls(s);
      assert.match(await c.multi('TOP 1 0'), /Subject: three/);
      assert.match(await c.multi('TOP 3 0'), /Subject: one/);
      c.close();
    } finally {
      await s.setSettings('pop3', { messageRetrievalSortOrder: 'Ascending' });
    }
  });

  it('PlainTextLogin allows USER/PASS on the plain port', async () => {
    await s.setSettings('pop3', { loginType: 'PlainTextLogin' });
    try {
      const c = await LineClient.connect(s.ports.pop3!);
      await c.line();
      assert.match(await c.multi('CAPA'), /\r\nUSER\r\n/);
      assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
      assert.match(await c.cmd(`PASS ${PASSWORD}`), /^\+OK Logged in/);
      c.close();
    } finally {
      await s.setSettings('pop3', { loginType: 'SecureLogin' });
    }
  });

  it('per-user and per-IP connection caps refuse cleanly and count closes (E35)', async () => {
    await s.setSettings('pop3', { maxConnectionsPerUser: 1 });
    try {
      const a = await loginTls(s);
      const b = await LineClient.connect(s.ports.pop3s!, { tls: true });
      await b.line();
      await b.cmd(`USER ${USER}`);
      assert.equal(await b.cmd(`PASS ${PASSWORD}`), '-ERR [IN-USE] Too many connections to this mailbox.\r\n');
      a.close();
      // The slot comes back once the server has seen the close (poll: the machine may be busy).
      let reply = '';
      for (let i = 0; i < 50 && !reply.startsWith('+OK'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        await b.cmd(`USER ${USER}`);
        reply = await b.cmd(`PASS ${PASSWORD}`);
      }
      assert.match(reply, /^\+OK Logged in/, 'the slot was released on close');
      b.close();
    } finally {
      await s.setSettings('pop3', { maxConnectionsPerUser: 16 });
    }
    await new Promise((r) => setTimeout(r, 100));
    await s.setSettings('pop3', { maxConnectionFromSingleIp: 2 });
    try {
      const held = [await LineClient.connect(s.ports.pop3!), await LineClient.connect(s.ports.pop3!)];
      for (const h of held) await h.line();
      const third = await LineClient.connect(s.ports.pop3!);
      assert.match(await third.line(), /^-ERR \[SYS\/TEMP\]/);
      await third.waitClosed();
      held[0]!.close();
      let greeting = '';
      for (let i = 0; i < 50 && !greeting.startsWith('+OK'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        const again = await LineClient.connect(s.ports.pop3!);
        greeting = await again.line();
        again.close();
      }
      assert.match(greeting, /^\+OK/, 'the closed connection no longer counts');
      held[1]!.close();
    } finally {
      await s.setSettings('pop3', { maxConnectionFromSingleIp: 2147483647 });
    }
  });

  it('an over-long command line gets -ERR and the session goes on (maxCommandSize)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    c.write('USER ' + 'x'.repeat(100_000) + '\r\n');
    assert.equal(await c.line(), '-ERR Command line too long.\r\n');
    assert.match(await c.multi('CAPA'), /^\+OK/);
    c.close();
  });

  it('disabling POP3 for a mailbox ends its open session', async () => {
    const user = 'toggle@example.test';
    await createMailbox(s.store, { address: user, password: PASSWORD });
    const c = await loginTls(s, user);
    await updateMailbox(s.store, user, { popEnabled: false });
    await c.waitClosed();
  });

  it('the protocol log masks passwords', async () => {
    const entries: Array<Record<string, unknown>> = [];
    const s2 = await startTestServer({ protocolLog: (_p, e) => entries.push({ ...e }) });
    try {
      await s2.setSettings('pop3', { protocolLogEnabled: true });
      const c = await loginTls(s2);
      await c.cmd('STAT');
      c.close();
      const text = JSON.stringify(entries);
      assert.ok(entries.some((e) => e.command === 'PASS' && e.parameters === '*****'));
      assert.ok(entries.some((e) => e.command === 'STAT' && e.user === USER));
      assert.ok(!text.includes(PASSWORD));
    } finally {
      await s2.stop();
    }
  });
});
