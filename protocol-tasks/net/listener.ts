// Listeners for one protocol: accept, PROXY v2 from trusted balancers, connection caps,
// implicit TLS under the pre-login deadline, default timeouts, and the live connection set.
//
// Accept path:
//   1. Every socket gets an 'error' listener at once: socket errors never throw (E41).
//   2. Peer in `trustedProxies`: a PROXY v2 header must come first (bounded time and size);
//      its source becomes remoteAddress; anything else closes the socket. Other peers: no
//      parsing at all (C22); their bytes go to the protocol.
//   3. Caps (live settings): total, then per client IP. Over a cap: the refusal line, then
//      close (on a 'tls' listener, after a handshake). At most `maxPendingRefusals` are
//      being sent at once, each under `refusalTimeoutMs`; beyond that the socket is closed
//      without a word. Refused connections are not counted.
//   4. The connection is counted, given the pre-login idle timeout and absolute deadline,
//      and (on 'tls') does its handshake under that deadline: a client that never sends a
//      ClientHello is cut at the deadline, garbage closes at once, neither is logged.
//   5. onConnection(conn) — for 'tls', only once the handshake has completed.
//
// Implicit TLS is done by wrapping accepted sockets ourselves (not tls.createServer), so
// the handshake runs under the same deadline as the rest of the pre-login phase, and a
// PROXY header can precede it.

import net from 'node:net';
import tls from 'node:tls';

import { type CidrMatcher, compileCidrs, normalizeIp } from './cidr.js';
import { SocketConnection } from './connection.js';
import { isProxyError, parseProxyV2, PROXY_V2_MAX_HEADER, type ProxyHeader } from './proxy-protocol.js';
import type { CloseReason, Connection, ListenerSpec, ProtocolServer, ProtocolServerOptions } from './types.js';

const noop = () => undefined;

export const DEFAULT_LIMITS = {
  proxyHeaderTimeoutMs: 5000,
  writeTimeoutMs: 60_000,
  maxWriteBufferBytes: 64 * 1024 * 1024,
  refusalTimeoutMs: 5000,
  maxPendingRefusals: 64,
};

export async function createProtocolServer(opts: ProtocolServerOptions): Promise<NetProtocolServer> {
  const server = new NetProtocolServer(opts);
  await server.startListening();
  return server;
}

export class NetProtocolServer implements ProtocolServer {
  readonly addresses: Array<{ kind: ListenerSpec['kind']; host: string; port: number }> = [];

  private readonly opts: ProtocolServerOptions;
  private readonly secureContext: tls.SecureContext | null;
  private readonly trusted: CidrMatcher;
  private servers: net.Server[] = [];
  private readonly conns = new Set<SocketConnection>();
  private readonly perIp = new Map<string, number>();
  private readonly users = new Map<string, number>();
  /** Sockets from trusted proxies whose header is not read yet. */
  private readonly pending = new Set<net.Socket>();
  /** Over-cap connections being told so. */
  private readonly refusing = new Set<SocketConnection>();
  private listening = false;
  private closedForGood = false;

  constructor(opts: ProtocolServerOptions) {
    this.opts = opts;
    this.trusted = compileCidrs(opts.trustedProxies);
    this.secureContext = opts.tls
      ? tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' })
      : null;
    if (!this.secureContext && opts.listeners.some((l) => l.kind === 'tls')) {
      throw new Error("a 'tls' listener needs a certificate (opts.tls)");
    }
  }

  connectionCount(ip?: string): number {
    if (ip === undefined) return this.conns.size;
    return this.perIp.get(normalizeIp(ip)) ?? 0;
  }

  /** Distinct client IPs with a live connection (the per-IP map never keeps zeros). */
  get trackedIps(): number {
    return this.perIp.size;
  }

  /** Users holding at least one login slot. */
  get trackedUsers(): number {
    return this.users.size;
  }

  acquireUser(userId: string): (() => void) | null {
    const max = this.opts.settings().maxConnectionsPerUser;
    const n = this.users.get(userId) ?? 0;
    if (n >= max) return null;
    this.users.set(userId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.users.get(userId) ?? 1) - 1;
      if (left <= 0) this.users.delete(userId);
      else this.users.set(userId, left);
    };
  }

  connections(): Iterable<Connection> {
    return [...this.conns];
  }

  async startListening(): Promise<void> {
    if (this.closedForGood) throw new Error('server is closed');
    if (this.listening) return;
    const opened: net.Server[] = [];
    try {
      for (let i = 0; i < this.opts.listeners.length; i++) {
        const spec = this.opts.listeners[i]!;
        const port = this.addresses[i]?.port ?? spec.port;
        const srv = net.createServer({ pauseOnConnect: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
        srv.on('connection', (raw: net.Socket) => this.onSocket(raw, spec));
        await new Promise<void>((resolve, reject) => {
          const onErr = (e: Error) => reject(e);
          srv.once('error', onErr);
          srv.listen({ host: spec.host, port }, () => {
            srv.removeListener('error', onErr);
            resolve();
          });
        });
        srv.on('error', (e) => this.report(e, null));
        opened.push(srv);
        const a = srv.address() as net.AddressInfo;
        this.addresses[i] = { kind: spec.kind, host: a.address, port: a.port };
      }
    } catch (e) {
      for (const s of opened) s.close();
      throw e;
    }
    this.servers = opened;
    this.listening = true;
  }

  async stopListening(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const servers = this.servers;
    this.servers = [];
    // close() stops accepting at once; its callback would wait for every connection.
    for (const s of servers) s.close();
    await new Promise((r) => setImmediate(r));
  }

  async close(): Promise<void> {
    this.closedForGood = true;
    await this.stopListening();
    for (const raw of this.pending) raw.destroy();
    this.pending.clear();
    for (const c of [...this.refusing]) c.destroy();
    for (const c of [...this.conns]) c.destroy();
    await new Promise((r) => setImmediate(r));
  }

  // ---------------------------------------------------------------------------------

  private onSocket(raw: net.Socket, spec: ListenerSpec): void {
    raw.on('error', noop);
    if (this.closedForGood || raw.destroyed) {
      raw.destroy();
      return;
    }
    const peer = normalizeIp(raw.remoteAddress ?? '');
    if (peer === '') {
      raw.destroy();
      return;
    }
    if (this.trusted(peer)) {
      this.readProxyHeader(raw, spec, peer);
      return;
    }
    this.admit(raw, spec, peer, raw.remotePort ?? 0);
  }

  private readProxyHeader(raw: net.Socket, spec: ListenerSpec, peer: string): void {
    this.pending.add(raw);
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const limit = Math.min(this.limit('proxyHeaderTimeoutMs'), this.preAuthTimes().deadlineMs || Infinity);
    const finish = (header: ProxyHeader | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      raw.removeListener('data', onData);
      raw.removeListener('close', onClose);
      this.pending.delete(raw);
      if (header === null || this.closedForGood) {
        raw.destroy();
        return;
      }
      raw.pause();
      const rest = buf.subarray(header.consumed);
      if (rest.length > 0) raw.unshift(rest);
      const src = header.source;
      this.admit(raw, spec, src ? normalizeIp(src.address) : peer, src ? src.port : (raw.remotePort ?? 0));
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parseProxyV2(buf, PROXY_V2_MAX_HEADER);
      if (r === 'incomplete') return;
      finish(isProxyError(r) ? null : r);
    };
    const onClose = () => finish(null);
    const timer = setTimeout(() => finish(null), limit);
    timer.unref();
    raw.on('data', onData);
    raw.on('close', onClose);
    raw.resume();
  }

  private preAuthTimes(): { deadlineMs: number; idleMs: number } {
    const l = this.opts.limits ?? {};
    let secs = 60;
    try {
      const v = this.opts.settings().preAuthenticatedConnectionTimeout;
      if (typeof v === 'number' && v > 0) secs = v; // never NaN: that would fire at once
    } catch (e) {
      this.report(e, null);
    }
    return { deadlineMs: l.preAuthDeadlineMs ?? secs * 1000, idleMs: l.preAuthIdleMs ?? secs * 1000 };
  }

  private limit(name: keyof typeof DEFAULT_LIMITS): number {
    return this.opts.limits?.[name] ?? DEFAULT_LIMITS[name];
  }

  private newConnection(raw: net.Socket, spec: ListenerSpec, ip: string, port: number, counted: boolean) {
    return new SocketConnection({
      socket: raw,
      protocol: this.opts.protocol,
      kind: spec.kind,
      remoteAddress: ip,
      remotePort: port,
      secureContext: this.secureContext,
      writeTimeoutMs: this.limit('writeTimeoutMs'),
      maxWriteBufferBytes: this.limit('maxWriteBufferBytes'),
      onError: (e, c) => this.report(e, c),
      onFinish: counted ? (c, r) => this.unregister(c, r) : undefined,
    });
  }

  private admit(raw: net.Socket, spec: ListenerSpec, ip: string, port: number): void {
    if (raw.destroyed) return;
    let why: 'total' | 'ip' | null = null;
    try {
      const s = this.opts.settings();
      if (this.conns.size >= s.maxConnections) why = 'total';
      else if ((this.perIp.get(ip) ?? 0) >= s.maxConnectionFromSingleIp) why = 'ip';
    } catch (e) {
      this.report(e, null);
      raw.destroy();
      return;
    }
    if (why) {
      this.refuse(raw, spec, ip, port, why);
      return;
    }
    const conn = this.newConnection(raw, spec, ip, port, true);
    if (conn.closed) return;
    this.conns.add(conn);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    const t = this.preAuthTimes();
    conn.setIdleTimeout(t.idleMs);
    conn.setDeadline(t.deadlineMs);
    if (spec.kind === 'tls') {
      conn.beginImplicitTls().then(() => this.deliver(conn), noop);
    } else {
      this.deliver(conn);
    }
  }

  private unregister(conn: SocketConnection, _reason: CloseReason): void {
    if (!this.conns.delete(conn)) return;
    const ip = conn.remoteAddress;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }

  private deliver(conn: SocketConnection): void {
    if (conn.closed) return;
    try {
      this.opts.onConnection(conn);
    } catch (e) {
      this.report(e, conn);
      conn.destroy();
    }
  }

  private refuse(raw: net.Socket, spec: ListenerSpec, ip: string, port: number, why: 'total' | 'ip'): void {
    if (this.refusing.size >= this.limit('maxPendingRefusals')) {
      raw.destroy();
      return;
    }
    let line = '';
    try {
      line = this.opts.refusal(why);
    } catch (e) {
      this.report(e, null);
    }
    const conn = this.newConnection(raw, spec, ip, port, false);
    if (conn.closed) return;
    this.refusing.add(conn);
    conn.onClose(() => this.refusing.delete(conn));
    conn.setDeadline(this.limit('refusalTimeoutMs'));
    const ready = spec.kind === 'tls' ? conn.beginImplicitTls() : Promise.resolve();
    ready
      .then(async () => {
        if (line) await conn.write(line);
        await conn.end();
      })
      .catch(() => conn.destroy());
  }

  private report(e: unknown, conn: Connection | null): void {
    try {
      this.opts.onError?.(e, conn);
    } catch {
      // ignore
    }
  }
}
