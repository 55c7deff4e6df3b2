// Connectivity test (Exchange's Test-PopConnectivity / Test-ImapConnectivity): logs in to a
// mailbox over the real protocol through each front-end, with the chosen connection type
// (plain, implicit TLS, STARTTLS), and reports per front-end: server, site, scenario,
// result, latency in ms and error. Without lightMode it also opens the Inbox and reads the
// newest message's header (IMAP SELECT + FETCH, POP3 STAT + TOP); it never changes the
// mailbox (no test message is delivered, nothing is marked read or deleted).
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import type { ProtocolName } from '../settings/schema.js';
import type { AdminContext, FrontEnd } from './context.js';
import { canonicalAddress } from './mailboxes.js';
import { getProtocolSettings } from './protocols.js';

export const connectivityTestSchema = z
  .object({
    protocol: z.enum(['pop3', 'imap4']),
    mailbox: z.string().describe('address of the test mailbox'),
    password: z.string().min(1).max(1024),
    connectionType: z.enum(['plain', 'tls', 'starttls']).default('tls').describe('plain, implicit TLS, or STARTTLS/STLS'),
    lightMode: z.boolean().default(false).describe('log in only'),
    trustAnyCertificate: z.boolean().optional().describe('default: true for a local self-signed certificate, else false'),
    timeoutMs: z.number().int().min(1000).max(60000).default(15000),
  })
  .strict();
export type ConnectivityTestInput = z.infer<typeof connectivityTestSchema>;

export const connectivityResultSchema = z
  .object({
    server: z.string(),
    site: z.string(),
    endpoint: z.string().describe('host:port connected to'),
    protocol: z.enum(['pop3', 'imap4']),
    connectionType: z.enum(['plain', 'tls', 'starttls']),
    scenario: z.string(),
    result: z.enum(['Success', 'Failure']),
    latencyMs: z.number().int(),
    error: z.string().nullable(),
  })
  .strict();
export type ConnectivityResult = z.infer<typeof connectivityResultSchema>;

export const connectivityReportSchema = z.object({ results: z.array(connectivityResultSchema) }).strict();

/** A failure with the text the report shows. */
class TestFailure extends Error {}

/** Longest line or literal accepted from the server under test. */
const MAX_LINE = 64 * 1024;
const MAX_LITERAL = 1024 * 1024;

/** A bounded reader over a socket that can be upgraded to TLS in place. */
class Wire {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private sock: net.Socket;

  constructor(
    sock: net.Socket,
    private endpoint: string,
  ) {
    this.sock = sock;
    this.attach(sock);
  }

  private attach(s: net.Socket): void {
    s.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    s.on('close', () => this.fail(new TestFailure(`${this.endpoint} closed the connection`)));
    s.on('error', (e) => this.fail(new TestFailure(`connection to ${this.endpoint} failed: ${e.message}`)));
  }

  fail(e: Error): void {
    if (!this.failure) this.failure = e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((r) => (this.waiter = r));
  }

  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      if (this.buf.length > MAX_LINE) throw new TestFailure(`${this.endpoint} sent a line over ${MAX_LINE} bytes`);
      await this.more();
    }
  }

  async bytes(n: number): Promise<void> {
    if (n > MAX_LITERAL) throw new TestFailure(`${this.endpoint} sent a literal over ${MAX_LITERAL} bytes`);
    while (this.buf.length < n) await this.more();
    this.buf = this.buf.subarray(n);
  }

  write(s: string): void {
    this.sock.write(s);
  }

  async startTls(servername: string, trustAny: boolean): Promise<void> {
    const raw = this.sock;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    this.buf = Buffer.alloc(0);
    const t = tls.connect({ socket: raw, servername: servername || undefined, rejectUnauthorized: !trustAny });
    this.sock = t;
    this.attach(t);
    await handshake(t, this.endpoint);
  }

}

function handshake(t: tls.TLSSocket, endpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    t.once('secureConnect', () => resolve());
    t.once('error', (e) => reject(new TestFailure(`TLS handshake with ${endpoint} failed: ${e.message}`)));
  });
}

function servername(host: string): string | undefined {
  return net.isIP(host) ? undefined : host;
}

async function connect(host: string, port: number, implicitTls: boolean, trustAny: boolean, opened: net.Socket[]): Promise<Wire> {
  const endpoint = `${host}:${port}`;
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port });
    opened.push(s);
    s.once('connect', () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ENOTFOUND' ? 'host not found' : e.message;
      reject(new TestFailure(`cannot connect to ${endpoint}: ${why}`));
    });
  });
  if (!implicitTls) return new Wire(sock, endpoint);
  const t = tls.connect({ socket: sock, servername: servername(host), rejectUnauthorized: !trustAny });
  const wire = new Wire(t, endpoint);
  await handshake(t, endpoint);
  return wire;
}

// ---- the protocol dialogues ----

function quoted(s: string): string {
  return '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"';
}

/** Reads untagged lines (skipping literals) until the tagged reply; returns it and the untagged lines. */
async function imapReply(w: Wire, tag: string): Promise<{ tagged: string; untagged: string[] }> {
  const untagged: string[] = [];
  for (;;) {
    let line = await w.line();
    // A line ending in a literal announcement continues after the literal's bytes.
    for (let m = /\{(\d+)\+?\}$/.exec(line); m; m = /\{(\d+)\+?\}$/.exec(line)) {
      await w.bytes(Number(m[1]));
      line = line.slice(0, m.index) + '{…}' + (await w.line());
    }
    if (line.startsWith(tag + ' ')) return { tagged: line.slice(tag.length + 1), untagged };
    untagged.push(line);
  }
}

interface Dialogue {
  host: string;
  user: string;
  password: string;
  connectionType: 'plain' | 'tls' | 'starttls';
  lightMode: boolean;
  trustAny: boolean;
}

/** What went wrong at login, as the server answered; the caller adds the diagnosis. */
class LoginRefused extends TestFailure {}
/** The login policy does not allow credentials on this connection. */
class PolicyRefused extends TestFailure {}

function loginRefused(reply: string): TestFailure {
  if (/\[(LIMIT|IN-USE)\]/i.test(reply)) return new TestFailure(`login refused: too many connections to this mailbox (maxConnectionsPerUser): ${reply}`);
  return new LoginRefused(`login refused: ${reply}`);
}

async function imapDialogue(w: Wire, d: Dialogue): Promise<void> {
  const greeting = await w.line();
  if (!/^\* (OK|PREAUTH)\b/i.test(greeting)) throw new TestFailure(`the server refused the connection: ${greeting}`);
  let n = 0;
  const cmd = async (text: string) => {
    const tag = `t${++n}`;
    w.write(`${tag} ${text}\r\n`);
    return imapReply(w, tag);
  };
  if (d.connectionType === 'starttls') {
    const r = await cmd('STARTTLS');
    if (!/^OK\b/i.test(r.tagged)) throw new TestFailure(`STARTTLS refused: ${r.tagged}`);
    await w.startTls(servername(d.host) ?? '', d.trustAny);
  }
  const caps = await cmd('CAPABILITY');
  if (caps.untagged.some((l) => /\bLOGINDISABLED\b/i.test(l))) {
    throw new PolicyRefused('the server does not accept a login on this connection before TLS (loginType); use connectionType tls or starttls');
  }
  // AUTHENTICATE PLAIN with an initial response carries any password byte for byte.
  const token = Buffer.from(`\0${d.user}\0${d.password}`, 'utf8').toString('base64');
  const auth = await cmd(`AUTHENTICATE PLAIN ${token}`);
  if (/^NO \[PRIVACYREQUIRED\]/i.test(auth.tagged)) throw new PolicyRefused(`login refused by the login policy: ${auth.tagged}`);
  if (/^BAD\b/i.test(auth.tagged)) {
    const login = await cmd(`LOGIN ${quoted(d.user)} ${quoted(d.password)}`);
    if (!/^OK\b/i.test(login.tagged)) throw loginRefused(login.tagged);
  } else if (!/^OK\b/i.test(auth.tagged)) {
    throw loginRefused(auth.tagged);
  }
  if (!d.lightMode) {
    const sel = await cmd('EXAMINE INBOX');
    if (!/^OK\b/i.test(sel.tagged)) throw new TestFailure(`opening the Inbox failed: ${sel.tagged}`);
    const exists = Number(sel.untagged.map((l) => /^\* (\d+) EXISTS/i.exec(l)?.[1]).find((x) => x !== undefined) ?? 0);
    if (exists > 0) {
      const f = await cmd(`FETCH ${exists} (UID RFC822.SIZE BODY.PEEK[HEADER])`);
      if (!/^OK\b/i.test(f.tagged)) throw new TestFailure(`reading the newest message failed: ${f.tagged}`);
    }
  }
  await cmd('LOGOUT').catch(() => undefined);
}

async function pop3Dialogue(w: Wire, d: Dialogue): Promise<void> {
  const greeting = await w.line();
  if (!greeting.startsWith('+OK')) throw new TestFailure(`the server refused the connection: ${greeting}`);
  const cmd = async (text: string) => {
    w.write(text + '\r\n');
    return w.line();
  };
  const multi = async () => {
    for (let l = await w.line(); l !== '.'; l = await w.line());
  };
  if (d.connectionType === 'starttls') {
    const r = await cmd('STLS');
    if (!r.startsWith('+OK')) throw new TestFailure(`STLS refused: ${r}`);
    await w.startTls(servername(d.host) ?? '', d.trustAny);
  }
  const u = await cmd(`USER ${d.user}`);
  if (!u.startsWith('+OK')) {
    if (/\[AUTH\]/.test(u) || /STLS|TLS/i.test(u)) throw new PolicyRefused(`login refused by the login policy (loginType): ${u}`);
    throw loginRefused(u);
  }
  const p = await cmd(`PASS ${d.password}`);
  if (!p.startsWith('+OK')) throw loginRefused(p);
  if (!d.lightMode) {
    const stat = await cmd('STAT');
    if (!stat.startsWith('+OK')) throw new TestFailure(`STAT failed: ${stat}`);
    const count = Number(stat.split(' ')[1] ?? 0);
    if (count > 0) {
      const top = await cmd(`TOP ${count} 0`);
      if (!top.startsWith('+OK')) throw new TestFailure(`reading the newest message failed: ${top}`);
      await multi();
    }
  }
  await cmd('QUIT').catch(() => undefined);
}

// ---- the test ----

function scenario(p: ProtocolName, d: Pick<Dialogue, 'connectionType' | 'lightMode'>): string {
  const name = p === 'pop3' ? 'POP3' : 'IMAP4';
  const over = { plain: 'a plain connection', tls: 'implicit TLS', starttls: p === 'pop3' ? 'STLS' : 'STARTTLS' }[d.connectionType];
  return d.lightMode ? `${name} login over ${over}` : `${name} login over ${over}, open the Inbox and read the newest message's header`;
}

/** Why a login was refused, from the store: the admin may know what the client may not. */
async function diagnose(ctx: AdminContext, p: ProtocolName, address: string): Promise<string> {
  try {
    const acc = await ctx.store.getAccountByAddress(canonicalAddress(address));
    if (!acc) return 'no such mailbox';
    if (acc.role !== 'user') return `the mailbox has role '${acc.role}', which never logs in over POP3/IMAP4`;
    if (!acc[p].enabled) return `${p === 'pop3' ? 'POP3' : 'IMAP4'} is disabled for this mailbox (${p === 'pop3' ? 'popEnabled' : 'imapEnabled'}: false)`;
    return 'wrong password (or too many recent failures from this address)';
  } catch {
    return 'wrong password, unknown mailbox or protocol disabled for it';
  }
}

async function runOne(ctx: AdminContext, fe: FrontEnd, input: ConnectivityTestInput): Promise<ConnectivityResult> {
  const implicit = input.connectionType === 'tls';
  const port = implicit ? fe.tlsPort : fe.plainPort;
  const trustAny = input.trustAnyCertificate ?? fe.trustAnyCertificate;
  const d: Dialogue = { host: fe.host, user: input.mailbox, password: input.password, connectionType: input.connectionType, lightMode: input.lightMode, trustAny };
  const base = {
    server: fe.server,
    site: fe.site,
    endpoint: `${fe.host}:${port ?? '-'}`,
    protocol: input.protocol,
    connectionType: input.connectionType,
    scenario: scenario(input.protocol, d),
  };
  const started = Date.now();
  if (port === null) {
    return { ...base, result: 'Failure', latencyMs: 0, error: `this front-end has no ${implicit ? 'implicit-TLS' : 'plain'} ${input.protocol} port` };
  }
  const opened: net.Socket[] = [];
  let timer: NodeJS.Timeout | null = null;
  let error: string | null = null;
  try {
    const work = (async () => {
      const wire = await connect(fe.host, port, implicit, trustAny, opened);
      await (input.protocol === 'imap4' ? imapDialogue(wire, d) : pop3Dialogue(wire, d));
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TestFailure(`no complete answer from ${base.endpoint} within ${input.timeoutMs} ms`)), input.timeoutMs);
    });
    work.catch(() => undefined);
    await Promise.race([work, timeout]);
  } catch (e) {
    error = e instanceof TestFailure ? e.message : `unexpected failure: ${(e as Error).message}`;
    if (e instanceof LoginRefused) error += ` — ${await diagnose(ctx, input.protocol, input.mailbox)}`;
    if (!(e instanceof LoginRefused) && !(e instanceof PolicyRefused)) {
      const s = await getProtocolSettings(ctx.store, input.protocol).catch(() => null);
      if (s && !s.settings.enabled) error += ` — the ${input.protocol} service is stopped (enabled: false)`;
    }
  } finally {
    if (timer) clearTimeout(timer);
    for (const sock of opened) sock.destroy();
  }
  return { ...base, result: error ? 'Failure' : 'Success', latencyMs: Date.now() - started, error };
}

export async function runConnectivityTest(ctx: AdminContext, input: ConnectivityTestInput): Promise<{ results: ConnectivityResult[] }> {
  const frontEnds = await ctx.frontEnds(input.protocol);
  return { results: await Promise.all(frontEnds.map((fe) => runOne(ctx, fe, input))) };
}
