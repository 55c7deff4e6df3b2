// PROXY protocol v2 parser and CIDR matching: unit tests and fuzzing (pure, no sockets).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { compileCidrs, ipInCidrs, normalizeIp } from '../../protocol-tasks/net/cidr.js';
import {
  buildProxyV2Header,
  formatIPv6,
  ipToBytes,
  isProxyError,
  parseProxyV2,
  PROXY_V2_SIGNATURE,
  type ProxyHeader,
} from '../../protocol-tasks/net/proxy-protocol.js';

function header(famTrans: number, body: number[] | Buffer, verCmd = 0x21): Buffer {
  const b = Buffer.from(body);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([verCmd, famTrans]), len, b]);
}

function ok(r: ReturnType<typeof parseProxyV2>): ProxyHeader {
  assert.ok(r !== 'incomplete' && !isProxyError(r), `expected a header, got ${JSON.stringify(r)}`);
  return r;
}

describe('parseProxyV2', () => {
  it('parses AF_INET over STREAM and leaves the rest', () => {
    const h = buildProxyV2Header({
      source: { address: '198.51.100.7', port: 4242 },
      dest: { address: '10.0.0.1', port: 993 },
    });
    const input = Buffer.concat([h, Buffer.from('A1 NOOP\r\n')]);
    const r = ok(parseProxyV2(input));
    assert.equal(r.consumed, 16 + 12);
    assert.equal(r.command, 'proxy');
    assert.deepEqual(r.source, { address: '198.51.100.7', port: 4242 });
    assert.deepEqual(r.dest, { address: '10.0.0.1', port: 993 });
    assert.equal(input.subarray(r.consumed).toString(), 'A1 NOOP\r\n');
  });

  it('parses AF_INET6 with RFC 5952 text', () => {
    const h = buildProxyV2Header({
      source: { address: '2001:db8::1', port: 1 },
      dest: { address: '2001:db8:0:0:1:0:0:1', port: 65535 },
    });
    const r = ok(parseProxyV2(h));
    assert.equal(r.consumed, 16 + 36);
    assert.deepEqual(r.source, { address: '2001:db8::1', port: 1 });
    assert.deepEqual(r.dest, { address: '2001:db8::1:0:0:1', port: 65535 });
  });

  it('LOCAL: no address (the peer stands), address block skipped', () => {
    const r = ok(parseProxyV2(header(0x11, Array(12).fill(7), 0x20)));
    assert.deepEqual(r, { consumed: 28, command: 'local' });
    const r2 = ok(parseProxyV2(buildProxyV2Header({ command: 'local' })));
    assert.deepEqual(r2, { consumed: 16, command: 'local' });
  });

  it('AF_UNSPEC with PROXY: no address', () => {
    const r = ok(parseProxyV2(header(0x00, [1, 2, 3])));
    assert.deepEqual(r, { consumed: 19, command: 'proxy' });
  });

  it('skips TLVs', () => {
    const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0xea, 0x00, 0x03, 0x01, 0x02, 0x03]);
    const h = buildProxyV2Header({
      source: { address: '192.0.2.9', port: 5 },
      dest: { address: '192.0.2.10', port: 6 },
      tlvs,
    });
    const r = ok(parseProxyV2(Buffer.concat([h, Buffer.from('X')])));
    assert.equal(r.consumed, h.length);
    assert.equal(r.source?.address, '192.0.2.9');
  });

  it("answers 'incomplete' for every proper prefix of a valid header", () => {
    const h = buildProxyV2Header({
      source: { address: '2001:db8::5', port: 5 },
      dest: { address: '2001:db8::6', port: 6 },
    });
    for (let i = 0; i < h.length; i++) assert.equal(parseProxyV2(h.subarray(0, i)), 'incomplete', `prefix ${i}`);
    ok(parseProxyV2(h));
  });

  it('fails at the first byte that cannot start a header', () => {
    for (const s of ['A', 'A1 LOGIN a b\r\n', '\r\n\r\nX', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n', '\x16\x03\x01']) {
      const r = parseProxyV2(Buffer.from(s));
      assert.ok(r !== 'incomplete' && isProxyError(r), s);
    }
  });

  it('refuses other versions, commands, transports, families and short blocks', () => {
    const cases: Array<[string, Buffer]> = [
      ['version 1', header(0x11, Array(12).fill(0), 0x11)],
      ['version 3', header(0x11, Array(12).fill(0), 0x31)],
      ['command 2', header(0x11, Array(12).fill(0), 0x22)],
      ['DGRAM', header(0x12, Array(12).fill(0))],
      ['INET unspec transport', header(0x10, Array(12).fill(0))],
      ['UNIX', header(0x31, Array(216).fill(0))],
      ['family 4', header(0x41, Array(12).fill(0))],
      ['INET short', header(0x11, Array(11).fill(0))],
      ['INET6 short', header(0x21, Array(35).fill(0))],
    ];
    for (const [name, h] of cases) {
      const r = parseProxyV2(h);
      assert.ok(r !== 'incomplete' && isProxyError(r), name);
    }
  });

  it('refuses headers over 1 KB from the length field alone', () => {
    const fixed = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x03, 0xf0])]); // 16 + 1008 = 1024
    assert.equal(parseProxyV2(fixed), 'incomplete');
    const big = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x03, 0xf1])]); // 1025
    const r = parseProxyV2(big);
    assert.ok(r !== 'incomplete' && isProxyError(r));
    const max = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
    assert.ok(isProxyError(parseProxyV2(max) as never));
  });

  it('fuzz: arbitrary bytes never throw and never claim more than given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
        const r = parseProxyV2(bytes);
        if (r !== 'incomplete' && !isProxyError(r)) assert.ok(r.consumed <= bytes.length && r.consumed >= 16);
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: bytes after a valid signature never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), (tail) => {
        const r = parseProxyV2(Buffer.concat([PROXY_V2_SIGNATURE, tail]));
        if (r !== 'incomplete' && !isProxyError(r)) {
          assert.ok(r.consumed <= 12 + tail.length && r.consumed <= 1024);
          if (r.source) assert.ok(r.source.port >= 0 && r.source.port <= 65535);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: mutated valid headers never throw', () => {
    const base = buildProxyV2Header({
      source: { address: '2001:db8::5', port: 5 },
      dest: { address: '2001:db8::6', port: 6 },
      tlvs: Buffer.from([1, 0, 1, 9]),
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(base.length),
        (edits, cut) => {
          const b = Buffer.from(base);
          for (const [i, v] of edits) b[i] = v;
          parseProxyV2(b.subarray(0, cut));
          parseProxyV2(b);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('fuzz: build → parse round-trips IPv4 and IPv6 endpoints', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
    const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));
    const port = fc.integer({ min: 0, max: 65535 });
    fc.assert(
      fc.property(fc.oneof(fc.tuple(v4, v4), fc.tuple(v6, v6)), port, port, ([s, d], sp, dp) => {
        const r = ok(parseProxyV2(buildProxyV2Header({ source: { address: s, port: sp }, dest: { address: d, port: dp } })));
        assert.deepEqual(r.source, { address: s, port: sp });
        assert.deepEqual(r.dest, { address: d, port: dp });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('IPv6 text', () => {
  it('formats like RFC 5952 (and like Node)', () => {
    const cases: Array<[string, string]> = [
      ['::', '::'],
      ['::1', '::1'],
      ['2001:db8::1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
      ['fe80::', 'fe80::'],
      ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ];
    for (const [input, want] of cases) {
      const b = ipToBytes(input);
      assert.ok(b && b.length === 16, input);
      assert.equal(formatIPv6(b), want, input);
    }
    assert.equal(ipToBytes('1.2.3.256'), null);
    assert.equal(ipToBytes('1::2::3'), null);
    assert.equal(ipToBytes('12345::'), null);
    assert.equal(ipToBytes('1:2:3:4:5:6:7:8:9'), null);
  });
});

describe('CIDR matching', () => {
  it('IPv4 ranges, single addresses, /0', () => {
    assert.equal(ipInCidrs('10.1.2.3', ['10.0.0.0/8']), true);
    assert.equal(ipInCidrs('11.1.2.3', ['10.0.0.0/8']), false);
    assert.equal(ipInCidrs('192.0.2.1', ['192.0.2.1']), true);
    assert.equal(ipInCidrs('192.0.2.2', ['192.0.2.1']), false);
    assert.equal(ipInCidrs('172.31.255.255', ['172.16.0.0/12']), true);
    assert.equal(ipInCidrs('172.32.0.0', ['172.16.0.0/12']), false);
    assert.equal(ipInCidrs('8.8.8.8', ['0.0.0.0/0']), true);
  });

  it('IPv6 ranges', () => {
    assert.equal(ipInCidrs('fd12:3456::1', ['fd00::/8']), true);
    assert.equal(ipInCidrs('fe80::1', ['fd00::/8']), false);
    assert.equal(ipInCidrs('::1', ['::1/128']), true);
    assert.equal(ipInCidrs('2001:db8::1', ['2001:db8::/32', '10.0.0.0/8']), true);
    assert.equal(ipInCidrs('FD00::AB', ['fd00::/16']), true);
  });

  it('IPv4-mapped IPv6 addresses match IPv4 ranges (and the other way round)', () => {
    assert.equal(ipInCidrs('::ffff:127.0.0.1', ['127.0.0.0/8']), true);
    assert.equal(ipInCidrs('::ffff:7f00:1', ['127.0.0.0/8']), true);
    assert.equal(ipInCidrs('::ffff:10.0.0.1', ['127.0.0.0/8']), false);
    assert.equal(ipInCidrs('127.0.0.1', ['::ffff:127.0.0.0/104']), true);
    assert.equal(ipInCidrs('127.0.0.1', ['::1/128']), false);
  });

  it('bad addresses do not match; bad CIDRs are configuration errors', () => {
    assert.equal(ipInCidrs('', ['0.0.0.0/0']), false);
    assert.equal(ipInCidrs('not-an-ip', ['0.0.0.0/0']), false);
    assert.equal(ipInCidrs('1.2.3.4', []), false);
    assert.throws(() => compileCidrs(['10.0.0.0/33']), /prefix/);
    assert.throws(() => compileCidrs(['10.0.0/8']), /not an IP/);
    assert.throws(() => compileCidrs(['fd00::/129']), /prefix/);
    assert.throws(() => compileCidrs(['10.0.0.0/x']), /prefix/);
  });

  it('normalizeIp gives one key per address', () => {
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('::FFFF:7f00:1'), '127.0.0.1');
    assert.equal(normalizeIp('FE80::1%eth0'), 'fe80::1');
    assert.equal(normalizeIp('192.0.2.1'), '192.0.2.1');
  });

  it('fuzz: compiled matchers never throw on arbitrary strings', () => {
    const m = compileCidrs(['10.0.0.0/8', 'fd00::/8', '::ffff:0:0/96']);
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        m(s);
      }),
      { numRuns: 2000 },
    );
  });
});
