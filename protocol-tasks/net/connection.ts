// A client connection: a TCP socket that may be upgraded in place to TLS (STARTTLS / STLS,
// or at once on an implicit-TLS port), with backpressure, timeouts and a single close.
//
// What happens to bytes around STARTTLS (DESIGN §5 invariant 8, checklist A1/A2):
//   - A chunk being delivered when the session decides to upgrade stays the session's:
//     it resets its own parser (the rest of "STARTTLS\r\nX NOOP\r\n" dies there).
//   - From the moment startTls() is called nothing is delivered to onData until the
//     handshake has finished. Bytes already read from the kernel but not delivered are
//     dropped (with one exception, below). Bytes still in the kernel go to the TLS engine,
//     so plaintext sent after the go-ahead makes the handshake fail: it is never parsed as
//     a command.
//   - startTls(reply) writes the go-ahead and hands the socket to TLS in one event-loop
//     turn, so "still in the kernel" is exactly "sent by the client after our go-ahead
//     could have reached it".
//   - startTls() without a reply follows an earlier write of the go-ahead; a ClientHello may
//     already have been read into the socket's buffer (the session should pause() as soon
//     as it parses STARTTLS). A buffer that starts with a TLS handshake record (0x16) is
//     then handed to TLS rather than dropped: it is not deliverable plaintext either way.
//
// Exceptions: socket errors never leave this file (they become a close reason). A
// throwing onData/onClose handler is caught here; onData's ends the connection with
// 'error' (E41). Every promise this class returns is pre-marked as handled, so a session
// that ignores a rejected write() does not crash the process.

import type net from 'node:net';
import tls from 'node:tls';

import type { ProtocolName } from '../../core/settings/schema.js';
import { normalizeIp } from './cidr.js';
import type { CloseReason, Connection, ListenerSpec } from './types.js';

export interface SocketConnectionOptions {
  /** The accepted TCP socket (may still be paused: pauseOnConnect). */
  socket: net.Socket;
  protocol: ProtocolName;
  kind: ListenerSpec['kind'];
  /** The real client (PROXY header or peer). */
  remoteAddress: string;
  remotePort: number;
  /** Needed for STARTTLS on 'plain' and for 'tls' listeners. */
  secureContext: tls.SecureContext | null;
  /** Default 60 s. 0 disables. */
  writeTimeoutMs?: number;
  /** Default 64 MiB. */
  maxWriteBufferBytes?: number;
  /** Unexpected errors (handler exceptions). */
  onError?: (err: unknown, conn: Connection) => void;
  /** Called synchronously, once, when the connection is finished (before onClose handlers). */
  onFinish?: (conn: SocketConnection, reason: CloseReason) => void;
}

type Phase = 'plain' | 'handshake' | 'tls';
type Waiter = { resolve: () => void; reject: (e: Error) => void };

const noop = () => undefined;
/** A TLS record of type handshake starts with this byte (ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;
/** After end() has flushed, how long to wait for the client's FIN. */
const LINGER_MS = 2000;

let seq = 0;

function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(noop);
  return p;
}

function rejected(message: string): Promise<never> {
  return handled(Promise.reject(new Error(message)));
}

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export class SocketConnection implements Connection {
  readonly id: string;
  readonly protocol: ProtocolName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly kind: ListenerSpec['kind'];

  /** Bytes dropped at STARTTLS (for tests and logs). */
  discardedBytes = 0;
  /** Why the TLS handshake failed, when it did. */
  tlsError: Error | null = null;

  private readonly raw: net.Socket;
  private sock: net.Socket;
  private readonly secureContext: tls.SecureContext | null;
  private readonly writeTimeoutMs: number;
  private readonly maxWriteBuffer: number;
  private readonly opts: SocketConnectionOptions;

  private phase: Phase = 'plain';
  private isSecure: boolean;
  private paused = false;
  private ending = false;
  private finished = false;
  /**
   * The socket corked by the first write of this tick, uncorked on the next tick: the replies a
   * command produces in one go (data, untagged updates, the tagged status) leave as one writev
   * and usually one TCP segment instead of one each.
   */
  private corkedSock: net.Socket | null = null;
  private readonly uncork = (): void => {
    const s = this.corkedSock;
    if (s === null) return;
    this.corkedSock = null;
    try {
      s.uncork();
    } catch {
      // a destroyed socket has nothing left to send
    }
  };
  private reason: CloseReason | null = null;
  /** The reason to use when the socket closes (set by end() and timeouts). */
  private intended: CloseReason | null = null;
  private lastError: unknown = null;

  private dataFn: ((chunk: Buffer) => void | Promise<void>) | null = null;
  private readonly closeFns: Array<(reason: CloseReason) => void> = [];

  private idleTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private writeTimer: NodeJS.Timeout | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private drainWaiters: Waiter[] = [];
  private endWaiters: Array<() => void> = [];
  private handshake: Waiter | null = null;

  constructor(opts: SocketConnectionOptions) {
    this.opts = opts;
    this.id = `${opts.protocol === 'pop3' ? 'p' : 'i'}${(++seq).toString(36)}`;
    this.protocol = opts.protocol;
    this.kind = opts.kind;
    this.raw = opts.socket;
    this.sock = opts.socket;
    this.secureContext = opts.secureContext;
    this.remoteAddress = opts.remoteAddress;
    this.remotePort = opts.remotePort;
    this.localAddress = normalizeIp(opts.socket.localAddress ?? '');
    this.localPort = opts.socket.localPort ?? 0;
    this.writeTimeoutMs = opts.writeTimeoutMs ?? 60_000;
    this.maxWriteBuffer = opts.maxWriteBufferBytes ?? 64 * 1024 * 1024;
    this.isSecure = opts.kind === 'lb-tls';

    this.raw.on('error', this.onSockError);
    this.raw.on('close', this.onSockClose);
    this.raw.on('drain', this.onDrain);
    if (opts.kind !== 'tls') this.raw.on('data', this.onSockData);
    if (this.raw.destroyed) this.finish('client');
  }

  get secure(): boolean {
    return this.isSecure;
  }

  get canStartTls(): boolean {
    return (
      this.kind === 'plain' && this.secureContext !== null && this.phase === 'plain' && !this.finished && !this.ending
    );
  }

  get closed(): boolean {
    return this.finished;
  }

  /** The reason the connection closed (null while open). */
  get closeReason(): CloseReason | null {
    return this.reason;
  }

  /** TLS protocol negotiated ('TLSv1.3', ...), or null. */
  get tlsProtocol(): string | null {
    return this.phase === 'tls' ? ((this.sock as tls.TLSSocket).getProtocol?.() ?? null) : null;
  }

  onData(fn: (chunk: Buffer) => void | Promise<void>): void {
    this.dataFn = fn;
    this.updateFlow();
  }

  onClose(fn: (reason: CloseReason) => void): void {
    if (this.finished) {
      const reason = this.reason!;
      process.nextTick(() => this.callClose(fn, reason));
      return;
    }
    this.closeFns.push(fn);
  }

  write(data: Buffer | string): Promise<void> {
    if (this.finished || this.ending) return rejected('connection closed');
    if (this.phase === 'handshake') return rejected('TLS negotiation in progress');
    let ok: boolean;
    try {
      if (this.corkedSock === null) {
        this.corkedSock = this.sock;
        this.sock.cork();
        process.nextTick(this.uncork);
      }
      ok = this.sock.write(data);
    } catch (e) {
      this.lastError = e;
      this.finish('error');
      return handled(Promise.reject(e instanceof Error ? e : new Error(String(e))));
    }
    if (this.sock.writableLength > this.maxWriteBuffer) {
      this.finish('error');
      return rejected('send buffer limit exceeded');
    }
    if (ok) return Promise.resolve();
    this.armWriteTimer();
    return handled(new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject })));
  }

  startTls(reply?: string | Buffer): Promise<void> {
    if (this.finished || this.ending) return rejected('connection closed');
    if (this.kind !== 'plain' || this.secureContext === null) return rejected('STARTTLS is not available here');
    if (this.phase !== 'plain') return rejected('TLS is already active or being negotiated');
    // Everything from here to the TLSSocket construction is synchronous: no read can
    // happen in between.
    this.phase = 'handshake';
    // Whatever is corked goes out in clear before the reply and the handshake.
    this.uncork();
    const raw = this.raw;
    raw.removeListener('data', this.onSockData);
    raw.pause();
    if (reply !== undefined) {
      try {
        raw.write(reply);
      } catch (e) {
        this.lastError = e;
        this.finish('error');
        return rejected('write failed');
      }
    }
    const held: Buffer[] = [];
    for (let b: Buffer | null; (b = raw.read() as Buffer | null) !== null; ) held.push(b);
    if (held.length > 0) {
      const bytes = Buffer.concat(held);
      if (reply === undefined && bytes[0] === TLS_HANDSHAKE_RECORD) raw.unshift(bytes);
      else this.discardedBytes += bytes.length;
    }
    return this.wrapTls();
  }

  /** Starts the handshake of an implicit-TLS listener ('tls'); resolves when secure. */
  beginImplicitTls(): Promise<void> {
    if (this.finished) return rejected('connection closed');
    if (this.kind !== 'tls' || this.secureContext === null || this.phase !== 'plain') {
      return rejected('implicit TLS is not available here');
    }
    this.phase = 'handshake';
    // Bytes already in the raw socket's buffer (after a PROXY header) are the start of
    // the ClientHello: TLSSocket feeds them to the engine.
    return this.wrapTls();
  }

  pause(): void {
    this.paused = true;
    this.updateFlow();
  }

  resume(): void {
    this.paused = false;
    this.updateFlow();
  }

  setIdleTimeout(ms: number): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (ms > 0 && !this.finished) {
      this.idleTimer = setTimeout(() => this.timeout('idle-timeout'), ms);
      this.idleTimer.unref();
    }
  }

  setDeadline(ms: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    if (ms > 0 && !this.finished) {
      this.deadlineTimer = setTimeout(() => this.timeout('deadline'), ms);
      this.deadlineTimer.unref();
    }
  }

  end(): Promise<void> {
    if (this.finished) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.endWaiters.push(resolve));
    if (this.ending) return p;
    this.ending = true;
    this.intended = 'server';
    if (this.phase === 'handshake') {
      this.finish('server');
      return p;
    }
    // Keep reading (and dropping) so the client's FIN is seen.
    this.updateFlow();
    const sock = this.sock;
    sock.once('finish', () => {
      if (this.finished) return;
      this.lingerTimer = setTimeout(() => this.finish('server'), LINGER_MS);
      this.lingerTimer.unref();
    });
    try {
      sock.end();
    } catch {
      this.finish('server');
      return p;
    }
    if (sock.writableLength > 0) this.armWriteTimer();
    return p;
  }

  destroy(): void {
    this.finish('server');
  }

  // ---------------------------------------------------------------------------------

  private wrapTls(): Promise<void> {
    const raw = this.raw;
    raw.removeListener('data', this.onSockData);
    raw.removeListener('close', this.onSockClose);
    raw.removeListener('drain', this.onDrain);
    // raw keeps its 'error' listener: a late error on the old object must not throw.
    let t: tls.TLSSocket;
    try {
      t = new tls.TLSSocket(raw, {
        isServer: true,
        secureContext: this.secureContext!,
        requestCert: false,
        rejectUnauthorized: false,
      });
    } catch (e) {
      this.tlsError = e instanceof Error ? e : new Error(String(e));
      this.finish('tls-failed');
      return rejected(`TLS failed: ${this.tlsError.message}`);
    }
    this.sock = t;
    t.on('error', this.onSockError);
    // Before the handshake completes, Node reports TLS errors on this internal event only.
    t.on('_tlsError', this.onTlsError);
    t.on('close', this.onSockClose);
    t.on('drain', this.onDrain);
    t.once('secure', () => {
      if (this.finished) return;
      // A server TLSSocket created outside tls.Server must release control itself, or
      // later errors are swallowed instead of emitted.
      (t as unknown as { _releaseControl?: () => void })._releaseControl?.();
      this.phase = 'tls';
      this.isSecure = true;
      t.on('data', this.onSockData);
      const h = this.handshake;
      this.handshake = null;
      this.updateFlow();
      h?.resolve();
    });
    if (raw.destroyed) this.finish('client');
    if (this.finished) return rejected('connection closed');
    return handled(new Promise<void>((resolve, reject) => (this.handshake = { resolve, reject })));
  }

  private updateFlow(): void {
    if (this.finished || this.phase === 'handshake') return;
    if (this.ending || (this.dataFn !== null && !this.paused)) this.sock.resume();
    else this.sock.pause();
  }

  private readonly onSockData = (chunk: Buffer): void => {
    if (this.finished || this.phase === 'handshake') {
      this.discardedBytes += chunk.length;
      return;
    }
    this.idleTimer?.refresh();
    if (this.ending) return;
    const fn = this.dataFn;
    if (fn === null || this.paused) {
      // Not expected (the stream is paused then); keep the bytes for later.
      this.sock.unshift(chunk);
      this.sock.pause();
      return;
    }
    try {
      const r = fn(chunk);
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(noop, (e: unknown) => this.handlerFailed(e));
      }
    } catch (e) {
      this.handlerFailed(e);
    }
  };

  private handlerFailed(e: unknown): void {
    this.lastError = e;
    this.report(e);
    this.finish('error');
  }

  private readonly onDrain = (): void => {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w.resolve();
  };

  private readonly onSockError = (err: Error): void => {
    this.lastError = err;
  };

  private readonly onTlsError = (err: Error): void => {
    this.lastError = err;
    if (this.phase === 'handshake') this.tlsError = err;
    else this.finish('error');
  };

  private readonly onSockClose = (): void => {
    if (this.finished) return;
    if (this.intended) return this.finish(this.intended);
    if (this.phase === 'handshake') return this.finish('tls-failed');
    const code = errCode(this.lastError);
    const clientSide = this.lastError === null || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
    this.finish(clientSide ? 'client' : 'error');
  };

  private timeout(reason: CloseReason): void {
    if (this.finished) return;
    this.finish(reason);
  }

  private armWriteTimer(): void {
    if (this.writeTimer || this.writeTimeoutMs <= 0 || this.finished) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = null;
      if (this.finished) return;
      if (this.sock.writableNeedDrain || this.sock.writableLength > 0) this.finish('write-timeout');
    }, this.writeTimeoutMs);
    this.writeTimer.unref();
  }

  private finish(reason: CloseReason): void {
    if (this.finished) return;
    this.finished = true;
    this.reason = reason;
    for (const t of [this.idleTimer, this.deadlineTimer, this.writeTimer, this.lingerTimer]) if (t) clearTimeout(t);
    this.idleTimer = this.deadlineTimer = this.writeTimer = this.lingerTimer = null;
    // What was written this tick (a BYE before a forced close) is handed to the kernel first,
    // as it was before writes were corked.
    this.uncork();
    try {
      this.sock.destroy();
    } catch {
      // already gone
    }
    const err = new Error(`connection closed (${reason})`);
    const drains = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of drains) w.reject(err);
    if (this.handshake) {
      const h = this.handshake;
      this.handshake = null;
      const why = this.tlsError?.message ?? (reason === 'tls-failed' ? 'closed during handshake' : reason);
      h.reject(new Error(`TLS handshake failed: ${why}`));
    }
    const ends = this.endWaiters;
    this.endWaiters = [];
    for (const r of ends) r();
    try {
      this.opts.onFinish?.(this, reason);
    } catch (e) {
      this.report(e);
    }
    const fns = this.closeFns.splice(0);
    if (fns.length > 0) {
      process.nextTick(() => {
        for (const fn of fns) this.callClose(fn, reason);
      });
    }
  }

  private callClose(fn: (reason: CloseReason) => void, reason: CloseReason): void {
    try {
      fn(reason);
    } catch (e) {
      this.report(e);
    }
  }

  private report(e: unknown): void {
    try {
      this.opts.onError?.(e, this);
    } catch {
      // a broken logger must not take the connection layer down
    }
  }
}
