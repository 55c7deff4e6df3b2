// Changes made through the admin API take effect on the running server at once, seen over
// real POP3/IMAP connections (issue 5, item 4): per-mailbox enable flags, stopping a service,
// the login policy, the banner, connection caps, maxCommandSize and the protocol log.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SocketConnection } from '../../protocol-tasks/net/connection.js';
import { LineClient } from '../helpers/line-client.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';
import { httpTransport, type Transport } from './transports.js';

let tagN = 0;
async function imap(c: LineClient, cmd: string): Promise<{ text: string; tagged: string }> {
  const tag = `e${++tagN}`;
  c.write(`${tag} ${cmd}\r\n`);
  const text = await c.readUntil(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`));
  const tagged = text.slice(text.lastIndexOf(`${tag} `) + tag.length + 1).trimEnd();
  return { text, tagged };
}

function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => '\\' + c)}"`;
}

async function imapTls(server: TestServer): Promise<{ c: LineClient; greeting: string }> {
  const c = await LineClient.connect(server.ports.imaps!, { tls: true });
  return { c, greeting: await c.line() };
}

async function imapLoggedIn(server: TestServer): Promise<LineClient> {
  const { c } = await imapTls(server);
  const r = await imap(c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`);
  assert.match(r.tagged, /^OK/, r.text);
  return c;
}

async function pop3Tls(server: TestServer): Promise<{ c: LineClient; greeting: string }> {
  const c = await LineClient.connect(server.ports.pop3s!, { tls: true });
  return { c, greeting: await c.line() };
}

function refusedToConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('admin API changes take effect on the running server', () => {
  let server: TestServer;
  let api: Transport;
  const logLines: string[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    server = await startTestServer({ logger: pino({ level: 'info' }, sink) });
    api = httpTransport(server);
  });
  after(() => server.stop());

  const patch = async (path: string, json: Record<string, unknown>) => {
    const r = await api({ method: 'PATCH', path, json });
    assert.equal(r.status, 200, r.text);
  };

  it('imapEnabled false: IMAP logins refused exactly like a wrong password, open IMAP sessions end, POP3 still works', async () => {
    const open = await imapLoggedIn(server);
    const pop = await pop3Tls(server);
    assert.match(await pop.c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await pop.c.cmd(`PASS ${PASSWORD}`), /^\+OK/);

    const w = await imapTls(server);
    const wrong = await imap(w.c, `LOGIN ${quoted(USER)} ${quoted('not the password')}`);
    w.c.close();
    assert.match(wrong.tagged, /^NO /);

    await patch(`/v1/mailboxes/${USER}`, { imapEnabled: false });
    await open.readUntil(/\* BYE [^\r\n]*\r\n/);
    await open.waitClosed();

    const d = await imapTls(server);
    const refused = await imap(d.c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`);
    assert.equal(refused.tagged, wrong.tagged, 'the same reply as a wrong password');
    const sasl = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');
    assert.equal((await imap(d.c, `AUTHENTICATE PLAIN ${sasl}`)).tagged, wrong.tagged);
    d.c.close();

    // POP3: the open session goes on, and a new login works.
    assert.match(await pop.c.cmd('NOOP'), /^\+OK/);
    const p2 = await pop3Tls(server);
    assert.match(await p2.c.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await p2.c.cmd(`PASS ${PASSWORD}`), /^\+OK/);

    // popEnabled false ends the open POP3 sessions too.
    await patch(`/v1/mailboxes/${USER}`, { popEnabled: false });
    assert.match(await pop.c.readUntil(/-ERR[^\r\n]*\r\n/), /-ERR \[SYS\/PERM\]/);
    await pop.c.waitClosed();
    await p2.c.waitClosed();

    await patch(`/v1/mailboxes/${USER}`, { imapEnabled: true, popEnabled: true });
    (await imapLoggedIn(server)).close();
  });

  it('enabled false for imap4 ends its sessions with BYE and refuses new connections; POP3 unaffected; true reopens', async () => {
    const open = await imapLoggedIn(server);
    const pre = await imapTls(server); // not logged in yet: ends too
    await patch('/v1/protocols/imap4', { enabled: false });
    assert.match(await open.readUntil(/\* BYE [^\r\n]*\r\n/), /\* BYE \[UNAVAILABLE\] The IMAP4 service is shutting down\./);
    await open.waitClosed();
    await pre.c.waitClosed();
    assert.equal(await refusedToConnect(server.ports.imap!), true, 'plain port closed');
    assert.equal(await refusedToConnect(server.ports.imaps!), true, 'TLS port closed');
    const pop = await pop3Tls(server);
    assert.match(pop.greeting, /^\+OK/);
    pop.c.close();

    await patch('/v1/protocols/imap4', { enabled: true });
    const again = await imapTls(server);
    assert.match(again.greeting, /^\* OK/);
    again.c.close();
  });

  it('loginType: SecureLogin refuses LOGIN and USER on the plain port; PlainTextLogin allows them; PlainTextAuthentication needs TLS', async () => {
    const plainImap = async () => {
      const c = await LineClient.connect(server.ports.imap!);
      await c.line();
      return c;
    };
    let c = await plainImap();
    assert.match((await imap(c, 'CAPABILITY')).text, /LOGINDISABLED/);
    assert.match((await imap(c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`)).tagged, /^NO \[PRIVACYREQUIRED\]/);
    c.close();
    let p = await LineClient.connect(server.ports.pop3!);
    await p.line();
    assert.match(await p.cmd(`USER ${USER}`), /^-ERR/);
    p.close();

    await patch('/v1/protocols/imap4', { loginType: 'PlainTextLogin' });
    await patch('/v1/protocols/pop3', { loginType: 'PlainTextLogin' });
    c = await plainImap();
    const caps = (await imap(c, 'CAPABILITY')).text;
    assert.doesNotMatch(caps, /LOGINDISABLED/);
    assert.match(caps, /AUTH=PLAIN/);
    assert.match((await imap(c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`)).tagged, /^OK/);
    c.close();
    p = await LineClient.connect(server.ports.pop3!);
    await p.line();
    assert.match(await p.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await p.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    p.close();

    await patch('/v1/protocols/imap4', { loginType: 'PlainTextAuthentication' });
    c = await plainImap();
    assert.match((await imap(c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`)).tagged, /^NO \[PRIVACYREQUIRED\]/);
    c.close();

    await patch('/v1/protocols/imap4', { loginType: 'SecureLogin' });
    await patch('/v1/protocols/pop3', { loginType: 'SecureLogin' });
  });

  it('a new banner appears in the next greeting of both protocols', async () => {
    await patch('/v1/protocols/imap4', { banner: 'Welcome to the IMAP of Example.' });
    await patch('/v1/protocols/pop3', { banner: 'Welcome to the POP of Example.' });
    const i = await imapTls(server);
    assert.match(i.greeting, /^\* OK \[CAPABILITY [^\]]+\] Welcome to the IMAP of Example\.\r\n$/);
    i.c.close();
    const p = await pop3Tls(server);
    assert.equal(p.greeting, '+OK Welcome to the POP of Example.\r\n');
    p.c.close();
  });

  it('lowering maxConnectionsPerUser refuses the next login; lowering maxConnections refuses the next connection', async () => {
    const a = await imapLoggedIn(server);
    const b = await imapLoggedIn(server);
    await patch('/v1/protocols/imap4', { maxConnectionsPerUser: 2 });
    const { c } = await imapTls(server);
    assert.match((await imap(c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`)).tagged, /^NO \[LIMIT\]/);
    c.close();
    await patch('/v1/protocols/imap4', { maxConnectionsPerUser: 16 });
    (await imapLoggedIn(server)).close();

    // Two connections are open (a, b): a cap of 2 refuses the third before any greeting.
    await patch('/v1/protocols/imap4', { maxConnections: 2 });
    const third = await LineClient.connect(server.ports.imap!);
    assert.match(await third.line(), /^\* BYE \[LIMIT\]/);
    await third.waitClosed();
    await patch('/v1/protocols/imap4', { maxConnections: 2147483647 });
    a.close();
    b.close();
  });

  it('maxCommandSize: new sessions use the new limit', async () => {
    await patch('/v1/protocols/pop3', { maxCommandSize: 40 });
    const p = await pop3Tls(server);
    assert.match(await p.c.cmd(`USER ${'u'.repeat(60)}@example.test`), /^-ERR Command line too long/);
    p.c.close();
    await patch('/v1/protocols/pop3', { maxCommandSize: 512 });
    const p2 = await pop3Tls(server);
    assert.match(await p2.c.cmd(`USER ${'u'.repeat(60)}@example.test`), /^\+OK/);
    p2.c.close();

    await patch('/v1/protocols/imap4', { maxCommandSize: 1024 });
    const i = await imapTls(server);
    i.c.write(`x1 NOOP ${'a'.repeat(2000)}\r\n`);
    assert.match(await i.c.readUntil(/\* BYE [^\r\n]*\r\n/), /Command exceeds 1024 octets/);
    await i.c.waitClosed();
    await patch('/v1/protocols/imap4', { maxCommandSize: 10240 });
    const i2 = await imapTls(server);
    assert.match((await imap(i2.c, `ID ("name" "${'a'.repeat(1800)}")`)).tagged, /^OK/);
    i2.c.close();
  });

  it('timeouts: new connections get the new pre-login timeout, new logins the new idle timeout', async () => {
    const calls: Array<{ port: number; kind: 'idle' | 'deadline'; ms: number }> = [];
    const proto = SocketConnection.prototype;
    const { setIdleTimeout, setDeadline } = proto;
    proto.setIdleTimeout = function (this: SocketConnection, ms: number) {
      calls.push({ port: this.remotePort, kind: 'idle', ms });
      return setIdleTimeout.call(this, ms);
    };
    proto.setDeadline = function (this: SocketConnection, ms: number) {
      calls.push({ port: this.remotePort, kind: 'deadline', ms });
      return setDeadline.call(this, ms);
    };
    try {
      await patch('/v1/protocols/imap4', { preAuthenticatedConnectionTimeout: 45, authenticatedConnectionTimeout: 2400 });
      await patch('/v1/protocols/pop3', { preAuthenticatedConnectionTimeout: 35, authenticatedConnectionTimeout: 700 });
      const i = await imapLoggedIn(server);
      const ip = i.socket.localPort!;
      const p = await pop3Tls(server);
      assert.match(await p.c.cmd(`USER ${USER}`), /^\+OK/);
      assert.match(await p.c.cmd(`PASS ${PASSWORD}`), /^\+OK/);
      const pp = p.c.socket.localPort!;
      const of = (port: number, kind: 'idle' | 'deadline') => calls.filter((c) => c.port === port && c.kind === kind).map((c) => c.ms);
      assert.deepEqual(of(ip, 'idle').slice(0, 1), [45_000]);
      assert.ok(of(ip, 'deadline').includes(45_000));
      assert.equal(of(ip, 'idle').at(-1), 2_400_000, 'after login');
      assert.deepEqual(of(pp, 'idle').slice(0, 1), [35_000]);
      assert.equal(of(pp, 'idle').at(-1), 700_000, 'after login');
      i.close();
      p.c.close();
    } finally {
      proto.setIdleTimeout = setIdleTimeout;
      proto.setDeadline = setDeadline;
      await patch('/v1/protocols/imap4', { preAuthenticatedConnectionTimeout: 60, authenticatedConnectionTimeout: 1800 });
      await patch('/v1/protocols/pop3', { preAuthenticatedConnectionTimeout: 60, authenticatedConnectionTimeout: 1800 });
    }
  });

  it('protocolLogEnabled: one JSON line per command with Exchange fields; never a password', async () => {
    const commandLines = () => logLines.map((l) => JSON.parse(l)).filter((o) => o.protocolLog);
    const sasl = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');
    const exercise = async () => {
      const i = await imapTls(server);
      await imap(i.c, `LOGIN ${quoted(USER)} ${quoted(PASSWORD)}`);
      await imap(i.c, 'SELECT INBOX');
      await imap(i.c, 'LOGOUT');
      i.c.close();
      const j = await imapTls(server);
      await imap(j.c, `AUTHENTICATE PLAIN ${sasl}`);
      j.c.close();
      const k = await imapTls(server);
      k.c.write('k1 AUTHENTICATE PLAIN\r\n');
      await k.c.readUntil('+ \r\n');
      k.c.write(sasl + '\r\n');
      await k.c.readUntil(/k1 OK[^\r\n]*\r\n/);
      k.c.close();
      const p = await pop3Tls(server);
      await p.c.cmd(`USER ${USER}`);
      await p.c.cmd(`PASS ${PASSWORD}`);
      await p.c.cmd('STAT');
      await p.c.cmd('QUIT');
      p.c.close();
      const q = await pop3Tls(server);
      await q.c.cmd(`AUTH PLAIN ${sasl}`);
      q.c.close();
      const r = await pop3Tls(server);
      await r.c.cmd('AUTH PLAIN');
      await r.c.cmd(sasl);
      r.c.close();
    };

    await exercise();
    assert.equal(commandLines().length, 0, 'off by default');

    await patch('/v1/protocols/imap4', { protocolLogEnabled: true });
    await patch('/v1/protocols/pop3', { protocolLogEnabled: true });
    await exercise();
    const lines = commandLines();
    const imapLines = lines.filter((l) => l.protocolLog === 'imap4');
    const popLines = lines.filter((l) => l.protocolLog === 'pop3');
    assert.deepEqual(imapLines.map((l) => l.command), ['LOGIN', 'SELECT', 'LOGOUT', 'AUTHENTICATE', 'AUTHENTICATE']);
    assert.deepEqual(popLines.map((l) => l.command), ['USER', 'PASS', 'STAT', 'QUIT', 'AUTH', 'AUTH', 'AUTH']);
    for (const l of lines) {
      for (const f of ['dateTime', 'sessionId', 'seqNumber', 'serverIp', 'clientIp', 'user', 'command', 'parameters', 'durationMs', 'requestSize', 'responseSize', 'context']) {
        assert.ok(f in l, `${f} in ${JSON.stringify(l)}`);
      }
      assert.ok(!Number.isNaN(Date.parse(l.dateTime)));
      assert.equal(l.clientIp, '127.0.0.1');
    }
    const login = imapLines[0];
    assert.equal(login.parameters, `${USER} *****`);
    assert.equal(imapLines[1].user, USER);
    assert.deepEqual(imapLines.slice(0, 3).map((l) => l.seqNumber), [1, 2, 3]);
    assert.equal(popLines[1].parameters, '*****');
    const all = logLines.join('\n');
    assert.equal(all.includes(PASSWORD), false, 'no password in the log');
    assert.equal(all.includes(sasl), false, 'no SASL credentials in the log');

    await patch('/v1/protocols/imap4', { protocolLogEnabled: false });
    await patch('/v1/protocols/pop3', { protocolLogEnabled: false });
    const n = commandLines().length;
    await exercise();
    assert.equal(commandLines().length, n, 'off again');
  });
});
