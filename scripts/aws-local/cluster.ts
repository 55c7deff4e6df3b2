// The cloud path on one machine: DynamoDB Local + s3rver (test/helpers/aws-local.ts), tables
// and bucket from tables.ts, N protocol task processes on the AWS adapter (STORE=aws), each
// with its notify endpoint, and a stream poller feeding the journal table's stream to the real
// idle-fanout handler, which posts to every task. Used by `npm run start:aws-local` and by
// test/events/two-tasks.test.ts. Everything binds 127.0.0.1.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsStore } from '../../core/store/aws/store.js';
import { freePort, startAwsLocal, type AwsLocal, type AwsSpace } from '../../test/helpers/aws-local.js';
import { StreamPoller } from './stream-poller.js';

export interface TaskPorts {
  pop3: number;
  pop3s: number;
  imap: number;
  imaps: number;
  notify: number;
  health: number;
}

export interface LocalTask {
  name: string;
  ports: TaskPorts;
  process: ChildProcess;
  /** Ends the process (SIGTERM: the server's graceful drain) and waits for it. */
  stop(): Promise<void>;
}

export interface LocalCluster {
  local: AwsLocal;
  space: AwsSpace;
  /** A store on the same tables (administration, test set-up). */
  store: AwsStore;
  tasks: LocalTask[];
  poller: StreamPoller;
  /** The environment every task got (store, endpoints, credentials). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  tasks: number;
  /** Fixed ports (task i adds 1000 * i to 1110/1995/1143/1993/8025/8026), or free ones. */
  ports: 'fixed' | 'free';
  /** How to run a task: argv after `node` (default: tsx on protocol-tasks/main.ts). */
  command?: string[];
  /** Receives each line a task prints (default: its own stdout/stderr). */
  onOutput?: (task: string, line: string) => void;
  /** Stream poll interval (ms). */
  pollIntervalMs?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

async function portsFor(i: number, mode: 'fixed' | 'free'): Promise<TaskPorts> {
  if (mode === 'fixed') {
    const o = 1000 * i;
    return { pop3: 1110 + o, pop3s: 1995 + o, imap: 1143 + o, imaps: 1993 + o, notify: 8025 + o, health: 8026 + o };
  }
  const p = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  if (new Set(p).size !== p.length) return portsFor(i, mode);
  return { pop3: p[0]!, pop3s: p[1]!, imap: p[2]!, imaps: p[3]!, notify: p[4]!, health: p[5]! };
}

async function waitHealthy(task: LocalTask, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let exited = false;
  task.process.once('exit', () => (exited = true));
  while (Date.now() < until && !exited) {
    try {
      const r = await fetch(`http://127.0.0.1:${task.ports.health}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${task.name} did not become healthy${exited ? ' (it exited)' : ''}`);
}

export async function startLocalCluster(opts: ClusterOptions): Promise<LocalCluster> {
  const local = await startAwsLocal();
  const cleanups: Array<() => Promise<void>> = [() => local.stop()];
  try {
    const space = await local.createSpace();
    const secret = randomBytes(24).toString('hex');
    const env: Record<string, string> = {
      STORE: 'aws',
      BUCKET: space.bucket,
      TABLE_PREFIX: space.tablePrefix,
      AWS_REGION: local.region,
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: local.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: local.s3Endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      NOTIFY_SECRET: secret,
    };
    const store = new AwsStore({
      names: space.names,
      bucket: space.bucket,
      region: local.region,
      credentials: local.credentials,
      dynamodb: local.ddb,
      s3: local.s3,
      conditionalPut: false,
    });
    cleanups.push(() => store.close());

    const command = opts.command ?? ['--import', 'tsx', 'protocol-tasks/main.ts'];
    const tasks: LocalTask[] = [];
    for (let i = 0; i < opts.tasks; i++) {
      const name = `task${String.fromCharCode(65 + i)}`;
      const ports = await portsFor(i, opts.ports);
      const dataDir = await mkdtemp(join(tmpdir(), `mail-${name}-`));
      const child = spawn(process.execPath, command, {
        env: {
          ...process.env,
          ...env,
          DATA_DIR: dataDir,
          BIND_HOST: '127.0.0.1',
          POP3_PORT: String(ports.pop3),
          POP3S_PORT: String(ports.pop3s),
          IMAP_PORT: String(ports.imap),
          IMAPS_PORT: String(ports.imaps),
          NOTIFY_PORT: String(ports.notify),
          HEALTH_PORT: String(ports.health),
          SITE_NAME: 'local',
          DEMO: 'off',
          ADMIN_PORT: 'off',
          LOG_LEVEL: process.env.LOG_LEVEL || 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      for (const stream of [child.stdout!, child.stderr!]) {
        let buf = '';
        stream.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (opts.onOutput) opts.onOutput(name, line);
            else process.stdout.write(`[${name}] ${line}\n`);
          }
        });
      }
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const task: LocalTask = {
        name,
        ports,
        process: child,
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
      tasks.push(task);
      cleanups.push(() => task.stop());
    }
    await Promise.all(tasks.map((t) => waitHealthy(t, 60_000)));

    // The real fan-out handler, configured as in the cloud except for discovery: the tasks'
    // notify URLs instead of Cloud Map.
    process.env.NOTIFY_TARGETS = tasks.map((t) => `http://127.0.0.1:${t.ports.notify}`).join(',');
    process.env.NOTIFY_SECRET = secret;
    process.env.FANOUT_QUIET ??= '1';
    const { handler } = await import('../../functions/idle-fanout/handler.js');
    const poller = new StreamPoller({
      ddb: local.ddb,
      endpoint: local.dynamodbEndpoint,
      region: local.region,
      credentials: local.credentials,
      tableName: space.names.journal,
      handler,
      intervalMs: opts.pollIntervalMs ?? 100,
      log: opts.log,
    });
    await poller.start();
    cleanups.push(() => poller.stop());

    let stopped = false;
    return {
      local,
      space,
      store,
      tasks,
      poller,
      env,
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    throw e;
  }
}
