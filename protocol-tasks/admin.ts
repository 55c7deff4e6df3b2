// The admin API of a running server (npm start): the AdminContext built from this process's
// store, live settings and listeners, served over HTTP on ADMIN_HOST:ADMIN_PORT behind a
// bearer token (core/admin/http-server.ts).
import { rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { ADMIN_URL_FILE, type AdminContext, type FrontEnd } from '../core/admin/context.js';
import { loadOrCreateAdminToken, startAdminHttpServer, type AdminHttpServer } from '../core/admin/http-server.js';
import type { LiveSettings } from '../core/settings/live.js';
import type { ProtocolName } from '../core/settings/schema.js';
import type { Store } from '../core/store/port.js';
import type { ServerConfig } from './config.js';
import type { ProtocolService } from './service.js';

/** The address clients on this machine reach the listeners at. */
function reachableHost(config: ServerConfig): string {
  const h = config.bindHost;
  if (h === '0.0.0.0' || h === '::' || h === '') return '127.0.0.1';
  return h;
}

export function localAdminContext(
  config: ServerConfig,
  deps: { store: Store; settings: LiveSettings; services: Record<ProtocolName, ProtocolService>; selfSignedCertificate: boolean },
): AdminContext {
  const host = reachableHost(config);
  const portsOf = (p: ProtocolName) => {
    const addrs = deps.services[p].server.addresses;
    return { plain: addrs.find((a) => a.kind === 'plain')?.port ?? null, tls: addrs.find((a) => a.kind === 'tls')?.port ?? null };
  };
  const connHost = host.includes(':') ? config.hostname : host;
  return {
    store: deps.store,
    site: config.siteName,
    frontEnds(p): FrontEnd[] {
      const ports = portsOf(p);
      return [{ server: osHostname(), site: config.siteName, host, plainPort: ports.plain, tlsPort: ports.tls, trustAnyCertificate: deps.selfSignedCertificate }];
    },
    listenerConnectionSettings(p) {
      const ports = portsOf(p);
      const out: string[] = [];
      if (ports.tls) out.push(`${connHost}:${ports.tls}:SSL`);
      if (ports.plain) out.push(`${connHost}:${ports.plain}:TLS`);
      return out;
    },
    settingsChanged: (p) => deps.settings.refresh(p),
  };
}

export async function startLocalAdmin(
  config: ServerConfig,
  context: AdminContext,
  log: (msg: string, extra: Record<string, unknown>) => void,
): Promise<(AdminHttpServer & { token: string; tokenSource: 'env' | 'file' | 'generated' }) | null> {
  if (config.adminPort === null || config.adminPort === undefined) return null;
  const t = await loadOrCreateAdminToken(config.dataDir, config.adminToken);
  const http = await startAdminHttpServer({ context, token: t.token, host: config.adminHost ?? '127.0.0.1', port: config.adminPort, log });
  // mailctl --data-dir finds the API here, whatever port it got.
  const urlFile = join(config.dataDir, ADMIN_URL_FILE);
  await writeFile(urlFile, http.url + '\n');
  const close = http.close;
  return Object.assign(http, {
    token: t.token,
    tokenSource: t.source,
    async close() {
      await close();
      await rm(urlFile, { force: true });
    },
  });
}
