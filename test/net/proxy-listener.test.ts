// PROXY protocol v2 at the listener (C22): required from trusted peers, never parsed from
// others. The addresses inside headers are documentation ranges; every socket is on
// 127.0.0.1.

import assert from 'node:assert/strict';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { describe, it } from 'node:test';

import { buildProxyV2Header, PROXY_V2_SIGNATURE } from '../../protocol-tasks/net/proxy-protocol.js';
import { HOST, LineClient, settingsWith, sleep, startTestServer, until } from './helpers.js';

const v4 = (address: string, port = 4242) =>
  buildProxyV2Header({ source: { address, port }, dest: { address: '192.0.2.1', port: 143 } });
const v6 = (address: string, port = 4242) =>
  buildProxyV2Header({ source: { address, port }, dest: { address: '2001:db8::ffff', port: 143 } });

describe('PROXY v2 from a trusted peer', () => {
  it('IPv4: the header source becomes remoteAddress; bytes after it reach the session', async () => {
    const ts = await startTestServer({ trustedProxies: ['127.0.0.0/8'] });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      c.send(Buffer.concat([v4('198.51.100.7', 40000), Buffer.from('HELLO\r\n')]));
      await c.waitFor('OK HELLO\r\n');
      const s = ts.sessions[0]!;
      assert.equal(s.conn.remoteAddress, '198.51.100.7');
      assert.equal(s.conn.remotePort, 40000);
      assert.deepEqual(s.executed, ['HELLO']);
      assert.equal(ts.server.connectionCount('198.51.100.7'), 1);
      assert.equal(ts.server.connectionCount(HOST), 0);
      c.destroy();
      await until(() => ts.server.trackedIps === 0);
    } finally {
      await ts.close();
    }
  });

  it('IPv6, and a header trickled in byte by byte', async () => {
    const ts = await startTestServer({ trustedProxies: ['::ffff:127.0.0.1/128'] });
    try {
      const c = await LineClient.connect(ts.port('lb-tls'));
      const h = v6('2001:db8:0:0:0:0:0:7', 5555);
      for (const b of h) {
        c.send(Buffer.from([b]));
        await sleep(1);
      }
      c.send('HI\r\n');
      await c.waitFor('OK HI\r\n');
      const s = ts.sessions[0]!;
      assert.equal(s.conn.remoteAddress, '2001:db8::7');
      assert.equal(s.conn.remotePort, 5555);
      assert.equal(s.conn.secure, true);
      c.destroy();
    } finally {
      await ts.close();
    }
  });

  it('an IPv4-mapped IPv6 source counts as the IPv4 address', async () => {
    const ts = await startTestServer({ trustedProxies: [HOST] });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      c.send(Buffer.concat([v6('::ffff:203.0.113.9'), Buffer.from('X\r\n')]));
      await c.waitFor('OK X\r\n');
      assert.equal(ts.sessions[0]!.conn.remoteAddress, '203.0.113.9');
      assert.equal(ts.server.connectionCount('203.0.113.9'), 1);
      c.destroy();
    } finally {
      await ts.close();
    }
  });

  it('LOCAL (balancer health check): the peer address stands', async () => {
    const ts = await startTestServer({ trustedProxies: [HOST] });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      c.send(Buffer.concat([buildProxyV2Header({ command: 'local' }), Buffer.from('X\r\n')]));
      await c.waitFor('OK X\r\n');
      assert.equal(ts.sessions[0]!.conn.remoteAddress, HOST);
      c.destroy();
    } finally {
      await ts.close();
    }
  });

  it('before implicit TLS: header, then the handshake', async () => {
    const ts = await startTestServer({ trustedProxies: [HOST] });
    try {
      const raw = net.connect({ host: HOST, port: ts.port('tls') });
      await new Promise((r) => raw.once('connect', r));
      raw.write(v4('198.51.100.20', 1234));
      const t = tls.connect({ socket: raw, rejectUnauthorized: false });
      await new Promise((r, j) => {
        t.once('secureConnect', r);
        t.once('error', j);
      });
      const c = new LineClient(t);
      c.send('HI\r\n');
      await c.waitFor('OK HI\r\n');
      assert.equal(ts.sessions[0]!.conn.remoteAddress, '198.51.100.20');
      assert.equal(ts.sessions[0]!.conn.secure, true);
      c.destroy();
    } finally {
      await ts.close();
    }
  });

  it('before implicit TLS: header and ClientHello in one write', async () => {
    const ts = await startTestServer({ trustedProxies: [HOST] });
    try {
      const raw = net.connect({ host: HOST, port: ts.port('tls') });
      await new Promise((r) => raw.once('connect', r));
      let first = true;
      const bridge = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          raw.write(first ? Buffer.concat([v4('198.51.100.21', 999), chunk]) : chunk, cb);
          first = false;
        },
      });
      raw.on('data', (d) => bridge.push(d));
      raw.on('end', () => bridge.push(null));
      const t = tls.connect({ socket: bridge, rejectUnauthorized: false });
      await new Promise((r, j) => {
        t.once('secureConnect', r);
        t.once('error', j);
      });
      const c = new LineClient(t as unknown as net.Socket);
      c.send('HI\r\n');
      await c.waitFor('OK HI\r\n');
      assert.equal(ts.sessions[0]!.conn.remoteAddress, '198.51.100.21');
      t.destroy();
      raw.destroy();
    } finally {
      await ts.close();
    }
  });

  it('per-IP caps apply to the real client address', async () => {
    const ts = await startTestServer({
      trustedProxies: [HOST],
      settings: () => settingsWith({ maxConnectionFromSingleIp: 1 }),
    });
    try {
      const a = await LineClient.connect(ts.port('plain'));
      a.send(Buffer.concat([v4('203.0.113.5'), Buffer.from('A\r\n')]));
      await a.waitFor('OK A\r\n');
      const b = await LineClient.connect(ts.port('plain'));
      b.send(v4('203.0.113.5'));
      await b.waitFor('BYE too many (ip)\r\n');
      await b.waitClosed();
      const c = await LineClient.connect(ts.port('plain'));
      c.send(Buffer.concat([v4('203.0.113.6'), Buffer.from('C\r\n')]));
      await c.waitFor('OK C\r\n');
      assert.equal(ts.server.connectionCount(), 2);
      a.destroy();
      c.destroy();
      await until(() => ts.server.connectionCount() === 0 && ts.server.trackedIps === 0);
    } finally {
      await ts.close();
    }
  });

  it('malformed, unsupported, oversized or missing headers close the connection', async () => {
    const ts = await startTestServer({ trustedProxies: [HOST], limits: { proxyHeaderTimeoutMs: 200 } });
    try {
      const bad: Buffer[] = [
        Buffer.from('A1 LOGIN user pass\r\n'), // no header at all
        Buffer.from('PROXY TCP4 198.51.100.1 192.0.2.1 1 2\r\n'), // v1 text
        (() => {
          const h = v4('198.51.100.1');
          h[12] = 0x31; // version 3
          return h;
        })(),
        (() => {
          const h = v4('198.51.100.1');
          h[13] = 0x12; // DGRAM
          return h;
        })(),
        Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x08, 0x00])]), // 2 KB claimed
      ];
      for (const b of bad) {
        const c = await LineClient.connect(ts.port('plain'));
        c.send(b);
        await c.waitClosed(1000);
        assert.equal(c.text, '');
      }
      // Nothing at all: cut after the header deadline.
      const t0 = Date.now();
      const c = await LineClient.connect(ts.port('plain'));
      await c.waitClosed(2000);
      assert.ok(Date.now() - t0 >= 150);
      // Half a header, then silence.
      const d = await LineClient.connect(ts.port('plain'));
      d.send(v4('198.51.100.1').subarray(0, 20));
      await d.waitClosed(2000);
      assert.equal(ts.sessions.length, 0);
      assert.equal(ts.server.connectionCount(), 0);
      assert.deepEqual(ts.errors, []);
    } finally {
      await ts.close();
    }
  });
});

describe('PROXY v2 from an untrusted peer', () => {
  it('is not parsed: the bytes go to the protocol and the peer address stands', async () => {
    const ts = await startTestServer({ trustedProxies: ['10.0.0.0/8', 'fd00::/8'] });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      c.send(Buffer.concat([v4('198.51.100.7'), Buffer.from('HELLO\r\n')]));
      await until(() => ts.sessions[0]?.executed.some((l) => l.endsWith('HELLO')) ?? false);
      const s = ts.sessions[0]!;
      assert.equal(s.conn.remoteAddress, HOST);
      assert.equal(s.executed[0], ''); // the signature's leading CRLF, seen as a line
      assert.equal(ts.server.connectionCount(HOST), 1);
      assert.equal(ts.server.connectionCount('198.51.100.7'), 0);
      c.destroy();
    } finally {
      await ts.close();
    }
  });

  it('with no trusted proxies configured, nothing is ever parsed', async () => {
    const ts = await startTestServer({ trustedProxies: [] });
    try {
      const c = await LineClient.connect(ts.port('plain'));
      c.send(Buffer.concat([v4('198.51.100.7'), Buffer.from('\r\nHELLO\r\n')]));
      await c.waitFor('OK HELLO\r\n');
      assert.equal(ts.sessions[0]!.conn.remoteAddress, HOST);
      c.destroy();
    } finally {
      await ts.close();
    }
  });
});
