// The admin API as the Lambda: the shared route tests, each request an API Gateway REST API
// proxy event (IAM-authorized /{proxy+} resource; public autoconfig resources).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { routeSuite } from './route-suite.js';
import { lambdaTransport, restProxyEvent } from './transports.js';

routeSuite('the Lambda handler', lambdaTransport);

describe('admin-api Lambda from its environment', () => {
  it('opens the store named by STORE/DATA_DIR and serves a stage-prefixed proxy event', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mab-lambda-'));
    const saved = { STORE: process.env.STORE, DATA_DIR: process.env.DATA_DIR, FANOUT_FUNCTION_NAME: process.env.FANOUT_FUNCTION_NAME };
    process.env.STORE = 'local';
    process.env.DATA_DIR = dir;
    delete process.env.FANOUT_FUNCTION_NAME;
    try {
      const { handler } = await import('../../functions/admin-api/handler.js');
      const created = await handler(restProxyEvent({ method: 'POST', path: '/v1/mailboxes', json: { address: 'zoe@example.test', password: 'zoe password 1' } }));
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(JSON.parse(created.body).homeSite, 'aws');
      const got = await handler(restProxyEvent({ method: 'GET', path: '/v1/mailboxes/zoe@example.test' }, { stage: 'v2' }));
      assert.equal(got.statusCode, 200);
      assert.equal(got.isBase64Encoded, false);
      const unsigned = await handler(restProxyEvent({ method: 'GET', path: '/v1/protocols/pop3', auth: false }));
      assert.equal(unsigned.statusCode, 401);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
