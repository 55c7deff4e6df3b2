// The protocol server on the AWS adapter (DynamoDB Local + s3rver, started once for this
// file): the same real-client scenarios as on the embedded store (POP3: poplib and node-pop3;
// IMAP: imapflow and imaplib each running a mail-client day), and a Thunderbird-style
// header-only sync over the real protocol path that makes no S3 request and no Scan, with the
// DynamoDB read units it consumed per 1,000 messages.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createMailbox } from '../../core/admin/mailboxes.js';
import { demoMessages } from '../../core/mime/samples.js';
import { attachMeter, type Meter } from '../../core/store/aws/metering.js';
import { AwsStore } from '../../core/store/aws/store.js';
import { ensureDefaultFolders } from '../../core/store/default-folders.js';
import { deliverMessage } from '../../core/store/deliver.js';
import { addUsage, newUsage, onCommandUsage, type CommandUsage, type StoreUsage } from '../../core/store/usage.js';
import { localClients, startAwsLocal, type AwsLocal } from '../helpers/aws-local.js';
import { USER, startTestServer, type TestServer } from '../helpers/server.js';
import { imapClientDayTests } from '../imap/client-day.js';
import { TB_HEADER_FETCH, TB_LABEL, chunkedSets, parseFetch } from '../imap/thunderbird.js';
import { WireClient } from '../imap/wire-client.js';
import { pop3ClientTests } from '../pop3/client-scenarios.js';

let local: AwsLocal;
before(async () => {
  local = await startAwsLocal();
  // The store's clients take their endpoints from the SDK's standard variables, as in production.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.dynamodbEndpoint;
  process.env.AWS_ENDPOINT_URL_S3 = local.s3Endpoint;
});
after(async () => {
  await local?.stop();
});

/** A server on a fresh set of tables and a fresh bucket; its store is closed with the server. */
async function startAwsServer(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const space = await local.createSpace();
  const store = new AwsStore({ names: space.names, bucket: space.bucket, region: local.region, credentials: local.credentials, conditionalPut: false });
  const s = await startTestServer({ user: false, ...opts, store });
  const stop = s.stop.bind(s);
  s.stop = async () => {
    await stop();
    await space.drop().catch(() => undefined);
  };
  return s;
}

pop3ClientTests('real POP3 clients on the AWS adapter', () => startAwsServer());
imapClientDayTests('real IMAP clients on the AWS adapter: a full mail-client day', () => startAwsServer());

/** A message with the header weight of real mail (trace, DKIM, authentication, list headers). */
function realisticMessage(i: number, demo: Array<{ raw: Buffer }>): Buffer {
  const trace =
    `Received: from mail-out-${i % 7}.example.net (mail-out-${i % 7}.example.net [192.0.2.${i % 250}])\r\n` +
    `\tby mx.example.test (Postfix) with ESMTPS id 4Z${(i * 7919).toString(36).toUpperCase()}\r\n` +
    `\tfor <${USER}>; Tue, 3 Mar 2026 09:05:00 +0000\r\n` +
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s2026; t=1772528700;\r\n` +
    `\th=from:to:subject:date:message-id:mime-version:content-type;\r\n` +
    `\tbh=${randomBytes(32).toString('base64')};\r\n` +
    `\tb=${randomBytes(256).toString('base64').replace(/(.{72})/g, '$1\r\n\t')}\r\n` +
    `Authentication-Results: mx.example.test; dkim=pass header.d=example.net; spf=pass smtp.mailfrom=example.net; dmarc=pass\r\n` +
    `List-Id: <team-${i % 5}.lists.example.net>\r\nX-Spam-Status: No, score=-0.${i % 10} required=5.0\r\n`;
  return Buffer.concat([Buffer.from(trace, 'latin1'), demo[i % demo.length]!.raw]);
}

describe('header-only sync over IMAP on the AWS adapter', () => {
  const SEEDED = 550;
  /** Every 11th UID is expunged before the sync: UID sets with gaps, like a real folder's. */
  const GAP = 11;
  let s: TestServer;
  let meter: Meter;
  let store: AwsStore;
  let dropSpace: () => Promise<void>;
  const logLines: string[] = [];
  const uids: number[] = [];
  const raws = new Map<number, Buffer>();

  before(async () => {
    const space = await local.createSpace();
    dropSpace = space.drop;
    // The store's own clients, with an independent meter next to the usage-context middleware.
    const { ddb, s3 } = localClients(local.dynamodbEndpoint, local.s3Endpoint);
    meter = attachMeter({ dynamodb: ddb, s3 });
    store = new AwsStore({ names: space.names, bucket: space.bucket, dynamodb: ddb, s3, conditionalPut: false });
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    s = await startTestServer({ store, logger });
    const acct = (await s.store.getAccountByAddress(USER))!;
    const inbox = await ensureDefaultFolders(s.store, acct.id);
    const demo = demoMessages(USER, new Date('2026-03-03T09:00:00Z'));
    const t0 = Date.now();
    for (let i = 0; i < SEEDED; i += 110) {
      const batch = Array.from({ length: Math.min(110, SEEDED - i) }, (_, j) => realisticMessage(i + j, demo));
      const results = await Promise.all(batch.map((raw) => deliverMessage(store, { accountId: acct.id, folderId: inbox.id, raw })));
      results.forEach((r, j) => raws.set(r.uid, batch[j]!));
    }
    const all = [...raws.keys()].sort((a, b) => a - b);
    const gone = all.filter((u) => u % GAP === 0);
    await store.expunge(acct.id, inbox.id, gone);
    uids.push(...all.filter((u) => u % GAP !== 0));
    console.log(`seeded ${SEEDED} messages on DynamoDB Local + s3rver and expunged ${gone.length} in ${Date.now() - t0} ms`);
  });
  after(async () => {
    await s?.stop();
    store?.ddb.destroy();
    store?.s3.destroy();
    await dropSpace?.().catch(() => undefined);
  });

  it('SELECT, UID FETCH 1:* (FLAGS) and the header fetches make zero S3 requests and no Scan; read units per 1,000 messages printed', async () => {
    const c = await WireClient.open(s.ports);
    const records: CommandUsage[] = [];
    const stopListening = onCommandUsage((e) => records.push(e));
    try {
      meter.reset();
      const sel = await c.cmd('SELECT "INBOX"');
      assert.equal(sel.status, 'OK', sel.tagged);
      assert.ok(sel.untagged.includes(`* ${uids.length} EXISTS\r\n`), sel.untagged.join(''));

      const flags = await c.cmd('UID FETCH 1:* (FLAGS)');
      assert.equal(flags.status, 'OK', flags.tagged);
      assert.deepEqual(flags.untagged.map((l) => parseFetch(l).uid), uids, 'every UID, ascending');

      const sets = chunkedSets(uids);
      let seen = 0;
      for (const set of sets) {
        const r = await c.cmd(`UID FETCH ${set} ${TB_HEADER_FETCH}`);
        assert.equal(r.status, 'OK', r.tagged);
        for (const line of r.untagged) {
          const f = parseFetch(line);
          assert.equal(f.label, TB_LABEL);
          assert.equal(f.size, raws.get(f.uid)!.length);
          assert.match(f.header!, /^Received: from mail-out-/);
          assert.match(f.header!, /\r\nSubject: [^\r\n]+\r\n/);
          assert.ok(f.header!.endsWith('\r\n\r\n'));
          seen++;
        }
      }
      assert.equal(seen, uids.length, 'every message got its headers');
      const total = meter.snapshot();

      // Per protocol command, as the session's request accounting saw it.
      const mine = records.filter((r) => r.protocol === 'imap4');
      const byCommand = new Map<string, StoreUsage>();
      for (const r of mine) {
        const u = byCommand.get(r.command) ?? newUsage();
        addUsage(u, r.usage);
        byCommand.set(r.command, u);
      }
      const select = byCommand.get('SELECT')!;
      const flagSync = mine.find((r) => r.command === 'UID FETCH')!.usage;
      const headerSync = newUsage();
      mine.filter((r) => r.command === 'UID FETCH').slice(1).forEach((r) => addUsage(headerSync, r.usage));

      assert.deepEqual(total.s3, {}, 'no S3 request at all (so no GET)');
      assert.equal(total.dynamodb.ScanCommand, undefined, 'no Scan');
      for (const [cmd, u] of byCommand) {
        assert.deepEqual(u.s3, {}, `${cmd}: no S3 request`);
        assert.equal(u.dynamodb.ScanCommand, undefined, `${cmd}: no Scan`);
      }
      // The context middleware and the independent meter agree.
      const summed = newUsage();
      for (const u of byCommand.values()) addUsage(summed, u);
      assert.equal(summed.readUnits.toFixed(3), total.readUnits.toFixed(3), 'per-command read units add up to the meter');
      assert.deepEqual(summed.dynamodb, total.dynamodb);
      assert.ok(select.readUnits > 0 && headerSync.readUnits > 0, 'DynamoDB Local reports consumed capacity');
      // SELECT read the message records (flags, sizes, UIDs); the flag fetch is answered from them.
      assert.equal(flagSync.readUnits, 0, 'UID FETCH 1:* (FLAGS) is served from the view SELECT built');

      const per1000 = (u: StoreUsage) => ((u.readUnits * 1000) / uids.length).toFixed(1);
      console.log(
        `header-only sync of ${uids.length} messages over IMAP on the AWS adapter, DynamoDB read units per 1,000 messages ` +
          `(strongly consistent): SELECT ${per1000(select)}, UID FETCH 1:* (FLAGS) ${per1000(flagSync)}, ` +
          `headers (${sets.length} UID FETCH commands) ${per1000(headerSync)}, total ${per1000(total)}; ` +
          `requests ${JSON.stringify(total.dynamodb)}; S3 requests: 0`,
      );

      // The session logs each command's usage at debug level.
      const usageLines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'store usage');
      assert.ok(
        usageLines.some((l) => l.command === 'UID FETCH' && l.protocol === 'imap4' && typeof l.readUnits === 'number' && (l.readUnits as number) > 0),
        'a debug line per command with its usage',
      );

      // The accounting does see S3: opening a message reads its blob.
      records.length = 0;
      const body = await c.cmd(`UID FETCH ${uids[0]} (BODY[])`);
      assert.equal(body.status, 'OK');
      assert.ok(body.untagged[0]!.includes(raws.get(uids[0]!)!.toString('latin1')), 'BODY[] byte-exact');
      assert.equal(records.find((r) => r.command === 'UID FETCH')!.usage.s3.GetObjectCommand, 1, 'one GET for the body');
    } finally {
      stopListening();
      await c.cmd('LOGOUT').catch(() => undefined);
      c.close();
    }
  });
});
