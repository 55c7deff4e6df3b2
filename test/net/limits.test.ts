// Connection caps (E35), timeouts (E36/E37), write backpressure (E38), error isolation
// (E41), listener lifecycle. Real sockets on 127.0.0.1.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';

import type { ProtocolSettings } from '../../core/settings/schema.js';
import type { SocketConnection } from '../../protocol-tasks/net/connection.js';
import type { CloseReason, Connection } from '../../protocol-tasks/net/types.js';
import { HOST, LineClient, settingsWith, sleep, startTestServer, until } from './helpers.js';

describe('connection caps', () => {
  it('total cap: refusal line then close; counted again after a close; live settings', async () => {
    let s: ProtocolSettings = settingsWith({ maxConnections: 2 });
    const ts = await startTestServer({ settings: () => s });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      const b = await LineClient.connect(ts.port('lb-tls'));
      await until(() => ts.server.connectionCount() === 2);
      const c = await LineClient.connect(ts.port('plain'));
      await c.waitFor('BYE too many (total)\r\n');
      await c.waitClosed();
      assert.equal(ts.sessions.length, 2);
      assert.equal(ts.server.connectionCount(), 2);
      a.destroy();
      await until(() => ts.server.connectionCount() === 1);
      const d = await LineClient.connect(ts.port('plain'));
      d.send('HI\r\n');
      await d.waitFor('OK HI\r\n');
      // Raised at run time: applies to the next connection.
      s = settingsWith({ maxConnections: 3 });
      const e = await LineClient.connect(ts.port('plain'));
      e.send('HI\r\n');
      await e.waitFor('OK HI\r\n');
      for (const x of [b, d, e]) x.destroy();
      await until(() => ts.server.connectionCount() === 0);
      assert.equal(ts.server.trackedIps, 0);
    } finally {
      await ts.close();
    }
  });

  it('per-IP cap: refusal line then close', async () => {
    const ts = await startTestServer({ settings: () => settingsWith({ maxConnectionFromSingleIp: 2 }) });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      const b = await LineClient.connect(ts.port('plain'));
      await until(() => ts.server.connectionCount(HOST) === 2);
      const c = await LineClient.connect(ts.port('plain'));
      await c.waitFor('BYE too many (ip)\r\n');
      await c.waitClosed();
      assert.equal(ts.server.connectionCount('::ffff:127.0.0.1'), 2);
      a.destroy();
      b.destroy();
      await until(() => ts.server.connectionCount() === 0);
      assert.equal(ts.server.connectionCount(HOST), 0);
      assert.equal(ts.server.trackedIps, 0);
    } finally {
      await ts.close();
    }
  });

  it('over the cap on a TLS listener, the refusal comes inside TLS', async () => {
    const ts = await startTestServer({ settings: () => settingsWith({ maxConnections: 1 }) });
    try {
      const a = await LineClient.connectTls(ts.port('tls'));
      await until(() => ts.server.connectionCount() === 1);
      const b = await LineClient.connectTls(ts.port('tls'));
      await b.waitFor('BYE too many (total)\r\n');
      await b.waitClosed();
      a.destroy();
      await until(() => ts.server.connectionCount() === 0);
    } finally {
      await ts.close();
    }
  });

  it('refusals being sent at once are bounded; beyond, the socket is just closed', async () => {
    const ts = await startTestServer({
      settings: () => settingsWith({ maxConnections: 1 }),
      limits: { maxPendingRefusals: 2, refusalTimeoutMs: 2000 },
    });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      await until(() => ts.server.connectionCount() === 1);
      // Silent TLS clients hold their refusal slot (waiting for a ClientHello).
      const silent = [await LineClient.connect(ts.port('tls')), await LineClient.connect(ts.port('tls'))];
      await sleep(50);
      const extra = await LineClient.connect(ts.port('plain'));
      await extra.waitClosed(1000);
      assert.equal(extra.text, '');
      for (const s of silent) s.destroy();
      a.destroy();
    } finally {
      await ts.close();
    }
  });

  it('counts return to zero whatever ends the connections', async () => {
    const ts = await startTestServer({
      settings: () => settingsWith({ preAuthenticatedConnectionTimeout: 0.3, maxConnections: 6 }),
    });
    try {
      const clients = await Promise.all(Array.from({ length: 6 }, () => LineClient.connect(ts.port('plain'))));
      const refused = await LineClient.connect(ts.port('plain'));
      await refused.waitClosed();
      await until(() => ts.sessions.length === 6);
      clients[0]!.destroy(); // client goes
      ts.sessions[1]!.conn.destroy(); // server ends it
      ts.sessions[1]!.conn.destroy(); // twice: no double decrement
      clients[2]!.send('CLOSE\r\n'); // orderly end()
      // the other three time out
      const reasons = await Promise.all(ts.sessions.map((s) => s.closed));
      assert.equal(reasons[0], 'client');
      assert.equal(reasons[1], 'server');
      assert.equal(reasons[2], 'server');
      for (const r of reasons.slice(3)) assert.ok(r === 'idle-timeout' || r === 'deadline', r);
      assert.equal(ts.server.connectionCount(), 0);
      assert.equal(ts.server.connectionCount(HOST), 0);
      assert.equal(ts.server.trackedIps, 0);
      assert.equal([...ts.server.connections()].length, 0);
    } finally {
      await ts.close();
    }
  });

  it('per-user cap: acquire / release (idempotent), live setting', async () => {
    let s = settingsWith({ maxConnectionsPerUser: 2 });
    const ts = await startTestServer({ settings: () => s });
    try {
      const r1 = ts.server.acquireUser('alice');
      const r2 = ts.server.acquireUser('alice');
      assert.ok(r1 && r2);
      assert.equal(ts.server.acquireUser('alice'), null);
      assert.ok(ts.server.acquireUser('bob'));
      r1();
      r1();
      r1(); // idempotent: frees one slot only
      const r3 = ts.server.acquireUser('alice');
      assert.ok(r3);
      assert.equal(ts.server.acquireUser('alice'), null);
      s = settingsWith({ maxConnectionsPerUser: 3 });
      const r4 = ts.server.acquireUser('alice');
      assert.ok(r4);
      r2();
      r3();
      r4();
      assert.equal(ts.server.trackedUsers, 1); // bob
    } finally {
      await ts.close();
    }
  });
});

describe('timeouts', () => {
  it('pre-login defaults: a silent client is cut at preAuthenticatedConnectionTimeout', async () => {
    const ts = await startTestServer({ settings: () => settingsWith({ preAuthenticatedConnectionTimeout: 0.3 }) });
    try {
      const t0 = Date.now();
      const c = await LineClient.connect(ts.port('plain'));
      await c.waitClosed(2000);
      const took = Date.now() - t0;
      assert.ok(took >= 250 && took < 1500, `${took} ms`);
    } finally {
      await ts.close();
    }
  });

  it('idle timeout is reset by received bytes', async () => {
    const reasons: CloseReason[] = [];
    const ts = await startTestServer({
      onConnection: (conn) => {
        conn.setDeadline(0);
        conn.setIdleTimeout(250);
        conn.onData(() => undefined);
        conn.onClose((r) => reasons.push(r));
      },
    });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      for (let i = 0; i < 8; i++) {
        c.send('x');
        await sleep(100);
      }
      assert.equal(c.ended, false, 'still open after 800 ms of trickle');
      const t0 = Date.now();
      await c.waitClosed(2000);
      const took = Date.now() - t0;
      assert.ok(took >= 100 && took < 1000, `${took} ms`);
      await until(() => reasons.length === 1);
      assert.deepEqual(reasons, ['idle-timeout']);
    } finally {
      await ts.close();
    }
  });

  it('absolute deadline: a slow sender (one byte every 100 ms) is still cut', async () => {
    const reasons: CloseReason[] = [];
    const ts = await startTestServer({
      onConnection: (conn) => {
        conn.setIdleTimeout(5000);
        conn.setDeadline(400);
        conn.onData(() => undefined);
        conn.onClose((r) => reasons.push(r));
      },
    });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      const t0 = Date.now();
      while (!c.ended && Date.now() - t0 < 3000) {
        c.send('x');
        await sleep(100);
      }
      const took = Date.now() - t0;
      assert.ok(c.ended);
      assert.ok(took >= 350 && took < 1200, `${took} ms`);
      await until(() => reasons.length === 1);
      assert.deepEqual(reasons, ['deadline']);
    } finally {
      await ts.close();
    }
  });

  it('after "login" the session lifts the deadline and lengthens the idle timeout', async () => {
    const ts = await startTestServer({
      settings: () => settingsWith({ preAuthenticatedConnectionTimeout: 0.3 }),
      onConnection: (conn) => {
        conn.onData((d) => {
          if (d.toString().startsWith('LOGIN')) {
            conn.setDeadline(0);
            conn.setIdleTimeout(5000);
          }
          void conn.write('OK\r\n').catch(() => undefined);
        });
      },
    });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      c.send('LOGIN\r\n');
      await c.waitFor('OK\r\n');
      await sleep(600);
      assert.equal(c.ended, false);
      c.send('NOOP\r\n');
      await c.waitFor(/OK\r\nOK\r\n/);
      c.destroy();
    } finally {
      await ts.close();
    }
  });
});

describe('write backpressure', () => {
  it('a client that never reads: write() stays pending, memory bounded, then the write timeout', async () => {
    const chunk = 64 * 1024;
    let written = 0;
    let lastProgress = Date.now();
    let pending = false;
    let conn: Connection | null = null;
    let loopError: Error | null = null;
    const reasons: CloseReason[] = [];
    const ts = await startTestServer({
      limits: { writeTimeoutMs: 700 },
      onConnection: (c) => {
        conn = c;
        c.onClose((r) => reasons.push(r));
        void (async () => {
          try {
            for (;;) {
              pending = true;
              await c.write(Buffer.alloc(chunk, 0x61));
              pending = false;
              written += chunk;
              lastProgress = Date.now();
            }
          } catch (e) {
            loopError = e as Error;
          }
        })();
      },
    });
    try {
      const ab0 = process.memoryUsage().arrayBuffers;
      const sock = net.connect({ host: HOST, port: ts.port('plain') });
      sock.on('error', () => undefined);
      sock.pause(); // never reads
      await until(() => conn !== null);
      await until(() => Date.now() - lastProgress > 200, 5000, 'writes to stall');
      const stalledAt = written;
      assert.equal(pending, true, 'the write promise is pending');
      assert.equal(conn!.closed, false);
      const sc = conn as unknown as SocketConnection;
      assert.ok(sc.closeReason === null);
      await sleep(200);
      assert.equal(written, stalledAt, 'no progress while the client does not read');
      assert.ok(written < 48 * 1024 * 1024, `wrote ${written} bytes before stalling`);
      const grown = process.memoryUsage().arrayBuffers - ab0;
      assert.ok(grown < 48 * 1024 * 1024, `buffers grew by ${grown}`);
      await until(() => reasons.length === 1, 3000, 'write timeout');
      assert.deepEqual(reasons, ['write-timeout']);
      await until(() => loopError !== null);
      assert.match(loopError!.message, /closed/);
      assert.equal(ts.server.connectionCount(), 0);
      sock.destroy();
    } finally {
      await ts.close();
    }
  });

  it('a client that reads slowly but steadily is not cut', async () => {
    let done = false;
    const ts = await startTestServer({
      limits: { writeTimeoutMs: 400 },
      onConnection: (c) => {
        void (async () => {
          for (let i = 0; i < 40; i++) await c.write(Buffer.alloc(32 * 1024, 0x62));
          done = true;
          await c.end();
        })().catch(() => undefined);
      },
    });
    try {
      const sock = net.connect({ host: HOST, port: ts.port('plain') });
      let got = 0;
      sock.on('data', (d: Buffer) => {
        got += d.length;
        sock.pause();
        setTimeout(() => sock.resume(), 5);
      });
      await new Promise((r) => sock.once('close', r));
      assert.ok(done);
      assert.equal(got, 40 * 32 * 1024);
    } finally {
      await ts.close();
    }
  });

  it('end() flushes what was written, then closes', async () => {
    const ts = await startTestServer({
      onConnection: (c) => {
        void c.write('A'.repeat(200_000));
        void c.write('\r\nBYE\r\n');
        void c.end();
      },
    });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      await c.waitClosed();
      assert.equal(c.text.length, 200_007);
      assert.ok(c.text.endsWith('BYE\r\n'));
    } finally {
      await ts.close();
    }
  });
});

describe('errors stay inside one connection (E41)', () => {
  it('a throwing onData handler ends only that connection', async () => {
    const ts = await startTestServer();
    try {
      const good = await LineClient.connect(ts.port('plain'));
      const bad = await LineClient.connect(ts.port('plain'));
      good.send('ONE\r\n');
      await good.waitFor('OK ONE\r\n');
      bad.send('BOOM\r\n');
      await bad.waitClosed();
      const badSession = ts.sessions.find((s) => s.executed.includes('BOOM'))!;
      assert.equal(await badSession.closed, 'error');
      assert.equal(ts.errors.length, 1);
      assert.match(String(ts.errors[0]), /session bug/);
      good.send('TWO\r\n');
      await good.waitFor('OK TWO\r\n');
      await until(() => ts.server.connectionCount() === 1);
      good.destroy();
    } finally {
      await ts.close();
    }
  });

  it('an async onData handler that rejects, and throwing onClose / onConnection handlers', async () => {
    let n = 0;
    const ts = await startTestServer({
      onConnection: (conn) => {
        n++;
        if (n === 1) {
          conn.onData(async () => {
            await sleep(1);
            throw new Error('async bug');
          });
          conn.onClose(() => {
            throw new Error('close handler bug');
          });
        } else if (n === 2) {
          throw new Error('onConnection bug');
        }
      },
    });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      a.send('x');
      await a.waitClosed();
      const b = await LineClient.connect(ts.port('plain'));
      await b.waitClosed();
      await until(() => ts.errors.length === 3);
      const msgs = ts.errors.map(String).sort();
      assert.match(msgs[0]!, /async bug/);
      assert.match(msgs[1]!, /close handler bug/);
      assert.match(msgs[2]!, /onConnection bug/);
      assert.equal(ts.server.connectionCount(), 0);
    } finally {
      await ts.close();
    }
  });

  it('ignored rejected writes do not crash the process; onClose fires once per handler', async () => {
    const calls: string[] = [];
    let conn: Connection | null = null;
    const ts = await startTestServer({
      onConnection: (c) => {
        conn = c;
        c.onData(() => undefined); // a connection that is not reading does not see the FIN
        c.onClose((r) => calls.push(`a:${r}`));
        c.onClose((r) => calls.push(`b:${r}`));
      },
    });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      await until(() => conn !== null);
      a.destroy();
      await until(() => calls.length === 2);
      conn!.destroy();
      conn!.destroy();
      void conn!.write('late'); // rejected, not awaited
      void conn!.startTls();
      void conn!.end();
      conn!.onClose((r) => calls.push(`late:${r}`));
      await sleep(50);
      assert.deepEqual(calls, ['a:client', 'b:client', 'late:client']);
    } finally {
      await ts.close();
    }
  });
});

describe('pause / resume', () => {
  it('no data is delivered while paused; it all arrives after resume', async () => {
    let conn: Connection | null = null;
    let got = '';
    const ts = await startTestServer({
      onConnection: (c) => {
        conn = c;
        c.pause();
        c.onData((d) => {
          got += d.toString();
        });
      },
    });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      await until(() => conn !== null);
      a.send('hello ');
      a.send('world');
      await sleep(100);
      assert.equal(got, '');
      conn!.resume();
      await until(() => got === 'hello world');
      a.destroy();
    } finally {
      await ts.close();
    }
  });
});

describe('listener lifecycle', () => {
  it('stopListening keeps sessions, startListening reopens the same ports, close ends all', async () => {
    const ts = await startTestServer();
    const plain = ts.port('plain');
    const tlsPort = ts.port('tls');
    const a = await LineClient.connect(plain);
    a.send('ONE\r\n');
    await a.waitFor('OK ONE\r\n');
    await ts.server.stopListening();
    await assert.rejects(LineClient.connect(plain), /ECONNREFUSED/);
    a.send('TWO\r\n');
    await a.waitFor('OK TWO\r\n');
    await ts.server.startListening();
    assert.equal(ts.port('plain'), plain);
    assert.equal(ts.port('tls'), tlsPort);
    const b = await LineClient.connect(plain);
    b.send('THREE\r\n');
    await b.waitFor('OK THREE\r\n');
    await ts.server.close();
    await a.waitClosed();
    await b.waitClosed();
    const reasons = await Promise.all(ts.sessions.map((s) => s.closed));
    assert.deepEqual(reasons, ['server', 'server']);
    assert.equal(ts.server.connectionCount(), 0);
    await assert.rejects(LineClient.connect(plain), /ECONNREFUSED/);
    await assert.rejects(ts.server.startListening(), /closed/);
  });

  it('connections() lists live connections with their addresses', async () => {
    const ts = await startTestServer();
    try {
      const a = await LineClient.connect(ts.port('plain'));
      await until(() => ts.server.connectionCount() === 1);
      const [c] = [...ts.server.connections()];
      assert.equal(c!.remoteAddress, HOST);
      assert.equal(c!.localAddress, HOST);
      assert.equal(c!.localPort, ts.port('plain'));
      assert.equal(c!.remotePort, (a.socket.address() as net.AddressInfo).port);
      assert.equal(c!.protocol, 'imap4');
      assert.match(c!.id, /^i[0-9a-z]+$/);
      a.destroy();
    } finally {
      await ts.close();
    }
  });

  it('a port in use fails createProtocolServer cleanly', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, HOST, () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        startTestServer({
          listeners: [
            { host: HOST, port: 0, kind: 'plain' },
            { host: HOST, port, kind: 'plain' },
          ],
        }),
        /EADDRINUSE/,
      );
    } finally {
      blocker.close();
    }
  });

  it('a tls listener without a certificate is a configuration error', async () => {
    await assert.rejects(startTestServer({ tls: null }), /certificate/);
  });
});
