// Protocol service settings (Exchange's Set-PopSettings / Set-ImapSettings) and per-mailbox
// protocol settings (Set-CASMailbox), with Exchange's names in camelCase, defaults and ranges.
// See shared/reference/exchange-parity.md §1 and §2.
//
// Differences from Exchange, on purpose:
//   - `enabled` defaults to true: a fresh install serves mail at once (Exchange installs both
//     protocols stopped). Administrators stop a protocol through the admin API.
//   - Durations are whole seconds.
//   - Log rotation settings are not offered: logs go to stdout / CloudWatch with retention.

import { z } from 'zod';

export type ProtocolName = 'pop3' | 'imap4';
export const PROTOCOLS: readonly ProtocolName[] = ['pop3', 'imap4'];

export const LOGIN_TYPES = ['PlainTextLogin', 'PlainTextAuthentication', 'SecureLogin'] as const;
export type LoginType = (typeof LOGIN_TYPES)[number];

export const MIME_FORMATS = [
  'TextOnly',
  'HtmlOnly',
  'HtmlAndTextAlternative',
  'TextEnrichedOnly',
  'TextEnrichedAndTextAlternative',
  'BestBodyFormat',
] as const;
export type MimeFormat = (typeof MIME_FORMATS)[number];

export const CALENDAR_OPTIONS = ['iCalendar', 'IntranetUrl', 'InternetUrl', 'Custom'] as const;
export const SORT_ORDERS = ['Ascending', 'Descending'] as const;

/** `host:port:SSL|TLS|` as Exchange writes connection settings. */
const connectionSetting = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}:(SSL|TLS|)$/, 'expected host:port:SSL, host:port:TLS or host:port:');
/** `IP:port` binding. */
const binding = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected IP:port');

const INT_MAX = 2147483647;

function baseShape(p: ProtocolName) {
  const pop = p === 'pop3';
  return {
    enabled: z.boolean().default(true),
    loginType: z.enum(LOGIN_TYPES).default('SecureLogin'),
    x509CertificateName: z.string().max(255).default(''),
    sslBindings: z.array(binding).max(16).default([pop ? '0.0.0.0:995' : '0.0.0.0:993']),
    unencryptedOrTlsBindings: z.array(binding).max(16).default([pop ? '0.0.0.0:110' : '0.0.0.0:143']),
    internalConnectionSettings: z
      .array(connectionSetting)
      .max(16)
      .default(pop ? ['localhost:995:SSL', 'localhost:110:TLS'] : ['localhost:993:SSL', 'localhost:143:TLS']),
    externalConnectionSettings: z.array(connectionSetting).max(16).default([]),
    banner: z
      .string()
      .max(255)
      .regex(/^[\x20-\x7e]*$/, 'printable ASCII only')
      .default(pop ? 'The POP3 service is ready.' : 'The IMAP4 service is ready.'),
    maxCommandSize: pop
      ? z.number().int().min(40).max(1024).default(512)
      : z.number().int().min(1024).max(16384).default(10240),
    maxConnections: z.number().int().min(1).max(INT_MAX).default(INT_MAX),
    maxConnectionFromSingleIp: z.number().int().min(1).max(INT_MAX).default(INT_MAX),
    maxConnectionsPerUser: z.number().int().min(1).max(INT_MAX).default(16),
    /** Seconds of idle time allowed before login (30 s – 1 h). */
    preAuthenticatedConnectionTimeout: z.number().int().min(30).max(3600).default(60),
    /** Seconds of idle time allowed after login (IMAP ≥ 30 min, POP3 ≥ 10 min; ≤ 1 day). */
    authenticatedConnectionTimeout: z
      .number()
      .int()
      .min(pop ? 600 : 1800)
      .max(86400)
      .default(1800),
    messageRetrievalMimeFormat: z.enum(MIME_FORMATS).default('BestBodyFormat'),
    calendarItemRetrievalOption: z.enum(CALENDAR_OPTIONS).default('iCalendar'),
    owaServerUrl: z.union([z.url(), z.literal('')]).default(''),
    suppressReadReceipt: z.boolean().default(false),
    enableExactRfc822Size: z.boolean().default(false),
    protocolLogEnabled: z.boolean().default(false),
    proxyTargetPort: z.number().int().min(1).max(65535).default(pop ? 1995 : 1993),
  };
}

export const pop3SettingsSchema = z
  .object({
    ...baseShape('pop3'),
    messageRetrievalSortOrder: z.enum(SORT_ORDERS).default('Ascending'),
  })
  .strict();

export const imap4SettingsSchema = z
  .object({
    ...baseShape('imap4'),
    showHiddenFoldersEnabled: z.boolean().default(false),
  })
  .strict();

export type Pop3Settings = z.infer<typeof pop3SettingsSchema>;
export type Imap4Settings = z.infer<typeof imap4SettingsSchema>;
/** The union of both; the protocol-specific fields are optional. */
export type ProtocolSettings = Omit<Pop3Settings, 'messageRetrievalSortOrder'> & {
  messageRetrievalSortOrder?: Pop3Settings['messageRetrievalSortOrder'];
  showHiddenFoldersEnabled?: boolean;
};

export function protocolSettingsSchema(p: ProtocolName) {
  return p === 'pop3' ? pop3SettingsSchema : imap4SettingsSchema;
}

export function defaultProtocolSettings(p: ProtocolName): ProtocolSettings {
  return protocolSettingsSchema(p).parse({}) as ProtocolSettings;
}

/**
 * A stored settings object as a valid one: parsed against the schema (fields added since get
 * their defaults); a record that no longer validates (written by a version with a field since
 * removed or a range since narrowed) keeps its valid known fields over the defaults.
 */
export function normalizeProtocolSettings(p: ProtocolName, raw: unknown): ProtocolSettings {
  const schema = protocolSettingsSchema(p);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data as ProtocolSettings;
  const merged: Record<string, unknown> = { ...defaultProtocolSettings(p) };
  const shape = schema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) {
      if (k in shape && shape[k]!.safeParse(v).success) merged[k] = v;
    }
  }
  return merged as ProtocolSettings;
}

/** Per-mailbox settings for one protocol (Set-CASMailbox). */
export const mailboxProtocolSettingsSchema = z
  .object({
    enabled: z.boolean().default(true),
    useProtocolDefaults: z.boolean().default(true),
    messagesRetrievalMimeFormat: z.enum(MIME_FORMATS).default('BestBodyFormat'),
    enableExactRfc822Size: z.boolean().default(false),
    suppressReadReceipt: z.boolean().default(false),
    forceICalForCalendarRetrievalOption: z.boolean().default(false),
  })
  .strict();
export type MailboxProtocolSettings = z.infer<typeof mailboxProtocolSettingsSchema>;

export function defaultMailboxProtocolSettings(): MailboxProtocolSettings {
  return mailboxProtocolSettingsSchema.parse({});
}

/** The settings that apply to one mailbox: the service's, or its overrides when it has opted out. */
export function effectiveMailboxSettings(service: ProtocolSettings, mailbox: MailboxProtocolSettings) {
  if (mailbox.useProtocolDefaults) {
    return {
      messageRetrievalMimeFormat: service.messageRetrievalMimeFormat,
      enableExactRfc822Size: service.enableExactRfc822Size,
      suppressReadReceipt: service.suppressReadReceipt,
      forceICalForCalendarRetrievalOption: false,
    };
  }
  return {
    messageRetrievalMimeFormat: mailbox.messagesRetrievalMimeFormat,
    enableExactRfc822Size: mailbox.enableExactRfc822Size,
    suppressReadReceipt: mailbox.suppressReadReceipt,
    forceICalForCalendarRetrievalOption: mailbox.forceICalForCalendarRetrievalOption,
  };
}
