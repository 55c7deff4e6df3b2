// A start that fails half-way (a port already in use) must undo what it started, so the
// process is left with nothing listening and can report the error and exit.
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { configFromEnv } from '../../protocol-tasks/config.js';
import { startServer } from '../../protocol-tasks/server.js';

describe('a failed start', () => {
  it('rejects with the cause and leaves no listener or open handle behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const dataDir = await mkdtemp(join(tmpdir(), 'mab-fail-'));
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    try {
      const config = configFromEnv({ DATA_DIR: dataDir, POP3_PORT: '0', POP3S_PORT: '0', IMAP_PORT: String(taken), IMAPS_PORT: '0', ADMIN_PORT: '0', DEMO: 'off' });
      await assert.rejects(startServer(config, { logger: pino({ level: 'silent' }) }), /EADDRINUSE/);
      await new Promise((r) => setTimeout(r, 50));
      const after = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
      assert.equal(after, before, 'the POP3 listeners opened before the failure were closed again');
    } finally {
      blocker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
