// A tagged IMAP client over LineClient (TLS) for the SEARCH / APPEND / COPY / MOVE /
// EXPUNGE tests: sends commands with generated tags and returns the untagged lines seen
// before the tagged reply.
import { LineClient } from '../helpers/line-client.js';
import { PASSWORD, USER } from '../helpers/server.js';

export interface Reply {
  /** Untagged lines without "* " and CRLF (literals are not expected in these tests). */
  untagged: string[];
  /** Continuation lines ("+ ...") seen before the tagged line. */
  continuations: string[];
  status: 'OK' | 'NO' | 'BAD';
  /** The tagged line after the status, e.g. "[APPENDUID 5 3] APPEND completed". */
  text: string;
  /** Everything received for the command. */
  raw: string;
}

export class TaggedClient {
  private n = 0;
  constructor(readonly lc: LineClient) {}

  static async open(port: number, opts: { select?: string; examine?: boolean } = {}): Promise<TaggedClient> {
    const lc = await LineClient.connect(port, { tls: true });
    await lc.line();
    const c = new TaggedClient(lc);
    // Password hashing is deliberately slow; a busy machine running many logins needs time.
    const r = await c.run(`LOGIN "${USER}" "${PASSWORD}"`, { timeoutMs: 60000 });
    if (r.status !== 'OK') throw new Error(`login failed: ${r.raw}`);
    if (opts.select) {
      const s = await c.run(`${opts.examine ? 'EXAMINE' : 'SELECT'} "${opts.select}"`);
      if (s.status !== 'OK') throw new Error(`select failed: ${s.raw}`);
    }
    return c;
  }

  nextTag(): string {
    return `T${++this.n}`;
  }

  /** Writes a command (text or bytes, without the final CRLF when `crlf`) and reads its reply. */
  async run(command: string | Buffer, opts: { tag?: string; crlf?: boolean; timeoutMs?: number } = {}): Promise<Reply> {
    const tag = opts.tag ?? this.nextTag();
    const head = Buffer.from(`${tag} `);
    const body = typeof command === 'string' ? Buffer.from(command, 'utf8') : command;
    this.lc.write(Buffer.concat([head, body, Buffer.from(opts.crlf === false ? '' : '\r\n')]));
    return this.reply(tag, opts.timeoutMs);
  }

  /** Reads until the tagged reply for `tag`. */
  async reply(tag: string, timeoutMs = 30000): Promise<Reply> {
    const raw = await this.lc.readUntil(new RegExp(`(?:^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`), timeoutMs);
    return parseReply(raw, tag);
  }

  /** Reads until a line matching `re` arrives (e.g. the "+ " continuation). */
  readUntil(re: RegExp | string, timeoutMs?: number): Promise<string> {
    return this.lc.readUntil(re, timeoutMs);
  }

  write(data: string | Buffer): void {
    this.lc.write(data);
  }

  close(): void {
    this.lc.close();
  }
}

export function parseReply(raw: string, tag: string): Reply {
  const lines = raw.split('\r\n').filter((l) => l.length > 0);
  const untagged: string[] = [];
  const continuations: string[] = [];
  let status: Reply['status'] = 'BAD';
  let text = '';
  for (const l of lines) {
    if (l.startsWith('* ')) untagged.push(l.slice(2));
    else if (l.startsWith('+')) continuations.push(l);
    else if (l.startsWith(tag + ' ')) {
      const m = /^\S+ (OK|NO|BAD) ?(.*)$/.exec(l)!;
      status = m[1] as Reply['status'];
      text = m[2]!;
    }
  }
  return { untagged, continuations, status, text, raw };
}

/** The numbers of the `* SEARCH` line of a reply. */
export function searchResult(r: Reply): number[] {
  const line = r.untagged.find((l) => l === 'SEARCH' || l.startsWith('SEARCH '));
  if (!line) throw new Error(`no SEARCH line in ${JSON.stringify(r.raw)}`);
  return line
    .slice(6)
    .trim()
    .split(' ')
    .filter((x) => x.length > 0 && /^\d+$/.test(x))
    .map(Number);
}

/** Expands a uid-set like "3:5,9" into numbers. */
export function expandSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number) as [number, number | undefined];
    if (b === undefined) out.push(a);
    else for (let i = Math.min(a, b); i <= Math.max(a, b); i++) out.push(i);
  }
  return out;
}
