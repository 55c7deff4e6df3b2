// mailctl as a script would use it: a real process talking to a running server's admin API
// (found the way `npm start` users find it: DATA_DIR for the token, ADMIN_PORT for the port),
// exit codes and --json.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = new URL('../../bin/mailctl.js', import.meta.url).pathname;

let server: TestServer;

function mailctl(dataDir: string, args: string[], input?: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, ADMIN_PORT: String(server.ports.admin) };
  delete base.ADMIN_TOKEN;
  delete base.ADMIN_URL;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: unknown }).code as unknown as number) ?? 1 : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

describe('mailctl', () => {
  let dir: string;
  before(async () => {
    server = await startTestServer({ user: false });
    dir = server.dataDir;
  });
  after(() => server.stop());

  it('adds a mailbox with a generated password and lists it', async () => {
    const r = await mailctl(dir, ['add', 'Carol@Example.test']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created carol@example.test\npassword: \S{12,}/);
    const l = await mailctl(dir, ['--json', 'list']);
    assert.equal(l.code, 0);
    const rows = JSON.parse(l.stdout);
    assert.deepEqual(rows.map((x: { address: string }) => x.address), ['carol@example.test']);
    assert.equal(rows[0].popEnabled, true);
    const f = await mailctl(dir, ['folders', 'carol@example.test']);
    assert.match(f.stdout, /INBOX[\s\S]*Sent\s+\\Sent[\s\S]*Trash\s+\\Trash/);
  });

  it('exit codes: 4 for a duplicate, 3 for an unknown mailbox, 2 for bad input', async () => {
    assert.equal((await mailctl(dir, ['add', 'carol@example.test', '--password', 'long enough pw'])).code, 4);
    const unknown = await mailctl(dir, ['passwd', 'nobody@example.test', '--password', 'long enough pw']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no mailbox nobody@example.test/);
    const bad = await mailctl(dir, ['add', 'not an address', '--password', 'long enough pw']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid mailbox address/);
    assert.equal((await mailctl(dir, ['add', 'dave@example.test', '--password', 'short'])).code, 2);
    assert.equal((await mailctl(dir, ['set', 'carol@example.test', '--pop', 'maybe'])).code, 2);
    assert.equal((await mailctl(dir, ['frobnicate'])).code, 2);
  });

  it('sets role and protocol flags, password from stdin, delivers from a file and stdin, removes', async () => {
    const set = await mailctl(dir, ['--json', 'set', 'carol@example.test', '--pop', 'off', '--role', 'admin']);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), { ...JSON.parse(set.stdout), popEnabled: false, imapEnabled: true, role: 'admin' });
    assert.equal((await mailctl(dir, ['passwd', 'carol@example.test', '--password-stdin'], 'a new secret pw\n')).code, 0);
    const file = join(dir, 'm.eml');
    await writeFile(file, 'Subject: hi\n\nhello\n');
    const d1 = await mailctl(dir, ['deliver', 'carol@example.test', file]);
    assert.equal(d1.code, 0, d1.stderr);
    assert.match(d1.stdout, /UID 1$/m);
    const d2 = await mailctl(dir, ['--json', 'deliver', 'carol@example.test'], 'Subject: two\r\n\r\nbody\r\n');
    assert.equal(JSON.parse(d2.stdout).uid, 2);
    const missing = await mailctl(dir, ['deliver', 'carol@example.test', join(dir, 'nope.eml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file/);
    const f = await mailctl(dir, ['--json', 'folders', 'carol@example.test']);
    assert.equal(JSON.parse(f.stdout).find((x: { name: string }) => x.name === 'INBOX').messages, 2);
    assert.equal((await mailctl(dir, ['remove', 'carol@example.test'])).code, 0);
    assert.equal((await mailctl(dir, ['show', 'carol@example.test'])).code, 3);
  });

  it('protocol services: show, set (per-field refusals exit 2), stop and start', async () => {
    const show = await mailctl(dir, ['--json', 'protocol', 'show', 'imap4']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal(JSON.parse(show.stdout).banner, 'The IMAP4 service is ready.');
    const set = await mailctl(dir, ['--json', 'protocol', 'set', 'imap4', '--banner', 'Ready when you are.', '--max-connections-per-user', '5', '--external-connection-settings', 'mail.example.test:993:SSL']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).maxConnectionsPerUser, 5);
    assert.equal(server.settings.get('imap4').banner, 'Ready when you are.');
    const human = await mailctl(dir, ['protocol', 'show', 'imap4']);
    assert.match(human.stdout, /banner\s+Ready when you are\.\n/);
    const low = await mailctl(dir, ['protocol', 'set', 'pop3', '--max-command-size', '12']);
    assert.equal(low.code, 2);
    assert.match(low.stderr, /maxCommandSize: must be at least 40/);
    const wrongProto = await mailctl(dir, ['protocol', 'set', 'imap4', '--message-retrieval-sort-order', 'Descending']);
    assert.equal(wrongProto.code, 2);
    assert.match(wrongProto.stderr, /unknown field 'messageRetrievalSortOrder'/);
    assert.equal((await mailctl(dir, ['protocol', 'set', 'pop3', '--login-type', 'Sometimes'])).code, 2);
    assert.equal((await mailctl(dir, ['protocol', 'set', 'pop3'])).code, 2);
    assert.equal((await mailctl(dir, ['protocol', 'show', 'smtp'])).code, 2);
    assert.equal((await mailctl(dir, ['protocol', 'stop', 'pop3'])).code, 0);
    assert.equal(server.pop3.listening, false);
    assert.equal((await mailctl(dir, ['protocol', 'start', 'pop3'])).code, 0);
    assert.equal(server.pop3.listening, true);
    const stale = await mailctl(dir, ['protocol', 'set', 'pop3', '--banner', 'x', '--if-match', '1']);
    assert.equal(stale.code, 4, stale.stderr);
  });

  it('mailbox overrides, connection settings, connectivity test, autoconfig and the OpenAPI document', async () => {
    assert.equal((await mailctl(dir, ['add', 'erin@example.test', '--password', 'erin secret pw'])).code, 0);
    const set = await mailctl(dir, ['--json', 'set', 'erin@example.test', '--imap-use-protocol-defaults', 'off', '--imap-messages-retrieval-mime-format', 'TextOnly', '--pop-suppress-read-receipt', 'on']);
    assert.equal(set.code, 0, set.stderr);
    const m = JSON.parse(set.stdout);
    assert.equal(m.imapUseProtocolDefaults, false);
    assert.equal(m.imapMessagesRetrievalMimeFormat, 'TextOnly');
    assert.equal(m.popSuppressReadReceipt, true);
    assert.equal((await mailctl(dir, ['set', 'erin@example.test', '--imap-use-protocol-defaults', 'perhaps'])).code, 2);
    const shown = await mailctl(dir, ['show', 'erin@example.test']);
    assert.match(shown.stdout, /imapMessagesRetrievalMimeFormat\s+TextOnly/);

    const ps = await mailctl(dir, ['--json', 'protocol-settings', 'erin@example.test']);
    assert.equal(ps.code, 0, ps.stderr);
    const conn = JSON.parse(ps.stdout);
    assert.deepEqual(conn.imap4.externalConnectionSettings, [{ hostname: 'mail.example.test', port: 993, encryptionType: 'SSL' }]);
    assert.ok(conn.pop3.internalConnectionSettings.some((c: { port: number }) => c.port === server.ports.pop3s));

    const good = await mailctl(dir, ['test-connectivity', 'erin@example.test', '--protocol', 'pop3', '--password-stdin', '--light-mode'], 'erin secret pw\n');
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /Success/);
    const bad = await mailctl(dir, ['--json', 'test-connectivity', 'erin@example.test', '--protocol', 'imap4', '--connection-type', 'starttls', '--password', 'not the password']);
    assert.equal(bad.code, 1);
    const r = JSON.parse(bad.stdout).results[0];
    assert.equal(r.result, 'Failure');
    assert.match(r.error, /login refused.*wrong password/);
    assert.equal((await mailctl(dir, ['test-connectivity', 'erin@example.test'])).code, 2);

    const xml = await mailctl(dir, ['autoconfig', 'erin@example.test']);
    assert.equal(xml.code, 0, xml.stderr);
    assert.match(xml.stdout, /<incomingServer type="imap">\s*<hostname>mail\.example\.test<\/hostname>\s*<port>993<\/port>\s*<socketType>SSL<\/socketType>/);
    const doc = await mailctl(dir, ['openapi']);
    assert.equal(JSON.parse(doc.stdout).openapi, '3.1.0');
  });

  it('finds the API by --url and --token; a wrong token or no server is a failure (1)', async () => {
    const url = server.admin!.url;
    const explicit = await mailctl('/nonexistent', ['--url', url, '--token', server.admin!.token, '--json', 'list']);
    assert.equal(explicit.code, 0, explicit.stderr);
    const byDataDir = await mailctl(dir, ['--json', 'list'], undefined, { ADMIN_PORT: '' });
    assert.equal(byDataDir.code, 0, `DATA_DIR/admin-url.txt names the running server: ${byDataDir.stderr}`);
    const byEnv = await mailctl('/nonexistent', ['--json', 'list'], undefined, { ADMIN_URL: url, ADMIN_TOKEN: server.admin!.token });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    const wrong = await mailctl(dir, ['--token', 'wrong-token', 'list']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /authorization required/);
    const none = await mailctl(dir, ['--url', 'http://127.0.0.1:1', 'list']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /cannot reach the admin API/);
  });

  it('signs with SigV4 from the AWS credential chain, over exactly what it sends', async () => {
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const { Sha256 } = await import('@aws-crypto/sha256-js');
    const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }> = [];
    const capture = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(req.method === 'GET' ? '{"items":[]}' : '{"address":"zed@example.test","role":"user","popEnabled":true,"imapEnabled":true,"homeSite":"x","createdAt":"now"}');
      });
    });
    await new Promise<void>((r) => capture.listen(0, '127.0.0.1', () => r()));
    const port = (capture.address() as AddressInfo).port;
    const creds = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', AWS_SESSION_TOKEN: '', AWS_EC2_METADATA_DISABLED: 'true', AWS_PROFILE: '', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
    try {
      const base = `http://127.0.0.1:${port}/prod`;
      assert.equal((await mailctl('/nonexistent', ['--url', base, '--sigv4', '--region', 'eu-west-1', 'list'], undefined, creds)).code, 0);
      const set = await mailctl('/nonexistent', ['--url', base, '--sigv4', '--region', 'eu-west-1', 'set', 'zed@example.test', '--pop', 'off'], undefined, creds);
      assert.equal(set.code, 0, set.stderr);
      assert.equal(seen.length, 2);
      const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials: { accessKeyId: creds.AWS_ACCESS_KEY_ID, secretAccessKey: creds.AWS_SECRET_ACCESS_KEY }, sha256: Sha256 });
      for (const req of seen) {
        const auth = String(req.headers.authorization);
        assert.match(auth, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
        const signedNames = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
        const headers: Record<string, string> = {};
        for (const n of signedNames) headers[n] = String(req.headers[n]);
        const u = new URL(req.url, `http://127.0.0.1:${port}`);
        const amzDate = String(req.headers['x-amz-date']);
        const when = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
        const again = await signer.sign(
          { method: req.method, protocol: 'http:', hostname: '127.0.0.1', port, path: u.pathname, query: Object.fromEntries(u.searchParams), headers, body: req.body.length ? req.body : undefined },
          { signingDate: when },
        );
        assert.equal(again.headers.authorization, auth, `signature of ${req.method} ${req.url}`);
      }
      assert.equal(seen[1]!.url, '/prod/v1/mailboxes/zed@example.test');
      assert.deepEqual(JSON.parse(seen[1]!.body.toString()), { popEnabled: false });
    } finally {
      capture.close();
    }
  });
});
