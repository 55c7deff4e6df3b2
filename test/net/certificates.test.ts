// Certificate loading and self-signed generation / reuse.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';

import { generate } from 'selfsigned';

import { loadOrCreateCertificate } from '../../protocol-tasks/net/certificates.js';

describe('loadOrCreateCertificate', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'net-certs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('generates a self-signed certificate on first start, then reuses it', async () => {
    const dataDir = join(dir, 'data');
    const first = await loadOrCreateCertificate({ dataDir, hostname: 'mail.example.test' });
    assert.equal(first.generated, true);
    assert.equal(first.selfSigned, true);
    assert.equal(first.certPath, join(dataDir, 'tls', 'cert.pem'));
    const keyMode = (await stat(first.keyPath)).mode & 0o777;
    assert.equal(keyMode, 0o600);
    const x = new X509Certificate(first.cert);
    assert.equal(x.fingerprint256, first.fingerprint256);
    for (const san of ['DNS:localhost', 'DNS:mail.example.test', 'IP Address:127.0.0.1']) {
      assert.ok(x.subjectAltName?.includes(san), `${san} in ${x.subjectAltName}`);
    }
    assert.match(x.subjectAltName ?? '', /IP Address:(::1|0:0:0:0:0:0:0:1)/);
    assert.ok(new Date(x.validTo).getTime() > Date.now() + 364 * 86_400_000);
    assert.equal(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(first.key)), true);
    // usable as is by Node's TLS
    tls.createSecureContext({ cert: first.cert, key: first.key, minVersion: 'TLSv1.2' });

    const second = await loadOrCreateCertificate({ dataDir, hostname: 'mail.example.test' });
    assert.equal(second.generated, false);
    assert.equal(second.fingerprint256, first.fingerprint256);
    assert.equal(second.key, first.key);
  });

  it('replaces a damaged generated pair', async () => {
    const dataDir = join(dir, 'damaged');
    const first = await loadOrCreateCertificate({ dataDir, hostname: 'h' });
    await writeFile(first.keyPath, 'not a key');
    const again = await loadOrCreateCertificate({ dataDir, hostname: 'h' });
    assert.equal(again.generated, true);
    assert.notEqual(again.fingerprint256, first.fingerprint256);
    assert.notEqual(await readFile(again.keyPath, 'utf8'), 'not a key');
  });

  it('reads operator files, and says clearly what is wrong with them', async () => {
    const a = await generate([{ name: 'commonName', value: 'a.test' }], { keyType: 'ec', algorithm: 'sha256' });
    const b = await generate([{ name: 'commonName', value: 'b.test' }], { keyType: 'ec', algorithm: 'sha256' });
    const certFile = join(dir, 'a.crt');
    const keyFile = join(dir, 'a.key');
    const otherKey = join(dir, 'b.key');
    await writeFile(certFile, a.cert);
    await writeFile(keyFile, a.private);
    await writeFile(otherKey, b.private);

    const ok = await loadOrCreateCertificate({ certFile, keyFile, dataDir: join(dir, 'unused'), hostname: 'x' });
    assert.equal(ok.generated, false);
    assert.equal(ok.selfSigned, false);
    assert.equal(ok.cert, a.cert);
    assert.equal(ok.fingerprint256, new X509Certificate(a.cert).fingerprint256);

    await assert.rejects(
      loadOrCreateCertificate({ certFile, keyFile: otherKey, dataDir: dir, hostname: 'x' }),
      /does not match the certificate/,
    );
    await assert.rejects(
      loadOrCreateCertificate({ certFile: join(dir, 'missing.crt'), keyFile, dataDir: dir, hostname: 'x' }),
      /cannot read TLS certificate file .*missing\.crt: ENOENT/,
    );
    await assert.rejects(
      loadOrCreateCertificate({ certFile: keyFile, keyFile, dataDir: dir, hostname: 'x' }),
      /holds no valid PEM certificate/,
    );
    await assert.rejects(
      loadOrCreateCertificate({ certFile, keyFile: certFile, dataDir: dir, hostname: 'x' }),
      /holds no valid PEM private key/,
    );
    await assert.rejects(
      loadOrCreateCertificate({ certFile, dataDir: dir, hostname: 'x' }),
      /must be given together/,
    );
  });
});
