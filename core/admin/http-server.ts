// The admin API over local HTTP (npm start): the same router the Lambda calls, behind a
// bearer token. The token is ADMIN_TOKEN, or generated once and kept in
// DATA_DIR/admin-token.txt (mode 0600), where mailctl finds it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MAX_MESSAGE_SIZE } from '../store/deliver.js';
import { createAdminApi, errorResponse, type AdminApi, type ApiResponse } from './api.js';
import { ADMIN_TOKEN_FILE, type AdminContext } from './context.js';

/** ADMIN_TOKEN when given; else the saved one; else a new one, saved. */
export async function loadOrCreateAdminToken(dataDir: string, given?: string): Promise<{ token: string; source: 'env' | 'file' | 'generated'; file: string }> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (given) return { token: given, source: 'env', file };
  const saved = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (saved) return { token: saved, source: 'file', file };
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, token + '\n', { mode: 0o600 });
  return { token, source: 'generated', file };
}

/** Constant-time check of `Authorization: Bearer <token>`. */
export function bearerAuthorizer(token: string): (req: { headers: Record<string, string | undefined> }) => boolean {
  const want = createHash('sha256').update(token).digest();
  return ({ headers }) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
    if (!m) return false;
    return timingSafeEqual(createHash('sha256').update(m[1]!).digest(), want);
  };
}

export interface AdminHttpServer {
  port: number;
  url: string;
  api: AdminApi;
  close(): Promise<void>;
}

/** Largest request body: a message delivery of the largest message, plus slack. */
const MAX_BODY = MAX_MESSAGE_SIZE + 64 * 1024;

function send(res: http.ServerResponse, r: ApiResponse): void {
  const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
  res.writeHead(r.status, { ...r.headers, 'Content-Length': String(body.length) });
  res.end(body);
}

export async function startAdminHttpServer(opts: {
  context: AdminContext;
  token: string;
  host: string;
  port: number;
  log?: (msg: string, extra: Record<string, unknown>) => void;
}): Promise<AdminHttpServer> {
  const api = createAdminApi(opts.context, { authorize: bearerAuthorizer(opts.token), challenge: 'Bearer realm="mail-admin"', log: opts.log });
  const server = http.createServer({ requestTimeout: 5 * 60_000, headersTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > MAX_BODY) {
        refused = true;
        res.setHeader('Connection', 'close');
        send(res, errorResponse('too_large', `the request body is over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      const url = new URL(req.url ?? '/', 'http://admin.invalid');
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
      api({ method: req.method ?? 'GET', path: url.pathname, query, headers: req.headers, body: Buffer.concat(chunks) })
        .then((r) => send(res, r))
        .catch((e) => {
          opts.log?.('admin http failure', { err: String(e) });
          send(res, errorResponse('internal', 'internal error'));
        });
    });
    req.on('error', () => undefined);
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    port,
    url: `http://${hostInUrl}:${port}`,
    api,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
