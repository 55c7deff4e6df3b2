// Security checklist (shared/reference/security-checklist.md) for IMAP, end to end against
// the real session over real sockets: A1-A7, B8-B15 and B18, C20 and C24, E36-E38, E40, E41.
// Covered elsewhere: B16/B17 and D27 in mailboxes.test.ts; D26, D28, D29 in
// append-copy-move.test.ts; D29/D31 in fetch.test.ts; D30 in store.test.ts; B19 in
// fuzz.test.ts; the network layer's halves of A1/A2/A7 and E37/E38 in test/net/.
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { deliverToInbox, updateMailbox } from '../../core/admin/mailboxes.js';
import { ensureDefaultFolders } from '../../core/store/default-folders.js';
import type { Role } from '../../core/store/port.js';
import { demoMessages } from '../../core/mime/samples.js';
import { openLocalStore } from '../../core/store/local/index.js';
import type { BlobStore, Store } from '../../core/store/port.js';
import type { Connection } from '../../protocol-tasks/net/types.js';
import { DEFAULT_IDLE_KEEPALIVE_MS } from '../../protocol-tasks/imap/session.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';
import { WireClient, quote } from './wire-client.js';

const AUTH_FAILED = 'NO [AUTHENTICATIONFAILED] Authentication failed.';
const KEEPALIVE_MS = 150;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deepest parenthesis nesting in a response, outside quoted strings. */
function parenDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '(') max = Math.max(max, ++depth);
    else if (ch === ')') depth--;
  }
  return max;
}

/** Text of a tagged line without its tag. */
const untag = (line: string) => line.slice(line.indexOf(' ') + 1);

describe('IMAP security checklist', () => {
  let s: TestServer;
  let dir: string;
  let brokenId = '';
  let failing = false;
  const blobReads = { n: 0 };
  const authCalls: string[] = [];
  const ids = new Map<string, string>();
  let main: WireClient;

  before(async () => {
    // A store that fails on cue for one account (E41) and counts blob reads (E38).
    dir = await mkdtemp(join(tmpdir(), 'mab-imap-checklist-'));
    const real = await openLocalStore(dir);
    const blobs: BlobStore = new Proxy(real.blobs, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (prop === 'get' || prop === 'stream') {
          return (...a: unknown[]) => {
            blobReads.n++;
            return (v as (...x: unknown[]) => unknown).apply(target, a);
          };
        }
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const faulty: Store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'blobs') return blobs;
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        if (prop === 'listMessages' || prop === 'getMessages' || prop === 'changesSince') {
          return (accountId: string, ...rest: unknown[]) => {
            if (failing && accountId === brokenId) return Promise.reject(new Error('simulated storage failure'));
            return (v as (...x: unknown[]) => unknown).call(target, accountId, ...rest);
          };
        }
        return v.bind(target);
      },
    });
    s = await startTestServer({ store: faulty, idleKeepaliveMs: KEEPALIVE_MS, pollThrottle: { burst: 20, perSecond: 200 } });
    const realAuth = s.auth.authenticate.bind(s.auth);
    s.auth.authenticate = (req) => {
      authCalls.push(req.username);
      return realAuth(req);
    };
    const accounts: Array<[string, Role]> = [
      ['broken@example.test', 'user'],
      ['disabled@example.test', 'user'],
      ['big@example.test', 'user'],
      ['many@example.test', 'user'],
      ['admin@example.test', 'admin'],
      ['guest@example.test', 'guest'],
      ['anon@example.test', 'anonymous'],
    ];
    // Same password as alice: her hash is reused, so setting up costs no extra scrypt runs.
    const alice = (await s.store.getAccountByAddress(USER))!;
    for (const [address, role] of accounts) {
      const acc = await s.store.createAccount({ address, passwordHash: alice.passwordHash, role: role!, pop3: alice.pop3, imap4: alice.imap4, homeSite: 'local' });
      await ensureDefaultFolders(s.store, acc.id);
      ids.set(address, acc.id);
    }
    await updateMailbox(s.store, 'disabled@example.test', { imapEnabled: false });
    // A minimum-cost (ln=14) scrypt hash for the account that logs in 16 times at once.
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const enc = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
    await s.store.updateAccount(ids.get('many@example.test')!, { passwordHash: `$scrypt$ln=14,r=8,p=1$${enc(salt)}$${enc(key)}` });
    brokenId = ids.get('broken@example.test')!;
    ids.set(USER, alice.id);
    for (const m of demoMessages(USER, new Date()).slice(0, 3)) await deliverToInbox(s.store, USER, m.raw, { internalDate: m.internalDate });
    // One logged-in session with INBOX selected, shared by the tests that need one.
    main = await WireClient.open(s.ports, { select: 'INBOX' });
  });
  after(async () => {
    main?.close();
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const inboxCount = async (address = USER) => (await s.store.getFolderByName(ids.get(address)!, 'INBOX'))!.messageCount;
  /** The server side of a client connection. */
  const serverConn = (c: WireClient): Connection => {
    const port = c.socket.localPort;
    const conn = [...s.imap4.server.connections()].find((x) => x.remotePort === port);
    assert.ok(conn, 'server-side connection found');
    return conn;
  };
  const plain = async () => {
    const c = await WireClient.connect(s.ports.imap!);
    c.record = true;
    await c.response();
    return c;
  };
  const secure = async () => {
    const c = await WireClient.connect(s.ports.imaps!, { tls: true });
    c.record = true;
    await c.response();
    return c;
  };

  // ---------------------------------------------------------------- A. TLS and STARTTLS

  it('A1: a command pipelined after STARTTLS in the same write is never run', async () => {
    const c = await plain();
    c.write('A STARTTLS\r\nX NOOP\r\n');
    assert.equal(await c.line(), 'A OK Begin TLS negotiation now\r\n');
    await c.startTls();
    const y = await c.cmd('NOOP');
    assert.equal(y.status, 'OK');
    assert.deepEqual(y.untagged, [], 'nothing but the reply to the NOOP sent inside TLS');
    await sleep(100);
    assert.equal(c.pending(), '');
    assert.ok(!c.log.some((l) => l.startsWith('X ')), 'no reply to X, ever');
    c.close();
  });

  it('A2: plaintext LOGIN and APPEND sent after the OK, before the ClientHello, never run', async () => {
    const calls = authCalls.length;
    const count = await inboxCount();
    const c = await plain();
    c.write('A STARTTLS\r\n');
    assert.equal(await c.line(), 'A OK Begin TLS negotiation now\r\n');
    c.write(`B LOGIN ${USER} ${quote(PASSWORD)}\r\nC APPEND INBOX {5+}\r\nhello\r\nD NOOP\r\n`);
    const handshake = await Promise.race([c.startTls().then(() => 'secure', () => 'failed'), sleep(3000).then(() => 'timeout')]);
    assert.notEqual(handshake, 'secure', 'the handshake cannot succeed over plaintext');
    await c.waitClosed();
    assert.ok(!c.log.some((l) => /^[BCD] /.test(l)), `no reply to B, C or D: ${JSON.stringify(c.log)}`);
    assert.equal(authCalls.length, calls, 'the LOGIN never reached the authenticator');
    assert.equal(await inboxCount(), count, 'nothing was stored');
  });

  it('A3: SecureLogin on the plain port: STARTTLS LOGINDISABLED, no AUTH=; valid credentials refused', async () => {
    assert.equal(s.settings.get('imap4').loginType, 'SecureLogin');
    const calls = authCalls.length;
    const c = await plain();
    const caps = (await c.cmd('CAPABILITY')).untagged[0]!;
    assert.match(caps, /^\* CAPABILITY IMAP4rev1 .*\bSTARTTLS\b/);
    assert.match(caps, /\bLOGINDISABLED\b/);
    assert.doesNotMatch(caps, /AUTH=/);
    const login = await c.cmd(`LOGIN ${USER} ${quote(PASSWORD)}`);
    assert.equal(login.status, 'NO', login.tagged);
    const ir = await c.cmd(`AUTHENTICATE PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`);
    assert.equal(ir.status, 'NO', ir.tagged);
    // Two-step: refused before any continuation.
    const two = await c.cmd('AUTHENTICATE PLAIN');
    assert.equal(two.status, 'NO', two.tagged);
    assert.deepEqual(two.untagged, [], 'no "+" continuation');
    assert.equal(authCalls.length, calls, 'credentials sent in clear are never checked');
    assert.equal((await c.cmd('SELECT INBOX')).status, 'BAD', 'still not authenticated');
    c.close();
  });

  it('A4: after STARTTLS, CAPABILITY lists neither STARTTLS nor LOGINDISABLED but AUTH=PLAIN; A5: a second STARTTLS is BAD', async () => {
    const c = await plain();
    assert.equal((await c.cmd('STARTTLS')).status, 'OK');
    await c.startTls();
    const caps = (await c.cmd('CAPABILITY')).untagged[0]!;
    assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
    assert.match(caps, /\bAUTH=PLAIN\b/);
    assert.match(String((c.socket as tls.TLSSocket).getProtocol()), /^TLSv1\.[23]$/, 'A7: STARTTLS negotiates TLS 1.2 or newer');
    // A5: a second STARTTLS is BAD.
    const again = await c.cmd('STARTTLS');
    assert.equal(again.status, 'BAD', again.tagged);
    c.close();
  });

  it('A5: STARTTLS on the implicit-TLS port and after login is BAD', async () => {
    const c = await secure();
    assert.doesNotMatch((await c.cmd('CAPABILITY')).untagged[0]!, /STARTTLS/);
    assert.equal((await c.cmd('STARTTLS')).status, 'BAD');
    c.close();
    const after = await main.cmd('STARTTLS');
    assert.equal(after.status, 'BAD', after.tagged);
    assert.equal((await main.cmd('NOOP')).status, 'OK', 'the session goes on');
  });

  it('A6: never PREAUTH; nothing but the greeting before TLS', async () => {
    for (const kind of ['plain', 'tls'] as const) {
      const c = await WireClient.connect(kind === 'plain' ? s.ports.imap! : s.ports.imaps!, { tls: kind === 'tls' });
      const greeting = await c.response();
      assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 [^\]]*\] /);
      assert.doesNotMatch(greeting, /PREAUTH/);
      await sleep(300);
      assert.equal(c.pending(), '', `no other untagged data on the ${kind} port`);
      c.close();
    }
  });

  it('A7: implicit TLS is 1.2 or newer; TLS 1.1 is refused; garbage handshakes close and the server goes on', async () => {
    const c = await secure();
    assert.match(String((c.socket as tls.TLSSocket).getProtocol()), /^TLSv1\.[23]$/);
    c.close();
    await assert.rejects(WireClient.connect(s.ports.imaps!, { tls: true, tlsOptions: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' } }));
    const g = await WireClient.connect(s.ports.imaps!);
    g.write(Buffer.from('16030100ff0100' + 'ab'.repeat(300), 'hex'));
    await g.waitClosed();
    const ok = await secure();
    assert.equal((await ok.cmd('NOOP')).status, 'OK');
    ok.close();
  });

  // ---------------------------------------------------------------- B. Parser

  describe('B: parser limits on a logged-in session', () => {
    let c: WireClient;
    before(() => {
      c = main;
    });

    it('B8: impossible or oversized literal sizes get BAD / NO [TOOBIG] before any "+"', async () => {
      const count = await inboxCount();
      for (const [size, want] of [
        ['4294967296', /^BAD/],
        ['99999999999999999999', /^BAD/],
        ['-1', /^BAD/],
        ['1a', /^BAD/],
        [String(64 * 1024 * 1024 + 1), /^NO \[TOOBIG\]/],
      ] as const) {
        // Read as a plain line. A reply must never end in something that looks like a
        // literal marker ("... {4294967296}"): response readers such as imapflow's would
        // take it for a literal announcement and lose sync.
        const tag = c.nextTag();
        c.write(`${tag} APPEND INBOX {${size}}\r\n`);
        const line = await c.line();
        assert.doesNotMatch(line, /\{[^}]*\}\r?\n?$/, `no literal-like ending: ${JSON.stringify(line)}`);
        assert.ok(line.startsWith(`${tag} `), `tagged, no "+" for {${size}}: ${JSON.stringify(line)}`);
        assert.match(untag(line), want, `{${size}}: ${line}`);
        assert.equal((await c.cmd('NOOP')).status, 'OK', 'the session goes on');
      }
      assert.equal(await inboxCount(), count);
    });

    it('B9: a refused {n+} literal is read and discarded, never run as commands', async () => {
      // An argument literal over the 64 KiB argument limit, full of command lines.
      const inner = 'Z1 LOGOUT\r\nZ2 DELETE INBOX\r\n'.repeat(3000).slice(0, 70_000);
      c.record = true;
      c.write(`S1 SEARCH TEXT {${inner.length}+}\r\n${inner} ALL\r\n`);
      assert.match(await c.line(), /^S1 BAD .*\[TOOBIG\]|^S1 BAD /);
      const r = await c.cmd('NOOP');
      assert.equal(r.status, 'OK');
      assert.ok(!c.log.some((l) => /^Z\d /.test(l)), 'no reply to anything inside the literal');
      c.record = false;
      // Before login, an APPEND literal is refused outright; its 5000 octets are skipped.
      const p = await secure();
      p.write(`P1 APPEND INBOX {5000+}\r\n${'Z3 LOGIN a b\r\n'.repeat(400).slice(0, 5000)}\r\n`);
      assert.match(await p.line(), /^P1 NO /);
      assert.equal((await p.cmd('NOOP')).status, 'OK');
      assert.ok(!p.log.some((l) => l.startsWith('Z3 ')));
      p.close();
    });

    it('B10: 100,000 tiny literals in one command are capped; nothing is stored', async () => {
      const count = await inboxCount();
      const one = await secure();
      const before = process.memoryUsage();
      one.write('M1 LOGIN' + ' {1+}\r\nx'.repeat(100_000) + '\r\n');
      await one.waitClosed(20_000);
      const grown = process.memoryUsage().heapUsed - before.heapUsed;
      // The connection ends (BAD [LIMIT], then BYE). The client is still sending when the
      // server closes, so the reply may be lost to the TCP reset; what arrived must fit.
      const said = one.pending();
      assert.match(said, /^(M1 BAD \[LIMIT\] [^\r\n]*\r\n(\* BYE [^\r\n]*\r\n)?)?$/, JSON.stringify(said));
      console.log(`B10: 100,000 literals -> ${JSON.stringify(said)}, connection closed; heap +${(grown / 1e6).toFixed(1)} MB`);
      // 1,001 literals in an APPEND on a logged-in session: BAD [LIMIT], the session goes on.
      c.write('M2 APPEND INBOX' + ' {1+}\r\nx'.repeat(1001) + '\r\n');
      assert.match(await c.response(20_000), /^M2 BAD \[LIMIT\] /);
      assert.equal((await c.cmd('NOOP')).status, 'OK');
      assert.equal(await inboxCount(), count, 'no message from the capped commands');
    });

    it('B10: parallel APPENDs are capped: not every session gets "+" for a 64 MiB literal at once', async () => {
      // 16 sessions (maxConnectionsPerUser) of one user each announce an APPEND at the limit:
      // accepting all of them promises 1 GiB of literal data held in memory at once. The
      // session should ask a process-wide budget before sending "+" (codec README).
      const user = 'many@example.test';
      const conns = await Promise.all(Array.from({ length: 16 }, () => WireClient.open(s.ports, { user })));
      try {
        const replies = await Promise.all(
          conns.map(async (x, i) => {
            x.write(`P${i} APPEND INBOX {${64 * 1024 * 1024}}\r\n`);
            return (await x.line()).trim();
          }),
        );
        const accepted = replies.filter((l) => l.startsWith('+')).length;
        console.log(`B10: ${accepted} of 16 parallel 64 MiB APPEND literals accepted at once (${accepted * 64} MiB promised)`);
        assert.ok(accepted < 16, `a process-wide literal budget refuses some of 16 x 64 MiB: ${JSON.stringify(replies)}`);
      } finally {
        for (const x of conns) x.close();
      }
    });

    it('B11: an 8,000-octet command is accepted', async () => {
      const long = 'x'.repeat(7_950);
      const r = await c.cmd(`UID SEARCH SUBJECT "${long}"`);
      assert.equal(r.status, 'OK', r.tagged);
      assert.deepEqual(r.untagged, ['* SEARCH\r\n']);
    });

    it('B11: a 10 MB line without CRLF gets BAD/BYE and is not buffered', async () => {
      const victim = await secure();
      const blob = Buffer.alloc(10 * 1024 * 1024, 0x61);
      blob.write('L1 NOOP ', 0, 'latin1');
      const base = process.memoryUsage();
      let peak = 0;
      const sample = setInterval(() => {
        const m = process.memoryUsage();
        peak = Math.max(peak, m.heapUsed + m.arrayBuffers - base.heapUsed - base.arrayBuffers);
      }, 5);
      for (let off = 0; off < blob.length && !victim.closed; off += 64 * 1024) {
        if (!victim.socket.write(blob.subarray(off, off + 64 * 1024))) {
          await Promise.race([new Promise((r) => victim.socket.once('drain', r)), victim.waitClosed(2000).catch(() => undefined)]);
        }
      }
      await victim.waitClosed();
      clearInterval(sample);
      // BAD/BYE, unless lost to the reset of a connection the client was still writing to.
      const said = victim.pending();
      assert.match(said, /^((L1 BAD [^\r\n]*\r\n)?\* BYE [^\r\n]*\r\n)?$/, `BAD/BYE: ${JSON.stringify(said.slice(0, 200))}`);
      console.log(`B11: a 10 MB line -> ${JSON.stringify(said)}, closed; server memory peak +${(peak / 1e6).toFixed(1)} MB`);
      assert.ok(peak < 8 * 1024 * 1024, `the server's memory grew by ${(peak / 1e6).toFixed(1)} MB for a 10 MB line`);
      assert.equal((await c.cmd('NOOP')).status, 'OK', 'other sessions go on');
    });

    it('B12: 100,000 nested parentheses in SEARCH and in a flag list are BAD; the process survives', async () => {
      const deep = '('.repeat(5000) + ')'.repeat(5000);
      const r1 = await c.cmd(`SEARCH ${deep}`);
      assert.equal(r1.status, 'BAD', r1.tagged);
      const r2 = await c.cmd(`STORE 1 +FLAGS ${deep}`);
      assert.equal(r2.status, 'BAD', r2.tagged);
      // 100,000 levels exceed the 10,240-octet command limit: fatal on a connection of its own.
      const v = await secure();
      v.write(`N1 SEARCH ${'('.repeat(100_000)}${')'.repeat(100_000)}\r\n`);
      await v.waitClosed();
      assert.match(v.pending(), /^((N1 BAD [^\r\n]*\r\n)?\* BYE [^\r\n]*\r\n)?$/);
      assert.equal((await c.cmd('NOOP')).status, 'OK');
    });

    it('B12: a message with MIME nesting 1,000 deep is indexed with a capped structure', async () => {
      let body = 'innermost\r\n';
      for (let i = 999; i >= 0; i--) body = `--b${i}\r\nContent-Type: multipart/mixed; boundary="b${i + 1}"\r\n\r\n${body}\r\n--b${i}--\r\n`;
      const raw = Buffer.from(`From: a@example.org\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n${body}`);
      const { uid } = await deliverToInbox(s.store, USER, raw);
      assert.equal((await c.cmd('NOOP')).status, 'OK');
      const r = await c.cmd(`UID FETCH ${uid} (BODYSTRUCTURE)`);
      assert.equal(r.status, 'OK', r.tagged);
      const depth = parenDepth(r.untagged.join(''));
      assert.ok(depth < 200, `structure nesting capped (${depth} levels in the reply)`);
      console.log(`B12: BODYSTRUCTURE of a 1,000-deep message: ${depth} levels, ${r.untagged.join('').length} octets`);
      const part = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[1.1.1.1.1])`);
      assert.ok(part.status === 'OK' || part.status === 'NO', part.tagged);
      const body2 = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[])`);
      assert.equal(body2.status, 'OK');
      assert.ok(body2.untagged[0]!.includes(raw.toString('latin1')), 'the message itself is served byte-exact');
    });

    it('B13: invalid sequence sets are BAD; 1:4294967295 and *:1 are ranges', async () => {
      for (const set of ['0', '1:0', '4294967296', '1,,5', '1:', ':5', 'a', '1:*:2', '-1']) {
        const r = await c.cmd(`FETCH ${set} (FLAGS)`);
        assert.equal(r.status, 'BAD', `FETCH ${set}: ${r.tagged}`);
        const u = await c.cmd(`UID FETCH ${set} (FLAGS)`);
        assert.equal(u.status, 'BAD', `UID FETCH ${set}: ${u.tagged}`);
      }
      const exists = await inboxCount();
      const t0 = Date.now();
      const all = await c.cmd('UID FETCH 1:4294967295 (UID)');
      assert.equal(all.status, 'OK');
      assert.equal(all.untagged.filter((l) => / FETCH /.test(l)).length, exists);
      const rev = await c.cmd('FETCH *:1 (UID)');
      assert.equal(rev.status, 'OK');
      assert.deepEqual(
        rev.untagged.filter((l) => / FETCH /.test(l)).map((l) => Number(l.split(' ')[1])),
        Array.from({ length: exists }, (_, i) => i + 1),
      );
      const uidRev = await c.cmd('UID SEARCH UID 4294967295:1');
      assert.equal(uidRev.status, 'OK');
      console.log(`B13: UID FETCH 1:4294967295, FETCH *:1 and UID SEARCH 4294967295:1 in ${Date.now() - t0} ms`);
    });

    it('B14: NUL, CR or LF in a quoted string, unterminated quotes: BAD, no state change, nothing truncated', async () => {
      const folders = async () => (await s.store.listFolders(ids.get(USER)!)).map((f) => f.name).sort();
      const before = await folders();
      const flags = async () => (await c.cmd('FETCH 1 (FLAGS)')).untagged[0];
      const f0 = await flags();
      for (const cmd of [
        Buffer.from('CREATE "foo\0bar"'),
        Buffer.from('CREATE foo\0bar'),
        Buffer.from('CREATE "foo\rbar"'),
        Buffer.from('STORE 1 +FLAGS (\\Seen\0)'),
        Buffer.from('STORE 1 +FLAGS ($a\0b)'),
        Buffer.from('CREATE "unterminated'),
      ]) {
        const r = await c.cmd(cmd);
        assert.equal(r.status, 'BAD', `${JSON.stringify(cmd.toString('latin1'))}: ${r.tagged}`);
      }
      // LF inside a quoted string ends the line: the rest is a line of its own (BAD too).
      c.write('Q1 CREATE "foo\nbar"\r\n');
      assert.match(await c.line(), /^Q1 BAD /);
      assert.match(await c.line(), /^(\* |bar"? )BAD /);
      assert.equal((await c.cmd('NOOP')).status, 'OK');
      assert.deepEqual(await folders(), before, 'no folder was created, truncated or not');
      assert.equal(await flags(), f0, 'flags unchanged');
    });

    it('B15: a bare LF ends a line (documented); a bare CR is BAD', async () => {
      c.write('F1 NOOP\n');
      assert.match(await c.line(), /^F1 OK /);
      c.write('F2 NOOP\rF3 NOOP\r\n');
      assert.match(await c.line(), /^F2 BAD /);
      assert.equal((await c.cmd('NOOP')).status, 'OK');
    });
  });

  it('B18: AUTHENTICATE with invalid base64 or "*" is BAD; many bad commands before login end the connection', async () => {
    const c = await secure();
    const t1 = c.nextTag();
    c.write(`${t1} AUTHENTICATE PLAIN\r\n`);
    assert.match(await c.line(), /^\+ ?\r\n$/);
    c.write('!!!not base64!!!\r\n');
    assert.match(await c.line(), new RegExp(`^${t1} BAD `));
    const t2 = c.nextTag();
    c.write(`${t2} AUTHENTICATE PLAIN\r\n`);
    assert.match(await c.line(), /^\+ ?\r\n$/);
    c.write('*\r\n');
    assert.match(await c.line(), new RegExp(`^${t2} BAD `));
    const bad = await c.cmd(`AUTHENTICATE PLAIN ${b64('x').slice(0, 3)}!`);
    assert.equal(bad.status, 'BAD', bad.tagged);
    // Ten invalid commands before login end the connection: send twenty at once.
    let burst = '';
    for (let i = 0; i < 20; i++) burst += `X${i} FROBNICATE\r\n`;
    c.write(burst);
    await c.waitClosed();
    const rest = c.pending();
    const answered = rest.split('\r\n').filter((l) => /^X\d+ BAD /.test(l)).length;
    assert.ok(answered >= 1 && answered <= 10, `closed after ${answered} more bad commands: ${JSON.stringify(rest)}`);
    assert.match(rest, /\* BYE [^\r\n]*\r\n$/, 'with BYE');
  });

  // ---------------------------------------------------------------- C. Authentication

  it('C20: unknown user, wrong password, IMAP disabled, admin, guest, anonymous: the same bytes', async () => {
    const cases: Array<[string, string, string]> = [
      ['unknown user', 'nobody@example.test', PASSWORD],
      ['wrong password', USER, 'wrong password!'],
      ['IMAP disabled', 'disabled@example.test', PASSWORD],
      ['admin role', 'admin@example.test', PASSWORD],
      ['guest role', 'guest@example.test', PASSWORD],
      ['anonymous role', 'anon@example.test', PASSWORD],
    ];
    const results = await Promise.all(
      cases.map(async ([what, user, pass]) => {
        const c = await secure();
        const t0 = Date.now();
        const login = await c.cmd(`LOGIN ${quote(user)} ${quote(pass)}`, 120_000);
        const ms = Date.now() - t0;
        // AUTHENTICATE PLAIN too for the first two (each attempt costs a scrypt run).
        const plainAuth = user === USER || user.startsWith('nobody') ? await c.cmd(`AUTHENTICATE PLAIN ${b64(`\0${user}\0${pass}`)}`, 120_000) : null;
        c.close();
        return {
          what,
          login: untag(login.tagged),
          auth: plainAuth ? untag(plainAuth.tagged) : AUTH_FAILED,
          untagged: [...login.untagged, ...(plainAuth?.untagged ?? [])],
          ms,
        };
      }),
    );
    for (const r of results) {
      assert.equal(r.login, AUTH_FAILED, `LOGIN, ${r.what}`);
      assert.equal(r.auth, AUTH_FAILED, `AUTHENTICATE PLAIN, ${r.what}`);
      assert.deepEqual(r.untagged, [], `no untagged data, ${r.what}`);
    }
    console.log(`C20: LOGIN refusal times (ms, run in parallel): ${results.map((r) => `${r.what} ${r.ms}`).join(', ')}`);
  });

  it('C24: no AUTH=ANONYMOUS, ever; ANONYMOUS, an empty user and a foreign PLAIN authzid fail', async () => {
    const c = await secure();
    assert.doesNotMatch((await c.cmd('CAPABILITY')).untagged[0]!, /ANONYMOUS/);
    const anon = await c.cmd(`AUTHENTICATE ANONYMOUS ${b64('guest')}`);
    assert.equal(anon.status, 'NO', anon.tagged);
    const anon2 = await c.cmd('AUTHENTICATE ANONYMOUS');
    assert.equal(anon2.status, 'NO', anon2.tagged);
    assert.deepEqual(anon2.untagged, [], 'no continuation for ANONYMOUS');
    c.close();
    const d = await secure();
    assert.equal(untag((await d.cmd(`LOGIN "" ${quote(PASSWORD)}`)).tagged), AUTH_FAILED);
    assert.equal(untag((await d.cmd(`AUTHENTICATE PLAIN ${b64(`\0\0${PASSWORD}`)}`)).tagged), AUTH_FAILED);
    d.close();
    const e = await secure();
    // A valid authcid and password with another user's authzid: refused.
    assert.equal(untag((await e.cmd(`AUTHENTICATE PLAIN ${b64(`admin@example.test\0${USER}\0${PASSWORD}`)}`)).tagged), AUTH_FAILED);
    // The same identity twice is fine.
    assert.equal((await e.cmd(`AUTHENTICATE PLAIN ${b64(`${USER}\0${USER}\0${PASSWORD}`)}`)).status, 'OK');
    const caps = await e.cmd('CAPABILITY');
    assert.doesNotMatch(caps.untagged[0]!, /ANONYMOUS/);
    e.close();
  });

  // ---------------------------------------------------------------- E. Denial of service

  it('E36: after login the idle timeout is the authenticated one (>= 30 min) and no deadline; IDLE keepalives', async () => {
    assert.ok(DEFAULT_IDLE_KEEPALIVE_MS < 350_000, 'the default keepalive is shorter than the NLB idle timeout');
    const c = await secure();
    const conn = serverConn(c);
    const idle: number[] = [];
    const deadline: number[] = [];
    const origIdle = conn.setIdleTimeout.bind(conn);
    const origDeadline = conn.setDeadline.bind(conn);
    (conn as { setIdleTimeout: (ms: number) => void }).setIdleTimeout = (ms) => {
      idle.push(ms);
      origIdle(ms);
    };
    (conn as { setDeadline: (ms: number) => void }).setDeadline = (ms) => {
      deadline.push(ms);
      origDeadline(ms);
    };
    assert.equal((await c.cmd(`LOGIN ${USER} ${quote(PASSWORD)}`)).status, 'OK');
    const timeout = s.settings.get('imap4').authenticatedConnectionTimeout;
    assert.ok(timeout >= 1800);
    assert.deepEqual(idle, [timeout * 1000], 'idle timeout set to authenticatedConnectionTimeout');
    assert.deepEqual(deadline, [0], 'the pre-login absolute deadline is lifted');
    assert.equal((await c.cmd('SELECT INBOX')).status, 'OK');
    const t = c.nextTag();
    c.write(`${t} IDLE\r\n`);
    assert.match(await c.line(), /^\+ /);
    const t0 = Date.now();
    assert.equal(await c.waitFor(/^\* OK Still here\r\n$/, 2000), '* OK Still here\r\n');
    assert.equal(await c.waitFor(/^\* OK Still here\r\n$/, 2000), '* OK Still here\r\n');
    console.log(`E36: two IDLE keepalives in ${Date.now() - t0} ms (interval ${KEEPALIVE_MS} ms)`);
    c.write('DONE\r\n');
    assert.match(await c.waitFor(new RegExp(`^${t} `)), new RegExp(`^${t} OK `));
    c.close();
  });

  it('E37: a slow sender before login is cut at the absolute deadline, whatever it sends', async () => {
    const c = await secure();
    // The deadline from settings is at least 30 s; stand in a short one on this connection.
    serverConn(c).setDeadline(800);
    const t0 = Date.now();
    const line = `A1 LOGIN ${USER} ${quote(PASSWORD)}\r\n`;
    for (let i = 0; i < line.length && !c.closed; i++) {
      c.write(line[i]!);
      await sleep(50);
    }
    await c.waitClosed(5000);
    const took = Date.now() - t0;
    assert.ok(took < line.length * 50, `cut after ${took} ms, before the trickled line was complete`);
    assert.ok(!c.log.some((l) => l.startsWith('A1 ')));
  });

  it('E38: FETCH 1:* BODY[] from a client that never reads: blob reads stop, memory stays bounded', async () => {
    const big = 'big@example.test';
    const N = 40;
    const size = 1024 * 1024;
    const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijk\r\n';
    const body = line.repeat(Math.ceil(size / line.length)).slice(0, size - 2) + '\r\n';
    for (let i = 0; i < N; i++) await deliverToInbox(s.store, big, Buffer.from(`Subject: big ${i}\r\n\r\n${body}`));
    const c = await WireClient.open(s.ports, { user: big, select: 'INBOX' });
    const base = process.memoryUsage();
    const reads0 = blobReads.n;
    c.socket.pause();
    c.write('F1 FETCH 1:* (BODY.PEEK[])\r\n');
    await sleep(1500);
    const mid = process.memoryUsage();
    const readsStalled = blobReads.n - reads0;
    const grown = mid.heapUsed + mid.arrayBuffers - base.heapUsed - base.arrayBuffers;
    console.log(`E38: ${readsStalled} of ${N} blobs read while the client did not read; server memory +${(grown / 1e6).toFixed(1)} MB`);
    assert.ok(readsStalled < N, `backpressure stops blob reads (${readsStalled} of ${N})`);
    assert.ok(grown < 24 * 1024 * 1024, `memory bounded (+${(grown / 1e6).toFixed(1)} MB for ${N} MB requested)`);
    c.socket.resume();
    const r = await c.reply('F1', 60_000);
    assert.equal(r.status, 'OK');
    assert.equal(r.untagged.filter((l) => / FETCH \(BODY\[\] \{/.test(l)).length, N);
    c.close();
  });

  it('E40: a NOOP flood is throttled, answered in order, and does not starve another session', async () => {
    // This server's throttle: a burst of 20, then 200 per second per session.
    const flood = await secure();
    const other = main;
    const N = 420;
    let text = '';
    for (let i = 0; i < N; i++) text += `n${i} NOOP\r\n`;
    const t0 = Date.now();
    flood.write(text);
    // While the flood runs, the other session still gets answers.
    const lat: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      assert.equal((await other.cmd('NOOP')).status, 'OK');
      lat.push(Date.now() - t);
    }
    let n = 0;
    for (;;) {
      const l = await flood.line(30_000);
      assert.equal(l, `n${n} OK NOOP completed\r\n`);
      if (++n === N) break;
    }
    const took = Date.now() - t0;
    console.log(`E40: ${N} pipelined NOOPs answered in ${took} ms (${Math.round((N / took) * 1000)}/s); other session's NOOP latency during the flood: ${lat.join(', ')} ms`);
    // 400 NOOPs beyond the burst at 200/s cannot be answered in less than 2 s (a lower bound:
    // a busy machine only makes it slower).
    assert.ok(took >= 1900, `the flood was slowed by the throttle (${took} ms)`);
    flood.close();
  });

  it('E41: a storage error ends only that session, with BYE; the others go on', async () => {
    const good = main;
    const victim = await WireClient.open(s.ports, { user: 'broken@example.test' });
    victim.record = true;
    failing = true;
    try {
      victim.write('V1 SELECT INBOX\r\n');
      await victim.waitClosed();
      const said = victim.log.join('') + victim.pending();
      assert.match(said, /\* BYE /, `BYE before the close: ${JSON.stringify(said)}`);
      assert.doesNotMatch(said, /V1 OK/);
      assert.equal((await good.cmd('NOOP')).status, 'OK');
      assert.equal((await good.cmd('FETCH 1 (FLAGS)')).status, 'OK');
      const again = await secure();
      assert.equal((await again.cmd('NOOP')).status, 'OK', 'new sessions start');
      again.close();
    } finally {
      failing = false;
    }
  });
});
