// Security checklist items for POP3 not covered elsewhere: B14, B18, C25, E41, A6/A7 basics.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { createMailbox } from '../../core/admin/mailboxes.js';
import { openLocalStore } from '../../core/store/local/index.js';
import type { Store } from '../../core/store/port.js';
import { LineClient } from '../helpers/line-client.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('POP3 checklist', () => {
  let s: TestServer;
  let failFor = '';
  before(async () => {
    // A store that fails on cue for one mailbox: a storage error inside one session.
    const real = await openLocalStore(await mkdtemp(join(tmpdir(), 'mab-pop3-fault-')));
    const faulty: Store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'listMessages') {
          return async (accountId: string, ...rest: unknown[]) => {
            const acc = await target.getAccount(accountId);
            if (acc?.address === failFor) throw new Error('simulated storage failure');
            return (target.listMessages as (...a: unknown[]) => unknown)(accountId, ...rest);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    s = await startTestServer({ store: faulty });
    await createMailbox(s.store, { address: 'broken@example.test', password: PASSWORD });
  });
  after(() => s.stop());

  it('NUL and other control bytes in a command are refused, nothing truncated (B14)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    c.write(`USER ${USER}\0junk\r\n`);
    assert.equal(await c.line(), '-ERR Unknown command.\r\n');
    assert.match(await c.cmd('PASS x'), /^-ERR Send USER first/, 'the USER line had no effect');
    c.close();
  });

  it('invalid AUTH base64 and cancel are refused; many bad commands before login end the connection (B18)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    assert.match(await c.cmd('AUTH PLAIN !!!!'), /^-ERR/);
    for (let i = 0; i < 9; i++) assert.match(await c.cmd("XYZZ"), /^-ERR/);
    c.write("XYZZ\r\n");
    await c.waitClosed();
  });

  it('user names with wildcards, control characters or 10 KB fail quickly and identically (C25)', async () => {
    for (const name of ['al%ce@example.test', '*', 'a*b@example.test', 'x'.repeat(400)]) {
      const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
      await c.line();
      const t0 = Date.now();
      assert.equal(await c.cmd(`USER ${name}`), '+OK Send your password\r\n');
      assert.equal(await c.cmd('PASS whatever'), '-ERR [AUTH] Authentication failed.\r\n');
      assert.ok(Date.now() - t0 < 5000);
      c.close();
    }
    // A 10 KB user name is over the 512-octet command limit: refused before any lookup.
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await c.line();
    assert.equal(await c.cmd(`USER ${'y'.repeat(10_240)}`), '-ERR Command line too long.\r\n');
    c.close();
  });

  it('a storage error ends only that session; other sessions go on (E41)', async () => {
    const good = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await good.line();
    await good.cmd(`USER ${USER}`);
    assert.match(await good.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    failFor = 'broken@example.test';
    const bad = await LineClient.connect(s.ports.pop3s!, { tls: true });
    await bad.line();
    await bad.cmd('USER broken@example.test');
    assert.match(await bad.cmd(`PASS ${PASSWORD}`), /^-ERR \[SYS\/TEMP\]/);
    await bad.waitClosed();
    assert.match(await good.cmd('STAT'), /^\+OK/);
    good.close();
    failFor = '';
  });

  it('implicit TLS negotiates TLS 1.2 or newer and refuses TLS 1.1 (A7)', async () => {
    const c = await LineClient.connect(s.ports.pop3s!, { tls: true });
    assert.match((c.socket as tls.TLSSocket).getProtocol() ?? '', /^TLSv1\.[23]$/);
    c.close();
    await assert.rejects(
      new Promise((resolve, reject) => {
        const t = tls.connect({ host: '127.0.0.1', port: s.ports.pop3s!, rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
        t.once('secureConnect', () => resolve(t));
        t.once('error', reject);
      }),
    );
  });
});
