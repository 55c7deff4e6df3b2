// STARTTLS injection (A1, A2), implicit TLS versions and abuse (A7), heap under many
// handshakes. Real sockets on 127.0.0.1.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import type { SocketConnection } from '../../protocol-tasks/net/connection.js';
import {
  clientStartTls,
  HOST,
  LineClient,
  settingsWith,
  sleep,
  startTestServer,
  type StartTlsStyle,
  type TestServer,
  until,
} from './helpers.js';

for (const style of ['reply', 'pause-then-write'] as StartTlsStyle[]) {
  describe(`STARTTLS (${style})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ style });
    });
    after(() => ts.close());

    it('A1: bytes pipelined after STARTTLS in the same write are never executed', async () => {
      const c = await LineClient.connect(ts.port('plain'));
      c.send('A NOOP\r\n');
      await c.waitFor('OK A NOOP\r\n');
      c.send('STARTTLS\r\nX NOOP\r\n');
      await c.waitFor('OK begin\r\n');
      assert.ok(!c.text.includes('X NOOP'));
      const up = await clientStartTls(c.socket);
      assert.ok(up.ok, up.ok ? '' : up.error.message);
      const tc = up.client;
      tc.send('Y NOOP\r\n');
      await tc.waitFor('OK Y NOOP\r\n');
      const s = ts.sessions.at(-1)!;
      assert.deepEqual(s.executed, ['A NOOP', 'STARTTLS', 'Y NOOP']);
      assert.equal(await s.tlsResult, 'ok');
      assert.equal(s.conn.secure, true);
      assert.equal(s.conn.canStartTls, false);
      assert.ok(!tc.text.includes('X NOOP'));
      tc.destroy();
    });

    it('A1: bytes pipelined in a separate write right after STARTTLS are dropped too', async () => {
      const c = await LineClient.connect(ts.port('plain'));
      c.send('STARTTLS\r\n');
      c.send('X NOOP\r\nLOGIN a b\r\n');
      await c.waitFor('OK begin\r\n');
      await sleep(20);
      const up = await clientStartTls(c.socket);
      const s = ts.sessions.at(-1)!;
      if (up.ok) {
        up.client.send('Y NOOP\r\n');
        await up.client.waitFor('OK Y NOOP\r\n');
        assert.deepEqual(s.executed, ['STARTTLS', 'Y NOOP']);
        up.client.destroy();
      } else {
        // The pipelined bytes reached the TLS engine: the handshake failed instead.
        assert.deepEqual(s.executed, ['STARTTLS']);
      }
    });

    it('A2: plaintext sent after the go-ahead, before the ClientHello, is never executed', async () => {
      const c = await LineClient.connect(ts.port('plain'));
      c.send('STARTTLS\r\n');
      await c.waitFor('OK begin\r\n');
      const s = ts.sessions.at(-1)!;
      // Wait until the server has handed the socket to TLS, then inject plaintext.
      await until(() => !s.conn.canStartTls, 2000, 'upgrade started');
      c.send('LOGIN user secret\r\nAPPEND INBOX {3}\r\nabc\r\n');
      await sleep(30);
      const up = await clientStartTls(c.socket);
      assert.equal(up.ok, false, 'handshake must fail when plaintext precedes the ClientHello');
      assert.equal(await s.tlsResult, 'failed');
      assert.equal(await s.closed, 'tls-failed');
      assert.deepEqual(s.executed, ['STARTTLS']);
      assert.equal(s.conn.secure, false);
    });

    it('write() is refused while the handshake runs, and a second STARTTLS is refused', async () => {
      const c = await LineClient.connect(ts.port('plain'));
      c.send('STARTTLS\r\n');
      await c.waitFor('OK begin\r\n');
      const s = ts.sessions.at(-1)!;
      await until(() => !s.conn.canStartTls, 2000, 'upgrade started');
      await assert.rejects(s.conn.write('leak\r\n'), /TLS negotiation/);
      const up = await clientStartTls(c.socket);
      assert.ok(up.ok);
      assert.equal(await s.tlsResult, 'ok');
      await assert.rejects(s.conn.startTls(), /already/);
      up.client.send('Z\r\n');
      await up.client.waitFor('OK Z\r\n');
      assert.ok(!up.client.text.includes('leak'));
      up.client.destroy();
    });
  });
}

describe('STARTTLS availability', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(() => ts.close());

  it('is offered on plain, not on tls or lb-tls; lb-tls counts as secure', async () => {
    const a = await LineClient.connect(ts.port('plain'));
    const b = await LineClient.connectTls(ts.port('tls'));
    const c = await LineClient.connect(ts.port('lb-tls'));
    await until(() => ts.sessions.length === 3);
    const byPort = (p: number) => ts.sessions.find((s) => s.conn.localPort === p)!.conn;
    assert.equal(byPort(ts.port('plain')).canStartTls, true);
    assert.equal(byPort(ts.port('plain')).secure, false);
    assert.equal(byPort(ts.port('tls')).canStartTls, false);
    assert.equal(byPort(ts.port('tls')).secure, true);
    assert.equal(byPort(ts.port('lb-tls')).canStartTls, false);
    assert.equal(byPort(ts.port('lb-tls')).secure, true);
    await assert.rejects(byPort(ts.port('tls')).startTls(), /not available/);
    await assert.rejects(byPort(ts.port('lb-tls')).startTls(), /not available/);
    a.destroy();
    b.destroy();
    c.destroy();
  });

  it('without a certificate, STARTTLS is not offered', async () => {
    const t2 = await startTestServer({ tls: null, listeners: [{ host: HOST, port: 0, kind: 'plain' }] });
    try {
      const a = await LineClient.connect(t2.port('plain'));
      await until(() => t2.sessions.length === 1);
      assert.equal(t2.sessions[0]!.conn.canStartTls, false);
      await assert.rejects(t2.sessions[0]!.conn.startTls(), /not available/);
      a.destroy();
    } finally {
      await t2.close();
    }
  });
});

describe('implicit TLS', () => {
  let ts: TestServer;
  let stderr = '';
  const realWrite = process.stderr.write.bind(process.stderr);
  before(async () => {
    ts = await startTestServer({
      settings: () => settingsWith({ preAuthenticatedConnectionTimeout: 0.4 }),
    });
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
  });
  after(async () => {
    process.stderr.write = realWrite;
    await ts.close();
  });

  it('serves TLS 1.3 and TLS 1.2', async () => {
    for (const v of ['TLSv1.3', 'TLSv1.2'] as const) {
      const c = await LineClient.connectTls(ts.port('tls'), { minVersion: v, maxVersion: v });
      assert.equal((c.socket as tls.TLSSocket).getProtocol(), v);
      c.send('HELLO\r\n');
      await c.waitFor('OK HELLO\r\n');
      const conn = ts.sessions.at(-1)!.conn as SocketConnection;
      assert.equal(conn.tlsProtocol, v);
      c.destroy();
    }
  });

  it('refuses TLS 1.0 and 1.1 clients; no session starts', async () => {
    const before = ts.sessions.length;
    for (const v of ['TLSv1', 'TLSv1.1'] as const) {
      await assert.rejects(
        LineClient.connectTls(ts.port('tls'), { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' }),
        /alert protocol version/, // the server's answer (this client can speak TLS 1.0/1.1)
      );
    }
    assert.equal(ts.sessions.length, before);
    await until(() => ts.server.connectionCount() === 0, 2000, 'count back to 0');
  });

  it('a client that never sends a ClientHello is cut at the pre-login deadline', async () => {
    const t0 = Date.now();
    const c = await LineClient.connect(ts.port('tls'));
    await until(() => ts.server.connectionCount() === 1, 1000, 'counted');
    await c.waitClosed(3000);
    const took = Date.now() - t0;
    assert.ok(took >= 350, `closed after ${took} ms, before the deadline`);
    assert.ok(took < 2000, `closed after ${took} ms`);
    assert.equal(c.text, '');
    await until(() => ts.server.connectionCount() === 0, 1000, 'count back to 0');
  });

  it('a slow ClientHello (one byte every 100 ms) is cut at the deadline too', async () => {
    const c = await LineClient.connect(ts.port('tls'));
    const hello = Buffer.from('16030100c8010000c40303', 'hex');
    const t0 = Date.now();
    for (let i = 0; i < hello.length && !c.ended; i++) {
      c.send(hello.subarray(i, i + 1));
      await sleep(100);
    }
    await c.waitClosed(3000);
    const took = Date.now() - t0;
    assert.ok(took < 1500, `closed after ${took} ms`);
  });

  it('garbage handshakes close cleanly, quickly, and log nothing', async () => {
    stderr = '';
    const payloads = [
      Buffer.from('GET / HTTP/1.0\r\n\r\n'),
      Buffer.from('A LOGIN user pass\r\n'),
      randomBytes(600),
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), randomBytes(300)]),
      Buffer.from([0x16, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]),
    ];
    for (const p of payloads) {
      const c = await LineClient.connect(ts.port('tls'));
      c.send(p);
      const t0 = Date.now();
      await c.waitClosed(3000);
      assert.ok(Date.now() - t0 < 2000);
      assert.ok(!c.text.includes('OK'), 'nothing from the protocol');
    }
    await until(() => ts.server.connectionCount() === 0, 2000, 'count back to 0');
    assert.equal(stderr, '');
    assert.deepEqual(ts.errors, []);
  });

  it('200 handshakes with random SNI leave the heap roughly flat', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const round = async (n: number) => {
      for (let i = 0; i < n; i += 10) {
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const sni = `${randomBytes(8).toString('hex')}.example.test`;
            const c = await LineClient.connectTls(ts.port('tls'), { servername: sni });
            c.destroy();
            await c.closed;
          }),
        );
      }
      await until(() => ts.server.connectionCount() === 0, 3000, 'all closed');
      ts.sessions.length = 0;
      await sleep(20);
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const base = await round(30);
    const end = await round(200);
    const growth = end - base;
    assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MiB`);
  });
});

describe('STARTTLS versus raw sockets', () => {
  it('the session never sees data from a socket upgraded mid-chunk (onData throws if it did)', async () => {
    const ts = await startTestServer();
    try {
      // Many rounds, each with pipelined junk of varied sizes after STARTTLS.
      for (let i = 0; i < 20; i++) {
        const c = await LineClient.connect(ts.port('plain'));
        c.send(`STARTTLS\r\n${'X NOOP\r\n'.repeat(1 + i * 50)}`);
        await c.waitFor('OK begin\r\n');
        const up = await clientStartTls(c.socket);
        const s = ts.sessions.at(-1)!;
        if (up.ok) {
          up.client.send('Y\r\n');
          await up.client.waitFor('OK Y\r\n');
          up.client.destroy();
        }
        assert.ok(!s.executed.includes('X NOOP'));
      }
      assert.deepEqual(ts.errors, []);
    } finally {
      await ts.close();
    }
  });
});
