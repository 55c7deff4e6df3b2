// A raw IMAP client for end-to-end tests (sync replay, checklist, fuzzing): sends exact
// bytes, reads whole responses (a line plus every literal it announces) byte-exact, and
// keeps a record of every response so tests can check what the server ever said.
import net from 'node:net';
import tls from 'node:tls';
import { PASSWORD, USER } from '../helpers/server.js';

export interface Reply {
  /** Untagged (and continuation) responses before the tagged one, literals inline (latin1). */
  untagged: string[];
  /** The tagged line without CRLF. */
  tagged: string;
  status: 'OK' | 'NO' | 'BAD' | string;
}

export class WireClient {
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private n = 0;
  closed = false;
  /** Every complete response received so far (literals inline), when `record` is on. */
  readonly log: string[] = [];
  record = false;
  /** Octets received in total. */
  received = 0;

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.received += d.length;
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

  static connect(port: number, opts: { tls?: boolean; tlsOptions?: tls.ConnectionOptions } = {}): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost', ...opts.tlsOptions })
        : net.connect({ host: '127.0.0.1', port });
      s.once(opts.tls ? 'secureConnect' : 'connect', () => resolve(new WireClient(s)));
      s.once('error', reject);
    });
  }

  /**
   * Connects over implicit TLS (or plain + STARTTLS when `starttls`), reads the greeting and
   * logs in (LOGIN) unless `login` is false.
   */
  static async open(
    ports: { imap?: number; imaps?: number },
    opts: { starttls?: boolean; user?: string; password?: string; login?: boolean; select?: string } = {},
  ): Promise<WireClient> {
    const c = await WireClient.connect(opts.starttls ? ports.imap! : ports.imaps!, { tls: !opts.starttls });
    await c.response();
    if (opts.starttls) {
      const r = await c.cmd('STARTTLS');
      if (r.status !== 'OK') throw new Error(`STARTTLS refused: ${r.tagged}`);
      await c.startTls();
    }
    if (opts.login !== false) {
      const r = await c.cmd(`LOGIN ${quote(opts.user ?? USER)} ${quote(opts.password ?? PASSWORD)}`);
      if (r.status !== 'OK') throw new Error(`login failed: ${r.tagged}`);
    }
    if (opts.select) {
      const r = await c.cmd(`SELECT ${quote(opts.select)}`);
      if (r.status !== 'OK') throw new Error(`SELECT failed: ${r.tagged}`);
    }
    return c;
  }

  /** Upgrades to TLS after the server's OK to STARTTLS. Unread bytes are dropped. */
  async startTls(): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    this.buf = Buffer.alloc(0);
    const t = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
    });
    this.socket = t;
    this.attach(t);
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  nextTag(): string {
    return `A${++this.n}`;
  }

  private async waitData(deadline: number, what: string): Promise<void> {
    if (this.closed) throw new ClosedError(`connection closed while waiting for ${what}; have ${JSON.stringify(this.peek(300))}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`timeout waiting for ${what}; have ${JSON.stringify(this.peek(300))}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, left);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  peek(n = Infinity): string {
    return this.buf.subarray(0, Math.min(n, this.buf.length)).toString('latin1');
  }

  /** Octets received but not yet consumed. */
  get buffered(): number {
    return this.buf.length;
  }

  /** One line through CRLF (latin1). */
  async line(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const s = this.buf.subarray(0, i + 2).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return s;
      }
      await this.waitData(deadline, 'a line');
    }
  }

  async bytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) await this.waitData(deadline, `${n} octets`);
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** A whole response: a line plus every literal it announces (inline, latin1), with CRLF. */
  async response(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      const l = await this.line(Math.max(1, deadline - Date.now()));
      text += l;
      const m = /~?\{(\d+)\}\r\n$/.exec(l);
      if (!m) break;
      text += (await this.bytes(Number(m[1]), Math.max(1, deadline - Date.now()))).toString('latin1');
    }
    if (this.record) this.log.push(text);
    return text;
  }

  /** Sends `<tag> <command>` and collects responses up to its tagged reply. */
  async cmd(command: string | Buffer, timeoutMs = 30_000): Promise<Reply> {
    const tag = this.nextTag();
    this.write(Buffer.isBuffer(command) ? Buffer.concat([Buffer.from(`${tag} `), command, Buffer.from('\r\n')]) : `${tag} ${command}\r\n`);
    return this.reply(tag, timeoutMs);
  }

  /** Collects responses up to the tagged reply for `tag`. */
  async reply(tag: string, timeoutMs = 30_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    const untagged: string[] = [];
    for (;;) {
      const r = await this.response(Math.max(1, deadline - Date.now()));
      if (r.startsWith(tag + ' ')) {
        const tagged = r.slice(0, -2);
        const status = tagged.slice(tag.length + 1).split(' ')[0]!;
        return { untagged, tagged, status };
      }
      untagged.push(r);
    }
  }

  /** Waits for an untagged response matching `re` (discarding others); returns it. */
  async waitFor(re: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.response(Math.max(1, deadline - Date.now()));
      if (re.test(r)) return r;
    }
  }

  /** Resolves when the server has closed the connection (any unread data is kept). */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new TimeoutError('connection did not close');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Everything received and not yet consumed (latin1). */
  pending(): string {
    return this.buf.toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }
}

export class ClosedError extends Error {}
export class TimeoutError extends Error {}

/** An IMAP quoted string (for test inputs known to need no literal). */
export function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

/** Compresses ascending numbers into an IMAP sequence set ("1:5,7,9:12"). */
export function compressSet(nums: number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    out.push(j > i ? `${nums[i]}:${nums[j]}` : String(nums[i]));
    i = j + 1;
  }
  return out.join(',');
}

/** Untagged FETCH responses of a reply: `* <seq> FETCH (...)`. */
export function fetchLines(r: Reply): string[] {
  return r.untagged.filter((u) => /^\* \d+ FETCH /.test(u));
}
