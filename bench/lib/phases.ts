// The workload: phases run against any IMAP/POP3 server through the raw clients. Each phase
// checks the answers it gets (counts, UIDs, sizes, search hits) against what the generator
// knows, and measures wall time (and, when the server's pid is known, the CPU time of the
// server's process tree) over several repetitions.

import { randomBytes } from 'node:crypto';
import type { GeneratedMessage } from './generator.js';
import { Rng } from './generator.js';
import {
  appendUid,
  existsCount,
  fetchFlags,
  fetchSeq,
  fetchSize,
  fetchUid,
  ImapClient,
  searchResults,
  type Endpoint,
  type Reply,
  type Untagged,
} from './imap-client.js';
import { Pop3Client } from './pop3-client.js';
import { treeCpuSeconds, treeMemory } from './procs.js';
import { percentile, summarize, type Summary } from './stats.js';
import type { BenchUser } from './servers.js';

export interface Target {
  name: string;
  /** Root pid of the server's process tree, when it runs in a process of its own. */
  pid?: number;
  imap: Endpoint;
  imaps: Endpoint;
  pop3: Endpoint;
}

export interface Workload {
  /** The main folder's messages (INBOX of `main`), in UID order. */
  messages: GeneratedMessage[];
  /** The POP3 user's Inbox: the first messages of the same set. */
  popMessages: GeneratedMessage[];
  main: BenchUser;
  pop: BenchUser;
  /** Users whose (empty) Inboxes the IDLE phase opens; 10 connections each at most. */
  idleUsers: BenchUser[];
  /** Repetitions of the quick phases. */
  reps: number;
  /** Repetitions of the APPEND phases (each writes every message). */
  appendReps: number;
  /** BODY.PEEK[] fetches per repetition. */
  bodyFetches: number;
  /** Concurrent clients (APPEND and mixed phases). */
  clients: number;
  /** Length of one mixed-day run, ms. */
  mixedMs: number;
  /** Idle connections per IDLE run. */
  idleConnections: number;
  /** Connection set-ups in flight at once in the IDLE phase. */
  idleConcurrency: number;
  seed: number;
  log: (s: string) => void;
}

export interface PhaseResult {
  phase: string;
  /** What `value` measures (e.g. 'ms', 'msg/s'). */
  unit: string;
  /** Which direction is better for `value`. */
  better: 'lower' | 'higher';
  value: Summary;
  /** Server CPU time per repetition, ms (when the server's pid is known). */
  serverCpuMs?: Summary;
  /** Further figures (summaries or plain values). */
  extra?: Record<string, Summary | number | string>;
  error?: string;
}

export class CheckError extends Error {}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new CheckError(msg);
}

/** TB's header list (nsImapProtocol.cpp, before Received was added). */
export const TB_HEADER_FIELDS = 'From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To';

const now = () => performance.now();

async function timed<T>(t: Target, fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number | undefined; value: T }> {
  const c0 = t.pid ? treeCpuSeconds(t.pid) : 0;
  const t0 = now();
  const value = await fn();
  const ms = now() - t0;
  const cpuMs = t.pid ? (treeCpuSeconds(t.pid) - c0) * 1000 : undefined;
  return { ms, cpuMs, value };
}

export async function session(ep: Endpoint, user: BenchUser, select?: string): Promise<ImapClient> {
  const c = await ImapClient.connect(ep);
  await c.login(user.user, user.password);
  if (select) await c.ok(`SELECT ${select}`);
  return c;
}

function cpuSummary(xs: Array<number | undefined>): Summary | undefined {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? summarize(v) : undefined;
}

function systemFlags(flags: string[]): string[] {
  return flags.filter((f) => f !== '\\Recent').sort();
}

async function createFolder(c: ImapClient, name: string): Promise<void> {
  const r = await c.command(`CREATE "${name}"`);
  check(r.status === 'OK' || /ALREADYEXISTS|exists/i.test(r.text), `CREATE ${name}: ${r.status} ${r.text}`);
}

async function deleteFolder(c: ImapClient, name: string): Promise<void> {
  await c.command(`DELETE "${name}"`);
}

// ---- APPEND ----

/**
 * APPEND of every message, one at a time (each waits for its OK). The first repetition fills
 * the main Inbox (UIDs 1..N in generated order); the others go to scratch folders, deleted
 * afterwards. Returns the messages/s of each repetition.
 */
export async function phaseAppendSerial(t: Target, w: Workload): Promise<PhaseResult> {
  const rates: number[] = [];
  const cpu: Array<number | undefined> = [];
  const c = await session(t.imap, w.main);
  try {
    for (let rep = 0; rep < w.appendReps; rep++) {
      const folder = rep === 0 ? 'INBOX' : `bench-append-${rep}-${randomBytes(3).toString('hex')}`;
      if (rep > 0) await createFolder(c, folder);
      const r = await timed(t, async () => {
        let expectUid = 0;
        for (const m of w.messages) {
          const reply = await c.append(folder, m.raw, m.flags, m.internalDate);
          check(reply.status === 'OK', `APPEND: ${reply.status} ${reply.text}`);
          const uid = appendUid(reply);
          if (uid >= 0) {
            check(uid > expectUid, `APPENDUID ${uid} not ascending`);
            expectUid = uid;
          }
        }
      });
      rates.push((w.messages.length / r.ms) * 1000);
      cpu.push(r.cpuMs);
      w.log(`  ${t.name} append x1 rep ${rep + 1}: ${rates.at(-1)!.toFixed(0)} msg/s`);
      if (rep === 0) {
        const s = await c.ok('EXAMINE INBOX');
        check(existsCount(s) === w.messages.length, `INBOX holds ${existsCount(s)} messages after APPEND, expected ${w.messages.length}`);
        await c.ok('UNSELECT');
      } else await deleteFolder(c, folder);
    }
  } finally {
    await c.logout();
  }
  return { phase: 'APPEND x1 (one at a time)', unit: 'msg/s', better: 'higher', value: summarize(rates), serverCpuMs: cpuSummary(cpu) };
}

/** APPEND of every message by `clients` connections at once (message i by client i mod k). */
export async function phaseAppendParallel(t: Target, w: Workload): Promise<PhaseResult> {
  const rates: number[] = [];
  const cpu: Array<number | undefined> = [];
  for (let rep = 0; rep < w.appendReps; rep++) {
    const folder = `bench-append10-${rep}-${randomBytes(3).toString('hex')}`;
    const clients = await Promise.all(Array.from({ length: w.clients }, () => session(t.imap, w.main)));
    try {
      await createFolder(clients[0]!, folder);
      const r = await timed(t, async () => {
        await Promise.all(
          clients.map(async (c, k) => {
            for (let i = k; i < w.messages.length; i += clients.length) {
              const m = w.messages[i]!;
              const reply = await c.append(folder, m.raw, m.flags, m.internalDate);
              check(reply.status === 'OK', `APPEND: ${reply.status} ${reply.text}`);
            }
          }),
        );
      });
      rates.push((w.messages.length / r.ms) * 1000);
      cpu.push(r.cpuMs);
      const st = await clients[0]!.ok(`STATUS "${folder}" (MESSAGES)`);
      const m = /MESSAGES (\d+)/i.exec(st.untagged.map((u) => u.text).join(' '));
      check(Number(m?.[1]) === w.messages.length, `folder holds ${m?.[1]} messages after parallel APPEND, expected ${w.messages.length}`);
      w.log(`  ${t.name} append x${w.clients} rep ${rep + 1}: ${rates.at(-1)!.toFixed(0)} msg/s`);
      await deleteFolder(clients[0]!, folder);
    } finally {
      await Promise.all(clients.map((c) => c.logout()));
    }
  }
  return { phase: `APPEND x${w.clients} clients`, unit: 'msg/s', better: 'higher', value: summarize(rates), serverCpuMs: cpuSummary(cpu) };
}

/** Fills the POP3 user's Inbox (untimed): pipelined APPENDs. */
export async function loadPopInbox(t: Target, w: Workload): Promise<void> {
  const c = await session(t.imap, w.pop);
  try {
    const s = await c.ok('EXAMINE INBOX');
    if (existsCount(s) === w.popMessages.length) return;
    check(existsCount(s) === 0, `POP3 user's Inbox is not empty (${existsCount(s)})`);
    await c.ok('UNSELECT');
    const window = 32;
    for (let i = 0; i < w.popMessages.length; i += window) {
      const batch = w.popMessages.slice(i, i + window);
      const replies = await Promise.all(batch.map((m) => c.append('INBOX', m.raw, m.flags, m.internalDate)));
      for (const r of replies) check(r.status === 'OK', `APPEND: ${r.status} ${r.text}`);
    }
  } finally {
    await c.logout();
  }
}

// ---- read phases on the main Inbox ----

/** Runs `fn` on a fresh session (logged in, Inbox selected unless told) each repetition, timing only fn. */
async function repeat(
  t: Target,
  w: Workload,
  opts: { select?: boolean; reps?: number; before?: (c: ImapClient) => Promise<void> },
  fn: (c: ImapClient, rep: number) => Promise<void>,
): Promise<{ ms: number[]; cpu: Array<number | undefined> }> {
  const ms: number[] = [];
  const cpu: Array<number | undefined> = [];
  for (let rep = 0; rep < (opts.reps ?? w.reps); rep++) {
    const c = await session(t.imap, w.main, opts.select === false ? undefined : 'INBOX');
    try {
      await opts.before?.(c);
      const r = await timed(t, () => fn(c, rep));
      ms.push(r.ms);
      cpu.push(r.cpuMs);
    } finally {
      await c.logout();
    }
  }
  return { ms, cpu };
}

function result(phase: string, r: { ms: number[]; cpu: Array<number | undefined> }, extra?: PhaseResult['extra']): PhaseResult {
  return { phase, unit: 'ms', better: 'lower', value: summarize(r.ms), serverCpuMs: cpuSummary(r.cpu), extra };
}

export async function phaseSelect(t: Target, w: Workload): Promise<PhaseResult> {
  const r = await repeat(t, w, { select: false }, async (c) => {
    const s = await c.ok('SELECT INBOX');
    check(existsCount(s) === w.messages.length, `SELECT: ${existsCount(s)} EXISTS, expected ${w.messages.length}`);
  });
  return result('SELECT INBOX', r);
}

/** Checks a full FETCH answer: one response per message, in order, with the right UIDs. */
function checkFetchAll(w: Workload, list: Untagged[], what: string, perItem?: (u: Untagged, m: GeneratedMessage) => void): void {
  check(list.length === w.messages.length, `${what}: ${list.length} FETCH responses, expected ${w.messages.length}`);
  for (let i = 0; i < list.length; i++) {
    const u = list[i]!;
    check(fetchSeq(u) === i + 1, `${what}: response ${i + 1} is for message ${fetchSeq(u)}`);
    perItem?.(u, w.messages[i]!);
  }
}

export async function phaseFetchFlags(t: Target, w: Workload): Promise<PhaseResult> {
  const r = await repeat(t, w, {}, async (c) => {
    const reply = await c.ok('UID FETCH 1:* (FLAGS)');
    checkFetchAll(w, reply.untagged, 'UID FETCH FLAGS', (u, m) => {
      check(fetchUid(u) === m.n, `UID FETCH FLAGS: UID ${fetchUid(u)} for message ${m.n}`);
      const f = fetchFlags(u);
      check(f !== null && systemFlags(f).join(' ') === [...m.flags].sort().join(' '), `flags of UID ${m.n}: ${f?.join(' ')} expected ${m.flags.join(' ')}`);
    });
  });
  return result('UID FETCH 1:* (FLAGS)', r);
}

export async function phaseFetchEnvelope(t: Target, w: Workload): Promise<PhaseResult> {
  const r = await repeat(t, w, {}, async (c) => {
    const reply = await c.ok('FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
    checkFetchAll(w, reply.untagged, 'FETCH ENVELOPE BODYSTRUCTURE', (u, m) => {
      check(/ENVELOPE \(/i.test(u.text) && /BODYSTRUCTURE \(/i.test(u.text), `message ${m.n}: ENVELOPE or BODYSTRUCTURE missing`);
    });
  });
  return result('FETCH 1:* (ENVELOPE BODYSTRUCTURE)', r);
}

export async function phaseFetchHeaders(t: Target, w: Workload): Promise<PhaseResult> {
  let bytes = 0;
  const r = await repeat(t, w, {}, async (c) => {
    const reply = await c.ok(`FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (${TB_HEADER_FIELDS})])`);
    bytes = 0;
    checkFetchAll(w, reply.untagged, 'header FETCH', (u, m) => {
      check(fetchUid(u) === m.n, `header FETCH: UID ${fetchUid(u)} for message ${m.n}`);
      check(fetchSize(u) === m.raw.length, `RFC822.SIZE of UID ${m.n}: ${fetchSize(u)} expected ${m.raw.length}`);
      check(u.literals.length === 1 && /Subject:/i.test(u.literals[0]!.toString('latin1')), `header fields of UID ${m.n} missing`);
      bytes += u.literals[0]!.length;
    });
  });
  return result('FETCH 1:* (UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (TB list)])', r, { headerBytes: bytes });
}

/** BODY.PEEK[] of random messages, one command at a time: messages/s, MB/s, latency. */
export async function phaseBodyPeek(t: Target, w: Workload): Promise<PhaseResult> {
  const rates: number[] = [];
  const mbps: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const cpu: Array<number | undefined> = [];
  for (let rep = 0; rep < w.reps; rep++) {
    const rng = new Rng(w.seed + 1000 + rep);
    const picks = Array.from({ length: w.bodyFetches }, () => w.messages[rng.int(0, w.messages.length - 1)]!);
    const c = await session(t.imap, w.main, 'INBOX');
    try {
      const lat: number[] = [];
      let bytes = 0;
      const r = await timed(t, async () => {
        for (const m of picks) {
          const t0 = now();
          const reply = await c.ok(`UID FETCH ${m.n} (BODY.PEEK[])`);
          lat.push(now() - t0);
          const u = reply.untagged.find((x) => fetchSeq(x) > 0);
          check(!!u && fetchUid(u) === m.n, `BODY.PEEK[] of UID ${m.n}: no FETCH response for it`);
          const lit = u!.literals[0];
          check(!!lit && lit.length === m.raw.length && lit.equals(m.raw), `BODY.PEEK[] of UID ${m.n}: ${lit?.length} octets, expected the ${m.raw.length} appended`);
          bytes += lit!.length;
        }
      });
      rates.push((picks.length / r.ms) * 1000);
      mbps.push(bytes / 1e6 / (r.ms / 1000));
      p50.push(percentile(lat, 50));
      p99.push(percentile(lat, 99));
      cpu.push(r.cpuMs);
    } finally {
      await c.logout();
    }
  }
  return {
    phase: `UID FETCH n (BODY.PEEK[]) x ${w.bodyFetches} random`,
    unit: 'msg/s',
    better: 'higher',
    value: summarize(rates),
    serverCpuMs: cpuSummary(cpu),
    extra: { MBps: summarize(mbps), p50ms: summarize(p50), p99ms: summarize(p99) },
  };
}

async function searchPhase(t: Target, w: Workload, phase: string, command: string, expected: number[]): Promise<PhaseResult> {
  const r = await repeat(t, w, {}, async (c) => {
    const reply = await c.ok(command);
    const got = searchResults(reply).sort((a, b) => a - b);
    check(got.length === expected.length && got.every((u, i) => u === expected[i]), `${command}: ${got.length} hits, expected ${expected.length}`);
  });
  return result(phase, r, { hits: expected.length });
}

export async function phaseSearchHeader(t: Target, w: Workload): Promise<PhaseResult> {
  const { HEADER_WORD } = await import('./generator.js');
  const expected = w.messages.filter((m) => m.hasHeaderWord).map((m) => m.n);
  return searchPhase(t, w, 'UID SEARCH HEADER Subject <word>', `UID SEARCH HEADER Subject "${HEADER_WORD}"`, expected);
}

export async function phaseSearchFlag(t: Target, w: Workload): Promise<PhaseResult> {
  const expected = w.messages.filter((m) => m.flags.includes('\\Flagged')).map((m) => m.n);
  return searchPhase(t, w, 'UID SEARCH FLAGGED', 'UID SEARCH FLAGGED', expected);
}

export async function phaseSearchBody(t: Target, w: Workload): Promise<PhaseResult> {
  const { BODY_WORD } = await import('./generator.js');
  const expected = w.messages.filter((m) => m.hasBodyWord).map((m) => m.n);
  return searchPhase(t, w, 'UID SEARCH BODY <word>', `UID SEARCH BODY "${BODY_WORD}"`, expected);
}

/** STORE 1:* +FLAGS (\Flagged) (and .SILENT); \Flagged is cleared (untimed) before each repetition. */
export async function phaseStore(t: Target, w: Workload, silent: boolean): Promise<PhaseResult> {
  const cmd = `STORE 1:* +FLAGS${silent ? '.SILENT' : ''} (\\Flagged)`;
  const r = await repeat(t, w, { before: (c) => c.ok('STORE 1:* -FLAGS.SILENT (\\Flagged)').then(() => undefined) }, async (c) => {
    const reply = await c.ok(cmd);
    const fetches = reply.untagged.filter((u) => fetchSeq(u) > 0);
    if (silent) check(fetches.length === 0, `${cmd}: ${fetches.length} FETCH responses, expected none`);
    else {
      check(fetches.length === w.messages.length, `${cmd}: ${fetches.length} FETCH responses, expected ${w.messages.length}`);
      check(fetches.every((u) => fetchFlags(u)?.includes('\\Flagged')), `${cmd}: a FETCH response lacks \\Flagged`);
    }
  });
  return result(cmd, r);
}

/** Puts \Flagged back as generated (untimed), so later phases see the generated flags. */
export async function restoreFlagged(t: Target, w: Workload): Promise<void> {
  const c = await session(t.imap, w.main, 'INBOX');
  try {
    await c.ok('STORE 1:* -FLAGS.SILENT (\\Flagged)');
    const uids = w.messages.filter((m) => m.flags.includes('\\Flagged')).map((m) => m.n);
    for (let i = 0; i < uids.length; i += 200) await c.ok(`UID STORE ${uids.slice(i, i + 200).join(',')} +FLAGS.SILENT (\\Flagged)`);
  } finally {
    await c.logout();
  }
}

// ---- POP3 ----

async function popSession(t: Target, w: Workload): Promise<Pop3Client> {
  const p = await Pop3Client.connect(t.pop3);
  await p.login(w.pop.user, w.pop.password);
  return p;
}

export async function phasePop3Uidl(t: Target, w: Workload): Promise<PhaseResult> {
  const ms: number[] = [];
  const cpu: Array<number | undefined> = [];
  for (let rep = 0; rep < w.reps; rep++) {
    const p = await popSession(t, w);
    try {
      const r = await timed(t, () => p.multi('UIDL'));
      check(r.value.ok, `UIDL: ${r.value.line}`);
      const lines = r.value.body!.toString('latin1').split('\r\n').filter(Boolean);
      check(lines.length === w.popMessages.length, `UIDL: ${lines.length} lines, expected ${w.popMessages.length}`);
      check(new Set(lines.map((l) => l.split(' ')[1])).size === lines.length, 'UIDL: UIDs not unique');
      ms.push(r.ms);
      cpu.push(r.cpuMs);
    } finally {
      await p.quit();
    }
  }
  return { phase: `POP3 UIDL (${w.popMessages.length} messages)`, unit: 'ms', better: 'lower', value: summarize(ms), serverCpuMs: cpuSummary(cpu) };
}

export async function phasePop3Retr(t: Target, w: Workload): Promise<PhaseResult> {
  const ms: number[] = [];
  const cpu: Array<number | undefined> = [];
  let bytes = 0;
  for (let rep = 0; rep < w.reps; rep++) {
    const p = await popSession(t, w);
    try {
      bytes = 0;
      const r = await timed(t, async () => {
        for (let i = 0; i < w.popMessages.length; i++) {
          const m = w.popMessages[i]!;
          const reply = await p.multi(`RETR ${i + 1}`);
          check(reply.ok, `RETR ${i + 1}: ${reply.line}`);
          check(reply.body!.length === m.raw.length && reply.body!.equals(m.raw), `RETR ${i + 1}: ${reply.body!.length} octets, expected the ${m.raw.length} appended`);
          bytes += reply.body!.length;
        }
      });
      ms.push(r.ms);
      cpu.push(r.cpuMs);
    } finally {
      await p.quit(); // no DELE: nothing is removed
    }
  }
  return {
    phase: `POP3 RETR 1..${w.popMessages.length}`,
    unit: 'ms',
    better: 'lower',
    value: summarize(ms),
    serverCpuMs: cpuSummary(cpu),
    extra: { msgPerSec: summarize(ms.map((x) => (w.popMessages.length / x) * 1000)), MB: Math.round(bytes / 1e4) / 100 },
  };
}

// ---- mixed client day ----

/**
 * `clients` sessions on the main user doing what a mail client does over a day, for a fixed
 * time: check for new mail, flag sync, header fetch of a page, open a message, mark it seen,
 * search unseen, look at Sent, now and then send (APPEND to Sent), a short IDLE, and a full
 * flag resync. Counts completed commands and errors (NO/BAD, broken connections, wrong
 * answers).
 */
export async function phaseMixed(t: Target, w: Workload): Promise<PhaseResult> {
  const rates: number[] = [];
  const errorsPerRep: number[] = [];
  const cpu: Array<number | undefined> = [];
  const latencies: number[] = [];
  const errorTexts = new Set<string>();
  let totalCommands = 0;
  for (let rep = 0; rep < w.reps; rep++) {
    const clients = await Promise.all(Array.from({ length: w.clients }, () => session(t.imap, w.main, 'INBOX')));
    let commands = 0;
    let errors = 0;
    const deadline = now() + w.mixedMs;
    const r = await timed(t, async () => {
      await Promise.all(
        clients.map(async (c, k) => {
          const rng = new Rng(w.seed + 7000 + rep * 100 + k);
          const run = async (cmd: string, verify?: (r: Reply) => void) => {
            const t0 = now();
            try {
              const reply = await c.command(cmd);
              latencies.push(now() - t0);
              commands++;
              if (reply.status !== 'OK') {
                errors++;
                errorTexts.add(`${cmd.slice(0, 40)}: ${reply.status} ${reply.text}`.slice(0, 200));
              } else verify?.(reply);
            } catch (e) {
              errors++;
              errorTexts.add(`${cmd.slice(0, 40)}: ${(e as Error).message}`.slice(0, 200));
              throw e;
            }
          };
          const pick = () => w.messages[rng.int(0, w.messages.length - 1)]!;
          let lastUid = w.messages.length;
          for (let iter = 0; now() < deadline; iter++) {
            await run('NOOP');
            await run(`UID FETCH ${lastUid + 1}:* (FLAGS)`);
            const page = Array.from({ length: 20 }, () => pick().n);
            await run(`UID FETCH ${page.join(',')} (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)])`, (r) => {
              const n = r.untagged.filter((u) => fetchSeq(u) > 0).length;
              if (n < new Set(page).size) {
                errors++;
                errorTexts.add(`header page: ${n} responses for ${new Set(page).size} UIDs`);
              }
            });
            const m = pick();
            await run(`UID FETCH ${m.n} (UID RFC822.SIZE BODY.PEEK[])`, (r) => {
              const u = r.untagged.find((x) => fetchUid(x) === m.n);
              if (!u || u.literals[0]?.length !== m.raw.length) {
                errors++;
                errorTexts.add(`BODY.PEEK[] of ${m.n}: wrong size`);
              }
            });
            await run(`UID STORE ${m.n} +FLAGS (\\Seen)`);
            await run('UID SEARCH UNSEEN');
            await run('STATUS "Sent" (MESSAGES UIDNEXT)');
            if (iter % 5 === 4) {
              const sent = w.messages[rng.int(0, Math.min(200, w.messages.length) - 1)]!;
              const t0 = now();
              const reply = await c.append('Sent', sent.raw, ['\\Seen']);
              latencies.push(now() - t0);
              commands++;
              if (reply.status !== 'OK') {
                errors++;
                errorTexts.add(`APPEND: ${reply.status} ${reply.text}`);
              }
            }
            if (iter % 5 === 2) {
              const { done } = await c.idle();
              await new Promise((res) => setTimeout(res, 50));
              c.done();
              const reply = await done;
              commands++;
              if (reply.status !== 'OK') errors++;
            }
            if (iter % 20 === 19) await run('UID FETCH 1:* (FLAGS)');
            lastUid = w.messages.length;
          }
        }),
      ).catch((e) => {
        errors++;
        errorTexts.add(String((e as Error).message).slice(0, 200));
      });
    });
    await Promise.all(clients.map((c) => c.logout()));
    rates.push((commands / r.ms) * 1000);
    totalCommands += commands;
    errorsPerRep.push(errors);
    cpu.push(r.cpuMs);
    w.log(`  ${t.name} mixed rep ${rep + 1}: ${rates.at(-1)!.toFixed(0)} commands/s, ${errors} errors`);
  }
  return {
    phase: `mixed client day, ${w.clients} clients x ${w.mixedMs / 1000} s`,
    unit: 'cmd/s',
    better: 'higher',
    value: summarize(rates),
    serverCpuMs: cpuSummary(cpu),
    extra: {
      commands: totalCommands,
      errors: errorsPerRep.reduce((a, b) => a + b, 0),
      p50ms: percentile(latencies, 50),
      p99ms: percentile(latencies, 99),
      ...(errorTexts.size ? { errorSample: [...errorTexts].slice(0, 5).join(' | ') } : {}),
    },
  };
}

// ---- idle connections ----

export interface IdleResult {
  connections: number;
  tls: boolean;
  setupPerSec: number;
  pssBeforeKiB: number;
  pssAfterKiB: number;
  perConnectionKiB: number;
  processesAfter: number;
  failures: number;
}

/**
 * Opens `n` connections, each logged in (10 per user), Inbox selected and in IDLE; measures
 * the set-up rate, then the server's PSS (all processes) once they are idle, per connection.
 */
export async function phaseIdle(t: Target & { pid: number }, w: Workload, tls: boolean, settleMs: number, baselineWaitMs = 10_000): Promise<IdleResult> {
  const ep = tls ? t.imaps : t.imap;
  const n = w.idleConnections;
  // The baseline is taken after a quiet spell: a garbage-collected server (V8's memory reducer
  // runs when allocation stops) shrinks after the earlier phases, which would otherwise count
  // against the connections.
  await new Promise((r) => setTimeout(r, baselineWaitMs));
  const before = treeMemory(t.pid);
  const conns: ImapClient[] = [];
  let failures = 0;
  let next = 0;
  const firstError: string[] = [];
  const t0 = now();
  await Promise.all(
    Array.from({ length: Math.min(w.idleConcurrency, n) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const user = w.idleUsers[Math.floor(i / 10) % w.idleUsers.length]!;
        try {
          const c = await ImapClient.connect(ep, { timeoutMs: 120_000 });
          await c.login(user.user, user.password);
          await c.ok('SELECT INBOX');
          const { done } = await c.idle(120_000);
          done.catch(() => undefined);
          conns.push(c);
        } catch (e) {
          failures++;
          if (firstError.length < 3) firstError.push((e as Error).message);
        }
      }
    }),
  );
  const setupMs = now() - t0;
  w.log(`  ${t.name} idle ${tls ? 'TLS' : 'plain'}: ${conns.length} connections in IDLE in ${(setupMs / 1000).toFixed(1)} s${failures ? `, ${failures} failed (${firstError.join('; ')})` : ''}`);
  await new Promise((r) => setTimeout(r, settleMs));
  const after = treeMemory(t.pid);
  // Still all there?
  const alive = conns.filter((c) => !c.closed).length;
  failures += conns.length - alive;
  for (const c of conns) c.destroy();
  await new Promise((r) => setTimeout(r, 3000));
  return {
    connections: alive,
    tls,
    setupPerSec: (conns.length / setupMs) * 1000,
    pssBeforeKiB: before.pssKiB,
    pssAfterKiB: after.pssKiB,
    perConnectionKiB: alive ? (after.pssKiB - before.pssKiB) / alive : NaN,
    processesAfter: after.processes,
    failures,
  };
}
