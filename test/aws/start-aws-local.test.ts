// `npm run start:aws-local` as a user runs it: it prints what `npm start` prints, the demo
// mailbox has its sample messages on the AWS adapter, each protocol command's storage
// requests are logged at debug level, and Ctrl-C (SIGINT to the process group, as a terminal
// sends it) stops every process it started, the JVM included.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

function groupMembers(pgid: number): string[] {
  const r = spawnSync('ps', ['-o', 'pid=,args=', '-g', String(pgid)], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

describe('npm run start:aws-local', () => {
  it('says how to get Java when `java` is missing, and starts nothing', async () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start-aws-local.ts'], {
      env: { ...process.env, PATH: '/nonexistent' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs Java/);
    assert.match(r.stderr, /apt-get install -y default-jre-headless/);
    assert.doesNotMatch(r.stdout, /starting DynamoDB Local/);
  });

  it('prints npm start\'s text with the demo mailbox, serves it from DynamoDB Local + s3rver, logs usage per command, and Ctrl-C stops everything', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mab-aws-local-'));
    const env = { ...process.env, DATA_DIR: dataDir, PORTS: 'free', TASKS: '1', LOG_LEVEL: 'debug' };
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start-aws-local.ts'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    let errOut = '';
    child.stderr.on('data', (d) => (errOut += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    let stopped = false;
    try {
      const deadline = Date.now() + 120_000;
      while (!/Stop: Ctrl-C/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`start:aws-local did not start:\n${out}\n${errOut}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(out, /Mail access server running \(AWS adapter/);
      assert.match(out, /TLS certificate: self-signed/);
      assert.match(out, /SHA-256 fingerprint: [0-9A-F:]{95}/);
      assert.match(out, /Try it:\n {4}python3 -c "import poplib/);
      const port = Number(/POP3S\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
      assert.ok(/IMAPS\s+127\.0\.0\.1:\d+/.test(out));
      const user = /Mailbox:\s+(\S+)/.exec(out)![1]!;
      const password = /Password:\s+(\S+)/.exec(out)![1]!;
      assert.equal(user, 'demo@example.test');
      const py = [
        'import poplib, ssl, sys',
        `p = poplib.POP3_SSL('127.0.0.1', ${port}, context=ssl._create_unverified_context(), timeout=20)`,
        `p.user('${user}'); p.pass_(sys.argv[1])`,
        'n, size = p.stat(); print(n, size)',
        'print(b"\\n".join(p.retr(1)[1]).decode("latin1"))',
        'p.quit()',
      ].join('\n');
      const { stdout } = await run('python3', ['-c', py, password], { timeout: 60_000 });
      const [n] = stdout.split('\n')[0]!.split(' ').map(Number);
      assert.ok(n! >= 5, `demo mailbox has its sample messages (got ${n})`);
      assert.match(stdout, /Subject: /);
      // The task logs each command's storage requests at debug level (request accounting).
      const until = Date.now() + 10_000;
      const usageLine = () =>
        out
          .split('\n')
          .filter((l) => l.includes('"msg":"store usage"'))
          .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as { protocol: string; command: string; s3: Record<string, number>; readUnits: number })
          .find((l) => l.protocol === 'pop3' && l.command === 'RETR');
      while (!usageLine() && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      const retr = usageLine();
      assert.ok(retr, `a debug line with the usage of RETR:\n${out.slice(-3000)}`);
      assert.equal(retr.s3.GetObjectCommand, 1, 'RETR read the message from S3');

      const pgid = child.pid!;
      assert.ok(groupMembers(pgid).some((l) => l.includes('DynamoDBLocal.jar')), 'the JVM runs in the group');
      process.kill(-pgid, 'SIGINT');
      stopped = true;
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      assert.notEqual(code, 'timeout', 'the script ends after Ctrl-C');
      assert.equal(code, 0);
      let left = groupMembers(pgid);
      for (let i = 0; i < 50 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = groupMembers(pgid);
      }
      assert.deepEqual(left, [], 'no process of the group is left (no orphan JVM, s3rver or task)');
    } finally {
      if (!stopped) {
        try {
          process.kill(-child.pid!, 'SIGINT');
        } catch {
          // already gone
        }
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
