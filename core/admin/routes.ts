// The admin API's route table: one entry per method and path, with its zod schemas (which
// validate the input and generate the OpenAPI document) and its handler. The router
// (api.ts) and the OpenAPI generator (openapi.ts) both read this table and nothing else.
import { z } from 'zod';
import { imap4SettingsSchema, pop3SettingsSchema, type ProtocolName } from '../settings/schema.js';
import { autoconfigXml } from './autoconfig.js';
import { mailboxConnectionSettings, mailboxConnectionSettingsSchema } from './connection-settings.js';
import { connectivityReportSchema, connectivityTestSchema, runConnectivityTest } from './connectivity.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import {
  createMailbox,
  deliverToInbox,
  folderViewSchema,
  getMailbox,
  listMailboxes,
  mailboxCreateSchema,
  mailboxFolders,
  mailboxPatchSchema,
  mailboxView,
  mailboxViewSchema,
  removeMailbox,
  updateMailbox,
  type MailboxChanges,
} from './mailboxes.js';
import { getProtocolSettings, patchProtocolSettings, pop3SettingsPatchSchema, imap4SettingsPatchSchema } from './protocols.js';
import { parseInput, requireObject } from './validate.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteInput {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  /** Lower-cased names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
  /** The body parsed as JSON (400 when it is not JSON). */
  json(): unknown;
}

export interface RouteReply {
  status: number;
  /** A JSON value, or a string / Buffer sent as `contentType`. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface ResponseDef {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteDef {
  method: Method;
  /** OpenAPI path template, e.g. /v1/mailboxes/{address}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** No authorization (Thunderbird autoconfig). */
  public?: boolean;
  pathParams?: Record<string, { description: string; schema: z.ZodType }>;
  query?: z.ZodObject;
  headerParams?: Record<string, { description: string }>;
  requestBody?: { contentType: string; schema: z.ZodType; description?: string };
  /** Success responses; the error responses (ErrorBody) are added by the generator. */
  responses: Record<number, ResponseDef>;
  /** Error statuses this route can answer besides 400/401/500 (documented). */
  errors?: number[];
  handler(ctx: AdminContext, input: RouteInput): Promise<RouteReply>;
}

/** Names of the schemas as OpenAPI components. */
export const SCHEMA_NAMES = new Map<z.ZodType, string>();
function named<T extends z.ZodType>(name: string, schema: T): T {
  SCHEMA_NAMES.set(schema, name);
  return schema;
}

export const errorBodySchema = named(
  'ErrorBody',
  z
    .object({
      error: z
        .object({
          code: z.enum(['invalid', 'unauthorized', 'not_found', 'method_not_allowed', 'conflict', 'precondition_failed', 'too_large', 'unavailable', 'internal']),
          message: z.string(),
          field: z.string().optional().describe('the request field at fault'),
        })
        .strict(),
    })
    .strict(),
);

named('Pop3Settings', pop3SettingsSchema);
named('Imap4Settings', imap4SettingsSchema);
named('Pop3SettingsPatch', pop3SettingsPatchSchema);
named('Imap4SettingsPatch', imap4SettingsPatchSchema);
named('Mailbox', mailboxViewSchema);
named('MailboxCreate', mailboxCreateSchema);
named('MailboxPatch', mailboxPatchSchema);
named('MailboxProtocolSettings', mailboxConnectionSettingsSchema);
named('ConnectivityTest', connectivityTestSchema);
named('ConnectivityReport', connectivityReportSchema);
const mailboxPageSchema = named('MailboxPage', z.object({ items: z.array(mailboxViewSchema), next: z.string().optional().describe('cursor of the next page') }).strict());
const folderListSchema = named('FolderList', z.object({ items: z.array(folderViewSchema) }).strict());
const deliveryResultSchema = named('DeliveryResult', z.object({ address: z.string(), folder: z.literal('INBOX'), uid: z.number().int(), uidValidity: z.number().int() }).strict());
const openApiSchema = named('OpenApiDocument', z.object({ openapi: z.string() }).passthrough());

const listQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).optional().describe('page size (default 100)'),
    cursor: z.string().max(2048).optional().describe('from the previous page'),
  })
  .strict();
const autoconfigQuerySchema = z.object({ emailaddress: z.string().describe('the address the client is set up for') }).passthrough();

const addressParam = { address: { description: 'mailbox address', schema: z.string() } };
const ifMatchHeader = { 'If-Match': { description: 'apply only over this version (the ETag); 412 otherwise' } };

/** `"7"`, `W/"7"` or `7` -> 7; absent or `*` -> undefined. */
function ifMatch(headers: RouteInput['headers']): number | undefined {
  const v = headers['if-match']?.trim();
  if (!v || v === '*') return undefined;
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(v);
  if (!m) throw new AdminError('invalid', 'If-Match must be a version ETag such as "3"', 'If-Match');
  return Number(m[1]);
}

const etag = (version: number) => ({ ETag: `"${version}"` });

function protocolRoutes(p: ProtocolName): RouteDef[] {
  const settingsSchema = p === 'pop3' ? pop3SettingsSchema : imap4SettingsSchema;
  const patchSchema = p === 'pop3' ? pop3SettingsPatchSchema : imap4SettingsPatchSchema;
  const name = p === 'pop3' ? 'Pop' : 'Imap';
  return [
    {
      method: 'GET',
      path: `/v1/protocols/${p}`,
      operationId: `get${name}Settings`,
      summary: `The ${p} service settings (Get-${name}Settings), enabled included; the version is the ETag`,
      tag: 'protocols',
      responses: { 200: { description: 'the settings', schema: settingsSchema } },
      async handler(ctx) {
        const s = await getProtocolSettings(ctx.store, p);
        return { status: 200, body: s.settings, headers: etag(s.version) };
      },
    },
    {
      method: 'PATCH',
      path: `/v1/protocols/${p}`,
      operationId: `patch${name}Settings`,
      summary: `Change some ${p} service settings (Set-${name}Settings); running servers apply them at once`,
      tag: 'protocols',
      headerParams: ifMatchHeader,
      requestBody: { contentType: 'application/json', schema: patchSchema, description: 'only the fields to change' },
      responses: { 200: { description: 'the settings after the change', schema: settingsSchema } },
      errors: [409, 412],
      async handler(ctx, input) {
        const s = await patchProtocolSettings(ctx, p, input.json(), { ifMatch: ifMatch(input.headers) });
        return { status: 200, body: s.settings, headers: etag(s.version) };
      },
    },
  ];
}

export const ROUTES: readonly RouteDef[] = [
  {
    method: 'GET',
    path: '/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This API as an OpenAPI 3.1 document',
    tag: 'meta',
    responses: { 200: { description: 'the document', schema: openApiSchema } },
    async handler() {
      const { openApiDocument } = await import('./openapi.js');
      return { status: 200, body: openApiDocument() };
    },
  },
  ...protocolRoutes('pop3'),
  ...protocolRoutes('imap4'),
  {
    method: 'GET',
    path: '/v1/mailboxes',
    operationId: 'listMailboxes',
    summary: 'Mailboxes in address order, a page at a time',
    tag: 'mailboxes',
    query: listQuerySchema,
    responses: { 200: { description: 'one page', schema: mailboxPageSchema } },
    async handler(ctx, input) {
      const q = parseInput(listQuerySchema, input.query);
      const page = await listMailboxes(ctx.store, { limit: q.limit, cursor: q.cursor });
      return { status: 200, body: { items: page.items.map(mailboxView), ...(page.next ? { next: page.next } : {}) } };
    },
  },
  {
    method: 'POST',
    path: '/v1/mailboxes',
    operationId: 'createMailbox',
    summary: 'Create a mailbox (with Inbox, Sent, Drafts, Trash, Junk, Archive)',
    tag: 'mailboxes',
    requestBody: { contentType: 'application/json', schema: mailboxCreateSchema },
    responses: { 201: { description: 'created', schema: mailboxViewSchema } },
    errors: [409],
    async handler(ctx, input) {
      const b = parseInput(mailboxCreateSchema, requireObject(input.json())) as MailboxChanges & { address: string; password: string };
      const acc = await createMailbox(ctx.store, { homeSite: ctx.site, ...b });
      return { status: 201, body: mailboxView(acc), headers: { ...etag(acc.version), Location: `/v1/mailboxes/${encodeURIComponent(acc.address)}` } };
    },
  },
  {
    method: 'GET',
    path: '/v1/mailboxes/{address}',
    operationId: 'getMailbox',
    summary: 'One mailbox and its per-protocol settings (Get-CASMailbox)',
    tag: 'mailboxes',
    pathParams: addressParam,
    responses: { 200: { description: 'the mailbox', schema: mailboxViewSchema } },
    errors: [404],
    async handler(ctx, input) {
      const acc = await getMailbox(ctx.store, input.params.address!);
      return { status: 200, body: mailboxView(acc), headers: etag(acc.version) };
    },
  },
  {
    method: 'PATCH',
    path: '/v1/mailboxes/{address}',
    operationId: 'patchMailbox',
    summary: 'Change password, role, protocol access and per-protocol overrides (Set-CASMailbox); open sessions follow at once',
    tag: 'mailboxes',
    pathParams: addressParam,
    headerParams: ifMatchHeader,
    requestBody: { contentType: 'application/json', schema: mailboxPatchSchema, description: 'only the fields to change' },
    responses: { 200: { description: 'the mailbox after the change', schema: mailboxViewSchema } },
    errors: [404, 409, 412],
    async handler(ctx, input) {
      const changes = parseInput(mailboxPatchSchema, requireObject(input.json())) as MailboxChanges;
      const acc = await updateMailbox(ctx.store, input.params.address!, changes, { ifMatch: ifMatch(input.headers) });
      return { status: 200, body: mailboxView(acc), headers: etag(acc.version) };
    },
  },
  {
    method: 'DELETE',
    path: '/v1/mailboxes/{address}',
    operationId: 'deleteMailbox',
    summary: 'Delete a mailbox and all its mail; its open sessions end',
    tag: 'mailboxes',
    pathParams: addressParam,
    responses: { 204: { description: 'deleted' } },
    errors: [404],
    async handler(ctx, input) {
      await removeMailbox(ctx.store, input.params.address!);
      return { status: 204 };
    },
  },
  {
    method: 'GET',
    path: '/v1/mailboxes/{address}/protocol-settings',
    operationId: 'getMailboxProtocolSettings',
    summary: 'The internal and external connection settings a client of this mailbox should use (Get-CASMailbox -ProtocolSettings)',
    tag: 'mailboxes',
    pathParams: addressParam,
    responses: { 200: { description: 'per protocol', schema: mailboxConnectionSettingsSchema } },
    errors: [404],
    async handler(ctx, input) {
      return { status: 200, body: await mailboxConnectionSettings(ctx, input.params.address!) };
    },
  },
  {
    method: 'GET',
    path: '/v1/mailboxes/{address}/folders',
    operationId: 'listMailboxFolders',
    summary: "A mailbox's folders with message counts and sizes",
    tag: 'mailboxes',
    pathParams: addressParam,
    responses: { 200: { description: 'the folders', schema: folderListSchema } },
    errors: [404],
    async handler(ctx, input) {
      return { status: 200, body: { items: await mailboxFolders(ctx.store, input.params.address!) } };
    },
  },
  {
    method: 'POST',
    path: '/v1/mailboxes/{address}/messages',
    operationId: 'deliverMessage',
    summary: 'Deliver a raw RFC 5322 message to the Inbox',
    tag: 'mailboxes',
    pathParams: addressParam,
    requestBody: { contentType: 'message/rfc822', schema: z.string().describe('the message bytes') },
    responses: { 201: { description: 'delivered', schema: deliveryResultSchema } },
    errors: [404, 413],
    async handler(ctx, input) {
      const acc = await getMailbox(ctx.store, input.params.address!);
      const r = await deliverToInbox(ctx.store, acc.address, input.body);
      return { status: 201, body: { address: acc.address, folder: 'INBOX', uid: r.uid, uidValidity: r.uidValidity } };
    },
  },
  {
    method: 'POST',
    path: '/v1/connectivity-tests',
    operationId: 'testConnectivity',
    summary: 'Log in to a mailbox over the real protocol through each front-end (Test-PopConnectivity / Test-ImapConnectivity)',
    tag: 'connectivity',
    requestBody: { contentType: 'application/json', schema: connectivityTestSchema },
    responses: { 200: { description: 'one result per front-end; result Failure carries the error', schema: connectivityReportSchema } },
    async handler(ctx, input) {
      const req = parseInput(connectivityTestSchema, requireObject(input.json()));
      return { status: 200, body: await runConnectivityTest(ctx, req) };
    },
  },
  ...['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml'].map(
    (path, i): RouteDef => ({
      method: 'GET',
      path,
      operationId: i === 0 ? 'getAutoconfig' : 'getAutoconfigWellKnown',
      summary: 'Thunderbird autoconfig (clientConfig 1.1) for an address; public, no authorization',
      tag: 'autoconfig',
      public: true,
      query: autoconfigQuerySchema,
      responses: { 200: { description: 'the configuration', contentType: 'application/xml', schema: z.string() } },
      errors: [404],
      async handler(ctx, input) {
        const xml = await autoconfigXml(ctx, input.query.emailaddress);
        return { status: 200, body: xml, contentType: 'application/xml; charset=utf-8', headers: { 'Cache-Control': 'max-age=300' } };
      },
    }),
  ),
];
