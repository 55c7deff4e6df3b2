// A minimal POP3 client for the benchmark driver: single-line and multi-line responses
// (dot-unstuffed), optional pipelining of commands (replies are answered in order), STLS.

import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { openSocket, type Endpoint } from './imap-client.js';

export interface Pop3Reply {
  ok: boolean;
  line: string;
  /** The multi-line body (dot-unstuffed, CRLF line ends, without the final ".") when asked for. */
  body?: Buffer;
}

interface Waiter {
  multi: boolean;
  resolve: (r: Pop3Reply) => void;
  reject: (e: Error) => void;
}

const CRLF = Buffer.from('\r\n');
const END = Buffer.from('\r\n.\r\n');

export class Pop3Client {
  private sock: Socket | TLSSocket;
  private buf: Buffer = Buffer.alloc(0);
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private waiters: Waiter[] = [];
  /** The status line of the multi-line reply being read. */
  private head: string | null = null;
  private err: Error | null = null;

  private constructor(sock: Socket | TLSSocket) {
    this.sock = sock;
    this.attach(sock);
  }

  static async connect(ep: Endpoint, timeoutMs = 30_000): Promise<Pop3Client> {
    const sock = await openSocket(ep, timeoutMs);
    const c = new Pop3Client(sock);
    const greeting = await c.read(false);
    if (!greeting.ok) throw new Error(`POP3 greeting: ${greeting.line}`);
    if (ep.starttls) {
      const r = await c.cmd('STLS');
      if (!r.ok) throw new Error(`STLS refused: ${r.line}`);
      const tls = tlsConnect({ socket: c.sock as Socket, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        tls.once('secureConnect', resolve);
        tls.once('error', reject);
      });
      c.sock.removeAllListeners('data');
      c.sock = tls;
      c.attach(tls);
    }
    return c;
  }

  private attach(sock: Socket | TLSSocket): void {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('POP3 connection closed')));
  }

  private fail(e: Error): void {
    if (this.err) return;
    this.err = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private read(multi: boolean): Promise<Pop3Reply> {
    if (this.err) return Promise.reject(this.err);
    return new Promise((resolve, reject) => this.waiters.push({ multi, resolve, reject }));
  }

  private onData(d: Buffer): void {
    let data = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.buf = Buffer.alloc(0);
    while (data.length > 0) {
      const w = this.waiters[0];
      if (!w) {
        this.buf = Buffer.from(data);
        return;
      }
      if (this.head === null) {
        const nl = data.indexOf(CRLF);
        if (nl < 0) {
          this.buf = Buffer.from(data);
          return;
        }
        const line = data.toString('latin1', 0, nl);
        data = data.subarray(nl + 2);
        const ok = line.startsWith('+OK');
        if (!w.multi || !ok) {
          this.waiters.shift();
          w.resolve({ ok, line });
          continue;
        }
        this.head = line;
        // An empty body: the terminator follows at once.
        if (data.length >= 3 && data[0] === 0x2e && data[1] === 0x0d && data[2] === 0x0a) {
          data = data.subarray(3);
          this.finish(Buffer.alloc(0));
        } else {
          // Keep a leading CRLF so the terminator search also finds ".\r\n" at the start.
          this.chunks = [CRLF];
          this.chunkBytes = 2;
        }
        continue;
      }
      // Multi-line body: look for CRLF.CRLF across the boundary with what we have.
      while (this.chunks.length > 1 && this.chunks[this.chunks.length - 1]!.length < 4) {
        const last = this.chunks.pop()!;
        const prev = this.chunks.pop()!;
        this.chunks.push(Buffer.concat([prev, last]));
      }
      const tail = this.chunks.length ? this.chunks[this.chunks.length - 1]!.subarray(-4) : Buffer.alloc(0);
      const probe = tail.length ? Buffer.concat([tail, data.subarray(0, 5)]) : data.subarray(0, 5);
      let endAt = -1;
      const pi = probe.indexOf(END);
      if (pi >= 0 && pi < tail.length) {
        // Terminator straddles the chunks: it ends at (pi + 5 - tail.length) in data.
        endAt = pi + 5 - tail.length;
        const keepInPrev = pi; // bytes of tail before the terminator's CRLF
        const prev = this.chunks.pop()!;
        this.chunks.push(prev.subarray(0, prev.length - tail.length + keepInPrev));
        this.chunkBytes -= tail.length - keepInPrev;
        const body = Buffer.concat(this.chunks, this.chunkBytes);
        data = data.subarray(endAt);
        this.finish(unstuff(body));
        continue;
      }
      const ei = data.indexOf(END);
      if (ei >= 0) {
        this.chunks.push(data.subarray(0, ei));
        this.chunkBytes += ei;
        const body = Buffer.concat(this.chunks, this.chunkBytes);
        data = data.subarray(ei + 5);
        this.finish(unstuff(body));
        continue;
      }
      this.chunks.push(data);
      this.chunkBytes += data.length;
      return;
    }
  }

  private finish(bodyWithLeadingCrlf: Buffer): void {
    const w = this.waiters.shift()!;
    const line = this.head!;
    this.head = null;
    this.chunks = [];
    this.chunkBytes = 0;
    // Drop the leading CRLF we added; add the final CRLF of the last line back.
    const body = bodyWithLeadingCrlf.length >= 2 ? Buffer.concat([bodyWithLeadingCrlf.subarray(2), CRLF]) : Buffer.alloc(0);
    w.resolve({ ok: true, line, body });
  }

  /** A single-line command. */
  cmd(text: string): Promise<Pop3Reply> {
    const p = this.read(false);
    this.sock.write(text + '\r\n');
    return p;
  }

  /** A command with a multi-line answer (RETR, UIDL, LIST, TOP, CAPA). */
  multi(text: string): Promise<Pop3Reply> {
    const p = this.read(true);
    this.sock.write(text + '\r\n');
    return p;
  }

  async login(user: string, password: string): Promise<void> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.ok) throw new Error(`USER: ${u.line}`);
    const p = await this.cmd(`PASS ${password}`);
    if (!p.ok) throw new Error(`PASS: ${p.line}`);
  }

  async quit(): Promise<void> {
    try {
      await this.cmd('QUIT');
    } catch {
      /* closing anyway */
    }
    this.sock.destroy();
  }

  destroy(): void {
    this.err ??= new Error('closed by client');
    this.sock.destroy();
  }
}

/** Removes byte-stuffing: a line starting with ".." loses its first dot. Input starts with CRLF. */
function unstuff(b: Buffer): Buffer {
  if (b.indexOf('\r\n..') < 0) return b;
  const parts: Buffer[] = [];
  let from = 0;
  for (;;) {
    const i = b.indexOf('\r\n..', from);
    if (i < 0) break;
    parts.push(b.subarray(from, i + 3));
    from = i + 4;
  }
  parts.push(b.subarray(from));
  return Buffer.concat(parts);
}
