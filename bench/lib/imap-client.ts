// A minimal IMAP4rev1 client for the benchmark driver: raw commands, pipelining (any number
// of tagged commands in flight, answered in order), literals in both directions (LITERAL+
// or synchronizing), STARTTLS, IDLE. It parses only what the driver checks: the untagged
// responses' text (with literals cut out and kept as Buffers) and the tagged status.
// Deliberately small and allocation-light so that the client is not what a phase measures.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface Endpoint {
  host: string;
  port: number;
  tls: boolean;
  /** Upgrade with STARTTLS after the greeting (plain port). */
  starttls?: boolean;
}

export interface Untagged {
  /** The response with each literal replaced by `{n}` (latin1 text, no CRLF). */
  text: string;
  literals: Buffer[];
}

export interface Reply {
  tag: string;
  status: 'OK' | 'NO' | 'BAD';
  text: string;
  untagged: Untagged[];
}

export class ImapError extends Error {
  constructor(
    message: string,
    readonly reply?: Reply,
  ) {
    super(message);
  }
}

interface Pending {
  tag: string;
  untagged: Untagged[];
  /** When set, untagged responses are handed here instead of collected. */
  onUntagged?: (u: Untagged) => void;
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

const CRLF = Buffer.from('\r\n');

export interface ConnectOptions {
  timeoutMs?: number;
  /** Keep the socket's receive path as light as possible (idle phase). */
  lean?: boolean;
}

export class ImapClient {
  private sock: Socket | TLSSocket;
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending[] = [];
  private tagSeq = 0;
  /** Parts of the response being read (text pieces and literals). */
  private curText = '';
  private curLiterals: Buffer[] = [];
  /** Bytes of a literal still to read, or -1 when reading a line. */
  private literalLeft = -1;
  private literalChunks: Buffer[] = [];
  private continuationWaiters: Array<(line: string) => void> = [];
  private greetingWaiter: ((u: Untagged) => void) | null = null;
  private closedError: Error | null = null;
  /** Untagged responses that arrived with no command pending (IDLE updates, BYE). */
  readonly unsolicited: Untagged[] = [];
  capabilities = new Set<string>();
  bytesIn = 0;

  private constructor(sock: Socket | TLSSocket) {
    this.sock = sock;
    this.attach(sock);
  }

  static async connect(ep: Endpoint, opts: ConnectOptions = {}): Promise<ImapClient> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const sock = await openSocket(ep, timeoutMs);
    const c = new ImapClient(sock);
    const greeting = await c.withTimeout(
      new Promise<Untagged>((resolve) => (c.greetingWaiter = resolve)),
      timeoutMs,
      'greeting',
    );
    if (!/^\* (OK|PREAUTH)/i.test(greeting.text)) throw new ImapError(`bad greeting: ${greeting.text}`);
    c.readCaps(greeting.text);
    if (ep.starttls) {
      const r = await c.command('STARTTLS');
      if (r.status !== 'OK') throw new ImapError(`STARTTLS refused: ${r.text}`, r);
      const tls = tlsConnect({ socket: c.sock as Socket, rejectUnauthorized: false, servername: undefined });
      await new Promise<void>((resolve, reject) => {
        tls.once('secureConnect', resolve);
        tls.once('error', reject);
      });
      c.sock.removeAllListeners('data');
      c.sock = tls;
      c.attach(tls);
      c.capabilities.clear();
    }
    return c;
  }

  private attach(sock: Socket | TLSSocket): void {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new ImapError('connection closed')));
  }

  private async withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<T>((_, reject) => {
          timer = setTimeout(() => reject(new ImapError(`timeout waiting for ${what}`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private readCaps(text: string): void {
    const m = /\[CAPABILITY ([^\]]*)\]/i.exec(text) ?? /^\* CAPABILITY (.*)$/i.exec(text);
    if (m) this.capabilities = new Set(m[1]!.toUpperCase().split(' '));
  }

  private fail(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    for (const p of this.pending.splice(0)) p.reject(e);
    for (const w of this.continuationWaiters.splice(0)) w('');
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  // ---- receiving ----

  private onData(d: Buffer): void {
    this.bytesIn += d.length;
    let data = d;
    for (;;) {
      if (this.literalLeft >= 0) {
        if (data.length < this.literalLeft) {
          this.literalChunks.push(data);
          this.literalLeft -= data.length;
          return;
        }
        this.literalChunks.push(data.subarray(0, this.literalLeft));
        data = data.subarray(this.literalLeft);
        this.curLiterals.push(this.literalChunks.length === 1 ? this.literalChunks[0]! : Buffer.concat(this.literalChunks));
        this.literalChunks = [];
        this.literalLeft = -1;
      }
      // Line mode: find CRLF in buf + data.
      if (this.buf.length > 0) {
        data = Buffer.concat([this.buf, data]);
        this.buf = Buffer.alloc(0);
      }
      const nl = data.indexOf(CRLF);
      if (nl < 0) {
        this.buf = Buffer.from(data); // copy: the socket may reuse its buffer
        return;
      }
      const line = data.toString('latin1', 0, nl);
      data = data.subarray(nl + 2);
      // A line ending in {n} (or {n+}) announces a literal.
      if (line.endsWith('}')) {
        const open = line.lastIndexOf('{');
        if (open >= 0) {
          const n = Number(line.slice(open + 1, -1).replace('+', ''));
          if (Number.isInteger(n) && n >= 0) {
            this.curText += line;
            this.literalLeft = n;
            continue;
          }
        }
      }
      this.curText += line;
      const text = this.curText;
      const literals = this.curLiterals;
      this.curText = '';
      this.curLiterals = [];
      this.onResponse(text, literals);
      if (data.length === 0) return;
    }
  }

  private onResponse(text: string, literals: Buffer[]): void {
    const c0 = text.charCodeAt(0);
    if (c0 === 42 /* * */) {
      const u: Untagged = { text, literals };
      if (this.greetingWaiter) {
        const w = this.greetingWaiter;
        this.greetingWaiter = null;
        w(u);
        return;
      }
      if (text.length > 13 && text.charCodeAt(2) === 67 /* C */ && /^\* CAPABILITY /i.test(text)) this.readCaps(text);
      const p = this.pending[0];
      if (!p) {
        this.unsolicited.push(u);
        return;
      }
      if (p.onUntagged) p.onUntagged(u);
      else p.untagged.push(u);
      return;
    }
    if (c0 === 43 /* + */) {
      const w = this.continuationWaiters.shift();
      if (w) w(text);
      return;
    }
    const sp = text.indexOf(' ');
    const tag = text.slice(0, sp);
    const p = this.pending[0];
    if (!p || p.tag !== tag) {
      this.fail(new ImapError(`unexpected tagged response: ${text.slice(0, 200)}`));
      return;
    }
    this.pending.shift();
    const rest = text.slice(sp + 1);
    const sp2 = rest.indexOf(' ');
    const status = (sp2 < 0 ? rest : rest.slice(0, sp2)).toUpperCase() as Reply['status'];
    const reply: Reply = { tag, status, text: sp2 < 0 ? '' : rest.slice(sp2 + 1), untagged: p.untagged };
    if (status === 'OK' && /\[CAPABILITY /i.test(reply.text)) this.readCaps(reply.text);
    p.resolve(reply);
  }

  // ---- sending ----

  nextTag(): string {
    return 'A' + ++this.tagSeq;
  }

  /**
   * Sends one command (text without tag and CRLF) and resolves with its reply. Commands may be
   * issued without awaiting the previous ones (pipelining); replies come back in order.
   */
  command(text: string, onUntagged?: (u: Untagged) => void): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError);
    const tag = this.nextTag();
    const p = this.expect(tag, onUntagged);
    this.sock.write(`${tag} ${text}\r\n`);
    return p;
  }

  private expect(tag: string, onUntagged?: (u: Untagged) => void): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ tag, untagged: [], onUntagged, resolve, reject });
    });
  }

  /** A command whose reply must be OK. */
  async ok(text: string, onUntagged?: (u: Untagged) => void): Promise<Reply> {
    const r = await this.command(text, onUntagged);
    if (r.status !== 'OK') throw new ImapError(`${text.slice(0, 80)}: ${r.status} ${r.text}`, r);
    return r;
  }

  async login(user: string, password: string): Promise<void> {
    await this.ok(`LOGIN ${quote(user)} ${quote(password)}`);
    if (!this.capabilities.has('IMAP4REV1')) await this.ok('CAPABILITY');
  }

  /**
   * APPEND with a literal: non-synchronizing ({n+}) when the server has LITERAL+, otherwise
   * waits for the continuation. Resolves with the tagged reply (APPENDUID in its text).
   */
  append(mailbox: string, message: Buffer, flags: string[] = [], date?: Date): Promise<Reply> {
    if (this.closedError) return Promise.reject(this.closedError);
    const tag = this.nextTag();
    const plus = this.capabilities.has('LITERAL+');
    const head = `${tag} APPEND ${quote(mailbox)}${flags.length ? ` (${flags.join(' ')})` : ''}${date ? ` "${imapDate(date)}"` : ''} {${message.length}${plus ? '+' : ''}}\r\n`;
    const p = this.expect(tag);
    if (plus) {
      this.sock.write(head);
      this.sock.write(message);
      this.sock.write(CRLF);
    } else {
      const cont = new Promise<string>((resolve) => this.continuationWaiters.push(resolve));
      this.sock.write(head);
      void cont.then((line) => {
        if (line && !this.closedError) {
          this.sock.write(message);
          this.sock.write(CRLF);
        }
      });
    }
    return p;
  }

  /**
   * Starts IDLE and resolves when the server has answered with a continuation, with the
   * promise of the tagged reply that follows DONE (wrapped: an async function would adopt it).
   */
  async idle(timeoutMs = 30_000): Promise<{ done: Promise<Reply> }> {
    if (this.closedError) throw this.closedError;
    const tag = this.nextTag();
    const done = this.expect(tag);
    done.catch(() => undefined);
    const cont = new Promise<string>((resolve) => this.continuationWaiters.push(resolve));
    this.sock.write(`${tag} IDLE\r\n`);
    const early = done.then((r) => {
      throw new ImapError(`IDLE refused: ${r.status} ${r.text}`, r);
    });
    early.catch(() => undefined);
    const line = await this.withTimeout(Promise.race([cont, early]), timeoutMs, 'IDLE continuation');
    if (!line) throw this.closedError ?? new ImapError('connection closed in IDLE');
    return { done };
  }

  /** Ends IDLE. */
  done(): void {
    if (!this.closedError) this.sock.write('DONE\r\n');
  }

  async logout(): Promise<void> {
    try {
      await this.withTimeout(this.command('LOGOUT'), 5_000, 'LOGOUT');
    } catch {
      /* closing anyway */
    }
    this.destroy();
  }

  destroy(): void {
    this.closedError ??= new ImapError('closed by client');
    this.sock.destroy();
  }
}

export function openSocket(ep: Endpoint, timeoutMs: number): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = ep.tls
      ? tlsConnect({ host: ep.host, port: ep.port, rejectUnauthorized: false })
      : netConnect({ host: ep.host, port: ep.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect timeout to ${ep.host}:${ep.port}`));
    }, timeoutMs);
    sock.once(ep.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.setNoDelay(true);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** An IMAP quoted string (the driver only sends ASCII names and passwords). */
export function quote(s: string): string {
  return '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time for APPEND, in UTC: "05-Mar-2026 10:00:00 +0000". */
export function imapDate(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}-${MON[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

// ---- small parsers for the answers the driver checks ----

/** The message number of an untagged FETCH (`* 12 FETCH (...)`), or -1. */
export function fetchSeq(u: Untagged): number {
  const t = u.text;
  if (t.charCodeAt(0) !== 42) return -1;
  const sp = t.indexOf(' ', 2);
  if (sp < 0 || t.slice(sp + 1, sp + 6).toUpperCase() !== 'FETCH') return -1;
  return Number(t.slice(2, sp));
}

const UID_RE = /[( ]UID (\d+)/i;
export function fetchUid(u: Untagged): number {
  const m = UID_RE.exec(u.text);
  return m ? Number(m[1]) : -1;
}

const FLAGS_RE = /FLAGS \(([^)]*)\)/i;
export function fetchFlags(u: Untagged): string[] | null {
  const m = FLAGS_RE.exec(u.text);
  if (!m) return null;
  return m[1] ? m[1].split(' ') : [];
}

const SIZE_RE = /RFC822\.SIZE (\d+)/i;
export function fetchSize(u: Untagged): number {
  const m = SIZE_RE.exec(u.text);
  return m ? Number(m[1]) : -1;
}

/** Numbers of `* SEARCH n n n` (several lines are joined). */
export function searchResults(r: Reply): number[] {
  const out: number[] = [];
  for (const u of r.untagged) {
    if (!/^\* SEARCH\b/i.test(u.text)) continue;
    for (const t of u.text.slice(8).trim().split(' ')) if (t) out.push(Number(t));
  }
  return out;
}

/** `* n EXISTS` from a SELECT/NOOP reply, or -1. */
export function existsCount(r: Reply | Untagged[]): number {
  const list = Array.isArray(r) ? r : r.untagged;
  let n = -1;
  for (const u of list) {
    const m = /^\* (\d+) EXISTS/i.exec(u.text);
    if (m) n = Number(m[1]);
  }
  return n;
}

/** [APPENDUID uidvalidity uid] of an APPEND's tagged OK, or -1. */
export function appendUid(r: Reply): number {
  const m = /\[APPENDUID \d+ (\d+)\]/i.exec(r.text);
  return m ? Number(m[1]) : -1;
}
