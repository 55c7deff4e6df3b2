// `npm run start:aws-local`: the cloud path on one machine. DynamoDB Local and s3rver on
// 127.0.0.1, tables and bucket from core/store/aws/tables.ts, protocol task processes on the
// AWS adapter (STORE=aws), and a stream poller feeding the journal's stream to the real
// idle-fanout handler, which posts each change to every task's notify endpoint: an IDLE
// session on one task wakes for mail appended through another. The demo mailbox (with its
// sample messages) and the printed text are those of `npm start`; the first task listens on
// npm start's ports.
//
//   npm run start:aws-local
//   TASKS=1 npm run start:aws-local     (default 2; task i adds 1000 * i to every port)
//   PORTS=free npm run start:aws-local  (any free ports, e.g. next to a running npm start)
//
// Data lives in memory (DynamoDB Local -inMemory, a temp dir for s3rver): it is gone after
// Ctrl-C, which stops everything (the JVM runs under a watchdog and cannot outlive this
// process). The TLS certificate is kept in DATA_DIR/aws-local/tls (default ./.data), so
// clients that accepted it once keep accepting it. Needs Java for DynamoDB Local.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureDemoMailbox } from '../core/admin/demo.js';
import { startupBanner } from '../protocol-tasks/banner.js';
import { loadOrCreateCertificate } from '../protocol-tasks/net/certificates.js';
import { checkJava } from '../test/helpers/aws-local.js';
import { startLocalCluster, type LocalCluster } from './aws-local/cluster.js';

async function main(): Promise<void> {
  const n = Number(process.env.TASKS || 2);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error('TASKS must be 1 to 9');
  const ports = (process.env.PORTS || 'fixed') as 'fixed' | 'free';
  if (ports !== 'fixed' && ports !== 'free') throw new Error('PORTS must be fixed or free');
  checkJava(); // before anything starts: says how to get Java when it is missing

  // One certificate for every task (as behind the load balancer), kept across runs.
  const dataDir = resolve(process.env.DATA_DIR || './.data', 'aws-local');
  const hostname = process.env.SERVER_HOSTNAME || 'localhost';
  const cert = await loadOrCreateCertificate({ dataDir, hostname });
  process.env.TLS_CERT_PEM = cert.cert; // the tasks inherit this process's environment
  process.env.TLS_KEY_PEM = cert.key;

  console.log(`starting DynamoDB Local, s3rver and ${n} protocol task${n > 1 ? 's' : ''}...`);
  let cluster: LocalCluster | null = null;
  let scratch = '';
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('stopping...');
    await cluster?.stop().catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
    process.exit(code);
  };
  // Ctrl-C reaches the whole process group: the tasks drain, the JVM and s3rver end, and this
  // process waits for all of them before it exits.
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  cluster = await startLocalCluster({
    tasks: n,
    ports,
    // The tasks' JSON log lines (warnings and up; LOG_LEVEL=info or debug for more), not their banners.
    onOutput: (task, line) => {
      if (line.startsWith('{')) console.log(`[${task}] ${line}`);
    },
    log: (msg, extra) => console.error(msg, extra ?? ''),
  });
  if (stopping) return;

  // The demo mailbox of npm start, sample messages included (its password file in a scratch
  // directory: the mailbox itself is gone after Ctrl-C).
  scratch = await mkdtemp(join(tmpdir(), 'mail-aws-local-'));
  const demo = await ensureDemoMailbox(cluster.store, scratch, process.env.DEMO_PASSWORD || undefined);

  const host = '127.0.0.1';
  const [a, ...others] = cluster.tasks;
  const more: string[] = [];
  if (others.length > 0) {
    more.push('  More tasks on the same tables and bucket (an IDLE on one wakes for changes made through another):');
    for (const t of others) {
      more.push(`    ${t.name}: POP3 ${t.ports.pop3}  POP3S ${t.ports.pop3s}  IMAP ${t.ports.imap}  IMAPS ${t.ports.imaps}`);
    }
    const b = others[0]!;
    more.push(
      '  Try it: IDLE on one task, append through the other:',
      `    python3 -c "import imaplib,ssl; m=imaplib.IMAP4_SSL('${host}',${b.ports.imaps},ssl_context=ssl._create_unverified_context()); m.login('${demo.address}','${demo.password}'); m.select('INBOX'); t=m._new_tag().decode(); m.send((t+' IDLE\\r\\n').encode()); [print(m.readline()) for _ in range(3)]"`,
      `    python3 -c "import imaplib,ssl; m=imaplib.IMAP4_SSL('${host}',${a!.ports.imaps},ssl_context=ssl._create_unverified_context()); m.login('${demo.address}','${demo.password}'); print(m.append('INBOX', None, None, b'Subject: hi\\r\\n\\r\\nhello\\r\\n'))"`,
      '',
    );
  }
  more.push(`  DynamoDB Local  ${cluster.local.dynamodbEndpoint}   tables ${cluster.space.tablePrefix}*`);
  more.push(`  s3rver          ${cluster.local.s3Endpoint}   bucket ${cluster.space.bucket}`);
  more.push('  Environment of the tasks (to run more by hand with npm start):');
  for (const [k, v] of Object.entries(cluster.env)) if (k !== 'NOTIFY_SECRET') more.push(`    ${k}=${v}`);
  more.push('');

  const lines = startupBanner({
    title: 'Mail access server running (AWS adapter on DynamoDB Local and s3rver; data in memory, gone after Ctrl-C)',
    host,
    ports: { pop3: a!.ports.pop3, pop3s: a!.ports.pop3s, imap: a!.ports.imap, imaps: a!.ports.imaps },
    demo,
    certificate: {
      fingerprint256: cert.fingerprint256,
      note: cert.selfSigned ? `self-signed (kept in ${join(dataDir, 'tls')}); accept it in your client` : 'from TLS_CERT_PEM',
    },
    more,
    last: '  Stop: Ctrl-C (ends the tasks, DynamoDB Local and s3rver)',
  });
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error('start:aws-local failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
