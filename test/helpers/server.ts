// Starts a complete server in-process on ephemeral loopback ports, on a fresh data dir.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMailbox } from '../../core/admin/mailboxes.js';
import type { ProtocolSettings, ProtocolName } from '../../core/settings/schema.js';
import { configFromEnv, type ServerConfig } from '../../protocol-tasks/config.js';
import { startServer, type RunningServer, type StartOptions } from '../../protocol-tasks/server.js';
import { pino } from 'pino';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Changes a protocol's settings in the store and waits until the server applies them. */
  setSettings(p: ProtocolName, patch: Partial<ProtocolSettings>): Promise<void>;
  stop(): Promise<void>;
}

export const USER = 'alice@example.test';
export const PASSWORD = 'correct horse battery';

export async function startTestServer(opts: StartOptions & { env?: Record<string, string>; user?: boolean } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mab-test-'));
  const config: ServerConfig = configFromEnv({
    DATA_DIR: dataDir,
    POP3_PORT: '0',
    POP3S_PORT: '0',
    IMAP_PORT: '0',
    IMAPS_PORT: '0',
    ADMIN_PORT: '0',
    DEMO: 'off',
    ...opts.env,
  });
  const server = await startServer(config, {
    auth: { failureDelayBaseMs: 10, failureDelayMaxMs: 40, banThreshold: 1_000_000, accountFailureThreshold: 1_000_000, ...opts.auth },
    logger: opts.logger ?? pino({ level: 'silent' }),
    ...opts,
  });
  if (opts.user !== false) await createMailbox(server.store, { address: USER, password: PASSWORD });
  return Object.assign(server, {
    dataDir,
    async setSettings(p: ProtocolName, patch: Partial<ProtocolSettings>) {
      const cur = await server.store.getProtocolSettings(p);
      const value = { ...(cur?.value ?? server.settings.get(p)), ...patch } as ProtocolSettings;
      await server.store.putProtocolSettings(p, value, cur?.version);
      await server.settings.refresh(p);
    },
    async stop() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}
