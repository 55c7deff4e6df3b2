// Thunderbird autoconfig (clientConfig version 1.1), served without authentication at
// /mail/config-v1.1.xml?emailaddress=… (and /.well-known/autoconfig/mail/config-v1.1.xml).
//
// Built from the services' connection settings: the external ones when set (what the load
// balancer exposes), else the internal ones. Disabled services are left out, and so are
// plain-text endpoints unless the login policy allows a clear-text login (PlainTextLogin),
// since a client could not log in there. It never looks the mailbox up: a public endpoint
// must not tell which addresses exist. No <outgoingServer>: this service does not send mail.
import type { ProtocolName } from '../settings/schema.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { canonicalAddress } from './mailboxes.js';
import { parseConnectionSetting, resolveConnectionSettings } from './connection-settings.js';

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

const SOCKET_TYPE = { SSL: 'SSL', TLS: 'STARTTLS' } as const;
const TYPE: Record<ProtocolName, string> = { imap4: 'imap', pop3: 'pop3' };

export async function autoconfigXml(ctx: AdminContext, emailAddress: string | undefined): Promise<string> {
  if (!emailAddress) throw new AdminError('invalid', 'emailaddress is required', 'emailaddress');
  let address: string;
  try {
    address = canonicalAddress(emailAddress, 'emailaddress');
  } catch (e) {
    throw e instanceof AdminError ? new AdminError(e.code, `emailaddress: ${e.message}`, e.field) : e;
  }
  const domain = address.slice(address.indexOf('@') + 1);
  const servers: string[] = [];
  // IMAP first: Thunderbird proposes the first incoming server.
  for (const p of ['imap4', 'pop3'] as const) {
    const r = await resolveConnectionSettings(ctx, p);
    if (!r.enabled) continue;
    const list = r.external.length > 0 ? r.external : r.internal;
    for (const raw of list) {
      const c = parseConnectionSetting(raw);
      if (!c.encryptionType && r.loginType !== 'PlainTextLogin') continue;
      servers.push(
        [
          `    <incomingServer type="${TYPE[p]}">`,
          `      <hostname>${xmlEscape(c.hostname)}</hostname>`,
          `      <port>${c.port}</port>`,
          `      <socketType>${c.encryptionType ? SOCKET_TYPE[c.encryptionType] : 'plain'}</socketType>`,
          `      <authentication>password-cleartext</authentication>`,
          `      <username>%EMAILADDRESS%</username>`,
          `    </incomingServer>`,
        ].join('\n'),
      );
    }
  }
  if (servers.length === 0) throw new AdminError('not_found', 'no POP3 or IMAP4 service is offered to clients');
  const d = xmlEscape(domain);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${d}">`,
    `    <domain>${d}</domain>`,
    `    <displayName>${d} mail</displayName>`,
    `    <displayShortName>${d}</displayShortName>`,
    ...servers,
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}
