// The task's two small HTTP endpoints, inside the VPC only:
//
//   NOTIFY_PORT  POST /notify   a batch of changes from the idle-fanout function, signed with
//                               the shared secret (HMAC, compared in constant time). Each change
//                               is published on this task's bus, so only the sessions on those
//                               mailboxes wake; they read the journal themselves.
//   HEALTH_PORT  GET  /healthz  200 while the protocol listeners accept connections, 503 once
//                               the task is draining: the load balancer's health check (its
//                               connections carry no PROXY header, so they cannot go to the
//                               mail ports) and the container's HEALTHCHECK.
//
// Both are plain HTTP: reachable only from the fan-out function's and the load balancer's
// security groups; the body is authenticated, and it only ever says "look again".

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_NOTIFY_BODY, NOTIFY_PATH, SIGNATURE_HEADER, notifyBatchSchema, verifyNotifySignature, type WireChange } from '../../core/events/fanout.js';

export interface NotifyServerOptions {
  host: string;
  port: number;
  secret: string;
  /** Receives each authenticated, valid batch. */
  onChanges: (changes: WireChange[]) => { published: number; skipped: number };
  log?: (level: 'debug' | 'info' | 'warn', msg: string, extra?: Record<string, unknown>) => void;
}

export interface HttpEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

function reply(res: ServerResponse, status: number, body?: string): void {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

/** Reads at most `max` bytes; null when the body is larger (the request is then refused). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      resolve(null);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startNotifyServer(opts: NotifyServerOptions): Promise<HttpEndpoint> {
  if (!opts.secret) throw new Error('the notify endpoint needs a shared secret (NOTIFY_SECRET)');
  const log = opts.log ?? (() => undefined);
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    void (async () => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== NOTIFY_PATH) return reply(res, 404, 'not found\n');
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return reply(res, 405, 'method not allowed\n');
      }
      const body = await readBody(req, MAX_NOTIFY_BODY);
      if (body === null) return reply(res, 413, 'too large\n');
      const sig = req.headers[SIGNATURE_HEADER];
      if (!verifyNotifySignature(opts.secret, Array.isArray(sig) ? sig[0] : sig, body)) {
        log('warn', 'notify: refused a request with a bad or stale signature', { remote: req.socket.remoteAddress });
        return reply(res, 401, 'unauthorized\n');
      }
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        return reply(res, 400, 'invalid JSON\n');
      }
      const parsed = notifyBatchSchema.safeParse(json);
      if (!parsed.success) return reply(res, 400, 'invalid batch\n');
      const outcome = opts.onChanges(parsed.data.changes as WireChange[]);
      log('debug', 'notify: batch received', { changes: parsed.data.changes.length, ...outcome });
      reply(res, 204);
    })().catch((e) => {
      log('warn', 'notify: request failed', { error: e instanceof Error ? e.message : String(e) });
      if (!res.headersSent) reply(res, 500, 'error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, opts.host, opts.port);
  return { port, close: () => closeServer(server) };
}

export interface HealthServerOptions {
  host: string;
  port: number;
  /** True while the task should receive new connections. */
  ready: () => boolean;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HttpEndpoint> {
  const server = createServer({ requestTimeout: 5_000, headersTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/healthz' || (req.method !== 'GET' && req.method !== 'HEAD')) return reply(res, 404, 'not found\n');
    if (opts.ready()) reply(res, 200, 'ok\n');
    else reply(res, 503, 'draining\n');
  });
  const port = await listen(server, opts.host, opts.port);
  return { port, close: () => closeServer(server) };
}
