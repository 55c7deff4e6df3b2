// A real server process on the AWS adapter (protocol-tasks/main.ts with STORE=aws), on the
// tables and bucket of a space of test/helpers/aws-local.ts, listening on free loopback ports
// (read back from what it prints). For tests that need separate processes: memory of one
// server, several servers sharing DynamoDB Local and s3rver.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsLocal, AwsSpace } from './aws-local.js';

export interface ServerProcess {
  child: ChildProcess;
  ports: { pop3: number; pop3s: number; imap: number; imaps: number };
  /** Everything it printed on stderr (JSON log lines). */
  stderr(): string;
  /** SIGTERM (the server's graceful stop) and wait for the exit. */
  stop(): Promise<void>;
}

export async function startServerProcess(local: AwsLocal, space: AwsSpace, env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mab-awsproc-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'protocol-tasks/main.ts'], {
    env: {
      ...process.env,
      STORE: 'aws',
      BUCKET: space.bucket,
      TABLE_PREFIX: space.tablePrefix,
      AWS_REGION: local.region,
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: local.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: local.s3Endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DATA_DIR: dataDir,
      POP3_PORT: '0',
      POP3S_PORT: '0',
      IMAP_PORT: '0',
      IMAPS_PORT: '0',
      ADMIN_PORT: 'off',
      DEMO: 'off',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  let errOut = '';
  child.stderr!.on('data', (d) => {
    if (errOut.length < 1_000_000) errOut += d;
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 90_000;
  while (!/Stop: Ctrl-C/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`server did not start:\n${out}\n${errOut}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const port = (name: string) => Number(new RegExp(`${name}\\s+127\\.0\\.0\\.1:(\\d+)`).exec(out)![1]);
  return {
    child,
    ports: { pop3: port('POP3'), pop3s: port('POP3S'), imap: port('IMAP'), imaps: port('IMAPS') },
    stderr: () => errOut,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
