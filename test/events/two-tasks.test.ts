// IDLE across tasks: two protocol task processes (the Fargate bundle, STORE=aws) on DynamoDB
// Local + s3rver; the stream poller drives the real idle-fanout handler into each task's notify
// endpoint. An IDLE client on task B must see, within 2 s, an EXISTS for a message appended
// through task A, a FETCH FLAGS for a flag change and an EXPUNGE for an expunge. Task B has no
// other way to learn of A's changes in that time (its own journal poll runs every 30 s).
// Prints p50 / p95 latency from A's tagged OK to B's untagged response (the bound), and from
// sending the command to A (A's own work included).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createMailbox } from '../../core/admin/mailboxes.js';
import { startLocalCluster, type LocalCluster } from '../../scripts/aws-local/cluster.js';

const ADDRESS = 'idle@example.test';
const PASSWORD = 'Idle-' + randomBytes(8).toString('hex');
const ROUNDS = 8;
const LIMIT_MS = 2000;

/** A minimal IMAP client over TLS for this test: line-based (no literals are received here). */
class Imap {
  private buf = '';
  private lines: Array<{ line: string; at: number }> = [];
  /** Arrival time of the line the last next() returned. */
  lastAt = 0;
  /** When the last command was written. */
  sentAt = 0;
  private waiters: Array<() => void> = [];
  private n = 0;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        this.lines.push({ line, at: performance.now() });
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<Imap> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
      s.once('secureConnect', () => resolve(new Imap(s)));
      s.once('error', reject);
    });
  }

  /** Next line satisfying `pred` (consumed, with everything before it), or a timeout. */
  async next(pred: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const idx = this.lines.findIndex((l) => pred(l.line));
      if (idx >= 0) {
        const { line, at } = this.lines[idx]!;
        this.lines.splice(0, idx + 1);
        this.lastAt = at;
        return line;
      }
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; lines: ${JSON.stringify(this.lines.slice(-5).map((l) => l.line))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async command(cmd: string): Promise<string> {
    const tag = `T${++this.n}`;
    this.sentAt = performance.now();
    this.socket.write(`${tag} ${cmd}\r\n`);
    const done = await this.next((l) => l.startsWith(`${tag} `));
    assert.match(done, new RegExp(`^${tag} OK`), `${cmd} -> ${done}`);
    return done;
  }

  async append(mailbox: string, message: string): Promise<void> {
    const tag = `T${++this.n}`;
    const bytes = Buffer.from(message, 'latin1');
    this.sentAt = performance.now();
    this.socket.write(Buffer.concat([Buffer.from(`${tag} APPEND ${mailbox} {${bytes.length}+}\r\n`), bytes, Buffer.from('\r\n')]));
    const done = await this.next((l) => l.startsWith(`${tag} `));
    assert.match(done, new RegExp(`^${tag} OK`), `APPEND -> ${done}`);
  }

  async idle(): Promise<void> {
    this.socket.write(`I${++this.n} IDLE\r\n`);
    await this.next((l) => l.startsWith('+'));
    this.lines = [];
  }

  close(): void {
    this.socket.destroy();
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

describe('IDLE across two tasks (AWS adapter, stream -> idle-fanout -> notify)', () => {
  let cluster: LocalCluster;
  let bundleDir: string;
  type Kind = 'exists' | 'flags' | 'expunge';
  /** From A's tagged OK (the change is committed and visible) to B's untagged response. */
  const latencies: Record<Kind, number[]> = { exists: [], flags: [], expunge: [] };
  /** From sending the command to A (A's own work included) to B's untagged response. */
  const fromSend: Record<Kind, number[]> = { exists: [], flags: [], expunge: [] };

  before(async () => {
    // The tasks run the same esbuild bundle as the Fargate image (scripts/build-task.mjs).
    bundleDir = mkdtempSync(join(tmpdir(), 'task-bundle-'));
    execFileSync(process.execPath, ['scripts/build-task.mjs', bundleDir], { stdio: 'ignore' });
    const withSqlite = readdirSync(bundleDir).filter((f) => f.endsWith('.mjs') && readFileSync(join(bundleDir, f), 'utf8').includes('better-sqlite3'));
    assert.equal(withSqlite.length, 1, 'the SQLite binding is referenced by the embedded-store chunk only');
    assert.ok(!withSqlite.includes('main.mjs'));

    const output: string[] = [];
    cluster = await startLocalCluster({
      tasks: 2,
      ports: 'free',
      command: ['--enable-source-maps', join(bundleDir, 'main.mjs')],
      onOutput: (task, line) => {
        if (output.length < 200) output.push(`[${task}] ${line}`);
      },
      pollIntervalMs: 50,
    }).catch((e) => {
      console.log(output.join('\n'));
      throw e;
    });
    await createMailbox(cluster.store, { address: ADDRESS, password: PASSWORD });
  });

  after(async () => {
    await cluster?.stop();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
    const line = (label: string, v: number[]) => {
      const s = [...v].sort((a, b) => a - b);
      return `${label}: n=${s.length} p50=${percentile(s, 50).toFixed(0)} ms p95=${percentile(s, 95).toFixed(0)} ms max=${(s[s.length - 1] ?? NaN).toFixed(0)} ms`;
    };
    console.log("# latency from A's OK to B's untagged response (the 2 s bound):");
    for (const k of ['exists', 'flags', 'expunge'] as const) console.log(`#   ${line(k, latencies[k])}`);
    console.log(`#   ${line('all', [...latencies.exists, ...latencies.flags, ...latencies.expunge])}`);
    console.log('# latency from sending the command to A (includes A\'s own work):');
    for (const k of ['exists', 'flags', 'expunge'] as const) console.log(`#   ${line(k, fromSend[k])}`);
    console.log(`#   ${line('all', [...fromSend.exists, ...fromSend.flags, ...fromSend.expunge])}`);
    if (cluster) console.log(`# stream poller: ${cluster.poller.batches} batches, ${cluster.poller.records} records, ${cluster.poller.failures} failures`);
  });

  it('wakes an IDLE session on task B for EXISTS, FETCH FLAGS and EXPUNGE made through task A, each within 2 s', async () => {
    const [taskA, taskB] = cluster.tasks;
    const a = await Imap.connect(taskA!.ports.imaps);
    const b = await Imap.connect(taskB!.ports.imaps);
    try {
      for (const c of [a, b]) {
        await c.next((l) => l.startsWith('* OK'));
        await c.command(`LOGIN "${ADDRESS}" "${PASSWORD}"`);
        await c.command('SELECT INBOX');
      }
      await b.idle();

      // Bound: from the arrival of A's tagged OK (the change is committed) to the arrival of
      // B's untagged response. Also kept: from sending the command to A (A's work included).
      const waitOnB = async (kind: Kind, re: RegExp, what: string): Promise<void> => {
        const line = await b.next((l) => re.test(l), 5000);
        const ms = Math.max(0, b.lastAt - a.lastAt);
        assert.ok(ms <= LIMIT_MS, `${what}: ${ms.toFixed(0)} ms > ${LIMIT_MS} ms (${line})`);
        latencies[kind].push(ms);
        fromSend[kind].push(b.lastAt - a.sentAt);
      };

      for (let i = 1; i <= ROUNDS; i++) {
        const msg = `From: a@example.test\r\nTo: ${ADDRESS}\r\nSubject: round ${i}\r\nMessage-ID: <r${i}@example.test>\r\n\r\nbody ${i}\r\n`;
        await a.append('INBOX', msg);
        await waitOnB('exists', /^\* 1 EXISTS$/, `EXISTS (round ${i})`);

        await a.command('STORE 1 +FLAGS (\\Flagged)');
        await waitOnB('flags', /^\* 1 FETCH \(.*FLAGS \([^)]*\\Flagged/, `FETCH FLAGS (round ${i})`);

        await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
        await a.command('EXPUNGE');
        await waitOnB('expunge', /^\* 1 EXPUNGE$/, `EXPUNGE (round ${i})`);
      }
      assert.ok(cluster.poller.batches > 0, 'the stream poller delivered batches to the fan-out');
    } finally {
      a.close();
      b.close();
    }
  });

  it('drains on SIGTERM (what ECS sends on deploys and scale-in): BYE to the IDLE session, clean exit, endpoints closed', async () => {
    const task = cluster.tasks[1]!;
    const c = await Imap.connect(task.ports.imaps);
    await c.next((l) => l.startsWith('* OK'));
    await c.command(`LOGIN "${ADDRESS}" "${PASSWORD}"`);
    await c.command('SELECT INBOX');
    await c.idle();
    const exit = new Promise<number | null>((r) => task.process.once('exit', (code) => r(code)));
    task.process.kill('SIGTERM');
    const bye = await c.next((l) => l.startsWith('* BYE'), 10_000);
    assert.match(bye, /^\* BYE/);
    assert.equal(await exit, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${task.ports.health}/healthz`), 'health endpoint closed with the task');
    c.close();
  });
});
