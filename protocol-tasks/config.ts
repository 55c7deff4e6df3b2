// Process settings from environment variables (DESIGN.md §6), with documented defaults.
// Administrator settings (banner, limits, login policy...) live in the store, not here.

import { storeSelectionFromEnv, type StoreSelection } from '../core/store/open.js';

export interface ServerConfig {
  dataDir: string;
  bindHost: string;
  pop3Port: number;
  pop3sPort: number;
  imapPort: number;
  imapsPort: number;
  /** Plain ports reached only by a TLS-terminating load balancer (0 = none). */
  pop3LbTlsPort: number;
  imapLbTlsPort: number;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  trustedProxies: string[];
  siteName: string;
  hostname: string;
  demoPassword?: string;
  /** Create the demo mailbox on first start. */
  demo: boolean;
  logLevel: string;
  /** Which store (STORE, and its variables: see core/store/open.ts). Default: local under dataDir. */
  store?: StoreSelection;
  /** Port of the change-notice endpoint the fan-out posts to (0 = off). Needs notifySecret. */
  notifyPort?: number;
  notifySecret?: string;
  /** Address the notify and health endpoints bind (default: bindHost). */
  controlHost?: string;
  /** Port of GET /healthz for load balancer and container health checks (0 = off). */
  healthPort?: number;
  /** PEM certificate chain and key given in the environment (a Secrets Manager secret in ECS). */
  tlsCertPem?: string;
  tlsKeyPem?: string;
  /** Admin API over HTTP (npm start): port (0 = any free one), or null when ADMIN_PORT=off. */
  adminPort?: number | null;
  /** Address the admin API binds (default 127.0.0.1). */
  adminHost?: string;
  /** Bearer token of the admin API; when unset, generated once and kept in DATA_DIR/admin-token.txt. */
  adminToken?: string;
}

function port(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const v = env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (0-65535), got '${v}'`);
  return n;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const store = storeSelectionFromEnv(env);
  return {
    dataDir: env.DATA_DIR || './.data',
    bindHost: env.BIND_HOST || '127.0.0.1',
    pop3Port: port(env, 'POP3_PORT', 1110),
    pop3sPort: port(env, 'POP3S_PORT', 1995),
    imapPort: port(env, 'IMAP_PORT', 1143),
    imapsPort: port(env, 'IMAPS_PORT', 1993),
    pop3LbTlsPort: port(env, 'POP3_LB_TLS_PORT', 0),
    imapLbTlsPort: port(env, 'IMAP_LB_TLS_PORT', 0),
    tlsCertFile: env.TLS_CERT_FILE || undefined,
    tlsKeyFile: env.TLS_KEY_FILE || undefined,
    trustedProxies: (env.TRUSTED_PROXIES || '').split(',').map((s) => s.trim()).filter(Boolean),
    siteName: env.SITE_NAME || 'local',
    hostname: env.SERVER_HOSTNAME || 'localhost',
    demoPassword: env.DEMO_PASSWORD || undefined,
    demo: env.DEMO !== 'off',
    logLevel: env.LOG_LEVEL || 'info',
    store,
    notifyPort: port(env, 'NOTIFY_PORT', 0),
    notifySecret: env.NOTIFY_SECRET || undefined,
    controlHost: env.CONTROL_HOST || undefined,
    healthPort: port(env, 'HEALTH_PORT', 0),
    tlsCertPem: env.TLS_CERT_PEM || undefined,
    tlsKeyPem: env.TLS_KEY_PEM || undefined,
    // On the AWS store the admin API is the Lambda: a task serves it only when asked to.
    adminPort: env.ADMIN_PORT === 'off' ? null : !env.ADMIN_PORT && store.kind === 'aws' ? null : port(env, 'ADMIN_PORT', 8080),
    adminHost: env.ADMIN_HOST || '127.0.0.1',
    adminToken: env.ADMIN_TOKEN || undefined,
  };
}
