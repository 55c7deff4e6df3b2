// `npm run bench` (our server only) and `npm run bench:compare` (ours and a private Dovecot,
// side by side in one run). See bench/README.md for what each phase measures.
//
//   npm run bench -- --messages 2000 --reps 3 --idle 1000
//   npm run bench:compare -- --phases append,fetch,idle

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMessages } from './lib/generator.js';
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
  type IdleResult,
  type PhaseResult,
  type Target,
  type Workload,
} from './lib/phases.js';
import { loadAverage } from './lib/procs.js';
import { makeCertificate, prepareDovecot, REPO_ROOT, startOurs, type BenchUser, type DovecotInstance, type ServerUnderTest } from './lib/servers.js';
import { fmt, round, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    compare: { type: 'boolean', default: false },
    messages: { type: 'string', default: '10000' },
    'pop-messages': { type: 'string', default: '1000' },
    reps: { type: 'string', default: '5' },
    'append-reps': { type: 'string', default: '3' },
    'body-fetches': { type: 'string', default: '1000' },
    clients: { type: 'string', default: '10' },
    'mixed-seconds': { type: 'string', default: '20' },
    idle: { type: 'string', default: '5000' },
    'idle-concurrency': { type: 'string', default: '50' },
    phases: { type: 'string', default: 'all' },
    hibernate: { type: 'boolean', default: true },
    'cpu-prof': { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false },
    out: { type: 'string' },
    seed: { type: 'string', default: '20260305' },
    help: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

if (args.help) {
  console.log(`usage: npm run bench[:compare] -- [options]
  --compare               also run a private Dovecot (bench:compare sets this)
  --messages N            messages in the main folder (10000)
  --pop-messages N        messages in the POP3 Inbox (1000)
  --reps N                repetitions of quick phases (5); --append-reps N for APPEND (3)
  --body-fetches N        random BODY.PEEK[] per repetition (1000)
  --clients N             concurrent clients for APPEND and the mixed day (10)
  --mixed-seconds S       length of one mixed-day run (20)
  --idle N                idle IDLE connections per run, plain and TLS (5000; 0 skips)
  --idle-concurrency N    connection set-ups in flight (50)
  --phases LIST           all, or a comma list of: append,select,fetch,body,search,store,pop3,mixed,idle
  --no-hibernate          skip the Dovecot-with-hibernation IDLE runs
  --cpu-prof              run our server with node --cpu-prof (profiles in bench/results/profiles)
  --tsx                   run our server through tsx (what npm start does) instead of the bundle
                          the image runs (scripts/build-task.mjs, built into bench/.build/)
  --out FILE              JSON results (default bench/results/<date>-<ours|compare>.json)`);
  process.exit(0);
}

const int = (name: keyof typeof args) => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
};

const log = (s: string) => console.log(s);
const wanted = new Set(args.phases === 'all' ? ['append', 'select', 'fetch', 'body', 'search', 'store', 'pop3', 'mixed', 'idle'] : args.phases!.split(','));

/** The open-file limit of this process (the npm script raises it before starting us). */
function fileLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' ? Infinity : Number(v);
}

async function main(): Promise<void> {
  const messagesN = int('messages');
  const popN = Math.min(int('pop-messages'), messagesN);
  let idleN = wanted.has('idle') ? int('idle') : 0;
  const limit = fileLimit();
  if (idleN && limit < idleN + 1000) {
    const fit = Math.max(0, Math.floor((limit - 1000) / 100) * 100);
    console.log(
      `note: the open-file limit is ${limit}, too low for ${idleN} idle connections (each is a socket in this process and in the server).\n` +
        `      Raise it (ulimit -n ${idleN + 1000}; npm run bench does this up to the hard limit) — running with --idle ${fit} instead.`,
    );
    idleN = fit;
  }
  const w0 = performance.now();
  log(`generating ${messagesN} messages (seed ${args.seed})...`);
  const messages = generateMessages({ seed: Number(args.seed), count: messagesN, to: 'bench@example.test' });
  const totalBytes = messages.reduce((a, m) => a + m.raw.length, 0);
  log(`  ${(totalBytes / 1e6).toFixed(1)} MB in ${((performance.now() - w0) / 1000).toFixed(1)} s`);

  const password = 'bench-password-1';
  const main: BenchUser = { user: 'bench@example.test', password };
  const pop: BenchUser = { user: 'pop@example.test', password };
  const idleUsers: BenchUser[] = Array.from({ length: Math.max(1, Math.ceil(idleN / 10)) }, (_, i) => ({ user: `idle${i}@example.test`, password }));
  const w: Workload = {
    messages,
    popMessages: messages.slice(0, popN),
    main,
    pop,
    idleUsers,
    reps: int('reps'),
    appendReps: int('append-reps'),
    bodyFetches: int('body-fetches'),
    clients: int('clients'),
    mixedMs: int('mixed-seconds') * 1000,
    idleConnections: idleN,
    idleConcurrency: int('idle-concurrency'),
    seed: Number(args.seed),
    log,
  };

  const certDir = mkdtempSync(join(tmpdir(), 'bench-cert-'));
  const cert = makeCertificate(certDir);
  const users = [main, pop, ...idleUsers];
  const profDir = join(REPO_ROOT, 'bench', 'results', 'profiles');
  if (args['cpu-prof']) mkdirSync(profDir, { recursive: true });

  // Our server runs as it is deployed: the esbuild bundle of protocol-tasks/main.ts that the
  // image runs (scripts/build-task.mjs). tsx (npm start) transpiles with esbuild's keepNames,
  // which gives every function object a name property of its own: ~3 KiB more heap per idle
  // session, measured with heap snapshots; --tsx measures that form instead.
  let entry: string | undefined;
  if (!args.tsx) {
    entry = join(REPO_ROOT, 'bench', '.build', 'task', 'main.mjs');
    const b = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-task.mjs'), dirname(entry)], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`building the bundle failed: ${b.stderr || b.stdout}`);
  }
  log(`starting our server (${entry ? 'the production bundle' : 'tsx protocol-tasks/main.ts'}, fresh DATA_DIR)...`);
  const ours = await startOurs({
    ...(entry ? { entry } : {}),
    users,
    withDefaultFolders: 2,
    cert,
    logFile: join(certDir, 'ours.log'),
    nodeArgs: args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  });
  let dovecot: DovecotInstance | null = null;
  let dv: ServerUnderTest | null = null;
  const servers: ServerUnderTest[] = [ours];
  const cleanup = async () => {
    await ours.stop().catch(() => undefined);
    await dovecot?.destroy().catch(() => undefined);
    rmSync(certDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    if (args.compare) {
      log('starting a private Dovecot...');
      dovecot = await prepareDovecot({ users, cert, maxConnections: Math.max(idleN, 100), log });
      dv = await dovecot.start(false);
      servers.push(dv);
      log(`  ${dovecot.version}, config and maildir in ${dovecot.dir}`);
    }
    const results: Record<string, PhaseResult[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
    const idle: Array<IdleResult & { server: string }> = [];
    let order = 0;
    /** Monotonic-clock windows (µs, CLOCK_MONOTONIC like V8's profile timestamps) of our phases, for profile-summary --window. */
    const windows: Array<{ phase: string; startUs: number; endUs: number }> = [];
    const nowUs = () => Number(process.hrtime.bigint() / 1000n);
    /** Runs one phase on every server, alternating which goes first. */
    const each = async (fn: (t: Target) => Promise<PhaseResult>) => {
      const list = order++ % 2 === 0 ? servers : [...servers].reverse();
      for (const s of list) {
        let r: PhaseResult;
        const startUs = nowUs();
        try {
          r = await fn(s);
          if (s.name === 'ours') windows.push({ phase: r.phase, startUs, endUs: nowUs() });
        } catch (e) {
          r = { phase: '?', unit: '', better: 'lower', value: { median: NaN, min: NaN, max: NaN, samples: [] }, error: (e as Error).message };
          log(`  ${s.name}: ERROR ${(e as Error).message}`);
        }
        results[s.name]!.push(r);
        if (!r.error) log(`  ${s.name.padEnd(8)} ${r.phase}: ${fmt(r.value.median)} ${r.unit} [${fmt(r.value.min)}-${fmt(r.value.max)}]`);
      }
    };

    const need = (p: string) => wanted.has(p);
    if (need('append')) {
      log('\n== APPEND');
      await each((t) => phaseAppendSerial(t, w));
      await each((t) => phaseAppendParallel(t, w));
    } else {
      // The other phases need the data: load it without timing.
      log('\n== loading the main Inbox (untimed)');
      await each((t) => phaseAppendSerial(t, { ...w, appendReps: 1 }));
      for (const s of servers) results[s.name]!.pop();
    }
    if (need('pop3')) for (const s of servers) await loadPopInbox(s, w);
    if (need('select')) {
      log('\n== SELECT');
      await each((t) => phaseSelect(t, w));
    }
    if (need('fetch')) {
      log('\n== FETCH');
      await each((t) => phaseFetchFlags(t, w));
      await each((t) => phaseFetchEnvelope(t, w));
      await each((t) => phaseFetchHeaders(t, w));
    }
    if (need('body')) {
      log('\n== BODY.PEEK[]');
      await each((t) => phaseBodyPeek(t, w));
    }
    if (need('search')) {
      log('\n== SEARCH');
      await each((t) => phaseSearchHeader(t, w));
      await each((t) => phaseSearchFlag(t, w));
      await each((t) => phaseSearchBody(t, w));
    }
    if (need('store')) {
      log('\n== STORE');
      await each((t) => phaseStore(t, w, false));
      await each((t) => phaseStore(t, w, true));
      for (const s of servers) await restoreFlagged(s, w);
    }
    if (need('pop3')) {
      log('\n== POP3');
      await each((t) => phasePop3Uidl(t, w));
      await each((t) => phasePop3Retr(t, w));
    }
    if (need('mixed')) {
      log('\n== mixed client day');
      await each((t) => phaseMixed(t, w));
    }
    if (idleN > 0) {
      log(`\n== ${idleN} idle connections in IDLE`);
      for (const tls of [false, true]) {
        for (const s of servers) idle.push({ server: s.name, ...(await phaseIdle(s, w, tls, 12_000)) });
      }
      if (dovecot && args.hibernate) {
        log('  restarting Dovecot with imap_hibernate_timeout = 5s');
        const dh = await dovecot.start(true);
        for (const tls of [false, true]) idle.push({ server: dh.name, ...(await phaseIdle(dh, w, tls, 15_000)) });
        servers.push(dh);
      }
    }

    const report = buildReport(servers, results, idle, { messagesN, popN, totalBytes, idleN, w });
    console.log('\n' + report.text);
    const outFile =
      args.out ?? join(REPO_ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}-${args.compare ? 'compare' : 'ours'}.json`);
    mkdirSync(join(outFile, '..'), { recursive: true });
    writeFileSync(outFile, JSON.stringify(args['cpu-prof'] ? { ...(report.json as object), profileWindows: windows } : report.json, null, 1) + '\n');
    log(`results: ${outFile}`);
  } finally {
    await cleanup();
  }
}

interface Row {
  phase: string;
  unit: string;
  better: 'lower' | 'higher';
  ours?: PhaseResult;
  dovecot?: PhaseResult;
}

function buildReport(
  servers: ServerUnderTest[],
  results: Record<string, PhaseResult[]>,
  idle: Array<IdleResult & { server: string }>,
  info: { messagesN: number; popN: number; totalBytes: number; idleN: number; w: Workload },
): { text: string; json: unknown } {
  const rows: Row[] = [];
  const ours = results['ours'] ?? [];
  const dv = results['dovecot'] ?? [];
  for (let i = 0; i < ours.length; i++) {
    const o = ours[i]!;
    const d = dv[i];
    rows.push({ phase: o.error ? (d?.phase ?? '?') : o.phase, unit: o.unit || d?.unit || '', better: o.error ? (d?.better ?? 'lower') : o.better, ours: o, dovecot: d });
  }
  const lines: string[] = [];
  const compare = servers.some((s) => s.name === 'dovecot');
  const cell = (r?: PhaseResult) => (!r ? '' : r.error ? 'ERROR' : `${fmt(r.value.median)} [${fmt(r.value.min)}-${fmt(r.value.max)}]`);
  const ratioOf = (r: Row) => (r.ours && r.dovecot && !r.ours.error && !r.dovecot.error ? r.ours.value.median / r.dovecot.value.median : NaN);
  const verdict = (r: Row) => {
    const x = ratioOf(r);
    if (!Number.isFinite(x)) return '';
    return (r.better === 'lower' ? x <= 1 : x >= 1) ? 'met' : 'NOT met';
  };
  const cpuCell = (r?: PhaseResult) => (r?.serverCpuMs ? fmt(r.serverCpuMs.median) : '');
  const head = compare
    ? ['phase', 'unit', 'ours median [min-max]', 'Dovecot median [min-max]', 'ours/Dovecot', 'target', 'CPU ms ours', 'CPU ms Dovecot']
    : ['phase', 'unit', 'ours median [min-max]', 'CPU ms'];
  const table: string[][] = [head];
  for (const r of rows) {
    table.push(
      compare
        ? [r.phase, r.unit, cell(r.ours), cell(r.dovecot), fmt(ratioOf(r)) + '×', verdict(r), cpuCell(r.ours), cpuCell(r.dovecot)]
        : [r.phase, r.unit, cell(r.ours), cpuCell(r.ours)],
    );
    for (const [k, v] of Object.entries(r.ours?.extra ?? {})) {
      if (typeof v === 'object' && (k === 'MBps' || k === 'p50ms' || k === 'p99ms' || k === 'msgPerSec')) {
        const dvv = r.dovecot?.extra?.[k] as Summary | undefined;
        const unit = k === 'MBps' ? 'MB/s' : k === 'msgPerSec' ? 'msg/s' : 'ms';
        const better = k === 'MBps' || k === 'msgPerSec' ? 'higher' : 'lower';
        const x = dvv ? v.median / dvv.median : NaN;
        table.push(
          compare
            ? [`  ${k === 'MBps' ? 'throughput' : k === 'msgPerSec' ? 'rate' : k.replace('ms', '') + ' latency'}`, unit, `${fmt(v.median)}`, dvv ? fmt(dvv.median) : '', fmt(x) + '×', Number.isFinite(x) ? ((better === 'lower' ? x <= 1 : x >= 1) ? 'met' : 'NOT met') : '', '', '']
            : [`  ${k}`, unit, fmt(v.median), ''],
        );
      } else if (typeof v === 'number' && k === 'errors') {
        const dvv = r.dovecot?.extra?.[k];
        table.push(compare ? ['  protocol errors', 'count', String(v), String(dvv ?? ''), '', v === 0 ? 'met' : 'NOT met', '', ''] : ['  protocol errors', 'count', String(v), '']);
      }
    }
  }
  for (const r of rows) {
    for (const [name, res] of [['ours', r.ours], ['Dovecot', r.dovecot]] as const) {
      if (res?.error) lines.push(`ERROR ${name} / ${r.phase}: ${res.error}`);
      if (res?.extra?.errorSample) lines.push(`errors ${name} / ${r.phase}: ${res.extra.errorSample}`);
    }
  }
  if (idle.length) {
    const ourIdle = (tls: boolean) => idle.find((x) => x.server === 'ours' && x.tls === tls);
    for (const x of idle) {
      const o = ourIdle(x.tls);
      const label = `IDLE x${x.connections} ${x.tls ? 'TLS' : 'plain'}`;
      if (x.server === 'ours') {
        const d = idle.find((y) => y.server === 'dovecot' && y.tls === x.tls);
        table.push(
          compare
            ? [`${label}: memory per connection (PSS)`, 'KiB', fmt(x.perConnectionKiB), d ? fmt(d.perConnectionKiB) : '', d ? fmt(x.perConnectionKiB / d.perConnectionKiB) + '×' : '', d ? (x.perConnectionKiB * 10 <= d.perConnectionKiB ? 'met' : 'NOT met') + ' (≤0.1×)' : '', '', '']
            : [`${label}: memory per connection (PSS)`, 'KiB', fmt(x.perConnectionKiB), ''],
        );
        table.push(
          compare
            ? [`${label}: connection set-up`, 'conn/s', fmt(x.setupPerSec), d ? fmt(d.setupPerSec) : '', d ? fmt(x.setupPerSec / d.setupPerSec) + '×' : '', '', '', '']
            : [`${label}: connection set-up`, 'conn/s', fmt(x.setupPerSec), ''],
        );
      } else if (x.server === 'dovecot-hibernate' && o) {
        table.push([`${label}: memory per connection vs Dovecot with hibernation`, 'KiB', fmt(o.perConnectionKiB), fmt(x.perConnectionKiB), fmt(o.perConnectionKiB / x.perConnectionKiB) + '×', o.perConnectionKiB <= x.perConnectionKiB ? 'beaten' : 'not beaten', '', '']);
        table.push([`${label}: set-up vs Dovecot with hibernation`, 'conn/s', fmt(o.setupPerSec), fmt(x.setupPerSec), fmt(o.setupPerSec / x.setupPerSec) + '×', '', '', '']);
      }
      if (x.failures) lines.push(`IDLE ${x.server} ${x.tls ? 'TLS' : 'plain'}: ${x.failures} connections failed`);
    }
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const render = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  const md = [render(table[0]!), '|' + widths.map((x) => '-'.repeat(x + 2)).join('|') + '|', ...table.slice(1).map(render)];
  const header = [
    `Benchmark ${new Date().toISOString()} — ${info.messagesN} messages (${(info.totalBytes / 1e6).toFixed(1)} MB), POP3 Inbox ${info.popN}, ${info.w.reps} reps (APPEND ${info.w.appendReps}), ${info.w.clients} clients, load average ${loadAverage().join(' ')}`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    ...servers.map((s) => `${s.name}: ${s.notes.join('; ')}`),
    'ratio = ours / Dovecot in the unit shown (time: lower is better; rates: higher is better).',
  ];
  const text = [...header, '', ...md, ...(lines.length ? ['', ...lines] : [])].join('\n');
  const json = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageAtEnd: loadAverage() },
    workload: { messages: info.messagesN, bytes: info.totalBytes, popMessages: info.popN, reps: info.w.reps, appendReps: info.w.appendReps, clients: info.w.clients, mixedMs: info.w.mixedMs, idleConnections: info.idleN, seed: info.w.seed },
    servers: servers.map((s) => ({ name: s.name, notes: s.notes })),
    phases: rows.map((r) => ({
      phase: r.phase,
      unit: r.unit,
      better: r.better,
      ours: r.ours,
      dovecot: r.dovecot,
      ratio: round(ratioOf(r)),
    })),
    idle: idle.map((x) => ({ ...x, setupPerSec: round(x.setupPerSec), perConnectionKiB: round(x.perConnectionKiB) })),
    table: md,
  };
  return { text, json };
}

main().catch((e) => {
  console.error('bench failed:', e instanceof Error ? e.stack : e);
  process.exit(1);
});
