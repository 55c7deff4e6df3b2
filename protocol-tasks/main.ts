// `npm start`: the mail access server on the embedded store, with a demo mailbox.
import { resolve } from 'node:path';
import { startupBanner } from './banner.js';
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
  const lines = startupBanner({
    title: 'Mail access server running (embedded store in ' + resolve(config.dataDir) + ')',
    host,
    ports: server.ports,
    demo: server.demo,
    certificate: {
      fingerprint256: server.certificate.fingerprint256,
      note: server.certificate.generated ? 'self-signed (generated in DATA_DIR/tls); accept it in your client' : 'from TLS_CERT_FILE',
    },
    admin: server.admin,
  });
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
