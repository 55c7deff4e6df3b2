// The OpenAPI 3.1 document of the admin API, generated from the route table and its zod
// schemas (z.toJSONSchema emits JSON Schema 2020-12, the dialect OpenAPI 3.1 uses).
import { z } from 'zod';
import { ERROR_STATUS, type AdminErrorCode } from './errors.js';
import { ROUTES, SCHEMA_NAMES, errorBodySchema, type RouteDef } from './routes.js';

type Json = Record<string, unknown>;

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid input; error.field names the field at fault',
  401: 'no or wrong authorization',
  404: 'no such mailbox or resource',
  405: 'method not allowed on this path',
  409: 'conflict (already exists, or kept changing concurrently)',
  412: 'If-Match did not match the current version',
  413: 'request body too large',
  500: 'internal error',
  503: 'store unavailable; retry',
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  delete s.$schema;
  return s;
}

export function openApiDocument(opts: { serverUrl?: string } = {}): Json {
  const components: Record<string, Json> = {};
  const ref = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const name = SCHEMA_NAMES.get(schema);
    if (!name) return jsonSchema(schema, io);
    if (!components[name]) components[name] = jsonSchema(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  };
  const errorContent = () => ({ 'application/json': { schema: ref(errorBodySchema, 'output') } });

  const paths: Record<string, Record<string, Json>> = {};
  for (const r of ROUTES) {
    const parameters: Json[] = [];
    for (const [name, p] of Object.entries(r.pathParams ?? {})) {
      parameters.push({ name, in: 'path', required: true, description: p.description, schema: jsonSchema(p.schema, 'input') });
    }
    for (const [name, field] of Object.entries(r.query?.shape ?? {})) {
      const f = field as z.ZodType;
      parameters.push({ name, in: 'query', required: !f.safeParse(undefined).success, ...(f.description ? { description: f.description } : {}), schema: jsonSchema(f, 'input') });
    }
    for (const [name, h] of Object.entries(r.headerParams ?? {})) {
      parameters.push({ name, in: 'header', required: false, description: h.description, schema: { type: 'string' } });
    }
    const responses: Record<string, Json> = {};
    for (const [status, def] of Object.entries(r.responses)) {
      const ct = def.contentType ?? 'application/json';
      responses[status] = { description: def.description, ...(def.schema ? { content: { [ct]: { schema: ref(def.schema, 'output') } } } : {}) };
    }
    const errors = new Set<number>([400, 500, ...(r.public ? [] : [401]), ...(r.errors ?? [])]);
    for (const st of [...errors].sort()) responses[String(st)] = { description: STATUS_TEXT[st] ?? 'error', content: errorContent() };
    const op: Json = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.requestBody
        ? { requestBody: { required: true, ...(r.requestBody.description ? { description: r.requestBody.description } : {}), content: { [r.requestBody.contentType]: { schema: ref(r.requestBody.schema, 'input') } } } }
        : {}),
      responses,
      ...(r.public ? { security: [] } : {}),
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Mail access backend admin API',
      version: '1',
      description:
        'POP3 and IMAP4 administration with Exchange parity (Set-PopSettings, Set-ImapSettings, Set-CASMailbox, Test-*Connectivity). ' +
        `Errors are { "error": { "code", "message", "field"? } } with codes ${(Object.keys(ERROR_STATUS) as AdminErrorCode[]).join(', ')}. ` +
        'Locally authorize with a bearer token; in the cloud the API is IAM-authorized (SigV4, service execute-api).',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    security: [{ bearerAuth: [] }, { sigv4: [] }],
    tags: [...new Set(ROUTES.map((r: RouteDef) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'local server: ADMIN_TOKEN or DATA_DIR/admin-token.txt' },
        sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (API Gateway IAM authorization)', 'x-amazon-apigateway-authtype': 'awsSigv4' },
      },
    },
  };
}
