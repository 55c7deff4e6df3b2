// Assembles a running mail access server: store, change bus, live settings, access policy,
// TLS material and the protocol services. Used by `npm start` (main.ts) and by the tests,
// which start it in-process on ephemeral ports.

import { mkdir } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { Authenticator, type AuthOptions } from '../core/access/authenticator.js';
import { ensureDemoMailbox } from '../core/admin/demo.js';
import { LocalEventBus, type EventBus } from '../core/events/bus.js';
import { withNotifications } from '../core/events/notifying-store.js';
import { FolderOwners, publishChanges, withFolderOwners } from '../core/events/folder-owners.js';
import { LiveSettings } from '../core/settings/live.js';
import { openStore } from '../core/store/open.js';
import type { Store } from '../core/store/port.js';
import type { ServerConfig } from './config.js';
import { loadOrCreateCertificate } from './net/certificates.js';
import type { ListenerSpec } from './net/types.js';
import { startHealthServer, startNotifyServer, type HttpEndpoint } from './notify/server.js';
import { IMAP_REFUSAL, IMAP_STOP_LINE, startImapSession } from './imap/index.js';
import { POP3_REFUSAL, POP3_STOP_LINE, startPop3Session } from './pop3/index.js';
import type { ProtocolLogEntry } from './protocol-log.js';
import { startProtocolService, type ProtocolService } from './service.js';
import { localAdminContext, startLocalAdmin } from './admin.js';
import type { AdminContext } from '../core/admin/context.js';

export interface RunningServer {
  store: Store;
  bus: EventBus;
  settings: LiveSettings;
  auth: Authenticator;
  pop3: ProtocolService;
  imap4: ProtocolService;
  demo: { address: string; password: string; created: boolean } | null;
  certificate: { generated: boolean; fingerprint256: string };
  /** Bound addresses by name: pop3, pop3s (and imap, imaps; admin when the admin API is served). */
  ports: Record<string, number>;
  /** What the admin operations run against (the same for the HTTP server and, in tests, the Lambda). */
  adminContext: AdminContext;
  /** The admin API over HTTP, unless ADMIN_PORT=off. */
  admin: { url: string; token: string; tokenSource: 'env' | 'file' | 'generated' } | null;
  log: Logger;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Overrides for the access policy (tests use short failure delays). */
  auth?: Partial<AuthOptions>;
  logger?: Logger;
  /** Receives protocol log lines (default: the logger at info level). */
  protocolLog?: (protocol: 'pop3' | 'imap4', entry: ProtocolLogEntry) => void;
  /** IDLE keepalive interval in ms (tests use a short one). */
  idleKeepaliveMs?: number;
  /** NOOP/CHECK/... flood throttle for IMAP sessions (tests use a fast one). */
  pollThrottle?: { burst: number; perSecond: number };
  /** An already-open store (tests); otherwise the local store under dataDir. */
  store?: Store;
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? pino({ level: config.logLevel }, pino.destination(2));
  await mkdir(config.dataDir, { recursive: true });
  const baseStore =
    opts.store ?? (await openStore(config.store?.kind === 'aws' ? config.store : { kind: 'local', dataDir: config.dataDir }));
  // What has been started so far, undone in reverse if a later step fails (a port in use,
  // a bad certificate...), so a failed start leaves nothing listening or open.
  const undo: Array<() => unknown> = opts.store ? [] : [() => baseStore.close()];
  try {
    const bus = new LocalEventBus();
    // With a notify endpoint (cloud: changes made by other tasks arrive from the fan-out), the
    // task remembers which account each folder its sessions read belongs to (folder-owners.ts).
    const owners = config.notifyPort ? new FolderOwners() : null;
    const store = withNotifications(owners ? withFolderOwners(baseStore, owners) : baseStore, bus);
    const settings = await LiveSettings.load(store, bus);
    undo.push(() => settings.close());
    const auth = new Authenticator(store, opts.auth);
    const cert = await loadOrCreateCertificate({
      certFile: config.tlsCertFile,
      keyFile: config.tlsKeyFile,
      certPem: config.tlsCertPem,
      keyPem: config.tlsKeyPem,
      dataDir: config.dataDir,
      hostname: config.hostname,
    });
    const tls = { cert: cert.cert, key: cert.key };
    const demo = config.demo ? await ensureDemoMailbox(store, config.dataDir, config.demoPassword) : null;

    const protocolLog =
      opts.protocolLog ?? ((protocol: string, entry: ProtocolLogEntry) => log.info({ protocolLog: protocol, ...entry }, 'command'));
    const sessionLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) =>
      log[level](extra ?? {}, msg);


    const pop3 = await startProtocolService({
      protocol: 'pop3',
      listeners: listenerSpecs(config.bindHost, config.pop3Port, config.pop3sPort, config.pop3LbTlsPort),
      settings,
      tls,
      trustedProxies: config.trustedProxies,
      refusal: POP3_REFUSAL,
      stopLine: POP3_STOP_LINE,
      startSession: (conn, server) =>
        startPop3Session(conn, server, {
          store,
          bus,
          auth,
          settings: () => settings.get('pop3'),
          protocolLog: (e) => protocolLog('pop3', e),
          log: sessionLog,
        }),
    });
    undo.push(() => pop3.close());
    const imap4 = await startProtocolService({
      protocol: 'imap4',
      listeners: listenerSpecs(config.bindHost, config.imapPort, config.imapsPort, config.imapLbTlsPort),
      settings,
      tls,
      trustedProxies: config.trustedProxies,
      refusal: IMAP_REFUSAL,
      stopLine: IMAP_STOP_LINE,
      startSession: (conn, server) =>
        startImapSession(conn, server, {
          store,
          bus,
          auth,
          settings: () => settings.get('imap4'),
          protocolLog: (e) => protocolLog('imap4', e),
          log: sessionLog,
          idleKeepaliveMs: opts.idleKeepaliveMs,
          pollThrottle: opts.pollThrottle,
        }),
    });
    undo.push(() => imap4.close());

    const ports: Record<string, number> = {};
    const name = { plain: '', tls: 's', 'lb-tls': 'LbTls' } as const;
    for (const a of pop3.server.addresses) ports['pop3' + name[a.kind]] = a.port;
    for (const a of imap4.server.addresses) ports['imap' + name[a.kind]] = a.port;

    const controlHost = config.controlHost ?? config.bindHost;
    let closing = false;
    const endpoints: HttpEndpoint[] = [];
    if (config.notifyPort && owners) {
      const notify = await startNotifyServer({
        host: controlHost,
        port: config.notifyPort,
        secret: config.notifySecret ?? '',
        onChanges: (changes) => publishChanges(bus, owners, changes),
        log: sessionLog,
      });
      endpoints.push(notify);
      undo.push(() => notify.close());
      ports.notify = notify.port;
    }
    if (config.healthPort) {
      const health = await startHealthServer({
        host: controlHost,
        port: config.healthPort,
        ready: () => !closing && (pop3.listening || imap4.listening),
      });
      endpoints.push(health);
      undo.push(() => health.close());
      ports.health = health.port;
    }

    const adminContext = localAdminContext(config, { store, settings, services: { pop3, imap4 }, selfSignedCertificate: cert.generated });
    const admin = await startLocalAdmin(config, adminContext, (msg, extra) => log.error(extra, msg));
    if (admin) ports.admin = admin.port;
    return {
      store,
      bus,
      settings,
      auth,
      pop3,
      imap4,
      demo,
      certificate: { generated: cert.generated, fingerprint256: cert.fingerprint256 },
      ports,
      adminContext,
      admin: admin ? { url: admin.url, token: admin.token, tokenSource: admin.tokenSource } : null,
      log,
      async close() {
        closing = true;
        await admin?.close();
        await Promise.all([pop3.close(), imap4.close()]);
        await Promise.all(endpoints.map((e) => e.close()));
        settings.close();
        await baseStore.close();
      },
    };
  } catch (e) {
    for (const f of undo.reverse()) await Promise.resolve().then(f).catch(() => undefined);
    throw e;
  }
}

/** A plain (STARTTLS) and an implicit-TLS listener, plus the load balancer's TLS-ended port when set. */
function listenerSpecs(host: string, plain: number, tlsPort: number, lbTls: number): ListenerSpec[] {
  const specs: ListenerSpec[] = [
    { host, port: plain, kind: 'plain' },
    { host, port: tlsPort, kind: 'tls' },
  ];
  if (lbTls) specs.push({ host, port: lbTls, kind: 'lb-tls' });
  return specs;
}
