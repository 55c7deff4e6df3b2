// The admin API's route tests, written once and run over every transport (local HTTP with a
// bearer token: http-api.test.ts; the Lambda with API Gateway REST proxy events:
// lambda.test.ts). Every route: success, validation failures per field, 401 without
// credentials, 404 for unknown mailboxes, and no lost update under concurrent PATCHes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { ROUTES } from '../../core/admin/routes.js';
import { imap4SettingsSchema, pop3SettingsSchema, defaultProtocolSettings, type ProtocolName } from '../../core/settings/schema.js';
import { PASSWORD, USER, startTestServer, type TestServer } from '../helpers/server.js';
import type { ApiResult, Transport } from './transports.js';

function expectError(r: ApiResult, status: number, code: string, field?: string): void {
  assert.equal(r.status, status, `status (${r.text})`);
  const e = r.json().error;
  assert.equal(e.code, code, r.text);
  assert.equal(typeof e.message, 'string');
  if (field !== undefined) {
    assert.equal(e.field, field, r.text);
    assert.ok(e.message.includes(field), `message names ${field}: ${e.message}`);
  }
}

/** Values each field must refuse, from its schema: wrong type, out of range, not one of the choices. */
function badValues(field: string, schema: z.ZodType): unknown[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodBoolean) return ['yes', 1, null];
  if (s instanceof z.ZodNumber) {
    const out: unknown[] = ['10', 1.5, null];
    if (s.minValue !== null && Number.isFinite(s.minValue)) out.push(s.minValue - 1);
    if (s.maxValue !== null && s.maxValue < 2147483647) out.push(s.maxValue + 1);
    return out;
  }
  if (s instanceof z.ZodEnum) return ['Nope', 3];
  if (s instanceof z.ZodArray) return ['a,b', [42], ['not a setting!'], Array(17).fill('h:1:SSL')];
  const specific: Record<string, unknown[]> = {
    banner: ['tab\there', 'x'.repeat(256)],
    owaServerUrl: ['not a url'],
    x509CertificateName: ['x'.repeat(256)],
  };
  return [12, ...(specific[field] ?? [])];
}

const SHAPES: Record<ProtocolName, Record<string, z.ZodType>> = {
  pop3: pop3SettingsSchema.shape as Record<string, z.ZodType>,
  imap4: imap4SettingsSchema.shape as Record<string, z.ZodType>,
};

function parseAutoconfig(xml: string) {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (name) => ['incomingServer', 'domain'].includes(name) }).parse(xml);
  return doc.clientConfig;
}

/** Checks a document against Thunderbird's clientConfig 1.1 format (what its readFromXML requires of incoming servers). */
export function checkAutoconfig(xml: string, domain: string) {
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>/);
  const cc = parseAutoconfig(xml);
  assert.equal(cc['@version'], '1.1');
  const p = cc.emailProvider;
  assert.equal(p['@id'], domain);
  assert.deepEqual(p.domain, [domain]);
  assert.equal(typeof p.displayName, 'string');
  assert.equal(typeof p.displayShortName, 'string');
  assert.ok(Array.isArray(p.incomingServer) && p.incomingServer.length > 0, 'at least one incomingServer');
  for (const s of p.incomingServer) {
    assert.ok(['imap', 'pop3'].includes(s['@type']), `type ${s['@type']}`);
    assert.equal(typeof s.hostname, 'string');
    assert.match(s.hostname, /^[A-Za-z0-9.-]+$/);
    assert.ok(Number.isInteger(s.port) && s.port > 0 && s.port < 65536, `port ${s.port}`);
    assert.ok(['SSL', 'STARTTLS', 'plain'].includes(s.socketType), `socketType ${s.socketType}`);
    assert.equal(s.username, '%EMAILADDRESS%');
    assert.equal(s.authentication, 'password-cleartext');
  }
  return p.incomingServer as Array<{ '@type': string; hostname: string; port: number; socketType: string }>;
}

export function routeSuite(name: string, makeTransport: (server: TestServer) => Transport): void {
  describe(`admin API routes over ${name}`, () => {
    let server: TestServer;
    let api: Transport;
    before(async () => {
      server = await startTestServer();
      api = makeTransport(server);
    });
    after(() => server.stop());

    const mb = (a: string) => `/v1/mailboxes/${a}`;

    it('refuses every authorized route without credentials (401); autoconfig needs none', async () => {
      for (const r of ROUTES) {
        const path = r.path.replace('{address}', USER);
        const res = await api({ method: r.method, path, auth: false, json: r.method === 'GET' || r.method === 'DELETE' ? undefined : {}, query: r.public ? { emailaddress: USER } : undefined });
        if (r.public) assert.equal(res.status, 200, `${r.method} ${path} is public`);
        else expectError(res, 401, 'unauthorized');
      }
      // Nothing changed behind the refusals.
      assert.equal((await api({ method: 'GET', path: mb(USER) })).status, 200);
    });

    it('answers 404 for unknown resources and 405 for a wrong method', async () => {
      expectError(await api({ method: 'GET', path: '/v1/nothing' }), 404, 'not_found');
      expectError(await api({ method: 'GET', path: '/v1/protocols/smtp' }), 404, 'not_found');
      const r = await api({ method: 'DELETE', path: '/v1/protocols/pop3' });
      expectError(r, 405, 'method_not_allowed');
      assert.equal(r.headers.allow, 'GET, PATCH');
    });

    it('GET /v1/openapi.json', async () => {
      const r = await api({ method: 'GET', path: '/v1/openapi.json' });
      assert.equal(r.status, 200);
      const doc = r.json();
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/v1/mailboxes/{address}'].patch);
    });

    for (const p of ['pop3', 'imap4'] as const) {
      it(`GET /v1/protocols/${p}: every setting with Exchange's defaults, version as ETag`, async () => {
        const r = await api({ method: 'GET', path: `/v1/protocols/${p}` });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json(), defaultProtocolSettings(p));
        assert.equal(r.headers.etag, '"0"');
      });

      it(`PATCH /v1/protocols/${p}: changes only the fields given, applied to the running server`, async () => {
        const r = await api({ method: 'PATCH', path: `/v1/protocols/${p}`, json: { banner: `${p} says hello`, maxConnectionsPerUser: 7 } });
        assert.equal(r.status, 200, r.text);
        const s = r.json();
        assert.equal(s.banner, `${p} says hello`);
        assert.equal(s.maxConnectionsPerUser, 7);
        assert.equal(s.maxCommandSize, defaultProtocolSettings(p).maxCommandSize);
        const version = Number(JSON.parse(r.headers.etag!));
        assert.ok(version >= 1);
        assert.equal(server.settings.get(p).banner, `${p} says hello`);
        const again = await api({ method: 'GET', path: `/v1/protocols/${p}` });
        assert.deepEqual(again.json(), s);
        // If-Match: the current version applies, a stale one is refused with 412.
        const ok = await api({ method: 'PATCH', path: `/v1/protocols/${p}`, headers: { 'If-Match': `"${version}"` }, json: { maxConnectionsPerUser: 16 } });
        assert.equal(ok.status, 200, ok.text);
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, headers: { 'If-Match': `"${version}"` }, json: { banner: 'stale' } }), 412, 'precondition_failed');
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, headers: { 'If-Match': 'yesterday' }, json: { banner: 'x' } }), 400, 'invalid', 'If-Match');
        assert.equal(server.settings.get(p).banner, `${p} says hello`);
      });

      it(`PATCH /v1/protocols/${p}: every field refuses bad values, naming the field, and nothing changes`, async () => {
        const before = await api({ method: 'GET', path: `/v1/protocols/${p}` });
        let checked = 0;
        for (const [field, schema] of Object.entries(SHAPES[p])) {
          for (const bad of badValues(field, schema)) {
            const r = await api({ method: 'PATCH', path: `/v1/protocols/${p}`, json: { [field]: bad } });
            assert.equal(r.status, 400, `${field}=${JSON.stringify(bad)} must be refused: ${r.text}`);
            const e = r.json().error;
            assert.equal(e.code, 'invalid');
            assert.ok(e.field === field || e.field.startsWith(`${field}[`), `${field}=${JSON.stringify(bad)} names ${e.field}`);
            checked++;
          }
        }
        assert.ok(checked > 50);
        const other = p === 'pop3' ? 'showHiddenFoldersEnabled' : 'messageRetrievalSortOrder';
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, json: { [other]: true } }), 400, 'invalid', other);
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, json: { banner: 'ok', Banner: 'case matters' } }), 400, 'invalid', 'Banner');
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, json: { calendarItemRetrievalOption: 'Custom' } }), 400, 'invalid', 'owaServerUrl');
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, json: [] }), 400, 'invalid');
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}`, body: '{"banner":' }), 400, 'invalid');
        expectError(await api({ method: 'PATCH', path: `/v1/protocols/${p}` }), 400, 'invalid');
        const after = await api({ method: 'GET', path: `/v1/protocols/${p}` });
        assert.deepEqual(after.json(), before.json());
        assert.equal(after.headers.etag, before.headers.etag);
      });
    }

    it('concurrent PATCHes of /v1/protocols/imap4: every change lands (no lost update)', async () => {
      const start = Number(JSON.parse((await api({ method: 'GET', path: '/v1/protocols/imap4' })).headers.etag!));
      const changes: Array<Record<string, unknown>> = [
        { banner: 'Concurrent banner' },
        { maxConnections: 5000 },
        { maxConnectionFromSingleIp: 400 },
        { maxConnectionsPerUser: 12 },
        { preAuthenticatedConnectionTimeout: 45 },
        { authenticatedConnectionTimeout: 3600 },
        { maxCommandSize: 8192 },
        { proxyTargetPort: 2993 },
        { suppressReadReceipt: true },
        { enableExactRfc822Size: true },
        { showHiddenFoldersEnabled: true },
        { owaServerUrl: 'https://owa.example.test/owa' },
        { x509CertificateName: 'mail.example.test' },
        { externalConnectionSettings: ['mail.example.test:993:SSL'] },
        { messageRetrievalMimeFormat: 'HtmlOnly' },
        { sslBindings: ['0.0.0.0:993', '[::]:993'] },
      ];
      const results = await Promise.all(changes.map((json) => api({ method: 'PATCH', path: '/v1/protocols/imap4', json })));
      for (const r of results) assert.equal(r.status, 200, r.text);
      const final = await api({ method: 'GET', path: '/v1/protocols/imap4' });
      const s = final.json();
      for (const c of changes) for (const [k, v] of Object.entries(c)) assert.deepEqual(s[k], v, k);
      assert.equal(Number(JSON.parse(final.headers.etag!)), start + changes.length);
      assert.deepEqual(server.settings.get('imap4').externalConnectionSettings, ['mail.example.test:993:SSL']);
      // Back to a plain state for the tests after this one.
      const reset = Object.fromEntries(Object.keys(Object.assign({}, ...changes)).map((k) => [k, (defaultProtocolSettings('imap4') as unknown as Record<string, unknown>)[k]]));
      assert.equal((await api({ method: 'PATCH', path: '/v1/protocols/imap4', json: reset })).status, 200);
    });

    it('POST /v1/mailboxes: 201 with Location; per-field refusals; 409 for a duplicate', async () => {
      const r = await api({ method: 'POST', path: '/v1/mailboxes', json: { address: 'Bob@Example.test', password: 'bob password 1', imapEnabled: false, popUseProtocolDefaults: false, popMessagesRetrievalMimeFormat: 'TextOnly' } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.headers.location, '/v1/mailboxes/bob%40example.test');
      const m = r.json();
      assert.equal(m.address, 'bob@example.test');
      assert.equal(m.role, 'user');
      assert.equal(m.homeSite, server.adminContext.site);
      assert.equal(m.popEnabled, true);
      assert.equal(m.imapEnabled, false);
      assert.equal(m.popUseProtocolDefaults, false);
      assert.equal(m.popMessagesRetrievalMimeFormat, 'TextOnly');
      assert.equal(m.imapMessagesRetrievalMimeFormat, 'BestBodyFormat');
      assert.equal('passwordHash' in m || 'password' in m, false);
      const dup = await api({ method: 'POST', path: '/v1/mailboxes', json: { address: 'bob@example.test', password: 'another password' } });
      expectError(dup, 409, 'conflict');
      assert.equal(dup.json().error.field, 'address');
      const bad: Array<[Record<string, unknown>, string]> = [
        [{ password: 'long enough pw' }, 'address'],
        [{ address: 'bob2@example.test' }, 'password'],
        [{ address: 'not an address', password: 'long enough pw' }, 'address'],
        [{ address: 'bob2@example.test', password: 'short' }, 'password'],
        [{ address: 'bob2@example.test', password: 'long enough pw', role: 'root' }, 'role'],
        [{ address: 'bob2@example.test', password: 'long enough pw', homeSite: 'site one' }, 'homeSite'],
        [{ address: 'bob2@example.test', password: 'long enough pw', popEnabled: 'yes' }, 'popEnabled'],
        [{ address: 'bob2@example.test', password: 'long enough pw', imapMessagesRetrievalMimeFormat: 'Tnef' }, 'imapMessagesRetrievalMimeFormat'],
        [{ address: 'bob2@example.test', password: 'long enough pw', quota: 5 }, 'quota'],
      ];
      for (const [json, field] of bad) expectError(await api({ method: 'POST', path: '/v1/mailboxes', json }), 400, 'invalid', field);
      expectError(await api({ method: 'GET', path: mb('bob2@example.test') }), 404, 'not_found');
    });

    it('GET /v1/mailboxes: pages in address order; bad paging parameters refused', async () => {
      for (const a of ['carol', 'dave', 'erin']) {
        assert.equal((await api({ method: 'POST', path: '/v1/mailboxes', json: { address: `${a}@example.test`, password: 'a fine password' } })).status, 201);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await api({ method: 'GET', path: '/v1/mailboxes', query: { limit: '2', ...(cursor ? { cursor } : {}) } });
        assert.equal(r.status, 200, r.text);
        const page = r.json();
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((m: { address: string }) => m.address));
        cursor = page.next;
        pages++;
      } while (cursor && pages < 10);
      assert.deepEqual(seen, [...seen].sort());
      for (const a of ['alice', 'bob', 'carol', 'dave', 'erin']) assert.ok(seen.includes(`${a}@example.test`), a);
      assert.ok(pages >= 3);
      expectError(await api({ method: 'GET', path: '/v1/mailboxes', query: { limit: '0' } }), 400, 'invalid', 'limit');
      expectError(await api({ method: 'GET', path: '/v1/mailboxes', query: { limit: 'many' } }), 400, 'invalid', 'limit');
      expectError(await api({ method: 'GET', path: '/v1/mailboxes', query: { limit: '5000' } }), 400, 'invalid', 'limit');
      expectError(await api({ method: 'GET', path: '/v1/mailboxes', query: { sort: 'desc' } }), 400, 'invalid', 'sort');
    });

    it('GET /v1/mailboxes/{address}: the mailbox, ETag; 404 unknown; 400 not an address', async () => {
      const r = await api({ method: 'GET', path: mb(USER) });
      assert.equal(r.status, 200);
      assert.equal(r.json().address, USER);
      assert.equal(r.headers.etag, `"${r.json().version}"`);
      const encoded = await api({ method: 'GET', path: mb(encodeURIComponent(USER.toUpperCase())) });
      assert.equal(encoded.status, 200);
      expectError(await api({ method: 'GET', path: mb('nobody@example.test') }), 404, 'not_found');
      expectError(await api({ method: 'GET', path: mb('not-an-address') }), 400, 'invalid', 'address');
    });

    it('PATCH /v1/mailboxes/{address}: every field, per-field refusals, 404, If-Match', async () => {
      const a = 'carol@example.test';
      const all = {
        role: 'user',
        homeSite: 'site-b',
        popEnabled: false,
        imapEnabled: true,
        popUseProtocolDefaults: false,
        imapUseProtocolDefaults: false,
        popMessagesRetrievalMimeFormat: 'HtmlOnly',
        imapMessagesRetrievalMimeFormat: 'HtmlAndTextAlternative',
        popEnableExactRfc822Size: true,
        imapEnableExactRfc822Size: true,
        popSuppressReadReceipt: true,
        imapSuppressReadReceipt: true,
        popForceICalForCalendarRetrievalOption: true,
        imapForceICalForCalendarRetrievalOption: true,
      };
      const r = await api({ method: 'PATCH', path: mb(a), json: { ...all, password: 'carol new password' } });
      assert.equal(r.status, 200, r.text);
      const m = r.json();
      for (const [k, v] of Object.entries(all)) assert.deepEqual(m[k], v, k);
      const bad: Array<[Record<string, unknown>, string]> = [
        [{ password: 'short' }, 'password'],
        [{ password: 42 }, 'password'],
        [{ role: 'superuser' }, 'role'],
        [{ homeSite: '' }, 'homeSite'],
        [{ address: 'renamed@example.test' }, 'address'],
        [{ popenabled: true }, 'popenabled'],
      ];
      for (const k of Object.keys(all)) if (k !== 'role' && k !== 'homeSite') bad.push([{ [k]: k.includes('Format') ? 'Tnef' : 'yes' }, k]);
      for (const [json, field] of bad) expectError(await api({ method: 'PATCH', path: mb(a), json }), 400, 'invalid', field);
      // A refused patch changes nothing, even its valid fields.
      expectError(await api({ method: 'PATCH', path: mb(a), json: { popEnabled: true, imapEnabled: 'no' } }), 400, 'invalid', 'imapEnabled');
      const now = await api({ method: 'GET', path: mb(a) });
      assert.equal(now.json().popEnabled, false);
      expectError(await api({ method: 'PATCH', path: mb('nobody@example.test'), json: { popEnabled: true } }), 404, 'not_found');
      const v = now.json().version;
      assert.equal((await api({ method: 'PATCH', path: mb(a), headers: { 'If-Match': `"${v}"` }, json: { popEnabled: true } })).status, 200);
      expectError(await api({ method: 'PATCH', path: mb(a), headers: { 'If-Match': `"${v}"` }, json: { popEnabled: false } }), 412, 'precondition_failed');
    });

    it('concurrent PATCHes of one mailbox: every change lands (no lost update)', async () => {
      const a = 'dave@example.test';
      const start = (await api({ method: 'GET', path: mb(a) })).json().version;
      const changes: Array<Record<string, unknown>> = [
        { popEnabled: false },
        { imapEnabled: false },
        { popUseProtocolDefaults: false },
        { imapUseProtocolDefaults: false },
        { popMessagesRetrievalMimeFormat: 'TextOnly' },
        { imapMessagesRetrievalMimeFormat: 'HtmlOnly' },
        { popEnableExactRfc822Size: true },
        { imapEnableExactRfc822Size: true },
        { popSuppressReadReceipt: true },
        { imapSuppressReadReceipt: true },
        { popForceICalForCalendarRetrievalOption: true },
        { imapForceICalForCalendarRetrievalOption: true },
        { homeSite: 'site-c' },
      ];
      const rs = await Promise.all(changes.map((json) => api({ method: 'PATCH', path: mb(a), json })));
      for (const r of rs) assert.equal(r.status, 200, r.text);
      const m = (await api({ method: 'GET', path: mb(a) })).json();
      for (const c of changes) for (const [k, v] of Object.entries(c)) assert.deepEqual(m[k], v, k);
      assert.equal(m.version, start + changes.length);
    });

    it('DELETE /v1/mailboxes/{address}: 204, then 404', async () => {
      const r = await api({ method: 'DELETE', path: mb('erin@example.test') });
      assert.equal(r.status, 204);
      assert.equal(r.text, '');
      expectError(await api({ method: 'GET', path: mb('erin@example.test') }), 404, 'not_found');
      expectError(await api({ method: 'DELETE', path: mb('erin@example.test') }), 404, 'not_found');
    });

    it('GET /v1/mailboxes/{address}/protocol-settings: where clients connect, per protocol', async () => {
      const r = await api({ method: 'GET', path: `${mb(USER)}/protocol-settings` });
      assert.equal(r.status, 200, r.text);
      const s = r.json();
      assert.equal(s.address, USER);
      // Defaults name standard ports on localhost; the local server reports its real listeners.
      assert.deepEqual(s.imap4.internalConnectionSettings, [
        { hostname: '127.0.0.1', port: server.ports.imaps, encryptionType: 'SSL' },
        { hostname: '127.0.0.1', port: server.ports.imap, encryptionType: 'TLS' },
      ]);
      assert.deepEqual(s.pop3.internalConnectionSettings.map((c: { port: number }) => c.port), [server.ports.pop3s, server.ports.pop3]);
      assert.deepEqual(s.pop3.externalConnectionSettings, []);
      assert.equal(s.pop3.enabled, true);
      assert.equal(s.imap4.loginType, 'SecureLogin');
      // Set by the administrator: reported as set.
      await api({ method: 'PATCH', path: '/v1/protocols/pop3', json: { internalConnectionSettings: ['pop.corp.test:995:SSL'], externalConnectionSettings: ['pop.example.test:995:SSL', 'pop.example.test:110:TLS', 'pop.example.test:1110:'] } });
      const bob = (await api({ method: 'GET', path: `${mb('bob@example.test')}/protocol-settings` })).json();
      assert.deepEqual(bob.pop3.internalConnectionSettings, [{ hostname: 'pop.corp.test', port: 995, encryptionType: 'SSL' }]);
      assert.deepEqual(bob.pop3.externalConnectionSettings[2], { hostname: 'pop.example.test', port: 1110, encryptionType: null });
      assert.equal(bob.imap4.enabled, false, 'bob has IMAP off');
      assert.equal(bob.imap4.mailboxEnabled, false);
      assert.equal(bob.imap4.serviceEnabled, true);
      expectError(await api({ method: 'GET', path: `${mb('nobody@example.test')}/protocol-settings` }), 404, 'not_found');
    });

    it('GET /v1/mailboxes/{address}/folders', async () => {
      const r = await api({ method: 'GET', path: `${mb(USER)}/folders` });
      assert.equal(r.status, 200);
      const names = r.json().items.map((f: { name: string }) => f.name);
      for (const n of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) assert.ok(names.includes(n), n);
      expectError(await api({ method: 'GET', path: `${mb('nobody@example.test')}/folders` }), 404, 'not_found');
    });

    it('POST /v1/mailboxes/{address}/messages: delivers raw bytes to the Inbox', async () => {
      const raw = Buffer.from('From: a@example.test\r\nSubject: =?UTF-8?B?w6k=?=\r\n\r\nbody \xe9\r\n', 'latin1');
      const r = await api({ method: 'POST', path: `${mb(USER)}/messages`, body: raw, contentType: 'message/rfc822' });
      assert.equal(r.status, 201, r.text);
      const d = r.json();
      assert.equal(d.folder, 'INBOX');
      assert.ok(d.uid >= 1);
      const acc = (await server.store.getAccountByAddress(USER))!;
      const inbox = (await server.store.getFolderByName(acc.id, 'INBOX'))!;
      const stored = (await server.store.getMessage(acc.id, inbox.id, d.uid))!;
      assert.deepEqual(await server.store.blobs.get(stored.blobKey), raw);
      expectError(await api({ method: 'POST', path: `${mb('nobody@example.test')}/messages`, body: raw, contentType: 'message/rfc822' }), 404, 'not_found');
      expectError(await api({ method: 'POST', path: `${mb(USER)}/messages`, body: '', contentType: 'message/rfc822' }), 400, 'invalid', 'message');
    });

    it('POST /v1/connectivity-tests: success for a good mailbox; clear errors for a bad password and a stopped service', async () => {
      const good = await api({ method: 'POST', path: '/v1/connectivity-tests', json: { protocol: 'imap4', mailbox: USER, password: PASSWORD, connectionType: 'starttls' } });
      assert.equal(good.status, 200, good.text);
      const [g] = good.json().results;
      assert.equal(g.result, 'Success', g.error);
      assert.equal(g.error, null);
      assert.equal(g.site, server.adminContext.site);
      assert.equal(g.endpoint, `127.0.0.1:${server.ports.imap}`);
      assert.equal(typeof g.server, 'string');
      assert.match(g.scenario, /IMAP4 login over STARTTLS, open the Inbox/);
      assert.ok(Number.isInteger(g.latencyMs) && g.latencyMs >= 0);

      const pop = (await api({ method: 'POST', path: '/v1/connectivity-tests', json: { protocol: 'pop3', mailbox: USER, password: 'wrong password!', connectionType: 'tls', lightMode: true } })).json().results[0];
      assert.equal(pop.result, 'Failure');
      assert.equal(pop.endpoint, `127.0.0.1:${server.ports.pop3s}`);
      assert.match(pop.error, /^login refused: -ERR \[AUTH\] Authentication failed\. — wrong password/);

      const disabled = (await api({ method: 'POST', path: '/v1/connectivity-tests', json: { protocol: 'imap4', mailbox: 'bob@example.test', password: 'bob password 1', lightMode: true } })).json().results[0];
      assert.equal(disabled.result, 'Failure');
      assert.match(disabled.error, /IMAP4 is disabled for this mailbox \(imapEnabled: false\)/);

      const policy = (await api({ method: 'POST', path: '/v1/connectivity-tests', json: { protocol: 'imap4', mailbox: USER, password: PASSWORD, connectionType: 'plain', lightMode: true } })).json().results[0];
      assert.equal(policy.result, 'Failure');
      assert.match(policy.error, /before TLS \(loginType\)/);

      assert.equal((await api({ method: 'PATCH', path: '/v1/protocols/imap4', json: { enabled: false } })).status, 200);
      try {
        const stopped = (await api({ method: 'POST', path: '/v1/connectivity-tests', json: { protocol: 'imap4', mailbox: USER, password: PASSWORD, lightMode: true } })).json().results[0];
        assert.equal(stopped.result, 'Failure');
        assert.match(stopped.error, /cannot connect to 127\.0\.0\.1:\d+: connection refused — the imap4 service is stopped \(enabled: false\)/);
      } finally {
        assert.equal((await api({ method: 'PATCH', path: '/v1/protocols/imap4', json: { enabled: true } })).status, 200);
      }

      const bad: Array<[Record<string, unknown>, string]> = [
        [{ protocol: 'smtp', mailbox: USER, password: PASSWORD }, 'protocol'],
        [{ protocol: 'imap4', mailbox: USER, password: PASSWORD, connectionType: 'ssl' }, 'connectionType'],
        [{ protocol: 'imap4', mailbox: USER }, 'password'],
        [{ protocol: 'imap4', password: PASSWORD }, 'mailbox'],
        [{ protocol: 'imap4', mailbox: USER, password: PASSWORD, lightMode: 'yes' }, 'lightMode'],
        [{ protocol: 'imap4', mailbox: USER, password: PASSWORD, timeoutMs: 5 }, 'timeoutMs'],
        [{ protocol: 'imap4', mailbox: USER, password: PASSWORD, server: 'elsewhere' }, 'server'],
      ];
      for (const [json, field] of bad) expectError(await api({ method: 'POST', path: '/v1/connectivity-tests', json }), 400, 'invalid', field);
    });

    it('GET /mail/config-v1.1.xml: Thunderbird autoconfig from the connection settings, without auth', async () => {
      // pop3's connection settings were set above: external ones are what clients are told.
      const r = await api({ method: 'GET', path: '/mail/config-v1.1.xml', query: { emailaddress: 'Someone@Example.test' }, auth: false });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers['content-type']!, /^application\/xml/);
      const servers = checkAutoconfig(r.text, 'example.test');
      const imap = servers.filter((s) => s['@type'] === 'imap');
      assert.deepEqual(imap.map((s) => [s.hostname, s.port, s.socketType]), [
        ['127.0.0.1', server.ports.imaps, 'SSL'],
        ['127.0.0.1', server.ports.imap, 'STARTTLS'],
      ]);
      // The plain pop3 endpoint is left out while clear-text login is refused (SecureLogin).
      assert.deepEqual(servers.filter((s) => s['@type'] === 'pop3').map((s) => [s.hostname, s.port, s.socketType]), [
        ['pop.example.test', 995, 'SSL'],
        ['pop.example.test', 110, 'STARTTLS'],
      ]);
      assert.equal(servers[0]!['@type'], 'imap', 'IMAP is proposed first');
      await api({ method: 'PATCH', path: '/v1/protocols/pop3', json: { loginType: 'PlainTextLogin' } });
      await api({ method: 'PATCH', path: '/v1/protocols/imap4', json: { enabled: false } });
      try {
        const r2 = await api({ method: 'GET', path: '/.well-known/autoconfig/mail/config-v1.1.xml', query: { emailaddress: 'x@example.test' }, auth: false });
        const s2 = checkAutoconfig(r2.text, 'example.test');
        assert.deepEqual(s2.map((s) => [s['@type'], s.port, s.socketType]), [
          ['pop3', 995, 'SSL'],
          ['pop3', 110, 'STARTTLS'],
          ['pop3', 1110, 'plain'],
        ]);
      } finally {
        await api({ method: 'PATCH', path: '/v1/protocols/imap4', json: { enabled: true } });
        await api({ method: 'PATCH', path: '/v1/protocols/pop3', json: { loginType: 'SecureLogin', internalConnectionSettings: defaultProtocolSettings('pop3').internalConnectionSettings, externalConnectionSettings: [] } });
      }
      expectError(await api({ method: 'GET', path: '/mail/config-v1.1.xml', auth: false }), 400, 'invalid', 'emailaddress');
      expectError(await api({ method: 'GET', path: '/mail/config-v1.1.xml', query: { emailaddress: '<script>' }, auth: false }), 400, 'invalid', 'emailaddress');
    });
  });
}
