// The TLS certificate for STARTTLS and implicit TLS: the operator's files when given
// (TLS_CERT_FILE / TLS_KEY_FILE), otherwise a self-signed one made on first start under
// <dataDir>/tls/ and reused afterwards (remade when unreadable or near expiry).

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

import { generate } from 'selfsigned';

export interface CertificateOptions {
  certFile?: string;
  keyFile?: string;
  /** PEM texts given directly (TLS_CERT_PEM / TLS_KEY_PEM: a Secrets Manager secret in ECS). */
  certPem?: string;
  keyPem?: string;
  dataDir: string;
  /** The server's name, put in the subject and the SAN of a generated certificate. */
  hostname: string;
}

export interface LoadedCertificate {
  /** PEM (chain allowed when read from a file). */
  cert: string;
  /** PEM private key. */
  key: string;
  /** True when the certificate was created by this call. */
  generated: boolean;
  /** True for the self-signed certificate kept under <dataDir>/tls/. */
  selfSigned: boolean;
  /** SHA-256 fingerprint of the (first) certificate, colon-separated hex. */
  fingerprint256: string;
  /** Paths the certificate and key came from or were written to. */
  certPath: string;
  keyPath: string;
  validTo: Date;
}

/** Validity of a generated certificate. */
const GENERATED_DAYS = 825;
/** A generated certificate closer than this to expiry is replaced at start. */
const RENEW_BEFORE_DAYS = 30;
const DAY = 86_400_000;

export async function loadOrCreateCertificate(opts: CertificateOptions): Promise<LoadedCertificate> {
  if (opts.certPem || opts.keyPem) {
    if (!opts.certPem || !opts.keyPem) throw new Error('TLS_CERT_PEM and TLS_KEY_PEM must be given together');
    const checked = check(opts.certPem, opts.keyPem, 'TLS_CERT_PEM', 'TLS_KEY_PEM');
    return { cert: opts.certPem, key: opts.keyPem, generated: false, selfSigned: false, certPath: 'env:TLS_CERT_PEM', keyPath: 'env:TLS_KEY_PEM', ...checked };
  }
  if (opts.certFile || opts.keyFile) return loadFromFiles(opts.certFile, opts.keyFile);
  const dir = join(opts.dataDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const existing = await tryReuse(certPath, keyPath);
  if (existing) return existing;
  return generateInto(dir, certPath, keyPath, opts.hostname);
}

async function loadFromFiles(certFile: string | undefined, keyFile: string | undefined): Promise<LoadedCertificate> {
  if (!certFile || !keyFile) {
    throw new Error('TLS_CERT_FILE and TLS_KEY_FILE must be given together');
  }
  const cert = await readText(certFile, 'certificate');
  const key = await readText(keyFile, 'private key');
  const checked = check(cert, key, certFile, keyFile);
  return { cert, key, generated: false, selfSigned: false, certPath: certFile, keyPath: keyFile, ...checked };
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new Error(`cannot read TLS ${what} file ${path}: ${code}`);
  }
}

/** Parses both PEMs and checks that the key belongs to the certificate. */
function check(cert: string, key: string, certPath: string, keyPath: string) {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new Error(`TLS certificate file ${certPath} holds no valid PEM certificate (${(e as Error).message})`);
  }
  let pk: ReturnType<typeof createPrivateKey>;
  try {
    pk = createPrivateKey(key);
  } catch (e) {
    throw new Error(`TLS key file ${keyPath} holds no valid PEM private key (${(e as Error).message})`);
  }
  if (!x509.checkPrivateKey(pk)) {
    throw new Error(`TLS key file ${keyPath} does not match the certificate in ${certPath}`);
  }
  return { fingerprint256: x509.fingerprint256, validTo: new Date(x509.validTo) };
}

async function tryReuse(certPath: string, keyPath: string): Promise<LoadedCertificate | null> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  } catch {
    return null;
  }
  try {
    const c = check(cert, key, certPath, keyPath);
    if (c.validTo.getTime() - Date.now() < RENEW_BEFORE_DAYS * DAY) return null;
    await chmod(keyPath, 0o600).catch(() => undefined);
    return { cert, key, generated: false, selfSigned: true, certPath, keyPath, ...c };
  } catch {
    return null; // unreadable or mismatched: our own file, so make a new pair
  }
}

async function generateInto(dir: string, certPath: string, keyPath: string, hostname: string): Promise<LoadedCertificate> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = hostname.trim() || 'localhost';
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  if (isIP(name)) {
    if (name !== '127.0.0.1' && name !== '::1') altNames.push({ type: 7, ip: name });
  } else if (name.toLowerCase() !== 'localhost') {
    altNames.push({ type: 2, value: name });
  }
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + GENERATED_DAYS * DAY),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  const checked = check(pems.cert, pems.private, certPath, keyPath);
  // Written to temporary names and renamed, so a crash never leaves half a pair; the key
  // first, so a certificate on disk always has its key beside it.
  const suffix = `.${process.pid}.${now}.tmp`;
  await writeFile(keyPath + suffix, pems.private, { mode: 0o600 });
  await chmod(keyPath + suffix, 0o600);
  await rename(keyPath + suffix, keyPath);
  await writeFile(certPath + suffix, pems.cert, { mode: 0o644 });
  await rename(certPath + suffix, certPath);
  return { cert: pems.cert, key: pems.private, generated: true, selfSigned: true, certPath, keyPath, ...checked };
}
