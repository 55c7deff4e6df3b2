// IP address helpers for the network layer: CIDR matching (trusted proxies) and one
// canonical text form per address (per-IP connection counts).
//
// Matching uses Node's own net.BlockList, which treats an IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) as the IPv4 address it carries, in both directions.

import { BlockList, isIP, isIPv4 } from 'node:net';

/**
 * The canonical form used as the key of per-IP counts and shown as `remoteAddress`:
 * IPv4-mapped IPv6 addresses become plain IPv4, IPv6 is lower-case with the zone dropped.
 * Anything that is not an IP address is returned unchanged.
 */
export function normalizeIp(ip: string): string {
  let s = ip.trim();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const low = s.toLowerCase();
  if (low.startsWith('::ffff:')) {
    const tail = low.slice(7);
    if (isIPv4(tail)) return tail;
    // ::ffff:7f00:1 form
    const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(tail);
    if (m) {
      const hi = parseInt(m[1]!, 16);
      const lo = parseInt(m[2]!, 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
  }
  return isIP(low) ? low : s;
}

/** A compiled CIDR list: `(ip) => true` when the address falls in one of the ranges. */
export type CidrMatcher = (ip: string) => boolean;

/**
 * Compiles `10.0.0.0/8`, `fd00::/8`, `192.0.2.1` (a single address) and the like.
 * Throws a clear error on a malformed entry: the list is configuration, so a typo must
 * stop the start rather than silently trust nobody (or everybody).
 */
export function compileCidrs(cidrs: readonly string[]): CidrMatcher {
  const list = new BlockList();
  let count = 0;
  for (const raw of cidrs) {
    const entry = raw.trim();
    if (entry === '') continue;
    const slash = entry.indexOf('/');
    // Not normalized: `::ffff:10.0.0.0/104` stays an IPv6 rule, which BlockList also
    // applies to the IPv4 addresses it maps.
    const addr = (slash >= 0 ? entry.slice(0, slash) : entry).toLowerCase();
    const family = isIP(addr);
    if (family === 0) throw new Error(`invalid CIDR ${JSON.stringify(raw)}: not an IP address`);
    const max = family === 4 ? 32 : 128;
    let prefix = max;
    if (slash >= 0) {
      const p = entry.slice(slash + 1);
      if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
        throw new Error(`invalid CIDR ${JSON.stringify(raw)}: prefix must be 0-${max}`);
      }
      prefix = Number(p);
    }
    list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
    count++;
  }
  if (count === 0) return () => false;
  return (ip: string) => {
    const a = normalizeIp(ip);
    const family = isIP(a);
    if (family === 0) return false;
    try {
      return list.check(a, family === 4 ? 'ipv4' : 'ipv6');
    } catch {
      return false;
    }
  };
}

/** True when `ip` lies in one of `cidrs` (IPv4, IPv6, IPv4-mapped IPv6). Invalid ip: false. */
export function ipInCidrs(ip: string, cidrs: readonly string[]): boolean {
  return compileCidrs(cidrs)(ip);
}
