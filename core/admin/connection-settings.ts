// Connection settings clients are told to use (Exchange's InternalConnectionSettings and
// ExternalConnectionSettings, `host:port:SSL|TLS|`), and the per-mailbox view of them
// (Get-CASMailbox -ProtocolSettings).
import { z } from 'zod';
import { PROTOCOLS, defaultProtocolSettings, type ProtocolName } from '../settings/schema.js';
import type { AdminContext } from './context.js';
import { getMailbox } from './mailboxes.js';
import { getProtocolSettings } from './protocols.js';

export const connectionSettingSchema = z
  .object({
    hostname: z.string(),
    port: z.number().int(),
    encryptionType: z.enum(['SSL', 'TLS']).nullable().describe('SSL: implicit TLS; TLS: STARTTLS/STLS; null: none'),
  })
  .strict();
export type ConnectionSetting = z.infer<typeof connectionSettingSchema>;

export function parseConnectionSetting(s: string): ConnectionSetting {
  const [hostname = '', port = '0', enc = ''] = s.split(':');
  return { hostname, port: Number(port), encryptionType: enc === 'SSL' || enc === 'TLS' ? enc : null };
}

export interface ResolvedConnectionSettings {
  internal: string[];
  external: string[];
}

/**
 * The service's connection settings. While the internal ones are still the schema defaults
 * (standard ports on `localhost`) and the context knows its real listeners (local server),
 * those are reported instead, so what clients are told is where the server really listens.
 */
export async function resolveConnectionSettings(ctx: AdminContext, p: ProtocolName): Promise<ResolvedConnectionSettings & { enabled: boolean; loginType: string }> {
  const { settings } = await getProtocolSettings(ctx.store, p);
  let internal = settings.internalConnectionSettings;
  const isDefault = JSON.stringify(internal) === JSON.stringify(defaultProtocolSettings(p).internalConnectionSettings);
  if (isDefault) internal = ctx.listenerConnectionSettings?.(p) ?? internal;
  let external = settings.externalConnectionSettings;
  if (external.length === 0) external = ctx.externalConnectionDefaults?.(p) ?? external;
  return { internal, external, enabled: settings.enabled, loginType: settings.loginType };
}

const protocolConnectionSchema = z
  .object({
    enabled: z.boolean().describe('the service runs and this mailbox may use it'),
    serviceEnabled: z.boolean(),
    mailboxEnabled: z.boolean(),
    loginType: z.string(),
    internalConnectionSettings: z.array(connectionSettingSchema),
    externalConnectionSettings: z.array(connectionSettingSchema),
  })
  .strict();

export const mailboxConnectionSettingsSchema = z
  .object({ address: z.string(), pop3: protocolConnectionSchema, imap4: protocolConnectionSchema })
  .strict();
export type MailboxConnectionSettings = z.infer<typeof mailboxConnectionSettingsSchema>;

export async function mailboxConnectionSettings(ctx: AdminContext, address: string): Promise<MailboxConnectionSettings> {
  const acc = await getMailbox(ctx.store, address);
  const out: Record<string, unknown> = { address: acc.address };
  for (const p of PROTOCOLS) {
    const r = await resolveConnectionSettings(ctx, p);
    const mailboxEnabled = acc[p].enabled;
    out[p] = {
      // Admin, guest and anonymous accounts never log in over POP3/IMAP4, whatever the flags say.
      enabled: r.enabled && mailboxEnabled && acc.role === 'user',
      serviceEnabled: r.enabled,
      mailboxEnabled,
      loginType: r.loginType,
      internalConnectionSettings: r.internal.map(parseConnectionSetting),
      externalConnectionSettings: r.external.map(parseConnectionSetting),
    };
  }
  return out as MailboxConnectionSettings;
}
