// An HTTP client of the admin API (mailctl uses it): the local server with its bearer token,
// or a deployed API Gateway URL with requests signed by SigV4 (service execute-api) from the
// standard AWS credential chain (environment, shared config/SSO, container or instance role).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdminError, type AdminErrorCode } from './errors.js';
import { ADMIN_TOKEN_FILE, ADMIN_URL_FILE } from './context.js';

export interface ClientOptions {
  /** Base URL: http://127.0.0.1:8080, or https://<id>.execute-api.<region>.amazonaws.com/<stage>. */
  url: string;
  token?: string;
  /** Sign with SigV4 instead of a bearer token. */
  sigv4?: { region: string; service?: string };
  /** Request timeout, ms (default 120 s: connectivity tests take a while). */
  timeoutMs?: number;
}

export interface ClientResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** What an HTTP status means for a caller (and for mailctl's exit code). */
const STATUS_CODE: Record<number, AdminErrorCode> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'too_large',
  503: 'unavailable',
};

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
}

/** The region in an execute-api host name, if it is one. */
export function regionFromUrl(url: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
}

/** Path segment encoding that keeps '@' (legal in a path) readable in addresses. */
export function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/%40/g, '@');
}

export interface Resolution {
  url: string;
  token?: string;
  sigv4?: { region: string };
}

/**
 * Where to send requests and how to authorize them:
 *   --url / ADMIN_URL, else what the local server wrote in DATA_DIR/admin-url.txt, else
 *   http://127.0.0.1:<ADMIN_PORT or 8080>;
 *   --token / ADMIN_TOKEN, else (for a loopback URL) DATA_DIR/admin-token.txt;
 *   SigV4 when asked (--sigv4) or when the URL is remote and no token is given;
 *   region from --region, AWS_REGION / AWS_DEFAULT_REGION, or the execute-api host name.
 */
export async function resolveClient(o: { url?: string; token?: string; sigv4?: boolean; region?: string; dataDir: string; env: NodeJS.ProcessEnv }): Promise<Resolution> {
  const written = o.url || o.env.ADMIN_URL ? '' : (await readFile(join(o.dataDir, ADMIN_URL_FILE), 'utf8').catch(() => '')).trim();
  const url = (o.url || o.env.ADMIN_URL || written || `http://127.0.0.1:${o.env.ADMIN_PORT && o.env.ADMIN_PORT !== 'off' ? o.env.ADMIN_PORT : '8080'}`).replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AdminError('invalid', `not a URL: ${url}`, 'url');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AdminError('invalid', `the admin API URL must be http or https: ${url}`, 'url');
  let token = o.token || o.env.ADMIN_TOKEN || undefined;
  const local = isLoopback(parsed.hostname);
  if (!token && !o.sigv4 && local) {
    token = (await readFile(join(o.dataDir, ADMIN_TOKEN_FILE), 'utf8').catch(() => '')).trim() || undefined;
  }
  if (o.sigv4 || (!token && !local)) {
    const region = o.region || o.env.AWS_REGION || o.env.AWS_DEFAULT_REGION || regionFromUrl(url);
    if (!region) throw new AdminError('invalid', 'SigV4 signing needs a region: give --region or set AWS_REGION', 'region');
    return { url, sigv4: { region } };
  }
  return { url, token };
}

export class AdminClient {
  private signer: Promise<{ sign(req: unknown): Promise<{ headers: Record<string, string> }> }> | null = null;

  constructor(private opts: ClientOptions) {}

  private getSigner() {
    this.signer ??= (async () => {
      const [{ SignatureV4 }, { Sha256 }, { defaultProvider }] = await Promise.all([
        import('@smithy/signature-v4'),
        import('@aws-crypto/sha256-js'),
        import('@aws-sdk/credential-provider-node'),
      ]);
      const s = new SignatureV4({ service: this.opts.sigv4!.service ?? 'execute-api', region: this.opts.sigv4!.region, credentials: defaultProvider(), sha256: Sha256 });
      return { sign: (req: unknown) => s.sign(req as Parameters<typeof s.sign>[0]) as Promise<{ headers: Record<string, string> }> };
    })();
    return this.signer;
  }

  /** Sends one request; the path is appended to the base URL (its segments already encoded). */
  async request(method: string, path: string, o: { json?: unknown; body?: Buffer | string; contentType?: string; query?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<ClientResponse> {
    const base = new URL(this.opts.url);
    const fullPath = base.pathname.replace(/\/+$/, '') + path;
    const query = o.query ?? {};
    const qs = new URLSearchParams(query).toString();
    const body = o.json !== undefined ? Buffer.from(JSON.stringify(o.json)) : typeof o.body === 'string' ? Buffer.from(o.body) : o.body;
    const headers: Record<string, string> = { accept: 'application/json', ...(o.headers ?? {}) };
    if (body !== undefined) headers['content-type'] = o.contentType ?? (o.json !== undefined ? 'application/json' : 'application/octet-stream');
    if (this.opts.sigv4) {
      const signed = await (await this.getSigner()).sign({
        method,
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port ? Number(base.port) : undefined,
        path: fullPath,
        query,
        headers: { ...headers, host: base.host },
        body,
      });
      Object.assign(headers, signed.headers);
      delete headers.host; // fetch sets it
    } else if (this.opts.token) {
      headers.authorization = `Bearer ${this.opts.token}`;
    }
    let res: Response;
    try {
      res = await fetch(`${base.origin}${fullPath}${qs ? `?${qs}` : ''}`, {
        method,
        headers,
        body: body === undefined ? undefined : new Uint8Array(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      const why = cause?.code === 'ECONNREFUSED' ? 'connection refused' : (e as Error).name === 'TimeoutError' ? 'timed out' : (cause?.code ?? (e as Error).message);
      throw new AdminError('unavailable', `cannot reach the admin API at ${this.opts.url} (${why})${isLoopback(base.hostname) ? ': is `npm start` running?' : ''}`);
    }
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** A request whose success is JSON; an error reply becomes an AdminError with the API's code, message and field. */
  async call<T = unknown>(method: string, path: string, o: Parameters<AdminClient['request']>[2] = {}): Promise<{ body: T; headers: Headers; status: number }> {
    const r = await this.request(method, path, o);
    if (r.status >= 200 && r.status < 300) {
      const isJson = (r.headers.get('content-type') ?? '').includes('json');
      return { body: (r.text && isJson ? JSON.parse(r.text) : r.text) as T, headers: r.headers, status: r.status };
    }
    let code: AdminErrorCode = STATUS_CODE[r.status] ?? 'internal';
    let message = `HTTP ${r.status}`;
    let field: string | undefined;
    try {
      const e = JSON.parse(r.text) as { error?: { code?: AdminErrorCode; message?: string; field?: string }; message?: string; Message?: string };
      if (e.error?.message) {
        message = e.error.message;
        field = e.error.field;
        if (e.error.code && e.error.code in STATUS_CODE_BY_NAME) code = e.error.code;
      } else if (e.message || e.Message) {
        message = (e.message ?? e.Message)!; // API Gateway's own refusals ({"message": "..."})
      }
    } catch {
      // not JSON: keep the status line
    }
    if (code === 'unauthorized') message += this.opts.sigv4 ? ' (check the AWS credentials and their execute-api:Invoke permission)' : ' (check --token, ADMIN_TOKEN or DATA_DIR/admin-token.txt)';
    throw new AdminError(code, message, field);
  }
}

const STATUS_CODE_BY_NAME = Object.fromEntries(Object.values(STATUS_CODE).map((c) => [c, true]).concat([['internal', true]]));
