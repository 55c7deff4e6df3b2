// The OpenAPI document against the route table and the router: the same operations, path
// parameters matching the templates, resolvable references, bodies that are the validation
// schemas, and every documented operation answered by the router.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAdminApi } from '../../core/admin/api.js';
import { openApiDocument } from '../../core/admin/openapi.js';
import { ROUTES } from '../../core/admin/routes.js';
import { imap4SettingsSchema, pop3SettingsSchema } from '../../core/settings/schema.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, any>;

function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  const doc = openApiDocument() as Json;
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('is OpenAPI 3.1 and lists exactly the operations of the route table', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info.title, 'string');
    const documented = Object.entries(doc.paths as Json).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const routed = ROUTES.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual([...documented].sort(), [...routed].sort());
    const ids = ROUTES.map((r) => r.operationId);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    for (const p of ['/v1/protocols/pop3', '/v1/protocols/imap4']) for (const m of ['get', 'patch']) assert.ok(doc.paths[p][m], `${m} ${p}`);
    for (const m of ['get', 'post']) assert.ok(doc.paths['/v1/mailboxes'][m]);
    for (const m of ['get', 'patch', 'delete']) assert.ok(doc.paths['/v1/mailboxes/{address}'][m]);
    assert.ok(doc.paths['/v1/mailboxes/{address}/protocol-settings'].get);
    assert.ok(doc.paths['/v1/mailboxes/{address}/messages'].post);
    assert.ok(doc.paths['/v1/connectivity-tests'].post);
    assert.ok(doc.paths['/v1/openapi.json'].get);
    assert.ok(doc.paths['/mail/config-v1.1.xml'].get);
  });

  it('declares each path template parameter, and only those', () => {
    for (const [p, ops] of Object.entries(doc.paths as Json)) {
      const names = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [m, op] of Object.entries(ops as Json)) {
        const declared = ((op.parameters ?? []) as Json[]).filter((x) => x.in === 'path');
        assert.deepEqual(declared.map((x) => x.name).sort(), names, `${m} ${p}`);
        for (const d of declared) assert.equal(d.required, true);
      }
    }
  });

  it('resolves every $ref; documents errors; autoconfig is public, the rest authorized', () => {
    for (const r of refs(doc)) {
      const m = /^#\/components\/schemas\/(\w+)$/.exec(r);
      assert.ok(m && doc.components.schemas[m[1]!], `unresolved ${r}`);
    }
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { sigv4: [] }]);
    assert.ok(doc.components.securitySchemes.bearerAuth && doc.components.securitySchemes.sigv4);
    for (const r of ROUTES) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      assert.ok(op.responses['400'] && op.responses['500'], r.operationId);
      if (r.public) {
        assert.deepEqual(op.security, []);
        assert.equal(op.responses['401'], undefined);
      } else {
        assert.equal(op.security, undefined);
        assert.ok(op.responses['401'], r.operationId);
      }
      if (r.path.includes('{address}')) assert.ok(op.responses['404'], `${r.operationId} documents 404`);
      for (const st of Object.keys(r.responses)) assert.ok(op.responses[st], `${r.operationId} ${st}`);
    }
    assert.ok(doc.paths['/v1/mailboxes/{address}'].patch.responses['412']);
  });

  it('request bodies are the validation schemas: every setting, no unknown fields', () => {
    const s = doc.components.schemas;
    for (const [name, schema] of [
      ['Pop3SettingsPatch', pop3SettingsSchema],
      ['Imap4SettingsPatch', imap4SettingsSchema],
    ] as const) {
      assert.deepEqual(Object.keys(s[name].properties).sort(), Object.keys(schema.shape).sort(), name);
      assert.equal(s[name].additionalProperties, false);
      assert.equal(s[name].required, undefined, `${name}: nothing required in a PATCH`);
    }
    assert.equal(s.Pop3Settings.properties.maxCommandSize.minimum, 40);
    assert.equal(s.Pop3Settings.properties.maxCommandSize.maximum, 1024);
    assert.equal(s.Imap4Settings.properties.maxCommandSize.minimum, 1024);
    assert.deepEqual(s.Pop3Settings.properties.loginType.enum, ['PlainTextLogin', 'PlainTextAuthentication', 'SecureLogin']);
    assert.deepEqual(s.MailboxCreate.required.sort(), ['address', 'password']);
    assert.equal(s.MailboxPatch.additionalProperties, false);
    for (const f of ['popEnabled', 'imapEnabled', 'popUseProtocolDefaults', 'imapUseProtocolDefaults', 'popMessagesRetrievalMimeFormat', 'imapForceICalForCalendarRetrievalOption']) {
      assert.ok(s.MailboxPatch.properties[f], f);
      assert.ok(s.Mailbox.properties[f], f);
    }
    assert.deepEqual(s.ConnectivityTest.properties.connectionType.enum, ['plain', 'tls', 'starttls']);
    for (const f of ['server', 'site', 'scenario', 'result', 'latencyMs', 'error']) assert.ok(s.ConnectivityReport.properties.results.items.properties[f], f);
    const q = (doc.paths['/mail/config-v1.1.xml'].get.parameters as Json[]).find((x) => x.name === 'emailaddress');
    assert.equal(q?.required, true);
    assert.ok(doc.paths['/v1/mailboxes/{address}/messages'].post.requestBody.content['message/rfc822']);
  });

  it('the router answers every documented operation (no unknown route, no wrong method)', async () => {
    const api = createAdminApi(server.adminContext, { authorize: () => true });
    for (const [p, ops] of Object.entries(doc.paths as Json)) {
      for (const m of Object.keys(ops as Json)) {
        const path = p.replace('{address}', 'nobody@example.test');
        const r = await api({ method: m, path, query: { emailaddress: 'a@example.test' }, body: m === 'get' || m === 'delete' ? null : '{}' });
        const err = r.status >= 400 ? JSON.parse(String(r.body)).error : null;
        assert.notEqual(r.status, 405, `${m} ${p}`);
        assert.ok(!(r.status === 404 && /no such resource/.test(err?.message)), `${m} ${p} is routed`);
        if (p.includes('{address}')) assert.ok(r.status === 404 || r.status === 400, `${m} ${p}: ${r.status}`);
      }
    }
    const served = await api({ method: 'GET', path: '/v1/openapi.json' });
    assert.deepEqual(JSON.parse(String(served.body)), JSON.parse(JSON.stringify(doc)));
  });
});
