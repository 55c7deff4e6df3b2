// The two ways to reach the admin API in tests, behind one interface so the same route tests
// run over both: real HTTP to the local server (bearer token), and the Lambda handler invoked
// with realistic API Gateway REST API proxy events (IAM-authorized, /{proxy+} resource).
import { randomUUID } from 'node:crypto';
import { createHandler, type RestProxyEvent } from '../../functions/admin-api/handler.js';
import type { TestServer } from '../helpers/server.js';

export interface ApiCall {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string | Buffer;
  contentType?: string;
  /** false: send no credentials. */
  auth?: boolean;
}

export interface ApiResult {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  text: string;
  json(): any;
}

export type Transport = (c: ApiCall) => Promise<ApiResult>;

function bodyOf(c: ApiCall): { body?: Buffer; contentType?: string } {
  if (c.json !== undefined) return { body: Buffer.from(JSON.stringify(c.json)), contentType: c.contentType ?? 'application/json' };
  if (c.body !== undefined) return { body: Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body), contentType: c.contentType ?? 'application/json' };
  return {};
}

function result(status: number, headers: Record<string, string>, text: string): ApiResult {
  return {
    status,
    headers,
    text,
    json() {
      return JSON.parse(text);
    },
  };
}

export function httpTransport(server: TestServer): Transport {
  return async (c) => {
    const { body, contentType } = bodyOf(c);
    const headers: Record<string, string> = { ...(c.headers ?? {}) };
    if (contentType) headers['content-type'] = contentType;
    if (c.auth !== false) headers.authorization = `Bearer ${server.admin!.token}`;
    const qs = c.query ? '?' + new URLSearchParams(c.query).toString() : '';
    const res = await fetch(server.admin!.url + c.path + qs, { method: c.method, headers, body: body ? new Uint8Array(body) : undefined });
    const h: Record<string, string> = {};
    res.headers.forEach((v, k) => (h[k] = v));
    return result(res.status, h, await res.text());
  };
}

const PUBLIC_RESOURCES = ['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml'];

/** An API Gateway REST API (v1) Lambda proxy event as API Gateway builds it. */
export function restProxyEvent(c: ApiCall, opts: { stage?: string; accountId?: string } = {}): RestProxyEvent {
  const stage = opts.stage ?? 'prod';
  const accountId = opts.accountId ?? '123456789012';
  const apiId = 'a1b2c3d4e5';
  const host = `${apiId}.execute-api.eu-west-1.amazonaws.com`;
  const { body, contentType } = bodyOf(c);
  const now = new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const signed = c.auth !== false;
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Accept-Encoding': 'gzip, deflate',
    'CloudFront-Forwarded-Proto': 'https',
    'CloudFront-Is-Desktop-Viewer': 'true',
    'CloudFront-Viewer-Country': 'IE',
    Host: host,
    'User-Agent': 'mailctl/0.1',
    Via: '1.1 0123456789abcdef.cloudfront.net (CloudFront)',
    'X-Amz-Cf-Id': 'Qa6uS8dE2hL1J8hQ-o4YQq2J3h0lF6Y9Yy4Jv7w0f0pP1Yq3-7dQ==',
    'X-Amzn-Trace-Id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    'X-Forwarded-For': '198.51.100.7, 130.176.0.1',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
    ...(signed
      ? {
          Authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/${amzDate.slice(0, 8)}/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
          'X-Amz-Date': amzDate,
        }
      : {}),
    ...(contentType ? { 'Content-Type': contentType } : {}),
    ...(c.headers ?? {}),
  };
  const isPublic = PUBLIC_RESOURCES.includes(c.path);
  const resource = isPublic ? c.path : '/{proxy+}';
  const binary = body !== undefined && (contentType ?? '').startsWith('message/');
  const query = c.query && Object.keys(c.query).length ? c.query : null;
  const identity = {
    cognitoIdentityPoolId: null,
    accountId: signed ? accountId : null,
    cognitoIdentityId: null,
    caller: signed ? 'AIDAJQABLZS4A3QDU576Q' : null,
    sourceIp: '198.51.100.7',
    principalOrgId: null,
    accessKey: signed ? 'AKIAIOSFODNN7EXAMPLE' : null,
    cognitoAuthenticationType: null,
    cognitoAuthenticationProvider: null,
    userArn: signed ? `arn:aws:iam::${accountId}:user/mail-admin` : null,
    userAgent: 'mailctl/0.1',
    user: signed ? 'AIDAJQABLZS4A3QDU576Q' : null,
  };
  const event = {
    resource,
    path: c.path,
    httpMethod: c.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: query,
    multiValueQueryStringParameters: query ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: isPublic ? null : { proxy: c.path.slice(1) },
    stageVariables: null,
    requestContext: {
      resourceId: isPublic ? 'pub123' : 'prx456',
      resourcePath: resource,
      httpMethod: c.method,
      extendedRequestId: 'Ab1CdEfGhIjKlMn=',
      requestTime: now.toUTCString(),
      path: `/${stage}${c.path}`,
      accountId,
      protocol: 'HTTP/1.1',
      stage,
      domainPrefix: apiId,
      requestTimeEpoch: now.getTime(),
      requestId: randomUUID(),
      identity,
      domainName: host,
      deploymentId: 'dep789',
      apiId,
    },
    body: body === undefined ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: binary,
  };
  return event;
}

export function lambdaTransport(server: TestServer): Transport {
  const handler = createHandler({ context: server.adminContext });
  return async (c) => {
    const r = await handler(restProxyEvent(c));
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) h[k.toLowerCase()] = v;
    return result(r.statusCode, h, r.isBase64Encoded ? Buffer.from(r.body, 'base64').toString('utf8') : r.body);
  };
}
