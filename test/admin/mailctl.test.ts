// mailctl as a script would use it: real process, real data dir, exit codes and --json.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const BIN = new URL('../../bin/mailctl.js', import.meta.url).pathname;

function mailctl(dataDir: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, DATA_DIR: dataDir }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: unknown }).code as unknown as number) ?? 1 : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

describe('mailctl', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mab-ctl-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('adds a mailbox with a generated password and lists it', async () => {
    const r = await mailctl(dir, ['add', 'Carol@Example.test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created carol@example.test\npassword: \S{12,}/);
    const l = await mailctl(dir, ['--json', 'list']);
    assert.equal(l.code, 0);
    const rows = JSON.parse(l.stdout);
    assert.deepEqual(rows.map((x: { address: string }) => x.address), ['carol@example.test']);
    assert.equal(rows[0].popEnabled, true);
    const f = await mailctl(dir, ['folders', 'carol@example.test']);
    assert.match(f.stdout, /INBOX[\s\S]*Sent\s+\\Sent[\s\S]*Trash\s+\\Trash/);
  });

  it('exit codes: 4 for a duplicate, 3 for an unknown mailbox, 2 for bad input', async () => {
    assert.equal((await mailctl(dir, ['add', 'carol@example.test', '--password', 'long enough pw'])).code, 4);
    const unknown = await mailctl(dir, ['passwd', 'nobody@example.test', '--password', 'long enough pw']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no mailbox nobody@example.test/);
    const bad = await mailctl(dir, ['add', 'not an address', '--password', 'long enough pw']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid mailbox address/);
    assert.equal((await mailctl(dir, ['add', 'dave@example.test', '--password', 'short'])).code, 2);
    assert.equal((await mailctl(dir, ['set', 'carol@example.test', '--pop', 'maybe'])).code, 2);
    assert.equal((await mailctl(dir, ['frobnicate'])).code, 2);
  });

  it('sets role and protocol flags, password from stdin, delivers from a file and stdin, removes', async () => {
    const set = await mailctl(dir, ['--json', 'set', 'carol@example.test', '--pop', 'off', '--role', 'admin']);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), { ...JSON.parse(set.stdout), popEnabled: false, imapEnabled: true, role: 'admin' });
    assert.equal((await mailctl(dir, ['passwd', 'carol@example.test', '--password-stdin'], 'a new secret pw\n')).code, 0);
    const file = join(dir, 'm.eml');
    await writeFile(file, 'Subject: hi\n\nhello\n');
    const d1 = await mailctl(dir, ['deliver', 'carol@example.test', file]);
    assert.equal(d1.code, 0, d1.stderr);
    assert.match(d1.stdout, /UID 1$/m);
    const d2 = await mailctl(dir, ['--json', 'deliver', 'carol@example.test'], 'Subject: two\r\n\r\nbody\r\n');
    assert.equal(JSON.parse(d2.stdout).uid, 2);
    const missing = await mailctl(dir, ['deliver', 'carol@example.test', join(dir, 'nope.eml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file/);
    const f = await mailctl(dir, ['--json', 'folders', 'carol@example.test']);
    assert.equal(JSON.parse(f.stdout).find((x: { name: string }) => x.name === 'INBOX').messages, 2);
    assert.equal((await mailctl(dir, ['remove', 'carol@example.test'])).code, 0);
    assert.equal((await mailctl(dir, ['show', 'carol@example.test'])).code, 3);
  });
});
