// A small raw IMAP client for FETCH/STORE tests: reads responses with their literals
// byte-exact, and parses FETCH responses into items keyed by their label as sent back.
import tls from 'node:tls';
import { PASSWORD, USER } from '../helpers/server.js';

export type Value = string | number | null | Value[];

export interface Reply {
  /** Untagged responses, each with literals inline (latin1: one char per octet). */
  untagged: string[];
  /** The tagged line without CRLF. */
  tagged: string;
  status: 'OK' | 'NO' | 'BAD';
}

export interface FetchData {
  seq: number;
  /** Item names in the order sent. */
  names: string[];
  items: Map<string, Value>;
}

export class ImapTestClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private n = 0;
  closed = false;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number): Promise<ImapTestClient> {
    const sock = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    const c = new ImapTestClient(sock);
    await c.line();
    return c;
  }

  /** Connects, logs in, and selects (or examines) a mailbox when given. */
  static async open(port: number, opts: { user?: string; password?: string; select?: string; examine?: boolean } = {}): Promise<ImapTestClient> {
    const c = await ImapTestClient.connect(port);
    const r = await c.cmd(`LOGIN "${opts.user ?? USER}" "${opts.password ?? PASSWORD}"`);
    if (r.status !== 'OK') throw new Error(`login failed: ${r.tagged}`);
    if (opts.select) {
      const s = await c.cmd(`${opts.examine ? 'EXAMINE' : 'SELECT'} ${opts.select}`);
      if (s.status !== 'OK') throw new Error(`select failed: ${s.tagged}`);
    }
    return c;
  }

  private async waitData(timeoutMs: number, what: string): Promise<void> {
    if (this.closed) throw new Error(`connection closed while waiting for ${what}; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout waiting for ${what}; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** One line through CRLF (latin1). */
  async line(timeoutMs = 10_000): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const s = this.buf.subarray(0, i + 2).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return s;
      }
      await this.waitData(timeoutMs, 'a line');
    }
  }

  async bytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    while (this.buf.length < n) await this.waitData(timeoutMs, `${n} octets`);
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** A whole response: a line plus every literal it announces (inline, latin1). */
  async response(timeoutMs = 10_000): Promise<string> {
    let text = '';
    for (;;) {
      const l = await this.line(timeoutMs);
      text += l;
      const m = /~?\{(\d+)\}\r\n$/.exec(l);
      if (!m) return text;
      text += (await this.bytes(Number(m[1]), timeoutMs)).toString('latin1');
    }
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  nextTag(): string {
    return `T${++this.n}`;
  }

  /** Sends a command and collects responses up to its tagged reply. */
  async cmd(command: string, timeoutMs = 30_000): Promise<Reply> {
    const tag = this.nextTag();
    this.write(`${tag} ${command}\r\n`);
    return this.reply(tag, timeoutMs);
  }

  async reply(tag: string, timeoutMs = 30_000): Promise<Reply> {
    const untagged: string[] = [];
    for (;;) {
      const r = await this.response(timeoutMs);
      if (r.startsWith(tag + ' ')) {
        const tagged = r.slice(0, -2);
        const status = tagged.split(' ')[1] as Reply['status'];
        return { untagged, tagged, status };
      }
      untagged.push(r);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- FETCH response parsing ----

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  peek(): string {
    return this.s[this.i] ?? '';
  }

  expect(t: string): void {
    if (!this.s.startsWith(t, this.i)) throw new Error(`expected ${JSON.stringify(t)} at ${this.i}: ${JSON.stringify(this.s.slice(this.i, this.i + 60))}`);
    this.i += t.length;
  }

  /** A FETCH item name: up to a space outside brackets; <origin> included. */
  name(): string {
    const start = this.i;
    let depth = 0;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '[') depth++;
      else if (c === ']') depth--;
      else if (c === ' ' && depth === 0) break;
      this.i++;
    }
    return this.s.slice(start, this.i);
  }

  value(): Value {
    const c = this.peek();
    if (c === '(') {
      this.i++;
      const out: Value[] = [];
      while (this.peek() !== ')') {
        if (this.peek() === ' ') {
          this.i++;
          continue;
        }
        out.push(this.value());
      }
      this.i++;
      return out;
    }
    if (c === '"') {
      this.i++;
      let v = '';
      for (;;) {
        const ch = this.s[this.i++]!;
        if (ch === '\\') v += this.s[this.i++]!;
        else if (ch === '"') return v;
        else v += ch;
      }
    }
    if (c === '{' || c === '~') {
      const m = /^~?\{(\d+)\}\r\n/.exec(this.s.slice(this.i, this.i + 20))!;
      this.i += m[0].length;
      const n = Number(m[1]);
      const v = this.s.slice(this.i, this.i + n);
      this.i += n;
      return v;
    }
    const m = /^[^ ()\r]+/.exec(this.s.slice(this.i, this.i + 200))!;
    this.i += m[0].length;
    if (m[0] === 'NIL') return null;
    if (/^\d+$/.test(m[0])) return Number(m[0]);
    return m[0];
  }
}

/** Parses `* n FETCH (...)`; null when the response is something else. */
export function parseFetch(resp: string): FetchData | null {
  const m = /^\* (\d+) FETCH \(/.exec(resp);
  if (!m) return null;
  const p = new Parser(resp);
  p.i = m[0].length;
  const names: string[] = [];
  const items = new Map<string, Value>();
  while (p.peek() !== ')') {
    if (p.peek() === ' ') {
      p.i++;
      continue;
    }
    const name = p.name();
    p.expect(' ');
    names.push(name);
    items.set(name, p.value());
  }
  p.expect(')\r\n');
  if (p.i !== resp.length) throw new Error('trailing data after FETCH response');
  return { seq: Number(m[1]), names, items };
}

/** All FETCH responses of a reply, parsed. */
export function fetches(r: Reply): FetchData[] {
  const out: FetchData[] = [];
  for (const u of r.untagged) {
    const f = parseFetch(u);
    if (f) out.push(f);
  }
  return out;
}
