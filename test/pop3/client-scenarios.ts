// Real POP3 clients against a real server: Python's poplib (STLS and implicit TLS) and the
// node-pop3 package, for a full leave-on-server / delete cycle with byte-exact content.
// Shared by test/pop3/clients.test.ts (embedded store) and test/aws/clients.test.ts (AWS adapter).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Pop3Command from 'node-pop3';
import { deliverToInbox, createMailbox } from '../../core/admin/mailboxes.js';
import { demoMessages } from '../../core/mime/samples.js';
import { PASSWORD, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const SCRIPT = new URL('./poplib_client.py', import.meta.url).pathname;

async function poplib(s: TestServer, mode: 'stls' | 'ssl', user: string, action: string) {
  const port = mode === 'ssl' ? s.ports.pop3s! : s.ports.pop3!;
  const { stdout } = await run('python3', [SCRIPT, '127.0.0.1', String(port), mode, user, PASSWORD, action], { timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').pop() || '{}');
}

export function pop3ClientTests(title: string, start: () => Promise<TestServer>): void {
  describe(title, () => {
    let s: TestServer;
    const raws: Buffer[] = [];
    before(async () => {
      s = await start();
      for (const user of ['py@example.test', 'node@example.test']) {
        await createMailbox(s.store, { address: user, password: PASSWORD });
        for (const m of demoMessages(user, new Date())) {
          await deliverToInbox(s.store, user, m.raw, { internalDate: m.internalDate });
          if (user === 'py@example.test') raws.push(m.raw);
        }
      }
    });
    after(() => s.stop());

    for (const mode of ['stls', 'ssl'] as const) {
      it(`poplib over ${mode}: STAT, LIST, UIDL, TOP, RETR byte-exact, leave on server`, async () => {
        const first = await poplib(s, mode, 'py@example.test', 'read');
        assert.match(first.welcome, /^\+OK/);
        assert.ok(first.capa.includes('UIDL') && first.capa.includes('TOP') && first.capa.includes('USER'));
        assert.equal(first.stat[0], raws.length);
        assert.equal(first.stat[1], raws.reduce((a, r) => a + r.length, 0));
        assert.deepEqual(first.list, raws.map((r, i) => `${i + 1} ${r.length}`));
        first.messages.forEach((b64: string, i: number) => assert.ok(Buffer.from(b64, 'base64').equals(raws[i]!), `message ${i + 1} byte-exact`));
        assert.ok(first.top.length > 2);
        // Leave on server: a second session sees the same messages with the same UIDLs.
        const second = await poplib(s, mode, 'py@example.test', 'read');
        assert.deepEqual(second.uidl, first.uidl);
      });
    }

    it('poplib: DELE then RSET keeps, DELE then drop keeps, DELE then QUIT removes', async () => {
      const before = (await poplib(s, 'ssl', 'py@example.test', 'read')).uidl;
      await poplib(s, 'ssl', 'py@example.test', 'dele1_rset');
      assert.deepEqual((await poplib(s, 'ssl', 'py@example.test', 'read')).uidl, before);
      await poplib(s, 'ssl', 'py@example.test', 'dele1_drop');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual((await poplib(s, 'ssl', 'py@example.test', 'read')).uidl, before);
      const q = await poplib(s, 'stls', 'py@example.test', 'dele1');
      assert.match(q.quit, /^\+OK/);
      const afterDele = (await poplib(s, 'ssl', 'py@example.test', 'read')).uidl.map((l: string) => l.split(' ')[1]);
      assert.deepEqual(afterDele, before.slice(1).map((l: string) => l.split(' ')[1]));
    });

    it('node-pop3 over implicit TLS: UIDL, RETR, TOP, DELE, QUIT', async () => {
      const opts = { user: 'node@example.test', password: PASSWORD, host: '127.0.0.1', port: s.ports.pop3s!, tls: true, tlsOptions: { rejectUnauthorized: false }, timeout: 10_000 };
      const pop = new Pop3Command(opts);
      const uidl = (await pop.UIDL()) as string[][];
      const count = demoMessages('node@example.test', new Date()).length;
      assert.equal(uidl.length, count);
      const body = await pop.RETR(1);
      assert.match(body, /^From: /m);
      const top = await pop.TOP(2, 0);
      assert.match(top, /Subject:/);
      await pop.command('DELE', 1);
      await pop.QUIT();
      const again = new Pop3Command(opts);
      const uidl2 = (await again.UIDL()) as string[][];
      assert.deepEqual(uidl2.map((u) => u[1]), uidl.slice(1).map((u) => u[1]));
      await again.QUIT();
    });
  });
}
