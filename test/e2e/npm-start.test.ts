// What a new user does: `npm start`, read the printed address and password, point a POP3
// client at it. Then Ctrl-C stops it cleanly.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('npm start', () => {
  it('prints how to connect; a POP3 client logs in with the printed password; SIGINT stops it', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'mab-e2e-'));
    const env = { ...process.env, DATA_DIR: dataDir, POP3_PORT: '0', POP3S_PORT: '0', IMAP_PORT: '0', IMAPS_PORT: '0', ADMIN_PORT: '0' };
    const child = spawn('npm', ['start', '--silent'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    let errOut = '';
    child.stderr.on('data', (d) => (errOut += d));
    try {
      const deadline = Date.now() + 60_000;
      while (!/Stop: Ctrl-C/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`server did not start: ${out}\n${errOut}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(/POP3S\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const user = /Mailbox:\s+(\S+)/.exec(out)![1]!;
      const password = /Password:\s+(\S+)/.exec(out)![1]!;
      assert.equal(user, 'demo@example.test');
      const py = [
        'import poplib, ssl, sys',
        `p = poplib.POP3_SSL('127.0.0.1', ${port}, context=ssl._create_unverified_context(), timeout=10)`,
        `p.user('${user}'); p.pass_(sys.argv[1])`,
        'n, size = p.stat(); print(n, size)',
        'print(b"\\n".join(p.retr(1)[1]).decode("latin1"))',
        'p.quit()',
      ].join('\n');
      const { stdout } = await run('python3', ['-c', py, password], { timeout: 30_000 });
      const [n] = stdout.split('\n')[0]!.split(' ').map(Number);
      assert.ok(n! >= 5, `demo mailbox has sample messages (got ${n})`);
      assert.match(stdout, /Subject: /);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      await rm(dataDir, { recursive: true, force: true });
      assert.ok(code === 0 || code === null || code === 130, `exit code ${code}`);
    }
  });
});
