// PROXY protocol version 2 (binary form only), as sent by AWS NLB and HAProxy.
// Pure functions: bytes in, a result out; no I/O. The parser never throws and never
// allocates more than the (bounded) header it was given.
//
// Layout: 12-byte signature, version/command byte (0x2_), family/transport byte, 16-bit
// big-endian length of what follows, then the address block and optional TLVs.
// Only STREAM over AF_INET / AF_INET6 carries an address we use; LOCAL (health checks
// from the balancer itself) and AF_UNSPEC mean "use the connection's own peer address".

/** `\r\n\r\n\0\r\nQUIT\n` */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

/** Longest header accepted (signature and fixed part included). */
export const PROXY_V2_MAX_HEADER = 1024;

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyHeader {
  /** Bytes of the input taken by the header; the protocol's bytes start here. */
  consumed: number;
  command: 'local' | 'proxy';
  /** The real client, absent for LOCAL and AF_UNSPEC (then the peer address stands). */
  source?: ProxyEndpoint;
  dest?: ProxyEndpoint;
}

export interface ProxyError {
  error: string;
}

export type ProxyParseResult = ProxyHeader | ProxyError | 'incomplete';

export function isProxyError(r: ProxyParseResult): r is ProxyError {
  return typeof r === 'object' && 'error' in r;
}

const FIXED = 16;

/**
 * Parses a PROXY v2 header at the start of `buf`.
 * - 'incomplete': every byte so far is consistent with a header; read more.
 * - `{ error }`: not a valid or not an acceptable header; close the connection.
 * - a ProxyHeader: `consumed` bytes belong to the header.
 */
export function parseProxyV2(buf: Uint8Array, maxHeader = PROXY_V2_MAX_HEADER): ProxyParseResult {
  const sigLen = Math.min(buf.length, PROXY_V2_SIGNATURE.length);
  for (let i = 0; i < sigLen; i++) {
    if (buf[i] !== PROXY_V2_SIGNATURE[i]) return { error: 'no PROXY v2 signature' };
  }
  if (buf.length < 13) return 'incomplete';
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { error: `unsupported PROXY protocol version ${verCmd >> 4}` };
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { error: `unknown PROXY command ${cmd}` };
  if (buf.length < FIXED) return 'incomplete';
  const famTrans = buf[13]!;
  const len = (buf[14]! << 8) | buf[15]!;
  const total = FIXED + len;
  if (total > maxHeader) return { error: `PROXY header too long (${total} bytes)` };
  if (buf.length < total) return 'incomplete';

  if (cmd === 0) {
    // LOCAL: the balancer speaking for itself; the address block is ignored.
    return { consumed: total, command: 'local' };
  }
  const family = famTrans >> 4;
  const transport = famTrans & 0x0f;
  if (family === 0) return { consumed: total, command: 'proxy' }; // AF_UNSPEC
  if (transport !== 1) return { error: 'PROXY header transport is not STREAM' };
  const body = FIXED;
  if (family === 1) {
    if (len < 12) return { error: 'PROXY header too short for AF_INET' };
    return {
      consumed: total,
      command: 'proxy',
      source: { address: formatIPv4(buf, body), port: readPort(buf, body + 8) },
      dest: { address: formatIPv4(buf, body + 4), port: readPort(buf, body + 10) },
    };
  }
  if (family === 2) {
    if (len < 36) return { error: 'PROXY header too short for AF_INET6' };
    return {
      consumed: total,
      command: 'proxy',
      source: { address: formatIPv6(buf, body), port: readPort(buf, body + 32) },
      dest: { address: formatIPv6(buf, body + 16), port: readPort(buf, body + 34) },
    };
  }
  return { error: `unsupported PROXY address family ${family}` };
}

function readPort(buf: Uint8Array, at: number): number {
  return (buf[at]! << 8) | buf[at + 1]!;
}

function formatIPv4(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/**
 * RFC 5952 text form (lower case, longest run of two or more zero groups as `::`, first
 * one on a tie); an IPv4-mapped address is written `::ffff:a.b.c.d` like Node does.
 */
export function formatIPv6(buf: Uint8Array, at = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[at + 2 * i]! << 8) | buf[at + 2 * i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIPv4(buf, at + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (n: number) => n.toString(16);
  if (bestLen < 2) return g.map(hex).join(':');
  const head = g.slice(0, bestStart).map(hex).join(':');
  const tail = g.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

/** Parses an IPv4 or IPv6 text address into 4 or 16 bytes; null when invalid. */
export function ipToBytes(ip: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return null;
    return Uint8Array.from(b);
  }
  if (!ip.includes(':')) return null;
  let s = ip;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  // Embedded IPv4 tail: convert to two hex groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const t = ipToBytes(tail);
    if (!t || t.length !== 4) return null;
    s = `${s.slice(0, lastColon + 1)}${((t[0]! << 8) | t[1]!).toString(16)}:${((t[2]! << 8) | t[3]!).toString(16)}`;
  }
  const parts = s.split('::');
  if (parts.length > 2) return null;
  const parse = (p: string) => (p === '' ? [] : p.split(':'));
  const head = parse(parts[0]!);
  const rest = parts.length === 2 ? parse(parts[1]!) : [];
  const groups = [...head, ...rest];
  if (groups.some((x) => !/^[0-9a-fA-F]{1,4}$/.test(x))) return null;
  if (parts.length === 1 ? groups.length !== 8 : groups.length > 7) return null;
  const zeros = 8 - groups.length;
  const all = [...head, ...Array<string>(parts.length === 2 ? zeros : 0).fill('0'), ...rest];
  const out = new Uint8Array(16);
  all.forEach((x, i) => {
    const n = parseInt(x, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 255;
  });
  return out;
}

export interface BuildProxyV2Options {
  command?: 'proxy' | 'local';
  source?: ProxyEndpoint;
  dest?: ProxyEndpoint;
  /** Raw TLV bytes appended after the address block. */
  tlvs?: Uint8Array;
}

/**
 * Builds a PROXY v2 header (for the front-end proxy and for tests). Source and destination
 * must be of the same family; without them (or with command 'local') the family is UNSPEC.
 */
export function buildProxyV2Header(opts: BuildProxyV2Options): Buffer {
  const command = opts.command ?? 'proxy';
  const tlvs = opts.tlvs ?? new Uint8Array(0);
  let famTrans = 0x00;
  let addr: Buffer = Buffer.alloc(0);
  if (command === 'proxy' && opts.source && opts.dest) {
    const s = ipToBytes(opts.source.address);
    const d = ipToBytes(opts.dest.address);
    if (!s || !d) throw new Error('invalid address for PROXY header');
    if (s.length !== d.length) throw new Error('source and destination families differ');
    const v4 = s.length === 4;
    famTrans = v4 ? 0x11 : 0x21;
    addr = Buffer.alloc(v4 ? 12 : 36);
    addr.set(s, 0);
    addr.set(d, s.length);
    addr.writeUInt16BE(opts.source.port, 2 * s.length);
    addr.writeUInt16BE(opts.dest.port, 2 * s.length + 2);
  }
  const head = Buffer.alloc(FIXED);
  PROXY_V2_SIGNATURE.copy(head, 0);
  head[12] = command === 'proxy' ? 0x21 : 0x20;
  head[13] = famTrans;
  head.writeUInt16BE(addr.length + tlvs.length, 14);
  return Buffer.concat([head, addr, tlvs]);
}
