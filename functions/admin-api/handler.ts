// admin-api Lambda: API Gateway REST API events (Lambda proxy integration) -> the admin API
// router (core/admin/api.ts) -> the proxy result. Thin: parse the event, call core, shape the
// reply. Authorization is IAM (SigV4) at API Gateway; the handler also refuses an event that
// carries no IAM identity, so a method deployed without auth by mistake stays closed. The
// Thunderbird autoconfig routes are public (their methods have no authorization).
//
// Environment:
//   STORE, BUCKET, TABLE_PREFIX, TABLE_<LOGICAL>, S3_CONDITIONAL_PUT, DATA_DIR
//                        which store (core/store/open.ts; aws in the cloud)
//   SITE_NAME            this site (home site of new mailboxes, connectivity results); default "aws"
//   FRONTEND_HOST        where clients connect (the load balancer's name) for connectivity tests;
//                        when unset, the hosts of the services' external (else internal)
//                        connection settings are used
//   FRONTEND_POP3_PORT, FRONTEND_POP3S_PORT, FRONTEND_IMAP_PORT, FRONTEND_IMAPS_PORT
//                        its ports (default 110, 995, 143, 993; "off" for none)
//   FRONTEND_TRUST_ANY_CERTIFICATE
//                        "on" to accept any certificate in connectivity tests by default
//   FANOUT_FUNCTION_NAME the idle-fanout function: settings and mailbox changes are sent to it
//                        (asynchronous invocation) so running tasks apply them at once; without
//                        it, tasks pick settings up on their periodic refresh

import { createAdminApi, type AdminApi, type ApiResponse } from '../../core/admin/api.js';
import { parseConnectionSetting, resolveConnectionSettings } from '../../core/admin/connection-settings.js';
import type { AdminContext, FrontEnd } from '../../core/admin/context.js';
import { ForwardingBus, lambdaInvokeSink } from '../../core/events/fanout.js';
import { withNotifications } from '../../core/events/notifying-store.js';
import type { ProtocolName } from '../../core/settings/schema.js';
import { openStore, storeSelectionFromEnv } from '../../core/store/open.js';

/** The parts of an API Gateway REST proxy event the handler reads. */
export interface RestProxyEvent {
  resource?: string;
  path: string;
  httpMethod: string;
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  requestContext?: {
    requestId?: string;
    stage?: string;
    identity?: { userArn?: string | null; caller?: string | null; accessKey?: string | null; sourceIp?: string | null } | null;
  } | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

export interface RestProxyResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

export interface HandlerDeps {
  context: AdminContext;
  /** Sends the change notices published during the invocation (ForwardingBus.flush). */
  flush?: () => Promise<void>;
  log?: (msg: string, extra: Record<string, unknown>) => void;
}

/** The request path the router sees: the {proxy+} part when the resource is a proxy (no stage or base path). */
function routePath(e: RestProxyEvent): string {
  const proxy = e.pathParameters?.proxy;
  if (e.resource?.endsWith('{proxy+}') && proxy !== undefined) return e.resource.slice(0, -'{proxy+}'.length) + proxy;
  return e.path;
}

function hasIamIdentity(e: RestProxyEvent): boolean {
  const id = e.requestContext?.identity;
  return Boolean(id && (id.userArn || id.caller || id.accessKey));
}

function toResult(r: ApiResponse): RestProxyResult {
  if (Buffer.isBuffer(r.body)) return { statusCode: r.status, headers: r.headers, body: r.body.toString('base64'), isBase64Encoded: true };
  return { statusCode: r.status, headers: r.headers, body: r.body, isBase64Encoded: false };
}

export function createHandler(deps: HandlerDeps | (() => Promise<HandlerDeps>)): (event: RestProxyEvent) => Promise<RestProxyResult> {
  let ready: Promise<{ deps: HandlerDeps; api: AdminApi }> | null = null;
  const init = async () => {
    const d = typeof deps === 'function' ? await deps() : deps;
    // API Gateway has checked the SigV4 signature; the router only needs to know the event had one.
    const api = createAdminApi(d.context, { authorize: ({ caller }) => hasIamIdentity(caller as RestProxyEvent), log: d.log });
    return { deps: d, api };
  };
  return async (event) => {
    ready ??= init().catch((e) => {
      ready = null;
      throw e;
    });
    const { deps: d, api } = await ready;
    const headers: Record<string, string | undefined> = { ...(event.headers ?? {}) };
    for (const [k, v] of Object.entries(event.multiValueHeaders ?? {})) if (v && v.length && headers[k] === undefined) headers[k] = v.join(', ');
    const query: Record<string, string | undefined> = { ...(event.queryStringParameters ?? {}) };
    for (const [k, v] of Object.entries(event.multiValueQueryStringParameters ?? {})) if (v && v.length && query[k] === undefined) query[k] = v[0];
    const body = event.body == null ? null : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
    const res = await api({ method: event.httpMethod, path: routePath(event), query, headers, body, caller: event });
    if (d.flush) {
      try {
        await d.flush();
      } catch (e) {
        // The change is stored; running tasks still pick it up on their next refresh.
        d.log?.('change notice not sent', { err: String(e) });
      }
    }
    return toResult(res);
  };
}

function envPort(env: NodeJS.ProcessEnv, name: string, def: number): number | null {
  const v = env[name];
  if (v === 'off') return null;
  if (!v) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a port number or off, got '${v}'`);
  return n;
}

/** Front-ends from FRONTEND_* or, without them, from the service's connection settings. */
export function frontEndsFromEnv(env: NodeJS.ProcessEnv, ctx: () => AdminContext) {
  const site = env.SITE_NAME || 'aws';
  const trustAny = env.FRONTEND_TRUST_ANY_CERTIFICATE === 'on';
  return async (p: ProtocolName): Promise<FrontEnd[]> => {
    if (env.FRONTEND_HOST) {
      const plain = p === 'pop3' ? envPort(env, 'FRONTEND_POP3_PORT', 110) : envPort(env, 'FRONTEND_IMAP_PORT', 143);
      const tls = p === 'pop3' ? envPort(env, 'FRONTEND_POP3S_PORT', 995) : envPort(env, 'FRONTEND_IMAPS_PORT', 993);
      return [{ server: env.FRONTEND_HOST, site, host: env.FRONTEND_HOST, plainPort: plain, tlsPort: tls, trustAnyCertificate: trustAny }];
    }
    const r = await resolveConnectionSettings(ctx(), p);
    const byHost = new Map<string, FrontEnd>();
    for (const c of (r.external.length ? r.external : r.internal).map(parseConnectionSetting)) {
      const fe = byHost.get(c.hostname) ?? { server: c.hostname, site, host: c.hostname, plainPort: null, tlsPort: null, trustAnyCertificate: trustAny };
      if (c.encryptionType === 'SSL') fe.tlsPort ??= c.port;
      else fe.plainPort ??= c.port;
      byHost.set(c.hostname, fe);
    }
    return [...byHost.values()];
  };
}

/** `host:port:SSL,host:port:TLS` from the stack's context; entries of the wrong shape are dropped. */
export function connectionListFromEnv(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => /^[A-Za-z0-9.-]+:\d{1,5}:(SSL|TLS|)$/.test(x));
}

async function depsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<HandlerDeps> {
  const base = await openStore(storeSelectionFromEnv(env));
  const log = (msg: string, extra: Record<string, unknown>) => console.error(JSON.stringify({ level: 'error', msg, ...extra }));
  let store = base;
  let flush: (() => Promise<void>) | undefined;
  if (env.FANOUT_FUNCTION_NAME) {
    const { LambdaClient, InvokeCommand } = await import('@aws-sdk/client-lambda');
    const bus = new ForwardingBus(lambdaInvokeSink(new LambdaClient({}), (input) => new InvokeCommand(input), env.FANOUT_FUNCTION_NAME));
    store = withNotifications(base, bus);
    flush = () => bus.flush();
  }
  const context: AdminContext = {
    store,
    site: env.SITE_NAME || 'aws',
    frontEnds: (p) => frontEnds(p),
    externalConnectionDefaults: (p) => connectionListFromEnv(env[p === 'pop3' ? 'EXTERNAL_CONNECTION_SETTINGS_POP3' : 'EXTERNAL_CONNECTION_SETTINGS_IMAP4']),
  };
  const frontEnds = frontEndsFromEnv(env, () => context);
  return { context, flush, log };
}

export const handler = createHandler(() => depsFromEnv());
