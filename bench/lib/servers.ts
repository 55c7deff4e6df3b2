// The servers under test, each started and stopped by the bench on loopback ports:
//   - ours: `npm start` equivalent (node --import tsx protocol-tasks/main.ts) as a child
//     process on a fresh DATA_DIR, provisioned through the store before it starts;
//   - Dovecot: a private instance (its own config, base_dir, state_dir, log, passwd-file users
//     and maildir under a temp dir), installed from Debian's packages if missing.
// Both get the same self-signed RSA-2048 certificate, generated for the run.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, scrypt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../core/store/open.js';
import { ensureDefaultFolders } from '../../core/store/default-folders.js';
import { defaultMailboxProtocolSettings, defaultProtocolSettings, type ProtocolName } from '../../core/settings/schema.js';
import type { Store } from '../../core/store/port.js';
import type { Endpoint } from './imap-client.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface BenchUser {
  user: string;
  password: string;
}

export interface ServerUnderTest {
  name: string;
  /** Root pid of the server's process tree (memory and CPU are summed over it). */
  pid: number;
  imap: Endpoint;
  imaps: Endpoint;
  pop3: Endpoint;
  pop3s: Endpoint;
  /** Description of the settings that matter for the comparison. */
  notes: string[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** A self-signed RSA-2048 certificate for 'localhost', made with the openssl CLI. */
export function makeCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3', '-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  chmodSync(keyFile, 0o644); // read by Dovecot's config process; the key is thrown away with the run
  return { certFile, keyFile };
}

// ---- ours ----

/**
 * scrypt hash in the server's stored form at ln=14 (16 MiB, the lowest cost the server
 * accepts; new accounts get ln=17). The bench logs in thousands of times (IDLE phase); at the
 * default cost that alone would take many minutes on two cores. One hash serves every bench
 * account (same password), so provisioning is fast too.
 */
async function benchHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await new Promise<Buffer>((res, rej) =>
    scrypt(Buffer.from(password.normalize('NFC'), 'utf8'), salt, 32, { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (e, k) => (e ? rej(e) : res(k))),
  );
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(key)}`;
}

/**
 * Creates the bench accounts in a store: the first `withDefaultFolders` get the default
 * folders (as createMailbox makes them), the rest only an Inbox (the IDLE phase's users).
 */
export async function createBenchAccounts(store: Store, users: BenchUser[], withDefaultFolders = users.length): Promise<void> {
  const hashes = new Map<string, string>();
  for (const [i, u] of users.entries()) {
    let h = hashes.get(u.password);
    if (!h) hashes.set(u.password, (h = await benchHash(u.password)));
    const acct = await store.createAccount({
      address: u.user,
      passwordHash: h,
      role: 'user',
      pop3: defaultMailboxProtocolSettings(),
      imap4: defaultMailboxProtocolSettings(),
      homeSite: 'local',
    });
    if (i < withDefaultFolders) await ensureDefaultFolders(store, acct.id);
    else await store.createFolder(acct.id, 'INBOX');
  }
}

/** Creates the accounts and allows plain-text login on the plain ports. */
export async function provisionOurs(dataDir: string, users: BenchUser[], withDefaultFolders = users.length): Promise<void> {
  const store = await openStore({ kind: 'local', dataDir });
  try {
    await createBenchAccounts(store, users, withDefaultFolders);
    // Both servers take LOGIN / USER+PASS on their plain ports (Dovecot: disable_plaintext_auth
    // = no), so the phases compare protocol work, not TLS; the IDLE phase measures TLS apart.
    for (const p of ['imap4', 'pop3'] as ProtocolName[]) {
      const cur = await store.getProtocolSettings(p);
      await store.putProtocolSettings(p, { ...(cur?.value ?? defaultProtocolSettings(p)), loginType: 'PlainTextLogin' }, cur?.version);
    }
  } finally {
    await store.close();
  }
}

export interface OursOptions {
  users: BenchUser[];
  /** How many of the users (from the first) get the default folders; the rest an Inbox only. */
  withDefaultFolders?: number;
  cert: { certFile: string; keyFile: string };
  /** Extra node options (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * The script to run instead of `--import tsx protocol-tasks/main.ts` (e.g. the production
   * bundle made by scripts/build-task.mjs).
   */
  entry?: string;
  /** Where the child's stdout/stderr go (a file path), default: discarded. */
  logFile?: string;
  env?: Record<string, string>;
}

export async function startOurs(opts: OursOptions): Promise<ServerUnderTest> {
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-ours-'));
  await provisionOurs(dataDir, opts.users, opts.withDefaultFolders);
  const [imap, imaps, pop3, pop3s] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    BIND_HOST: '127.0.0.1',
    IMAP_PORT: String(imap),
    IMAPS_PORT: String(imaps),
    POP3_PORT: String(pop3),
    POP3S_PORT: String(pop3s),
    DEMO: 'off',
    ADMIN_PORT: 'off',
    TLS_CERT_FILE: opts.cert.certFile,
    TLS_KEY_FILE: opts.cert.keyFile,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL || 'warn',
    ...opts.env,
  };
  delete env.STORE;
  const { openSync } = await import('node:fs');
  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  // What `npm start` runs (tsx protocol-tasks/main.ts), as one process, so that its pid is the
  // server's and not a wrapper's.
  const script = opts.entry ? [opts.entry] : ['--import', 'tsx', 'protocol-tasks/main.ts'];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...script], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', out, out],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  await waitForPort(imaps, child, 'our server');
  await waitForPort(pop3, child, 'our server');
  return {
    name: 'ours',
    pid: child.pid!,
    imap: { host: '127.0.0.1', port: imap, tls: false },
    imaps: { host: '127.0.0.1', port: imaps, tls: true },
    pop3: { host: '127.0.0.1', port: pop3, tls: false },
    pop3s: { host: '127.0.0.1', port: pop3s, tls: true },
    notes: [
      opts.entry ? 'the production bundle (scripts/build-task.mjs, as the image runs it)' : 'tsx protocol-tasks/main.ts (as npm start runs it)',
      'local store (SQLite WAL, each commit fdatasynced before it is acknowledged or shown; fsynced blob files and directories)',
      'login hash scrypt ln=14 (bench accounts; default ln=17)',
      `LOG_LEVEL=${env.LOG_LEVEL}`,
    ],
    async stop() {
      await stopChild(child);
      process.removeListener('exit', killOnExit);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- Dovecot ----

export function findDovecot(): string | null {
  for (const p of ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v dovecot'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/**
 * Installs Debian's dovecot-imapd and dovecot-pop3d when Dovecot is missing (root only). The
 * packages' service is not started (policy-rc.d denies it; if we had to add that file, it is
 * removed again), and if a system Dovecot was started anyway it is stopped: nothing
 * system-wide is left running.
 */
export function ensureDovecot(log: (s: string) => void): string {
  const found = findDovecot();
  if (found && existsSync('/usr/lib/dovecot/pop3') && existsSync('/usr/lib/dovecot/imap')) return found;
  if (process.getuid?.() !== 0) {
    throw new Error('Dovecot is not installed. As root run: apt-get install -y dovecot-imapd dovecot-pop3d (or run this bench as root and it installs them).');
  }
  log('Dovecot not found: installing Debian packages dovecot-imapd and dovecot-pop3d with apt-get (the system service is not started)...');
  const policy = '/usr/sbin/policy-rc.d';
  const addedPolicy = !existsSync(policy);
  if (addedPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'dovecot-imapd', 'dovecot-pop3d'], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'dovecot-imapd', 'dovecot-pop3d'], { stdio: 'inherit', env });
    }
    if (r.status !== 0) throw new Error('apt-get install dovecot-imapd dovecot-pop3d failed');
  } finally {
    if (addedPolicy) spawnSync('rm', ['-f', policy]);
  }
  // Should a system instance have been started regardless, stop it.
  spawnSync('sh', ['-c', 'pidof dovecot >/dev/null && (service dovecot stop || true)'], { stdio: 'ignore' });
  const bin = findDovecot();
  if (!bin) throw new Error('dovecot still not found after installing');
  return bin;
}

export interface DovecotOptions {
  users: BenchUser[];
  cert: { certFile: string; keyFile: string };
  /** Connections the IDLE phase opens (process limits are sized from it). */
  maxConnections: number;
  log: (s: string) => void;
}

export interface DovecotInstance {
  bin: string;
  dir: string;
  version: string;
  /** Starts (or restarts) the daemon with or without IMAP hibernation. */
  start(hibernate: boolean): Promise<ServerUnderTest>;
  /** Stops the daemon if running and removes the temp dir. */
  destroy(): Promise<void>;
}

export async function prepareDovecot(opts: DovecotOptions): Promise<DovecotInstance> {
  const bin = ensureDovecot(opts.log);
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), 'bench-dovecot-'));
  chmodSync(dir, 0o755);
  const root = process.getuid?.() === 0;
  // As root, Dovecot drops privileges: mail processes run as the users' uids (below), the
  // login processes as `dovenull`, internal ones as `dovecot` (both created by the package).
  // As another user it runs everything as that user.
  const me = userInfo();
  const mailUid = root ? uidOf('mail', 8) : me.uid;
  const mailGid = root ? gidOf('mail', 8) : me.gid;
  for (const d of ['run', 'state', 'log', 'mail']) mkdirSync(join(dir, d), { mode: 0o755 });
  // As root, each user gets a uid of its own (system-user style, 20000 + i): the kernel's
  // inotify instance limit is per uid (fs.inotify.max_user_instances, 128 by default) and IDLE
  // and hibernation need an inotify instance per session, so thousands of sessions under one
  // shared uid would fall back to polling and could not hibernate. Each user's uid creates its
  // own home under the sticky, world-writable mail dir.
  if (root) chmodSync(join(dir, 'mail'), 0o1777);
  const passwd = opts.users
    .map((u, i) => `${u.user}:{PLAIN}${u.password}:${root ? 20000 + i : mailUid}:${mailGid}::${join(dir, 'mail', u.user)}::`)
    .join('\n');
  writeFileSync(join(dir, 'passwd'), passwd + '\n', { mode: 0o644 });
  const ports = { imap: await freePort(), imaps: await freePort(), pop3: await freePort(), pop3s: await freePort() };
  const n = opts.maxConnections;
  const procLimit = n + 500;
  const clientLimit = 3 * n + 2000;

  const config = (hibernate: boolean) => `# Private Dovecot for the benchmark (generated; removed after the run).
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/log/dovecot.log
instance_name = bench-${ports.imap}
protocols = imap pop3
listen = 127.0.0.1
${root ? '' : `default_internal_user = ${me.username}\ndefault_login_user = ${me.username}\ndefault_internal_group = ${groupName(me.gid)}\n`}first_valid_uid = ${Math.min(mailUid, 500)}
first_valid_gid = ${Math.min(mailGid, 1)}

ssl = yes
ssl_cert = <${opts.cert.certFile}
ssl_key = <${opts.cert.keyFile}
ssl_min_protocol = TLSv1.2
# Same login rule as ours in the bench: plain-text login allowed on the plain ports.
disable_plaintext_auth = no
auth_mechanisms = plain login

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/passwd
}

mail_location = maildir:~/Maildir
# Durability like ours: a message is fsynced before APPEND answers OK, and index/log
# writes are fsynced too (default is "optimized").
mail_fsync = always
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}

protocol imap {
  mail_max_userip_connections = 100
}
protocol pop3 {
  mail_max_userip_connections = 100
}
default_process_limit = ${procLimit}
default_client_limit = ${clientLimit}
default_vsz_limit = 1G

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${ports.imap}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${ports.imaps}
    ssl = yes
  }
  process_limit = ${procLimit}
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = ${ports.pop3s}
    ssl = yes
  }
}
service imap {
  process_limit = ${procLimit}
}
service anvil {
  client_limit = ${clientLimit}
}
service auth {
  client_limit = ${clientLimit}
}
${
  hibernate
    ? `
# IMAP hibernation: a session idle in IDLE for this long moves to the imap-hibernate process
# and its imap process exits.
imap_hibernate_timeout = 5s
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0660
    group = $default_internal_group
  }
}
service imap {
  unix_listener imap-master {
    user = $default_internal_user
  }
  extra_groups = $default_internal_group
}
`
    : ''
}`;

  let child: ChildProcess | null = null;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stopDaemon = async () => {
    if (child) await stopChild(child, 20_000);
    child = null;
  };

  return {
    bin,
    dir,
    version,
    async start(hibernate: boolean): Promise<ServerUnderTest> {
      await stopDaemon();
      const confFile = join(dir, hibernate ? 'dovecot-hibernate.conf' : 'dovecot.conf');
      writeFileSync(confFile, config(hibernate));
      const check = spawnSync(bin, ['-c', confFile, '-n'], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`dovecot config check failed: ${check.stderr || check.stdout}`);
      const c = spawn(bin, ['-F', '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < 4000) stderr += d.toString();
      });
      child = c;
      try {
        await waitForPort(ports.imap, c, 'dovecot');
        await waitForPort(ports.pop3s, c, 'dovecot');
      } catch (e) {
        const logText = existsSync(join(dir, 'log', 'dovecot.log')) ? readFileSync(join(dir, 'log', 'dovecot.log'), 'utf8').slice(-3000) : '';
        throw new Error(`${(e as Error).message}\n${stderr}\n${logText}`);
      }
      const name = hibernate ? 'dovecot-hibernate' : 'dovecot';
      return {
        name,
        pid: c.pid!,
        imap: { host: '127.0.0.1', port: ports.imap, tls: false },
        imaps: { host: '127.0.0.1', port: ports.imaps, tls: true },
        pop3: { host: '127.0.0.1', port: ports.pop3, tls: false },
        pop3s: { host: '127.0.0.1', port: ports.pop3s, tls: true },
        notes: [
          version,
          'maildir, mail_fsync = always',
          'passwd-file with {PLAIN} passwords',
          'imap-login in its default high-security mode (a process per login; TLS proxied by it)',
          hibernate ? 'imap_hibernate_timeout = 5s' : 'no hibernation (default)',
        ],
        stop: stopDaemon,
      };
    },
    async destroy() {
      await stopDaemon();
      process.removeListener('exit', killOnExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function uidOf(name: string, fallback: number): number {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : fallback;
}
function gidOf(name: string, fallback: number): number {
  const r = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : fallback;
}
function groupName(gid: number): string {
  const r = spawnSync('getent', ['group', String(gid)], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(':')[0]! : String(gid);
}
