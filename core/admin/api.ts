// The admin API router, pure of transport: {method, path, query, headers, body} in,
// {status, headers, body} out. The local HTTP server (http-server.ts) and the Lambda
// (functions/admin-api) both call it; each brings its own authorization check.
import { StoreError } from '../store/port.js';
import type { AdminContext } from './context.js';
import { AdminError, ERROR_STATUS, type AdminErrorCode } from './errors.js';
import { ROUTES, type RouteDef, type RouteInput } from './routes.js';

export interface ApiRequest {
  method: string;
  /** The path without query string; segments may be percent-encoded. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Any case; the router lower-cases the names. */
  headers?: Record<string, string | string[] | undefined>;
  body?: Buffer | string | null;
  /** What the transport knows about the caller (the Lambda: the event's IAM identity), for authorize(). */
  caller?: unknown;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface ApiOptions {
  /** May this request use the authorized routes? (Local: bearer token; Lambda: IAM identity.) */
  authorize(req: { headers: Record<string, string | undefined>; caller?: unknown }): boolean | Promise<boolean>;
  /** How a refused request is told to authenticate (WWW-Authenticate), if at all. */
  challenge?: string;
  /** Unexpected failures (500) go here. */
  log?: (msg: string, extra: Record<string, unknown>) => void;
}

/** Largest JSON body accepted; message deliveries may be larger (see MAX_MESSAGE_SIZE). */
export const MAX_JSON_BODY = 1024 * 1024;

export type AdminApi = (req: ApiRequest) => Promise<ApiResponse>;

interface CompiledRoute {
  def: RouteDef;
  pattern: RegExp;
  names: string[];
}

function compile(def: RouteDef): CompiledRoute {
  const names: string[] = [];
  const src = def.path
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { def, pattern: new RegExp(`^${src}$`), names };
}

const COMPILED = ROUTES.map(compile);

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function errorResponse(code: AdminErrorCode, message: string, field?: string, headers: Record<string, string> = {}): ApiResponse {
  return {
    status: ERROR_STATUS[code],
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify({ error: { code, message, ...(field ? { field } : {}) } }),
  };
}

function toError(e: unknown, log: ApiOptions['log']): ApiResponse {
  if (e instanceof AdminError) return errorResponse(e.code, e.message, e.field);
  if (e instanceof StoreError) {
    if (e.code === 'UNAVAILABLE') return errorResponse('unavailable', 'the store is unavailable; try again', undefined, { 'Retry-After': '1' });
    if (e.code === 'INVALID') return errorResponse('invalid', e.message);
    if (e.code === 'NOT_FOUND') return errorResponse('not_found', e.message);
    if (e.code === 'CONFLICT') return errorResponse('conflict', 'changed concurrently; try again');
  }
  log?.('admin api failure', { err: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  return errorResponse('internal', 'internal error');
}

export function createAdminApi(ctx: AdminContext, opts: ApiOptions): AdminApi {
  return async (req) => {
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
    const method = req.method.toUpperCase();

    let match: { route: CompiledRoute; m: RegExpExecArray } | null = null;
    const allowed: string[] = [];
    for (const route of COMPILED) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      allowed.push(route.def.method);
      if (route.def.method === method) match = { route, m };
    }
    if (!match) {
      if (allowed.length > 0) return errorResponse('method_not_allowed', `${method} is not allowed on ${path}`, undefined, { Allow: allowed.join(', ') });
      return errorResponse('not_found', `no such resource: ${path}`);
    }
    const { route, m } = match;
    if (!route.def.public && !(await opts.authorize({ headers, caller: req.caller }))) {
      return errorResponse('unauthorized', 'authorization required', undefined, opts.challenge ? { 'WWW-Authenticate': opts.challenge } : {});
    }
    const params: Record<string, string> = {};
    route.names.forEach((n, i) => (params[n] = decodeSegment(m[i + 1]!)));
    const body = req.body == null ? Buffer.alloc(0) : typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
    const input: RouteInput = {
      params,
      query: req.query ?? {},
      headers,
      body,
      json() {
        if (body.length > MAX_JSON_BODY) throw new AdminError('too_large', `the request body is over ${MAX_JSON_BODY} bytes`);
        if (body.length === 0) throw new AdminError('invalid', 'the request body must be a JSON object');
        try {
          return JSON.parse(body.toString('utf8'));
        } catch {
          throw new AdminError('invalid', 'the request body is not valid JSON');
        }
      },
    };
    try {
      const reply = await route.def.handler(ctx, input);
      const out: Record<string, string> = { ...(reply.headers ?? {}) };
      if (reply.body === undefined) return { status: reply.status, headers: out, body: '' };
      if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) {
        out['Content-Type'] = reply.contentType ?? 'text/plain; charset=utf-8';
        return { status: reply.status, headers: out, body: reply.body };
      }
      out['Content-Type'] = 'application/json; charset=utf-8';
      return { status: reply.status, headers: out, body: JSON.stringify(reply.body) };
    } catch (e) {
      return toError(e, opts.log);
    }
  };
}
