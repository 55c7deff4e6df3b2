// The network layer's contract with the protocol sessions (POP3, IMAP4).
// Implemented in protocol-tasks/net/connection.ts and listener.ts.

import type { ProtocolName, ProtocolSettings } from '../../core/settings/schema.js';

export interface Connection {
  /** Unique per process, short (for logs). */
  readonly id: string;
  readonly protocol: ProtocolName;
  /** The real client IP: from a PROXY v2 header when the peer is a trusted proxy, else the peer. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** True once the channel is encrypted: implicit TLS, STARTTLS done, or a TLS-terminating-LB port. */
  readonly secure: boolean;
  /** True when STARTTLS/STLS can be offered now (plain listener, certificate loaded, not yet secure). */
  readonly canStartTls: boolean;

  /**
   * Receives every chunk read from the client (after TLS decryption). One receiver at a
   * time (a new call replaces the previous one). Bytes that arrive before a receiver is set
   * wait in the socket (bounded). An exception thrown by `fn` (or a rejection of the promise
   * it returns) is caught here: the connection is destroyed with reason 'error' and the
   * server's `onError` hook is told; the process and other connections go on (E41). A
   * session that wants to say BYE first must catch its own errors.
   */
  onData(fn: (chunk: Buffer) => void | Promise<void>): void;
  /**
   * Called once when the connection is gone (either side, timeout, error). Several
   * handlers may be registered; one registered after the close runs on the next tick.
   */
  onClose(fn: (reason: CloseReason) => void): void;

  /**
   * Queues bytes for the client. Resolves once the socket's buffer is below its high-water
   * mark (backpressure): a session awaits it before producing more. Rejects if closed (the
   * returned promise never causes an unhandled-rejection crash when ignored). When the
   * buffer does not drain for the write timeout (60 s by default), the connection is
   * destroyed with reason 'write-timeout' (E38).
   */
  write(data: Buffer | string): Promise<void>;

  /**
   * Upgrades to TLS in place. Every byte received but not yet delivered, and every byte
   * the client sends before its ClientHello, is discarded (RFC 3207 / RFC 2595 / §5 inv. 8).
   * The caller must also drop whatever its own parser has buffered. Rejects (and closes
   * the connection) when the handshake fails.
   *
   * `reply` (optional, recommended): the go-ahead line (`A OK Begin TLS now`, `+OK Begin
   * TLS`). When given, it is written in clear and the socket is handed to TLS in the same
   * event-loop turn, so no read can happen in between: bytes the client pipelined after
   * STARTTLS are dropped, and plaintext it sends after the go-ahead reaches the TLS engine,
   * which fails the handshake. Without `reply`, call pause() as soon as STARTTLS is parsed,
   * then write the go-ahead, then call startTls(): undelivered bytes are dropped, except a
   * buffer that begins with a TLS handshake record (0x16), which is the ClientHello that
   * raced ahead of this call and is handed to TLS. Nothing is ever delivered to onData
   * between this call and the end of the handshake, and write() rejects meanwhile.
   */
  startTls(reply?: string | Buffer): Promise<void>;

  /** Stops / resumes delivering data (the session is busy; bounded buffering: the socket
   *  stops reading from the kernel once its buffer is full). */
  pause(): void;
  resume(): void;

  /**
   * Closes after the given idle period with no bytes from the client (0 disables).
   * Defaults set by the listener on every new connection: idle timeout and absolute
   * deadline both `preAuthenticatedConnectionTimeout` seconds. After a successful login
   * the session calls `setDeadline(0)` and
   * `setIdleTimeout(authenticatedConnectionTimeout * 1000)`.
   */
  setIdleTimeout(ms: number): void;
  /**
   * Closes at an absolute time from now, whatever arrives meanwhile (slow senders; the
   * pre-login deadline). 0 cancels.
   */
  setDeadline(ms: number): void;
  /** Closes once written data is flushed (after a final BYE / +OK); resolves when closed. */
  end(): Promise<void>;
  /** Closes at once. */
  destroy(): void;
  readonly closed: boolean;
}

export type CloseReason =
  | 'client'
  | 'idle-timeout'
  | 'deadline'
  /** The client stopped reading: the send buffer did not drain within the write timeout. */
  | 'write-timeout'
  | 'error'
  | 'server'
  | 'tls-failed';

export interface ListenerSpec {
  host: string;
  port: number;
  /** 'plain': cleartext with STARTTLS offered; 'tls': implicit TLS; 'lb-tls': cleartext
   *  port that only the TLS-terminating load balancer reaches (counted as secure). */
  kind: 'plain' | 'tls' | 'lb-tls';
}

export interface ProtocolServerOptions {
  protocol: ProtocolName;
  listeners: ListenerSpec[];
  /** Current settings (read at every connection; changes apply without restart). */
  settings: () => ProtocolSettings;
  /** PEM certificate and key; null disables STARTTLS and 'tls' listeners. */
  tls: { cert: string | Buffer; key: string | Buffer } | null;
  /** CIDRs (IPv4/IPv6) from which a PROXY protocol v2 header is accepted (and required). */
  trustedProxies: string[];
  /** Called for each accepted connection that passed the connection caps. */
  onConnection: (conn: Connection) => void;
  /**
   * The line sent to a connection refused by a cap, e.g. '-ERR [SYS/TEMP] Too many connections\r\n'.
   * On a 'tls' listener it is sent after the TLS handshake (a few refusals at a time; past
   * that, over-cap connections are closed without a word).
   */
  refusal: (why: 'total' | 'ip') => string;
  /**
   * Told about unexpected failures: an exception from a session handler, a listener error.
   * Client faults (failed handshakes, resets, bad PROXY headers) are not reported.
   */
  onError?: (err: unknown, conn: Connection | null) => void;
  /** Tuning and test hooks; the defaults suit production. */
  limits?: NetLimits;
}

export interface NetLimits {
  /** Time a trusted proxy has to send its PROXY v2 header (default 5000 ms). */
  proxyHeaderTimeoutMs?: number;
  /** Time a send buffer may stay full before the connection is destroyed (default 60000 ms). */
  writeTimeoutMs?: number;
  /** Bytes queued in a send buffer past which the connection is destroyed (default 64 MiB). */
  maxWriteBufferBytes?: number;
  /** Overrides the pre-login deadline / idle timeout derived from settings (ms). */
  preAuthDeadlineMs?: number;
  preAuthIdleMs?: number;
  /** Time allowed to send a refusal, TLS handshake included on 'tls' (default 5000 ms). */
  refusalTimeoutMs?: number;
  /** Refusals being sent at once, all listeners together (default 64). */
  maxPendingRefusals?: number;
}

export interface ProtocolServer {
  /** The bound addresses (port 0 in a spec gets a real port here), in the order of the specs. */
  readonly addresses: Array<{ kind: ListenerSpec['kind']; host: string; port: number }>;
  /** Live connection count (all, and per client IP). */
  connectionCount(ip?: string): number;
  /**
   * Per-user cap: call after a successful login. Returns a release function, or null when the
   * user is at `maxConnectionsPerUser` (then the session refuses the login).
   */
  acquireUser(userId: string): (() => void) | null;
  /** Every live connection (for draining on stop / settings change). */
  connections(): Iterable<Connection>;
  /** Stops accepting; existing connections stay until the caller ends them. */
  stopListening(): Promise<void>;
  /** Starts accepting again after stopListening (same ports). */
  startListening(): Promise<void>;
  /** Stops accepting and destroys every connection. */
  close(): Promise<void>;
}
