// Shared fixtures for the network-layer tests: a trivial line protocol on top of
// Connection, a line-reading client, a certificate, settings with tiny timeouts.
// Every socket is on 127.0.0.1.

import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

import { defaultProtocolSettings, type ProtocolSettings } from '../../core/settings/schema.js';
import { loadOrCreateCertificate } from '../../protocol-tasks/net/certificates.js';
import { createProtocolServer, type NetProtocolServer } from '../../protocol-tasks/net/listener.js';
import type { CloseReason, Connection, ListenerSpec, ProtocolServerOptions } from '../../protocol-tasks/net/types.js';

export const HOST = '127.0.0.1';

let certPromise: Promise<{ cert: string; key: string }> | null = null;
/** One self-signed certificate per test process. */
export function testCert(): Promise<{ cert: string; key: string }> {
  certPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'net-cert-'));
    try {
      const c = await loadOrCreateCertificate({ dataDir: dir, hostname: 'mail.test' });
      return { cert: c.cert, key: c.key };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certPromise;
}

/** Settings with overrides; the schema's minimums do not bind the net layer's own tests. */
export function settingsWith(over: Partial<ProtocolSettings> = {}): ProtocolSettings {
  return { ...defaultProtocolSettings('imap4'), ...over };
}

export interface SessionRecord {
  conn: Connection;
  /** Lines the session executed (in order). */
  executed: string[];
  closed: Promise<CloseReason>;
  tlsResult?: Promise<'ok' | 'failed'>;
}

export type StartTlsStyle = 'reply' | 'pause-then-write';

/**
 * A tiny line protocol: each line gets "OK <line>"; "STARTTLS" gets "OK begin" and the
 * upgrade; "BOOM" throws inside the data handler; "CLOSE" ends the connection.
 */
export function echoSession(conn: Connection, rec: SessionRecord[], style: StartTlsStyle = 'reply'): SessionRecord {
  let buf = '';
  let closeResolve!: (r: CloseReason) => void;
  const r: SessionRecord = { conn, executed: [], closed: new Promise((res) => (closeResolve = res)) };
  rec.push(r);
  conn.onClose((reason) => closeResolve(reason));
  let upgrading = false;
  conn.onData((chunk) => {
    if (upgrading) throw new Error('data delivered during STARTTLS');
    buf += chunk.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      r.executed.push(line);
      if (line === 'BOOM') throw new Error('session bug');
      if (line === 'CLOSE') {
        void conn.write('OK bye\r\n').then(() => conn.end(), () => undefined);
        buf = '';
        return;
      }
      if (line === 'STARTTLS') {
        buf = ''; // the session drops what its parser holds
        upgrading = true;
        if (style === 'reply') {
          r.tlsResult = conn.startTls('OK begin\r\n').then(
            () => 'ok' as const,
            () => 'failed' as const,
          );
        } else {
          conn.pause();
          r.tlsResult = conn
            .write('OK begin\r\n')
            .then(() => {
              buf = '';
              return conn.startTls();
            })
            .then(
              () => 'ok' as const,
              () => 'failed' as const,
            );
        }
        void r.tlsResult.then(() => {
          upgrading = false;
          buf = '';
          conn.resume();
        });
        return;
      }
      conn.write(`OK ${line}\r\n`).catch(() => undefined);
    }
  });
  return r;
}

export interface TestServer {
  server: NetProtocolServer;
  sessions: SessionRecord[];
  errors: unknown[];
  port(kind: ListenerSpec['kind']): number;
  close(): Promise<void>;
}

export async function startTestServer(
  over: Partial<ProtocolServerOptions> & { style?: StartTlsStyle; settings?: () => ProtocolSettings } = {},
): Promise<TestServer> {
  const sessions: SessionRecord[] = [];
  const errors: unknown[] = [];
  const cert = await testCert();
  const { style, ...rest } = over;
  const server = await createProtocolServer({
    protocol: 'imap4',
    listeners: [
      { host: HOST, port: 0, kind: 'plain' },
      { host: HOST, port: 0, kind: 'tls' },
      { host: HOST, port: 0, kind: 'lb-tls' },
    ],
    settings: () => settingsWith(),
    tls: cert,
    trustedProxies: [],
    onConnection: (conn) => echoSession(conn, sessions, style),
    refusal: (why) => `BYE too many (${why})\r\n`,
    onError: (e) => errors.push(e),
    ...rest,
  });
  return {
    server,
    sessions,
    errors,
    port: (kind) => server.addresses.find((a) => a.kind === kind)!.port,
    close: () => server.close(),
  };
}

/** A client that accumulates what it receives and can wait for text or the close. */
export class LineClient {
  text = '';
  ended = false;
  error: Error | null = null;
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(public socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      this.wake();
    });
    socket.on('error', (e) => {
      this.error = e;
    });
    this.closed = new Promise((res) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        res();
      }),
    );
  }

  static async connect(port: number): Promise<LineClient> {
    const s = net.connect({ host: HOST, port });
    await new Promise<void>((res, rej) => {
      s.once('connect', () => res());
      s.once('error', rej);
    });
    return new LineClient(s);
  }

  static async connectTls(port: number, extra: tls.ConnectionOptions = {}): Promise<LineClient> {
    const s = tls.connect({ host: HOST, port, rejectUnauthorized: false, ...extra });
    await new Promise<void>((res, rej) => {
      s.once('secureConnect', () => res());
      s.once('error', rej);
      s.once('close', () => rej(new Error('closed before handshake')));
    });
    return new LineClient(s);
  }

  send(s: string | Buffer): void {
    this.socket.write(s);
  }

  async waitFor(pattern: string | RegExp, ms = 3000): Promise<void> {
    const hit = () => (typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text));
    const until = Date.now() + ms;
    while (!hit()) {
      if (this.ended) throw new Error(`closed before ${String(pattern)}; got ${JSON.stringify(this.text)}`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${String(pattern)}; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** Resolves with how long it took for the server to close (ms), or rejects after `ms`. */
  async waitClosed(ms = 3000): Promise<void> {
    await Promise.race([
      this.closed,
      new Promise((_, rej) => setTimeout(() => rej(new Error('still open')), ms).unref()),
    ]);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` is true (or fails after `ms`). */
export async function until(fn: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await sleep(10);
  }
}

/** Upgrades a client's plain socket to TLS (client side of STARTTLS). */
export function clientStartTls(
  plain: net.Socket,
  extra: tls.ConnectionOptions = {},
): Promise<{ ok: true; client: LineClient } | { ok: false; error: Error }> {
  plain.removeAllListeners('data');
  if (plain.destroyed || plain.readableEnded) {
    return Promise.resolve({ ok: false, error: new Error('closed before the handshake') });
  }
  return new Promise((resolve) => {
    const t = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'mail.test', ...extra });
    let done = false;
    setTimeout(() => {
      if (done) return;
      done = true;
      t.destroy();
      resolve({ ok: false, error: new Error('handshake timed out') });
    }, 3000).unref();
    t.once('secureConnect', () => {
      if (done) return;
      done = true;
      resolve({ ok: true, client: new LineClient(t) });
    });
    t.once('error', (e) => {
      if (done) return;
      done = true;
      resolve({ ok: false, error: e });
    });
    t.once('close', () => {
      if (done) return;
      done = true;
      resolve({ ok: false, error: new Error('closed during handshake') });
    });
  });
}
