// A test oracle: ENVELOPE, BODY and BODYSTRUCTURE values (RFC 3501 §7.4.2) built as codec
// value trees and written by the codec's serializer. This was the server's renderer before the
// forms moved to core/mime/imap-forms.ts (which writes strings directly, so stores can keep
// them); test/mime/imap-forms.test.ts checks that both give the same octets.
//
// The interfaces below are structurally the same as core/mime/types.ts (Envelope, Address,
// MimePart). Strings are "binary strings" (each char code one octet).

import { adjacent, binary, nbinary, type ImapValue } from '../../protocol-tasks/imap/codec/serialize.js';

export interface AddressLike {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

export interface EnvelopeLike {
  date: string | null;
  subject: string | null;
  from: AddressLike[] | null;
  sender: AddressLike[] | null;
  replyTo: AddressLike[] | null;
  to: AddressLike[] | null;
  cc: AddressLike[] | null;
  bcc: AddressLike[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface BodyPartLike {
  type: string;
  subtype: string;
  params: Array<[string, string]>;
  id: string | null;
  description: string | null;
  encoding: string;
  size: number;
  lines: number | null;
  md5: string | null;
  disposition: { type: string; params: Array<[string, string]> } | null;
  language: string[] | null;
  location: string | null;
  children?: BodyPartLike[];
  message?: { envelope: EnvelopeLike; root: BodyPartLike };
}

/** Deeper structures are cut here (the indexer caps nesting far below this). */
export const MAX_STRUCTURE_DEPTH = 100;

function addressList(list: AddressLike[] | null): ImapValue {
  if (!list || list.length === 0) return null;
  return list.map((a) => [nbinary(a.name), nbinary(a.adl), nbinary(a.mailbox), nbinary(a.host)]);
}

/**
 * The ENVELOPE value. Per RFC 3501, an absent Sender or Reply-To is given the From value.
 */
export function envelopeValue(env: EnvelopeLike): ImapValue {
  const from = addressList(env.from);
  const sender = env.sender && env.sender.length > 0 ? addressList(env.sender) : from;
  const replyTo = env.replyTo && env.replyTo.length > 0 ? addressList(env.replyTo) : from;
  return [
    nbinary(env.date),
    nbinary(env.subject),
    from,
    sender,
    replyTo,
    addressList(env.to),
    addressList(env.cc),
    addressList(env.bcc),
    nbinary(env.inReplyTo),
    nbinary(env.messageId),
  ];
}

const EMPTY_ENVELOPE: EnvelopeLike = {
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
};

const EMPTY_TEXT: BodyPartLike = {
  type: 'text',
  subtype: 'plain',
  params: [['charset', 'us-ascii']],
  id: null,
  description: null,
  encoding: '7BIT',
  size: 0,
  lines: 0,
  md5: null,
  disposition: null,
  language: null,
  location: null,
};

function paramList(params: Array<[string, string]> | null | undefined): ImapValue {
  if (!params || params.length === 0) return null;
  const out: ImapValue[] = [];
  for (const [k, v] of params) out.push(binary(k), binary(v));
  return out;
}

function dispositionValue(d: BodyPartLike['disposition']): ImapValue {
  if (!d) return null;
  return [binary(d.type), paramList(d.params)];
}

function languageValue(l: string[] | null): ImapValue {
  if (!l || l.length === 0) return null;
  if (l.length === 1) return binary(l[0]!);
  return l.map((x) => binary(x));
}

function upper(s: string): ImapValue {
  return binary(s.toUpperCase());
}

function partValue(p: BodyPartLike, extended: boolean, depth: number): ImapValue {
  if (depth > MAX_STRUCTURE_DEPTH) return partValue(EMPTY_TEXT, extended, 0);
  const type = p.type.toLowerCase();
  if (type === 'multipart') {
    const children = p.children && p.children.length > 0 ? p.children : [EMPTY_TEXT];
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]: no SP between bodies.
    const bodies = children.map((c) => partValue(c, extended, depth + 1));
    const out: ImapValue[] = [adjacent(bodies), upper(p.subtype)];
    if (extended) {
      out.push(paramList(p.params), dispositionValue(p.disposition), languageValue(p.language), nbinary(p.location));
    }
    return out;
  }
  const out: ImapValue[] = [
    upper(p.type),
    upper(p.subtype),
    paramList(p.params),
    nbinary(p.id),
    nbinary(p.description),
    binary(p.encoding.toUpperCase()),
    p.size,
  ];
  const sub = p.subtype.toLowerCase();
  if (type === 'message' && (sub === 'rfc822' || sub === 'global')) {
    const m = p.message ?? { envelope: EMPTY_ENVELOPE, root: EMPTY_TEXT };
    out.push(envelopeValue(m.envelope), partValue(m.root, extended, depth + 1), p.lines ?? 0);
  } else if (type === 'text') {
    out.push(p.lines ?? 0);
  }
  if (extended) {
    out.push(nbinary(p.md5), dispositionValue(p.disposition), languageValue(p.language), nbinary(p.location));
  }
  return out;
}

/** The BODYSTRUCTURE value (with extension data). */
export function bodyStructureValue(root: BodyPartLike): ImapValue {
  return partValue(root, true, 0);
}

/** The BODY value (non-extensible form, no extension data). */
export function bodyValue(root: BodyPartLike): ImapValue {
  return partValue(root, false, 0);
}
