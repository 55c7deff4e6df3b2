// The IMAP wire forms of a message's ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 §7.4.2),
// rendered from the message index. Stores keep the ENVELOPE and BODYSTRUCTURE forms next to
// the index (computed once, at delivery or lazily), so a FETCH of them is a read and a
// concatenation instead of a walk of the structure and a serializer run per message.
//
// Output is a "binary string" (one char per octet) in the response syntax of the IMAP codec
// (protocol-tasks/imap/codec/serialize.ts), which core cannot import: strings are written
// quoted when every octet is allowed in a quoted string, else as a literal, by the same rule
// (stringForm there; test/mime/imap-forms.test.ts checks that the two agree). Any change to
// what this module writes must bump IMAP_FORMS_VERSION, so forms stored by an older version
// are recomputed instead of served.

import { isUtf8 } from 'node:buffer';
import type { Address, Envelope, MessageIndex, MimePart } from './types.js';

/** Version of the forms below: stored forms of another version are stale. */
export const IMAP_FORMS_VERSION = 1;

/** The precomputed forms of one message, as stored. */
export interface ImapForms {
  /** The ENVELOPE value, e.g. `("date" "subject" ...)`, for a session without UTF8=ACCEPT. */
  envelope: string;
  /** The BODYSTRUCTURE value (with extension data), for a session without UTF8=ACCEPT. */
  bodyStructure: string;
  /**
   * The same two for a UTF8=ACCEPT session, present only when they differ (some header text
   * is valid UTF-8 in 8-bit octets: quoted there, a literal otherwise).
   */
  utf8?: { envelope: string; bodyStructure: string };
}

/** Longest string written quoted (as protocol-tasks/imap/codec/serialize.ts MAX_QUOTED). */
const MAX_QUOTED = 1024;
/** Deeper structures are cut here (the indexer caps nesting far below this). */
export const MAX_STRUCTURE_DEPTH = 100;

interface Ctx {
  utf8: boolean;
  /** Set when a string with an 8-bit octet was written (its form depends on utf8). */
  eightBit: boolean;
}

/** Octets of a binary string as one char each (char codes above 0xFF keep their low octet). */
function octets(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) return Buffer.from(s, 'latin1').toString('latin1');
  }
  return s;
}

function isUtf8Binary(s: string): boolean {
  return isUtf8(Buffer.from(s, 'latin1'));
}

/** An IMAP string of these octets: quoted when allowed, else a literal. */
function str(s: string, cx: Ctx): string {
  s = octets(s);
  const n = s.length;
  let quoted = n <= MAX_QUOTED;
  let esc = 0;
  let high = false;
  for (let i = 0; quoted && i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0d || c === 0x0a) quoted = false;
    else if (c >= 0x80) {
      high = true;
      if (!cx.utf8) quoted = false;
    } else if (c === 0x22 || c === 0x5c) esc++;
  }
  if (high) cx.eightBit = true;
  if (quoted && high && !isUtf8Binary(s)) quoted = false;
  if (quoted && esc > 8 && esc * 4 > n) quoted = false;
  if (!quoted) {
    // A string we stopped scanning early may still hold an 8-bit octet.
    if (!high) for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) cx.eightBit = true;
    return `{${n}}\r\n${s}`;
  }
  if (esc === 0) return `"${s}"`;
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

function nstr(s: string | null | undefined, cx: Ctx): string {
  return s == null ? 'NIL' : str(s, cx);
}

function addressList(list: Address[] | null, cx: Ctx): string {
  if (!list || list.length === 0) return 'NIL';
  let out = '(';
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    if (i > 0) out += ' ';
    out += `(${nstr(a.name, cx)} ${nstr(a.adl, cx)} ${nstr(a.mailbox, cx)} ${nstr(a.host, cx)})`;
  }
  return out + ')';
}

function envelope(env: Envelope, cx: Ctx): string {
  const from = addressList(env.from, cx);
  // Per RFC 3501, an absent Sender or Reply-To is given the From value.
  const sender = env.sender && env.sender.length > 0 ? addressList(env.sender, cx) : from;
  const replyTo = env.replyTo && env.replyTo.length > 0 ? addressList(env.replyTo, cx) : from;
  return (
    `(${nstr(env.date, cx)} ${nstr(env.subject, cx)} ${from} ${sender} ${replyTo} ` +
    `${addressList(env.to, cx)} ${addressList(env.cc, cx)} ${addressList(env.bcc, cx)} ` +
    `${nstr(env.inReplyTo, cx)} ${nstr(env.messageId, cx)})`
  );
}

const EMPTY_ENVELOPE: Envelope = {
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

const EMPTY_TEXT: MimePart = {
  headerStart: 0,
  bodyStart: 0,
  bodyEnd: 0,
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

function paramList(params: Array<[string, string]> | null | undefined, cx: Ctx): string {
  if (!params || params.length === 0) return 'NIL';
  let out = '(';
  for (let i = 0; i < params.length; i++) {
    const [k, v] = params[i]!;
    if (i > 0) out += ' ';
    out += `${str(k, cx)} ${str(v, cx)}`;
  }
  return out + ')';
}

function disposition(d: MimePart['disposition'], cx: Ctx): string {
  return d ? `(${str(d.type, cx)} ${paramList(d.params, cx)})` : 'NIL';
}

function language(l: string[] | null, cx: Ctx): string {
  if (!l || l.length === 0) return 'NIL';
  if (l.length === 1) return str(l[0]!, cx);
  return '(' + l.map((x) => str(x, cx)).join(' ') + ')';
}

function num(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid IMAP number ${n}`);
  return String(n);
}

function part(p: MimePart, extended: boolean, depth: number, cx: Ctx): string {
  if (depth > MAX_STRUCTURE_DEPTH) return part(EMPTY_TEXT, extended, 0, cx);
  const type = p.type.toLowerCase();
  if (type === 'multipart') {
    const children = p.children && p.children.length > 0 ? p.children : [EMPTY_TEXT];
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]: no SP between bodies.
    let out = '(';
    for (const c of children) out += part(c, extended, depth + 1, cx);
    out += ' ' + str(p.subtype.toUpperCase(), cx);
    if (extended) out += ` ${paramList(p.params, cx)} ${disposition(p.disposition, cx)} ${language(p.language, cx)} ${nstr(p.location, cx)}`;
    return out + ')';
  }
  let out =
    `(${str(p.type.toUpperCase(), cx)} ${str(p.subtype.toUpperCase(), cx)} ${paramList(p.params, cx)} ` +
    `${nstr(p.id, cx)} ${nstr(p.description, cx)} ${str(p.encoding.toUpperCase(), cx)} ${num(p.size)}`;
  const sub = p.subtype.toLowerCase();
  if (type === 'message' && (sub === 'rfc822' || sub === 'global')) {
    const m = p.message ?? { envelope: EMPTY_ENVELOPE, root: EMPTY_TEXT };
    out += ` ${envelope(m.envelope, cx)} ${part(m.root, extended, depth + 1, cx)} ${num(p.lines ?? 0)}`;
  } else if (type === 'text') {
    out += ' ' + num(p.lines ?? 0);
  }
  if (extended) out += ` ${nstr(p.md5, cx)} ${disposition(p.disposition, cx)} ${language(p.language, cx)} ${nstr(p.location, cx)}`;
  return out + ')';
}

export interface FormOptions {
  /** UTF8=ACCEPT is on: valid UTF-8 may be written in quoted strings. */
  utf8?: boolean;
}

/** The ENVELOPE value. */
export function envelopeForm(env: Envelope, opts: FormOptions = {}): string {
  return envelope(env, { utf8: opts.utf8 === true, eightBit: false });
}

/** The BODYSTRUCTURE value (with extension data). */
export function bodyStructureForm(root: MimePart, opts: FormOptions = {}): string {
  return part(root, true, 0, { utf8: opts.utf8 === true, eightBit: false });
}

/** The BODY value (the non-extensible form, without extension data). */
export function bodyForm(root: MimePart, opts: FormOptions = {}): string {
  return part(root, false, 0, { utf8: opts.utf8 === true, eightBit: false });
}

/** The forms a store keeps for a message (see ImapForms). */
export function imapForms(index: Pick<MessageIndex, 'envelope' | 'root'>): ImapForms {
  const cx: Ctx = { utf8: false, eightBit: false };
  const forms: ImapForms = { envelope: envelope(index.envelope, cx), bodyStructure: part(index.root, true, 0, cx) };
  if (cx.eightBit) {
    const u: Ctx = { utf8: true, eightBit: false };
    const e8 = envelope(index.envelope, u);
    const b8 = part(index.root, true, 0, u);
    if (e8 !== forms.envelope || b8 !== forms.bodyStructure) forms.utf8 = { envelope: e8, bodyStructure: b8 };
  }
  return forms;
}
