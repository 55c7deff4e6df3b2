// A bounded session fuzzer (checklist B19): random and mutated input built from real client
// lines, sent over real sockets to the real in-process server in every session state: not
// authenticated, authenticated, selected, IDLE, inside a literal. It checks that
//   - nothing escapes as an uncaught exception or unhandled rejection (the server runs in
//     this process), and no command handler fails internally (the session's error log);
//   - every response the server sends is tagged with a tag we sent (a valid tag that occurs
//     in our input), untagged (*), or a continuation (+), with no CR, LF or NUL inside a
//     line, and tagged responses are OK / NO / BAD;
//   - the server's heap stays bounded, and after the run the server still serves logins.
// The run is seeded (FUZZ_SEED=<n> to replay one) and bounded in time (FUZZ_MS, default 12 s).
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { deliverToInbox } from '../../core/admin/mailboxes.js';
import { demoMessages } from '../../core/mime/samples.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const RUN_MS = Number(process.env.FUZZ_MS ?? 12_000);
const WORKERS = 4;

/** mulberry32: small, fast, seedable. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// Real client command lines (shared/reference/client-flows.md), without tags.
const CORPUS = [
  'capability',
  'CAPABILITY',
  'NOOP',
  'noop',
  'check',
  'ID ("name" "Thunderbird" "version" "128.5.0")',
  'ID ("name" "Mac OS X Mail" "version" "11.5 (3445.9.1)" "os" "Mac OS X" "os-version" "10.13.6 (17G3025)" "vendor" "Apple Inc.")',
  'ID NIL',
  `LOGIN ${USER} "${PASSWORD}"`,
  `login "${USER}" "wrong password"`,
  'AUTHENTICATE PLAIN',
  `AUTHENTICATE PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`,
  'authenticate PLAIN =',
  'STARTTLS',
  'namespace',
  'ENABLE UTF8=ACCEPT',
  'ENABLE CONDSTORE',
  'list (subscribed) "" "*" return (special-use)',
  'LIST "" "*" RETURN (SPECIAL-USE)',
  'LIST "" ""',
  'list "" "INBOX"',
  'LIST "" "%/%"',
  'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))',
  'lsub "" "*"',
  'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)',
  'STATUS "Sent" (UIDNEXT MESSAGES UNSEEN RECENT SIZE)',
  'select "INBOX"',
  'SELECT INBOX',
  'SELECT "INBOX" (CONDSTORE)',
  'EXAMINE "INBOX"',
  'UNSELECT',
  'CLOSE',
  'UID fetch 1:* (FLAGS)',
  'UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To Received)])',
  'FETCH 1:50 (FLAGS UID)',
  'FETCH 1:50 (INTERNALDATE UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (date subject from to cc message-id in-reply-to references x-priority x-uniform-type-identifier x-universally-unique-identifier list-id list-unsubscribe)])',
  'UID FETCH 3 (BODYSTRUCTURE BODY.PEEK[HEADER])',
  'UID FETCH 3 BODY.PEEK[1]',
  'UID FETCH 1 BODY.PEEK[]<0.2000>',
  'UID FETCH 3 (BODY.PEEK[3]<0.5877469> BODY.PEEK[1] BODY.PEEK[2])',
  'UID fetch 2 (UID RFC822.SIZE BODY[]<65536.65536>)',
  'UID fetch 2 (UID BODY.PEEK[HEADER.FIELDS (Content-Type Content-Transfer-Encoding)] BODY.PEEK[TEXT]<0.2048>)',
  'FETCH 1:* (FLAGS UID INTERNALDATE)',
  'FETCH 1 (ENVELOPE BODY RFC822.HEADER RFC822.TEXT)',
  'FETCH 1:* ALL',
  'UID FETCH 1:4294967295 (UID)',
  'UID FETCH 1:6131 (FLAGS UID) (CHANGEDSINCE 1433050)',
  'UID SEARCH 1:50 SINCE 01-Sep-2019',
  'UID SEARCH 5:9 SINCE 01-Jan-2026 NOT DELETED',
  'UID SEARCH UNDELETED HEADER Message-ID <id@example.test>',
  'SEARCH UNSEEN UNDELETED',
  'SEARCH CHARSET UTF-8 TEXT "München"',
  'SEARCH OR (FROM priya SUBJECT kickoff) (LARGER 100 NOT SEEN)',
  'UID STORE 1 +FLAGS.SILENT (\\Deleted \\Seen)',
  'uid store 2 +FLAGS (\\Deleted)',
  'STORE 1 -FLAGS ($Label1)',
  'STORE 1:* FLAGS.SILENT (\\Seen)',
  'UID COPY 1 "Archive"',
  'uid move 2 "Trash"',
  'UID MOVE 1:3 Junk',
  'UID EXPUNGE 2',
  'EXPUNGE',
  'CREATE "Projects/2026"',
  'create "Trash"',
  'SUBSCRIBE "Projects/2026"',
  'UNSUBSCRIBE "Projects/2026"',
  'RENAME "Projects" "Old Projects"',
  'DELETE "Old Projects/2026"',
  'CREATE "&ZeVnLIqe-"',
  'CREATE "Entw&APw-rfe"',
  'IDLE',
  'DONE',
  'append "Sent" (\\Seen) "05-Mar-2026 10:00:00 +0100" {38}\r\nSubject: hi\r\n\r\nA sent message.\r\n',
  'APPEND INBOX {22+}\r\nSubject: x\r\n\r\nbody\r\n',
  'APPEND Drafts (\\Draft) ~{12}\r\nSubject: d\r\n',
];
/** Commands that would end the session (used rarely, so the states keep their connections). */
const RARE = ['LOGOUT', 'logout'];
const SPECIAL_BYTES = [0x00, 0x0d, 0x0a, 0x20, 0x22, 0x5c, 0x28, 0x29, 0x7b, 0x7d, 0x2b, 0x7e, 0x5b, 0x5d, 0x3c, 0x3e, 0x2a, 0x25, 0x26, 0x2d, 0xff, 0xc3, 0x80];
const NUMBERS = ['0', '1', '*', '4294967295', '4294967296', '99999999999999999999', '-1', '1:*', '*:1', '1,,5', ':', '18446744073709551616'];

let tagCounter = 0;
const newTag = (r: Rng) => (r.chance(0.05) ? r.pick(['*', '+', '', 'A"B', 'A{1}', '~x', 'a.b', '1.854']) : `f${(++tagCounter).toString(36)}`);

function mutate(r: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    const at = b.length ? r.int(b.length) : 0;
    switch (r.int(9)) {
      case 0: // flip a byte
        if (b.length) b[at] = r.int(256);
        break;
      case 1: // insert special bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + r.int(3) }, () => r.pick(SPECIAL_BYTES))), b.subarray(at)]);
        break;
      case 2: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(20)))]);
        break;
      case 3: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + r.int(40)), b.subarray(at)]);
        break;
      case 4: // replace a number
        b = Buffer.from(b.toString('latin1').replace(/\d+/, () => r.pick(NUMBERS)), 'latin1');
        break;
      case 5: // insert a literal marker, with or without its body
        {
          const n = r.int(r.chance(0.1) ? 100_000 : 40);
          const plus = r.chance(0.5) ? '+' : '';
          const body = plus && r.chance(0.7) ? randomText(r, n) : '';
          b = Buffer.concat([b.subarray(0, at), Buffer.from(` {${n}${plus}}\r\n${body}`, 'latin1'), b.subarray(at)]);
        }
        break;
      case 6: // deep or unbalanced parentheses
        b = Buffer.concat([b.subarray(0, at), Buffer.from(r.chance(0.5) ? '('.repeat(r.int(200)) : ')'.repeat(r.int(5))), b.subarray(at)]);
        break;
      case 7: // truncate
        b = b.subarray(0, at);
        break;
      case 8: // splice in another corpus line
        b = Buffer.concat([b.subarray(0, at), Buffer.from(' ' + r.pick(CORPUS)), b.subarray(at)]);
        break;
    }
  }
  return b;
}

function randomText(r: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += r.chance(0.9) ? String.fromCharCode(0x20 + r.int(95)) : String.fromCharCode(r.pick(SPECIAL_BYTES));
  return s;
}

/** One fuzz message: a (mutated) tagged corpus command, or garbage; with its line end. */
function fuzzInput(r: Rng): Buffer {
  const roll = r.next();
  if (roll < 0.02) return Buffer.from(`${newTag(r)} ${r.pick(RARE)}\r\n`);
  if (roll < 0.07) return Buffer.from(randomText(r, r.int(300)) + (r.chance(0.8) ? '\r\n' : ''), 'latin1');
  if (roll < 0.09) return Buffer.from(`${newTag(r)} NOOP ${'x'.repeat(9000 + r.int(3000))}\r\n`); // near and over maxCommandSize
  const line = Buffer.from(`${newTag(r)} ${r.pick(CORPUS)}`, 'latin1');
  const body = roll < 0.35 ? line : mutate(r, line);
  const end = r.pick(['\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '']);
  return Buffer.concat([body, Buffer.from(end)]);
}

/** A syntactically valid tag: 1*<ASTRING-CHAR except "+"> (RFC 3501 §9). */
const TAG = /^[^\x00-\x20\x7f-\xff(){%*"\\+]+$/;

interface Findings {
  violations: string[];
  statusLiteralEcho: string[];
  responses: number;
}

/** Validates the server's byte stream for one connection as it arrives. */
class ResponseChecker {
  private buf: Buffer = Buffer.alloc(0);
  private pending = '';
  private literalLeft = 0;
  /**
   * Everything sent on this connection (latin1). A tag the server answers with must occur in
   * it: commands can start after a line end, after a literal, or after skipped octets, so any
   * substring is a fair candidate; what the server must never do is invent or mangle one.
   */
  sent = '';
  /** Tagged replies seen (for the sync probes). */
  readonly tagged = new Set<string>();
  waiters: Array<() => void> = [];

  constructor(private f: Findings, private where: () => string) {}

  push(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, this.buf.length);
        this.literalLeft -= take;
        this.buf = this.buf.subarray(take);
        if (this.literalLeft > 0) return;
        continue;
      }
      const i = this.buf.indexOf('\r\n');
      if (i < 0) {
        if (this.buf.length > 1_000_000) this.violation(`a line over 1 MB without CRLF: ${JSON.stringify(this.buf.subarray(0, 100).toString('latin1'))}`);
        return;
      }
      const line = this.buf.subarray(0, i).toString('latin1');
      this.buf = this.buf.subarray(i + 2);
      this.line(line);
    }
  }

  private line(line: string): void {
    const first = this.pending === '';
    this.pending += line;
    // Literals occur only in untagged data responses; resp-text (OK/NO/BAD/BYE) has none.
    const head = this.pending;
    const status = /^\* (OK|NO|BAD|BYE|PREAUTH)\b/.test(head) || !head.startsWith('* ');
    const lit = /~?\{(\d+)\}$/.exec(line);
    if (/[\r\n\0]/.test(line)) this.violation(`CR, LF or NUL inside a response line: ${JSON.stringify(line.slice(0, 200))}`);
    if (first) this.checkStart(line);
    if (lit && status) this.f.statusLiteralEcho.push(line.slice(0, 200));
    if (lit && !status) {
      this.literalLeft = Number(lit[1]);
      return;
    }
    this.pending = '';
    this.f.responses++;
  }

  private checkStart(line: string): void {
    if (line.startsWith('* ') || line === '+' || line.startsWith('+ ')) return;
    const sp = line.indexOf(' ');
    const tag = sp < 0 ? line : line.slice(0, sp);
    if (!TAG.test(tag)) this.violation(`a tagged response with an invalid tag "${tag}": ${JSON.stringify(line.slice(0, 200))}`);
    else if (!this.sent.includes(tag)) this.violation(`a response tagged "${tag}", which was never sent: ${JSON.stringify(line.slice(0, 200))}`);
    else if (!/^(OK|NO|BAD) /.test(line.slice(sp + 1))) this.violation(`a tagged response that is not OK/NO/BAD: ${JSON.stringify(line.slice(0, 200))}`);
    this.tagged.add(tag);
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private violation(what: string): void {
    this.f.violations.push(`${what} [${this.where()}]`);
  }
}

class FuzzConn {
  readonly checker: ResponseChecker;
  closed = false;
  greeting: Promise<void>;
  private sock: tls.TLSSocket;

  constructor(port: number, f: Findings, where: () => string) {
    this.checker = new ResponseChecker(f, where);
    this.sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    this.sock.on('data', (d: Buffer) => this.checker.push(d));
    this.sock.on('error', () => undefined);
    this.sock.on('close', () => {
      this.closed = true;
      const w = this.checker.waiters;
      this.checker.waiters = [];
      for (const fn of w) fn();
    });
    this.greeting = new Promise((resolve) => {
      const t = setTimeout(resolve, 3000);
      this.sock.once('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  send(data: Buffer | string): void {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
    this.checker.sent += b.toString('latin1');
    if (!this.sock.destroyed) this.sock.write(b);
  }

  /**
   * Sends `<tag> <cmd>` and waits for its tagged reply; false on timeout or close. With
   * `fresh`, a CRLF first ends whatever line the fuzz input left open.
   */
  async cmd(cmd: string, timeoutMs = 3000, fresh = false): Promise<boolean> {
    const tag = `s${(++tagCounter).toString(36)}`;
    this.send(`${fresh ? '\r\n' : ''}${tag} ${cmd}\r\n`);
    return this.waitTag(tag, timeoutMs);
  }

  async waitTag(tag: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.checker.tagged.has(tag)) {
      if (this.closed || Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.checker.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  close(): void {
    this.sock.destroy();
  }
}

type State = 'not-authenticated' | 'authenticated' | 'selected' | 'idle' | 'literal';
const STATES: readonly State[] = ['not-authenticated', 'authenticated', 'selected', 'idle', 'literal'];

describe('IMAP session fuzzer', () => {
  let s: TestServer;
  const errors: string[] = [];
  const onUncaught = (e: unknown) => errors.push(`uncaughtException: ${e instanceof Error ? e.stack : String(e)}`);
  const onRejection = (e: unknown) => errors.push(`unhandledRejection: ${e instanceof Error ? e.stack : String(e)}`);
  const sessionErrors: string[] = [];

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
    // Session-level errors are logged at 'error' ("imap command failed"): collect them.
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const line of String(chunk).split('\n')) {
          if (!line) continue;
          try {
            const o = JSON.parse(line) as { level: number; msg: string };
            if (o.level >= 50) sessionErrors.push(line.slice(0, 500));
          } catch {
            /* not JSON */
          }
        }
        cb();
      },
    });
    s = await startTestServer({ idleKeepaliveMs: 300, logger: pino({ level: 'error' }, sink) });
    // A cheap (minimum-cost, ln=14) scrypt hash for the test account, so the fuzzer can log in
    // hundreds of times; the policy accepts it (it only asks admins to re-hash).
    const salt = randomBytes(16);
    const key = scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const enc = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
    const acc = (await s.store.getAccountByAddress(USER))!;
    await s.store.updateAccount(acc.id, { passwordHash: `$scrypt$ln=14,r=8,p=1$${enc(salt)}$${enc(key)}` });
    for (const m of demoMessages(USER, new Date())) await deliverToInbox(s.store, USER, m.raw, { internalDate: m.internalDate, flags: m.flags });
  });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
    await s.stop();
  });

  it(`random and mutated input in every state (seed ${SEED})`, async () => {
    const gc = (() => {
      v8.setFlagsFromString('--expose-gc');
      return runInNewContext('gc') as () => void;
    })();
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    let heapPeak = heap0;
    const sampler = setInterval(() => {
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }, 20);
    const f: Findings = { violations: [], statusLiteralEcho: [], responses: 0 };
    const stats = { connections: 0, batches: 0, messages: 0, bytes: 0, unsynced: 0, byState: {} as Record<string, number> };
    const stopAt = Date.now() + RUN_MS;

    const worker = async (w: number) => {
      const r = prng(SEED * 31 + w);
      while (Date.now() < stopAt) {
        const state = r.pick(STATES);
        stats.byState[state] = (stats.byState[state] ?? 0) + 1;
        let lastSent = '';
        const c = new FuzzConn(s.ports.imaps!, f, () => `seed ${SEED} worker ${w} state ${state}, last input ${JSON.stringify(lastSent.slice(0, 300))}`);
        stats.connections++;
        await c.greeting;
        try {
          if (state !== 'not-authenticated' && !(await c.cmd(`LOGIN ${USER} "${PASSWORD}"`))) continue;
          if ((state === 'selected' || state === 'idle' || state === 'literal') && !(await c.cmd('SELECT INBOX'))) continue;
          const rounds = 1 + r.int(4);
          for (let k = 0; k < rounds && !c.closed && Date.now() < stopAt; k++) {
            let literal = 0;
            if (state === 'idle') {
              c.send('i1 IDLE\r\n');
              await new Promise((res) => setTimeout(res, 5));
            } else if (state === 'literal') {
              literal = 1 + r.int(3000);
              c.send(`l1 APPEND INBOX {${literal}}\r\n`);
              await new Promise((res) => setTimeout(res, 5));
            }
            // A batch of fuzz messages, cut into random chunks; inside a literal, at least
            // as long as the literal, so that what follows it is parsed as commands.
            const parts: Buffer[] = [];
            let size = 0;
            for (let m = 1 + r.int(8); m > 0 || size < literal + 2; m--) {
              const p = fuzzInput(r);
              parts.push(p);
              size += p.length;
            }
            const batch = Buffer.concat(parts);
            stats.messages += parts.length;
            stats.bytes += batch.length;
            lastSent = batch.toString('latin1');
            for (let off = 0; off < batch.length && !c.closed; ) {
              const n = 1 + r.int(r.chance(0.3) ? 16 : 4096);
              c.send(batch.subarray(off, off + n));
              off += n;
              if (r.chance(0.2)) await new Promise((res) => setTimeout(res, r.int(5)));
            }
            stats.batches++;
            // Resynchronize: a NOOP must be answered. When it is not, the input left the
            // server waiting for something legitimate (a literal's octets, an AUTHENTICATE
            // response, a DONE): move on to a new connection.
            if (!(await c.cmd('NOOP', 800, true))) {
              stats.unsynced++;
              break;
            }
          }
        } finally {
          c.close();
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    clearInterval(sampler);

    // The server still serves a full login and a command.
    const probe = new FuzzConn(s.ports.imaps!, f, () => 'final probe');
    await probe.greeting;
    assert.ok(await probe.cmd(`LOGIN ${USER} "${PASSWORD}"`, 10_000), 'the server still answers a login');
    assert.ok(await probe.cmd('SELECT INBOX', 10_000));
    assert.ok(await probe.cmd('UID FETCH 1:* (FLAGS)', 10_000));
    probe.close();
    await new Promise((res) => setTimeout(res, 200));
    gc();
    const heap1 = process.memoryUsage().heapUsed;

    console.log(
      `fuzz seed ${SEED}: ${stats.connections} connections, ${stats.batches} batches, ${stats.messages} messages, ` +
        `${(stats.bytes / 1024).toFixed(0)} KiB sent, ${f.responses} responses checked, ${stats.unsynced} connections left unsynchronized; ` +
        `by state ${JSON.stringify(stats.byState)}; heap ${(heap0 / 1e6).toFixed(1)} -> peak ${(heapPeak / 1e6).toFixed(1)} -> ${(heap1 / 1e6).toFixed(1)} MB`,
    );
    if (f.statusLiteralEcho.length) {
      console.log(`fuzz: ${f.statusLiteralEcho.length} status responses end in a literal-like "{n}" (clients such as imapflow read these as literals), e.g. ${JSON.stringify([...new Set(f.statusLiteralEcho)].slice(0, 3))}`);
    }
    assert.deepEqual(errors, [], 'no uncaught exception or unhandled rejection');
    assert.deepEqual(f.violations.slice(0, 10), [], 'every response tagged with a sent tag, untagged or a continuation');
    assert.deepEqual(sessionErrors.slice(0, 10), [], 'no command failed inside the server');
    assert.ok(f.responses > 200, `enough responses checked (${f.responses})`);
    assert.ok(heapPeak - heap0 < 256 * 1024 * 1024, `heap peak bounded (+${((heapPeak - heap0) / 1e6).toFixed(1)} MB)`);
    assert.ok(heap1 - heap0 < 48 * 1024 * 1024, `heap back near its start after the run (+${((heap1 - heap0) / 1e6).toFixed(1)} MB)`);
  });
});
