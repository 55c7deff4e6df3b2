// A bare-bones line client over real TCP/TLS sockets, for byte-level protocol tests.
import net from 'node:net';
import tls from 'node:tls';

export class LineClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
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

  static connect(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<LineClient> {
    const host = opts.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({ host, port, rejectUnauthorized: false, servername: 'localhost' })
        : net.connect({ host, port });
      s.once(opts.tls ? 'secureConnect' : 'connect', () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** Upgrades this connection to TLS (after the server agreed to STARTTLS/STLS). */
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

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  /** Waits until the received bytes match `pattern` (or the timeout); returns and consumes them. */
  async readUntil(pattern: RegExp | string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.buf.toString('latin1');
      const m = typeof pattern === 'string' ? text.indexOf(pattern) : text.search(pattern);
      if (m >= 0) {
        const len = typeof pattern === 'string' ? pattern.length : (text.match(pattern)![0].length);
        const end = m + len;
        this.buf = this.buf.subarray(end);
        return text.slice(0, end);
      }
      if (this.closed) throw new Error(`connection closed; received so far: ${JSON.stringify(text)}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${pattern}; received: ${JSON.stringify(text)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Reads one line (through CRLF). */
  line(timeoutMs?: number): Promise<string> {
    return this.readUntil('\r\n', timeoutMs);
  }

  /** Sends a command and reads one response line. */
  async cmd(c: string): Promise<string> {
    this.write(c + '\r\n');
    return this.line();
  }

  /** Sends a command and reads a POP3 multi-line response through the terminating dot. */
  async multi(c: string): Promise<string> {
    this.write(c + '\r\n');
    const first = await this.line();
    if (!first.startsWith('+OK')) return first;
    return first + (await this.readUntil(/(^|\r\n)\.\r\n/));
  }

  /** Everything received and not yet consumed. */
  pending(): string {
    return this.buf.toString('latin1');
  }

  async waitClosed(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection did not close');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
