// Inbound delivery from the bucket's incoming/ prefix (where an SES receipt rule's S3 action,
// or any MTA, drops one raw RFC 5322 message per object): find the recipients, deliver to each
// local recipient's Inbox through deliverToInbox, and say whether the source object may go.
//
// Recipients, first source that yields any address:
//   1. The envelope, as the receiving side recorded it above the message:
//      - the `for <address>` clause of the topmost Received header, when that header was
//        written by SES (`by inbound-smtp.<region>.amazonaws.com`): SES's record of the SMTP
//        RCPT TO for a message with a single recipient;
//      - `X-Envelope-To` / `Envelope-To` headers that come before the first Received header,
//        i.e. prepended by the receiving side (an MTA in front of the bucket, or a receipt
//        rule's add-header action), never ones the sender wrote into the message.
//   2. Otherwise the addressees the message names: Delivered-To, X-Original-To, To and Cc.
//      (Bcc recipients are reachable only through 1.)
// When localDomains is given, only addresses in those domains are ours; the rest (other
// people on a thread) are ignored. An address of ours without a mailbox is an unknown
// recipient: rejected (reported, not delivered).
//
// The source object is deleted only when at least one delivery succeeded and none failed.
// Nothing delivered (only unknown recipients, or none at all): the object stays for an
// operator (the bucket's lifecycle rule expires incoming/ after a while). A failed delivery:
// the caller retries the whole object; deliveries carry an append id derived from the object,
// so recipients that already have the message do not get it twice.

import { createHash } from 'node:crypto';
import type { Store } from '../store/port.js';
import { AdminError } from './errors.js';
import { canonicalAddress, deliverToInbox } from './mailboxes.js';

/** Most recipients one object may deliver to (a bound on work per object). */
export const MAX_RECIPIENTS = 100;
/** Header block read for recipients; past this the rest of the headers is not looked at. */
const MAX_HEADER_SCAN = 256 * 1024;

export interface Recipients {
  addresses: string[];
  source: 'envelope' | 'headers' | 'none';
}

interface Header {
  name: string;
  value: string;
}

/** The unfolded header fields of a raw message, in order (bounded). */
export function headerFields(raw: Buffer): Header[] {
  const scan = raw.subarray(0, MAX_HEADER_SCAN).toString('latin1');
  let end = scan.search(/\r?\n\r?\n/);
  if (end < 0) end = scan.length;
  const lines = scan.slice(0, end).split(/\r?\n/);
  const out: Header[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && out.length > 0) {
      out[out.length - 1]!.value += ' ' + line.trim();
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push({ name: line.slice(0, i).trim().toLowerCase(), value: line.slice(i + 1).trim() });
  }
  return out;
}

/** addr-specs in an address-list header value (display names, comments and groups skipped). */
export function addressesIn(value: string): string[] {
  // Quoted strings and comments may hold commas and '@': drop them first.
  let v = value.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (let i = 0; i < 5 && /\([^()]*\)/.test(v); i++) v = v.replace(/\([^()]*\)/g, ' ');
  const out: string[] = [];
  for (const part of v.replace(/[^:;,]*:/g, (m) => (m.includes('<') ? m : ',')).split(/[,;]/)) {
    const angle = /<([^<>]*)>/.exec(part);
    const candidate = (angle ? angle[1]! : part).trim().replace(/^mailto:/i, '');
    if (!candidate.includes('@') || /\s/.test(candidate)) continue;
    try {
      out.push(canonicalAddress(candidate));
    } catch {
      // not an address we could hold a mailbox for
    }
  }
  return out;
}

const SES_RECEIVED = /\bby\s+inbound-smtp\.[a-z0-9-]+\.amazonaws\.com\b/i;

export function findRecipients(raw: Buffer, localDomains?: readonly string[]): Recipients {
  const fields = headerFields(raw);
  const domains = localDomains && localDomains.length > 0 ? new Set(localDomains.map((d) => d.toLowerCase())) : null;
  const ours = (list: string[]) => {
    const seen = new Set<string>();
    for (const a of list) {
      if (domains && !domains.has(a.slice(a.lastIndexOf('@') + 1))) continue;
      seen.add(a);
    }
    return [...seen];
  };

  const envelope: string[] = [];
  const firstReceived = fields.findIndex((f) => f.name === 'received');
  if (firstReceived >= 0) {
    const r = fields[firstReceived]!.value;
    const m = /\bfor\s+<?([^\s<>;]+@[^\s<>;]+?)>?\s*;/i.exec(r);
    if (m && SES_RECEIVED.test(r)) envelope.push(...addressesIn(m[1]!));
  }
  const before = firstReceived >= 0 ? fields.slice(0, firstReceived) : fields;
  for (const f of before) if (f.name === 'x-envelope-to' || f.name === 'envelope-to') envelope.push(...addressesIn(f.value));
  const fromEnvelope = ours(envelope);
  if (fromEnvelope.length > 0) return { addresses: fromEnvelope.slice(0, MAX_RECIPIENTS), source: 'envelope' };

  const named: string[] = [];
  for (const f of fields) {
    if (f.name === 'delivered-to' || f.name === 'x-original-to' || f.name === 'to' || f.name === 'cc') named.push(...addressesIn(f.value));
  }
  const fromHeaders = ours(named);
  if (fromHeaders.length > 0) return { addresses: fromHeaders.slice(0, MAX_RECIPIENTS), source: 'headers' };
  return { addresses: [], source: 'none' };
}

export interface IngestOutcome {
  recipients: Recipients;
  delivered: Array<{ address: string; uid: number }>;
  /** Ours, but no such mailbox: rejected. */
  unknown: string[];
  /** Refused for good (the message is empty or over the size limit): not retried. */
  refused: Array<{ address: string; error: string }>;
  /** Deliveries that failed for another reason (store unavailable...): retry the object. */
  failed: Array<{ address: string; error: string }>;
  /** True when the source object may be deleted: something delivered and nothing failed. */
  deleteSource: boolean;
}

export interface IngestOptions {
  /** Identifies the source object (bucket/key/etag): makes a retried delivery idempotent. */
  sourceId: string;
  /** When the message arrived (the internal date of the delivered copies). */
  receivedAt?: Date;
  localDomains?: readonly string[];
}

export async function ingestMessage(store: Store, raw: Buffer, opts: IngestOptions): Promise<IngestOutcome> {
  const recipients = findRecipients(raw, opts.localDomains);
  const out: IngestOutcome = { recipients, delivered: [], unknown: [], refused: [], failed: [], deleteSource: false };
  const appendId = 'ingest:' + createHash('sha256').update(opts.sourceId).digest('hex').slice(0, 40);
  // deliverToInbox passes these options through to deliverMessage; the append id makes a
  // retried object land once per recipient.
  const deliverOpts: { internalDate?: Date; appendId: string } = { appendId };
  if (opts.receivedAt) deliverOpts.internalDate = opts.receivedAt;
  for (const address of recipients.addresses) {
    try {
      const r = await deliverToInbox(store, address, raw, deliverOpts);
      out.delivered.push({ address, uid: r.uid });
    } catch (e) {
      if (e instanceof AdminError && e.code === 'not_found') out.unknown.push(address);
      else if (e instanceof AdminError && e.code === 'invalid') out.refused.push({ address, error: e.message });
      else out.failed.push({ address, error: e instanceof Error ? e.message : String(e) });
    }
  }
  out.deleteSource = out.delivered.length > 0 && out.failed.length === 0;
  return out;
}
