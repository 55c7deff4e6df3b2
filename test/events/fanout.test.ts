// The fan-out's parts on their own: stream records -> the set of changed mailboxes, request
// signing, Cloud Map discovery (a fake client), one request per task with failures reported,
// the task's notify endpoint (authentication, limits, publishing only for folders it knows),
// the admin side's forwarding bus, and the Lambda handler on a direct invocation.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { LocalEventBus, type ChangeNotice } from '../../core/events/bus.js';
import {
  CloudMapTaskDirectory,
  ForwardingBus,
  MAX_NOTIFY_BODY,
  NOTIFY_PATH,
  SIGNATURE_HEADER,
  StaticTaskDirectory,
  TaskNotifier,
  changesFromStreamRecords,
  fanOut,
  lambdaInvokeSink,
  mergeChanges,
  signNotifyBody,
  verifyNotifySignature,
  type WireChange,
} from '../../core/events/fanout.js';
import { FolderOwners, publishChanges, withFolderOwners } from '../../core/events/folder-owners.js';
import type { Store } from '../../core/store/port.js';
import { startNotifyServer, startHealthServer } from '../../protocol-tasks/notify/server.js';

const rec = (eventName: string, f: string, m: number) => ({ eventName, dynamodb: { Keys: { f: { S: f }, m: { N: String(m) } } } });

describe('stream records -> changed mailboxes', () => {
  it('keeps one entry per folder with the highest modseq, and ignores REMOVE (TTL) and foreign records', () => {
    const changes = changesFromStreamRecords([
      rec('INSERT', 'f2', 7),
      rec('INSERT', 'f1', 3),
      rec('INSERT', 'f2', 9),
      rec('MODIFY', 'f1', 4),
      rec('REMOVE', 'f3', 1),
      { eventName: 'INSERT', dynamodb: { Keys: { pk: { S: 'x' } } } },
      { eventName: 'INSERT', dynamodb: { Keys: { f: { S: 'f4' }, m: { N: 'NaN' } } } },
    ]);
    assert.deepEqual(changes, [
      { kind: 'mailbox', folderId: 'f1', modseq: 4 },
      { kind: 'mailbox', folderId: 'f2', modseq: 9 },
    ]);
  });

  it('merges other notices by kind and keeps a known account id', () => {
    const merged = mergeChanges([
      { kind: 'settings', protocol: 'imap4' },
      { kind: 'mailbox', folderId: 'f', modseq: 1 },
      { kind: 'account', accountId: 'a' },
      { kind: 'settings', protocol: 'imap4' },
      { kind: 'mailbox', folderId: 'f', modseq: 2, accountId: 'acc' },
    ]);
    assert.deepEqual(merged, [
      { kind: 'mailbox', folderId: 'f', modseq: 2, accountId: 'acc' },
      { kind: 'account', accountId: 'a' },
      { kind: 'settings', protocol: 'imap4' },
    ]);
  });
});

describe('request signatures', () => {
  const body = JSON.stringify({ v: 1, changes: [] });
  it('verifies its own signature, in constant time, within the tolerance only', () => {
    const now = 1_700_000_000_000;
    const sig = signNotifyBody('s3cret', body, now);
    assert.ok(verifyNotifySignature('s3cret', sig, body, now + 1000));
    assert.ok(!verifyNotifySignature('other', sig, body, now));
    assert.ok(!verifyNotifySignature('s3cret', sig, body + ' ', now), 'tampered body');
    assert.ok(!verifyNotifySignature('s3cret', sig, body, now + 10 * 60 * 1000), 'replayed later');
    assert.ok(!verifyNotifySignature('s3cret', sig.replace(/v1=./, 'v1=0'), body, now));
    assert.ok(!verifyNotifySignature('s3cret', undefined, body, now));
    assert.ok(!verifyNotifySignature('s3cret', 'garbage', body, now));
    assert.ok(!verifyNotifySignature('', sig, body, now), 'an empty secret never verifies');
  });
});

describe('Cloud Map discovery', () => {
  it('lists each instance by its IPv4 on the notify port, filtered to the service, cached briefly', async () => {
    const calls: unknown[] = [];
    let t = 0;
    const dir = new CloudMapTaskDirectory({
      client: {
        async send(cmd) {
          calls.push(cmd);
          return {
            Instances: [
              { InstanceId: 'task-1', Attributes: { AWS_INSTANCE_IPV4: '10.0.1.5' } },
              { InstanceId: 'task-2', Attributes: { AWS_INSTANCE_IPV4: '10.0.2.9' } },
              { InstanceId: 'odd', Attributes: {} as Record<string, string> },
            ],
          };
        },
      },
      command: (input) => ({ input }),
      namespace: 'site1.mail.internal',
      service: 'protocol',
      port: 8025,
      cacheMs: 5000,
      now: () => t,
    });
    assert.deepEqual(await dir.list(), [
      { id: 'task-1', url: 'http://10.0.1.5:8025' },
      { id: 'task-2', url: 'http://10.0.2.9:8025' },
    ]);
    assert.deepEqual(calls[0], {
      input: { NamespaceName: 'site1.mail.internal', ServiceName: 'protocol', HealthStatus: 'HEALTHY_OR_ELSE_ALL', MaxResults: 1000 },
    });
    t = 4000;
    await dir.list();
    assert.equal(calls.length, 1, 'cached');
    t = 6000;
    await dir.list();
    assert.equal(calls.length, 2, 'asked again after the cache time');
  });
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('notify endpoint and notifier', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers) await c();
  });

  it('delivers one signed request per task; a task that fails is reported, the others still get it', async () => {
    const got: WireChange[][] = [];
    const endpoints = await Promise.all(
      [0, 1].map(() =>
        startNotifyServer({
          host: '127.0.0.1',
          port: 0,
          secret: 'shared',
          onChanges: (c) => {
            got.push(c);
            return { published: c.length, skipped: 0 };
          },
        }),
      ),
    );
    for (const e of endpoints) closers.push(() => e.close());
    const broken = createServer((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    const brokenUrl = await listen(broken);
    closers.push(() => new Promise((r) => broken.close(() => r())));

    const notifier = new TaskNotifier({
      directory: new StaticTaskDirectory([...endpoints.map((e) => `http://127.0.0.1:${e.port}`), brokenUrl, 'http://127.0.0.1:1']),
      secret: async () => 'shared',
      timeoutMs: 1000,
    });
    const changes = changesFromStreamRecords([rec('INSERT', 'f1', 1), rec('INSERT', 'f1', 2), rec('INSERT', 'f2', 5)]);
    const r = await notifier.send([...changes, { kind: 'settings', protocol: 'pop3' }]);
    assert.equal(r.tasks, 4);
    assert.equal(r.delivered, 2);
    assert.equal(r.failed.length, 2);
    assert.equal(r.requests, 4, 'one request per task');
    assert.equal(got.length, 2);
    for (const g of got) {
      assert.deepEqual(g, [
        { kind: 'mailbox', folderId: 'f1', modseq: 2 },
        { kind: 'mailbox', folderId: 'f2', modseq: 5 },
        { kind: 'settings', protocol: 'pop3' },
      ]);
    }
    assert.deepEqual(await notifier.send([]), { tasks: 0, delivered: 0, failed: [], changes: 0, requests: 0 });
  });

  it('reads the secret again after a 401 (the secret was changed), at most once a minute', async () => {
    let delivered = 0;
    const ep = await startNotifyServer({ host: '127.0.0.1', port: 0, secret: 'new', onChanges: () => (delivered++, { published: 0, skipped: 0 }) });
    closers.push(() => ep.close());
    let value = 'old';
    let reads = 0;
    let clock = Date.now();
    const notifier = new TaskNotifier({
      directory: new StaticTaskDirectory([`http://127.0.0.1:${ep.port}`]),
      secret: async () => (reads++, value),
      now: () => clock,
    });
    const change: WireChange[] = [{ kind: 'settings', protocol: 'pop3' }];
    const r1 = await notifier.send(change);
    assert.equal(r1.delivered, 0, 'the old secret is refused; re-reading it so soon is not allowed');
    assert.match(r1.failed[0]!.error, /401/);
    value = 'new';
    clock += 61_000;
    const r2 = await notifier.send(change);
    assert.equal(r2.delivered, 1);
    assert.equal(delivered, 1);
    assert.equal(reads, 2);
  });

  it('refuses unsigned, wrongly signed, oversized and malformed requests', async () => {
    let calls = 0;
    const ep = await startNotifyServer({
      host: '127.0.0.1',
      port: 0,
      secret: 'shared',
      onChanges: () => {
        calls++;
        return { published: 0, skipped: 0 };
      },
    });
    closers.push(() => ep.close());
    const url = `http://127.0.0.1:${ep.port}${NOTIFY_PATH}`;
    const post = (body: string, sig?: string) =>
      fetch(url, { method: 'POST', body, headers: sig ? { [SIGNATURE_HEADER]: sig } : {} }).then(async (r) => (await r.arrayBuffer(), r.status));
    const good = JSON.stringify({ v: 1, changes: [{ kind: 'account', accountId: 'a' }] });
    assert.equal(await post(good), 401);
    assert.equal(await post(good, signNotifyBody('wrong', good)), 401);
    assert.equal(await post(good, signNotifyBody('shared', good, Date.now() - 3_600_000)), 401);
    const big = 'x'.repeat(MAX_NOTIFY_BODY + 1);
    assert.equal(await post(big, signNotifyBody('shared', big)), 413);
    const bad = JSON.stringify({ v: 1, changes: [{ kind: 'mailbox', folderId: '' }] });
    assert.equal(await post(bad, signNotifyBody('shared', bad)), 400);
    assert.equal(await post('{', signNotifyBody('shared', '{')), 400);
    assert.equal(calls, 0);
    assert.equal(await post(good, signNotifyBody('shared', good)), 204);
    assert.equal(calls, 1);
    assert.equal((await fetch(url)).status, 405);
    assert.equal((await fetch(`http://127.0.0.1:${ep.port}/other`)).status, 404);
    await assert.rejects(startNotifyServer({ host: '127.0.0.1', port: 0, secret: '', onChanges: () => ({ published: 0, skipped: 0 }) }));
  });

  it('health answers 200 while ready and 503 while draining', async () => {
    let ready = true;
    const h = await startHealthServer({ host: '127.0.0.1', port: 0, ready: () => ready });
    closers.push(() => h.close());
    assert.equal((await fetch(`http://127.0.0.1:${h.port}/healthz`)).status, 200);
    ready = false;
    assert.equal((await fetch(`http://127.0.0.1:${h.port}/healthz`)).status, 503);
  });
});

describe('task side: folder owners', () => {
  it('publishes mailbox changes only for folders its store calls have seen, with their account', async () => {
    const owners = new FolderOwners(3);
    const fake = {
      async listFolders(accountId: string) {
        return [{ id: 'fa', accountId, uidValidity: 1 }];
      },
      async changesSince() {
        return [];
      },
    } as unknown as Store;
    const store = withFolderOwners(fake, owners);
    await store.listFolders('acc1');
    await store.changesSince('acc2', 'fb', 0);
    assert.equal(owners.owner('fa'), 'acc1');
    assert.equal(owners.owner('fb'), 'acc2');

    const bus = new LocalEventBus();
    const seen: ChangeNotice[] = [];
    bus.subscribe((n) => seen.push(n));
    const out = publishChanges(bus, owners, [
      { kind: 'mailbox', folderId: 'fa', modseq: 3 },
      { kind: 'mailbox', folderId: 'unknown', modseq: 1 },
      { kind: 'settings', protocol: 'imap4' },
    ]);
    assert.deepEqual(out, { published: 2, skipped: 1 });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [
      { kind: 'mailbox', accountId: 'acc1', folderId: 'fa', modseq: 3 },
      { kind: 'settings', protocol: 'imap4' },
    ]);

    // Bounded: the least recently used entry goes first.
    owners.remember('fc', 'acc3');
    owners.owner('fa');
    owners.remember('fa', 'acc1');
    owners.remember('fd', 'acc4');
    assert.equal(owners.size, 3);
    assert.equal(owners.owner('fb'), undefined);
    assert.equal(owners.owner('fa'), 'acc1');
  });
});

describe('admin side and the handler', () => {
  it('a forwarding bus sends what was published, merged, to the fan-out by asynchronous invocation', async () => {
    const sent: any[] = [];
    const sink = lambdaInvokeSink(
      {
        async send(cmd) {
          sent.push(cmd);
          return { StatusCode: 202 };
        },
      },
      (input) => input,
      'fanout-fn',
    );
    const bus = new ForwardingBus(sink);
    bus.publish({ kind: 'settings', protocol: 'pop3' });
    bus.publish({ kind: 'account', accountId: 'a1' });
    bus.publish({ kind: 'settings', protocol: 'pop3' });
    await bus.flush();
    await bus.flush();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].FunctionName, 'fanout-fn');
    assert.equal(sent[0].InvocationType, 'Event');
    assert.deepEqual(JSON.parse(Buffer.from(sent[0].Payload).toString()), {
      changes: [
        { kind: 'account', accountId: 'a1' },
        { kind: 'settings', protocol: 'pop3' },
      ],
    });
  });

  it('fanOut accepts a direct { changes } event and refuses anything else', async () => {
    const sent: WireChange[][] = [];
    const notifier = { send: async (c: readonly WireChange[]) => (sent.push([...c]), { tasks: 1, delivered: 1, failed: [], changes: c.length, requests: 1 }) };
    await fanOut({ changes: [{ kind: 'settings', protocol: 'imap4' }] }, notifier);
    assert.deepEqual(sent[0], [{ kind: 'settings', protocol: 'imap4' }]);
    await assert.rejects(fanOut({ changes: [{ kind: 'nope' }] } as never, notifier));
    await assert.rejects(fanOut({} as never, notifier));
  });

  it('the Lambda handler, configured from the environment, posts to the targets', async () => {
    const got: WireChange[][] = [];
    const ep = await startNotifyServer({
      host: '127.0.0.1',
      port: 0,
      secret: 'env-secret',
      onChanges: (c) => (got.push(c), { published: c.length, skipped: 0 }),
    });
    const saved = { ...process.env };
    Object.assign(process.env, { NOTIFY_TARGETS: `http://127.0.0.1:${ep.port}`, NOTIFY_SECRET: 'env-secret', FANOUT_QUIET: '1' });
    try {
      const { handler } = await import('../../functions/idle-fanout/handler.js');
      const r = await handler({ Records: [rec('INSERT', 'fx', 11), rec('REMOVE', 'fy', 2)] });
      assert.equal(r.delivered, 1);
      assert.deepEqual(got, [[{ kind: 'mailbox', folderId: 'fx', modseq: 11 }]]);
    } finally {
      for (const k of ['NOTIFY_TARGETS', 'NOTIFY_SECRET', 'FANOUT_QUIET']) delete process.env[k];
      Object.assign(process.env, saved);
      await ep.close();
    }
  });
});
