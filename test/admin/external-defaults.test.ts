// The deployment's public hostnames (CDK context -> admin Lambda environment) are what
// clients are told as external connection settings until an administrator sets them.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mailboxConnectionSettings } from '../../core/admin/connection-settings.js';
import type { AdminContext } from '../../core/admin/context.js';
import { createMailbox } from '../../core/admin/mailboxes.js';
import { defaultProtocolSettings } from '../../core/settings/schema.js';
import { openLocalStore } from '../../core/store/local/index.js';
import { connectionListFromEnv } from '../../functions/admin-api/handler.js';

describe('external connection settings defaults', () => {
  it('parses the environment list strictly', () => {
    assert.deepEqual(connectionListFromEnv('mail.example.com:993:SSL, mail.example.com:143:TLS,bogus,:1:SSL'), ['mail.example.com:993:SSL', 'mail.example.com:143:TLS']);
    assert.deepEqual(connectionListFromEnv(undefined), []);
  });

  it('reports the defaults while none are stored, and the stored ones once set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mab-ext-'));
    const store = await openLocalStore(dir);
    try {
      await createMailbox(store, { address: 'eve@example.test', password: 'long enough password' });
      const ctx: AdminContext = {
        store,
        site: 'test',
        frontEnds: () => [],
        externalConnectionDefaults: (p) => connectionListFromEnv(p === 'pop3' ? 'mail.example.com:995:SSL' : 'mail.example.com:993:SSL,mail.example.com:143:TLS'),
      };
      let r = await mailboxConnectionSettings(ctx, 'eve@example.test');
      assert.deepEqual(r.imap4.externalConnectionSettings, [
        { hostname: 'mail.example.com', port: 993, encryptionType: 'SSL' },
        { hostname: 'mail.example.com', port: 143, encryptionType: 'TLS' },
      ]);
      assert.deepEqual(r.pop3.externalConnectionSettings, [{ hostname: 'mail.example.com', port: 995, encryptionType: 'SSL' }]);
      await store.putProtocolSettings('imap4', { ...defaultProtocolSettings('imap4'), externalConnectionSettings: ['imap.example.org:993:SSL'] });
      r = await mailboxConnectionSettings(ctx, 'eve@example.test');
      assert.deepEqual(r.imap4.externalConnectionSettings, [{ hostname: 'imap.example.org', port: 993, encryptionType: 'SSL' }]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
