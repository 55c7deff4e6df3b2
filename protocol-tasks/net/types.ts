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

  /** Receives every chunk read from the client (after TLS decryption). One receiver at a time. */
  onData(fn: (chunk: Buffer) => void): void;
  /** Called once when the connection is gone (either side, timeout, error). */
  onClose(fn: (reason: CloseReason) => void): void;

  /**
   * Queues bytes for the client. Resolves once the socket's buffer is below its high-water
   * mark (backpressure): a session awaits it before producing more. Rejects if closed.
   */
  write(data: Buffer | string): Promise<void>;

  /**
   * Upgrades to TLS in place. Every byte received but not yet delivered, and every byte
   * the client sends before its ClientHello, is discarded (RFC 3207 / RFC 2595 / §5 inv. 8).
   * The caller must also drop whatever its own parser has buffered. Rejects (and closes
   * the connection) when the handshake fails.
   */
  startTls(): Promise<void>;

  /** Stops / resumes delivering data (the session is busy; bounded buffering). */
  pause(): void;
  resume(): void;

  /** Closes after the given idle period with no bytes from the client (0 disables). */
  setIdleTimeout(ms: number): void;
  /**
   * Closes at an absolute time from now, whatever arrives meanwhile (slow senders; the
   * pre-login deadline). 0 cancels.
   */
  setDeadline(ms: number): void;
  /** Closes once written data is flushed (after a final BYE / +OK). */
  end(): Promise<void>;
  /** Closes at once. */
  destroy(): void;
  readonly closed: boolean;
}

export type CloseReason = 'client' | 'idle-timeout' | 'deadline' | 'error' | 'server' | 'tls-failed';

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
  /** The line sent to a connection refused by a cap, e.g. '-ERR [SYS/TEMP] Too many connections\r\n'. */
  refusal: (why: 'total' | 'ip') => string;
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
