// idle-fanout Lambda: DynamoDB stream batch of the journal table (or a direct invocation with
// { changes } from the admin API) -> the set of changed mailboxes/settings -> one POST per task.
// Thin: the logic is core/events/fanout.ts.
//
// Environment:
//   NOTIFY_SECRET_ARN     Secrets Manager secret holding the shared notify secret (cloud), or
//   NOTIFY_SECRET         the secret itself (local runs)
//   DISCOVERY_NAMESPACE, DISCOVERY_SERVICE, NOTIFY_PORT
//                         Cloud Map names ECS registers the protocol tasks under (cloud), or
//   NOTIFY_TARGETS        comma-separated notify base URLs (local runs, tests)

import { DiscoverInstancesCommand, ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CloudMapTaskDirectory,
  StaticTaskDirectory,
  TaskNotifier,
  fanOut,
  type FanoutEvent,
  type NotifyResult,
  type TaskDirectory,
} from '../../core/events/fanout.js';

let notifier: TaskNotifier | null = null;

function fromEnv(env: NodeJS.ProcessEnv): TaskNotifier {
  let directory: TaskDirectory;
  if (env.NOTIFY_TARGETS) {
    directory = new StaticTaskDirectory(env.NOTIFY_TARGETS.split(',').map((s) => s.trim()).filter(Boolean));
  } else if (env.DISCOVERY_NAMESPACE && env.DISCOVERY_SERVICE && env.NOTIFY_PORT) {
    directory = new CloudMapTaskDirectory({
      client: new ServiceDiscoveryClient({}),
      command: (input) => new DiscoverInstancesCommand(input),
      namespace: env.DISCOVERY_NAMESPACE,
      service: env.DISCOVERY_SERVICE,
      port: Number(env.NOTIFY_PORT),
    });
  } else {
    throw new Error('set DISCOVERY_NAMESPACE, DISCOVERY_SERVICE and NOTIFY_PORT (or NOTIFY_TARGETS)');
  }
  let secret: string | (() => Promise<string>);
  if (env.NOTIFY_SECRET) secret = env.NOTIFY_SECRET;
  else if (env.NOTIFY_SECRET_ARN) {
    const arn = env.NOTIFY_SECRET_ARN;
    secret = async () => {
      const sm = new SecretsManagerClient({});
      try {
        const r = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
        return r.SecretString ?? '';
      } finally {
        sm.destroy();
      }
    };
  } else throw new Error('set NOTIFY_SECRET_ARN (or NOTIFY_SECRET)');
  return new TaskNotifier({ directory, secret, timeoutMs: Number(env.NOTIFY_TIMEOUT_MS) || 2000 });
}

export async function handler(event: FanoutEvent): Promise<NotifyResult> {
  notifier ??= fromEnv(process.env);
  const result = await fanOut(event, notifier);
  const line = { msg: 'fan-out', changes: result.changes, tasks: result.tasks, delivered: result.delivered, failed: result.failed };
  if (result.failed.length > 0) console.warn(JSON.stringify(line));
  else if (process.env.FANOUT_QUIET !== '1') console.log(JSON.stringify(line));
  return result;
}
