// Smoke run of the benchmark driver (bench/): every phase on a few hundred messages against an
// in-process server, so the bench keeps working as the server changes. It checks answers
// (counts, UIDs, sizes, search hits, no protocol errors), never timings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateMessages } from '../../bench/lib/generator.js';
import {
  loadPopInbox,
  phaseAppendParallel,
  phaseAppendSerial,
  phaseBodyPeek,
  phaseFetchEnvelope,
  phaseFetchFlags,
  phaseFetchHeaders,
  phaseIdle,
  phaseMixed,
  phasePop3Retr,
  phasePop3Uidl,
  phaseSearchBody,
  phaseSearchFlag,
  phaseSearchHeader,
  phaseSelect,
  phaseStore,
  restoreFlagged,
  type PhaseResult,
  type Target,
  type Workload,
} from '../../bench/lib/phases.js';
import { createBenchAccounts, type BenchUser } from '../../bench/lib/servers.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let target: Target & { pid: number };
const password = 'bench-password-1';
const main: BenchUser = { user: 'bench@example.test', password };
const pop: BenchUser = { user: 'pop@example.test', password };
const idleUsers: BenchUser[] = [0, 1, 2].map((i) => ({ user: `idle${i}@example.test`, password }));
const messages = generateMessages({ count: 240, to: main.user });
const w: Workload = {
  messages,
  popMessages: messages.slice(0, 60),
  main,
  pop,
  idleUsers,
  reps: 1,
  appendReps: 1,
  bodyFetches: 40,
  clients: 3,
  mixedMs: 1500,
  idleConnections: 24,
  idleConcurrency: 8,
  seed: 7,
  log: () => undefined,
};

before(async () => {
  server = await startTestServer({ user: false });
  await createBenchAccounts(server.store, [main, pop, ...idleUsers], 2);
  await server.setSettings('imap4', { loginType: 'PlainTextLogin' });
  await server.setSettings('pop3', { loginType: 'PlainTextLogin' });
  const ep = (port: number, tls: boolean) => ({ host: '127.0.0.1', port, tls });
  target = {
    name: 'smoke',
    pid: process.pid,
    imap: ep(server.ports.imap!, false),
    imaps: ep(server.ports.imaps!, true),
    pop3: ep(server.ports.pop3!, false),
  };
});

after(async () => {
  await server?.stop();
});

function ok(r: PhaseResult): void {
  assert.equal(r.error, undefined);
  assert.equal(r.value.samples.length > 0, true, `${r.phase}: no samples`);
  assert.ok(r.value.samples.every((x) => Number.isFinite(x) && x >= 0), `${r.phase}: bad samples ${r.value.samples.join(',')}`);
}

test('the generator is deterministic and varied', () => {
  const again = generateMessages({ count: 240, to: main.user });
  assert.ok(again.every((m, i) => m.raw.equals(messages[i]!.raw)));
  const kinds = new Set(messages.map((m) => m.kind));
  for (const k of ['plain', 'html', 'attachment', 'intl', 'reply']) assert.ok(kinds.has(k as never), `no ${k} message`);
  assert.ok(messages.some((m) => m.hasBodyWord) && messages.some((m) => m.hasHeaderWord) && messages.some((m) => m.flags.includes('\\Flagged')));
  for (const m of messages) assert.ok(!/[^\r]\n/.test(m.raw.toString('latin1')), 'CRLF line ends only');
});

test('every phase runs against the server and gets the expected answers', async () => {
  // APPEND (fills the Inbox: UIDs 1..n in generated order, checked by the FETCH phases).
  ok(await phaseAppendSerial(target, w));
  ok(await phaseAppendParallel(target, w));
  await loadPopInbox(target, w);
  ok(await phaseSelect(target, w));
  ok(await phaseFetchFlags(target, w));
  ok(await phaseFetchEnvelope(target, w));
  const headers = await phaseFetchHeaders(target, w);
  ok(headers);
  assert.ok((headers.extra!.headerBytes as number) > 0);
  const body = await phaseBodyPeek(target, w);
  ok(body);
  ok(await phaseSearchHeader(target, w));
  ok(await phaseSearchFlag(target, w));
  ok(await phaseSearchBody(target, w));
  ok(await phaseStore(target, w, false));
  ok(await phaseStore(target, w, true));
  await restoreFlagged(target, w);
  ok(await phaseSearchFlag(target, w)); // \Flagged is back as generated
  ok(await phasePop3Uidl(target, w));
  ok(await phasePop3Retr(target, w));
  const mixed = await phaseMixed(target, w);
  ok(mixed);
  assert.equal(mixed.extra!.errors, 0, String(mixed.extra!.errorSample ?? ''));
  for (const tls of [false, true]) {
    const idle = await phaseIdle(target, w, tls, 200, 0);
    assert.equal(idle.failures, 0);
    assert.equal(idle.connections, w.idleConnections);
  }
});
