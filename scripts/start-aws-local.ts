// `npm run start:aws-local`: the cloud path on one machine. DynamoDB Local and s3rver on
// 127.0.0.1, tables and bucket from core/store/aws/tables.ts, two protocol task processes on
// the AWS adapter (ports below), and a stream poller feeding the journal's stream to the real
// idle-fanout handler, which posts each change to both tasks' notify endpoints: an IDLE
// session on one task wakes for mail appended through the other.
//
//   TASKS=3 npm run start:aws-local        (default 2; task i adds 1000 * i to every port)
//
// Data lives in memory (DynamoDB Local -inMemory, a temp dir for s3rver): it is gone after
// Ctrl-C. Needs Java for DynamoDB Local.

import { randomBytes } from 'node:crypto';
import { createMailbox } from '../core/admin/mailboxes.js';
import { startLocalCluster } from './aws-local/cluster.js';

async function main(): Promise<void> {
  const n = Number(process.env.TASKS || 2);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error('TASKS must be 1 to 9');
  console.log(`starting DynamoDB Local, s3rver and ${n} protocol tasks...`);
  const cluster = await startLocalCluster({
    tasks: n,
    ports: 'fixed',
    // The tasks' JSON log lines (warnings and up; LOG_LEVEL=info for more), not their banners.
    onOutput: (task, line) => {
      if (line.startsWith('{')) console.log(`[${task}] ${line}`);
    },
    log: (msg, extra) => console.error(msg, extra ?? ''),
  });
  const address = process.env.DEMO_ADDRESS || 'demo@example.test';
  const password = process.env.DEMO_PASSWORD || randomBytes(9).toString('base64url');
  await createMailbox(cluster.store, { address, password });

  const lines = ['', 'Mail access backend on the AWS adapter (local emulators)', ''];
  lines.push(`  DynamoDB Local  ${cluster.local.dynamodbEndpoint}   tables ${cluster.space.tablePrefix}*`);
  lines.push(`  s3rver          ${cluster.local.s3Endpoint}   bucket ${cluster.space.bucket}`);
  lines.push('');
  for (const t of cluster.tasks) {
    lines.push(
      `  ${t.name}: POP3 ${t.ports.pop3}  POP3S ${t.ports.pop3s}  IMAP ${t.ports.imap}  IMAPS ${t.ports.imaps}  notify ${t.ports.notify}  health ${t.ports.health}`,
    );
  }
  lines.push('', `  Mailbox:  ${address}`, `  Password: ${password}`, '');
  const [a, b] = cluster.tasks;
  if (a && b) {
    lines.push(
      '  Try it: IDLE on one task, append through the other:',
      `    python3 -c "import imaplib,ssl; m=imaplib.IMAP4_SSL('127.0.0.1',${b.ports.imaps},ssl_context=ssl._create_unverified_context()); m.login('${address}','${password}'); m.select('INBOX'); t=m._new_tag().decode(); m.send((t+' IDLE\\r\\n').encode()); [print(m.readline()) for _ in range(3)]"`,
      `    python3 -c "import imaplib,ssl; m=imaplib.IMAP4_SSL('127.0.0.1',${a.ports.imaps},ssl_context=ssl._create_unverified_context()); m.login('${address}','${password}'); print(m.append('INBOX', None, None, b'Subject: hi\\r\\n\\r\\nhello\\r\\n'))"`,
    );
  }
  lines.push('', '  Environment of the tasks (to run more by hand):');
  for (const [k, v] of Object.entries(cluster.env)) if (k !== 'NOTIFY_SECRET') lines.push(`    ${k}=${v}`);
  lines.push('', '  Stop: Ctrl-C', '');
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping...');
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((e) => {
  console.error('start:aws-local failed:', e instanceof Error ? e.message : e);
  process.exit(1);
});
