// `npm start`: the mail access server on the embedded store, with a demo mailbox.
import { resolve } from 'node:path';
import { configFromEnv } from './config.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = configFromEnv();
  } catch (e) {
    console.error(`configuration error: ${(e as Error).message}`);
    process.exit(2);
  }
  const server = await startServer(config);
  const host = config.bindHost;
  const lines = [
    '',
    'Mail access server running (embedded store in ' + resolve(config.dataDir) + ')',
    '',
    `  POP3   ${host}:${server.ports.pop3}   (plain, STLS required before login)`,
    `  POP3S  ${host}:${server.ports.pop3s}   (implicit TLS)`,
  ];
  if (server.ports.imap) {
    lines.push(`  IMAP   ${host}:${server.ports.imap}   (plain, STARTTLS required before login)`);
    lines.push(`  IMAPS  ${host}:${server.ports.imaps}   (implicit TLS)`);
  }
  if (server.demo) {
    lines.push('', `  Mailbox:  ${server.demo.address}`, `  Password: ${server.demo.password}`);
  }
  lines.push(
    '',
    `  TLS certificate: ${server.certificate.generated ? 'self-signed (generated in DATA_DIR/tls); accept it in your client' : 'from TLS_CERT_FILE'}`,
    `  SHA-256 fingerprint: ${server.certificate.fingerprint256}`,
    '',
    '  Try it:',
    `    python3 -c "import poplib,ssl; p=poplib.POP3_SSL('${host}',${server.ports.pop3s},context=ssl._create_unverified_context()); p.user('${server.demo?.address ?? '<address>'}'); p.pass_('${server.demo?.password ?? '<password>'}'); print(p.stat())"`,
    `    python3 -c "import imaplib,ssl; m=imaplib.IMAP4_SSL('${host}',${server.ports.imaps},ssl_context=ssl._create_unverified_context()); m.login('${server.demo?.address ?? '<address>'}','${server.demo?.password ?? '<password>'}'); print(m.select('INBOX'))"`,
    '  Or point Thunderbird at it: IMAP server ' + host + ', port ' + server.ports.imaps + ', SSL/TLS, normal password.',
    '',
    ...(server.admin
      ? [
          `  Admin API: ${server.admin.url}/v1/openapi.json   (Authorization: Bearer <token>)`,
          server.admin.tokenSource === 'env' ? '  Admin token: the value of ADMIN_TOKEN' : `  Admin token: ${server.admin.token}   (kept in DATA_DIR/admin-token.txt; mailctl reads it there)`,
          '',
        ]
      : []),
    '  Manage mailboxes: npx mailctl --help      Stop: Ctrl-C',
    '',
  );
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e) => {
  console.error('failed to start:', e instanceof Error ? e.message : e);
  process.exit(1);
});
