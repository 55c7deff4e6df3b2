// The MIME structure indexer: parses a raw message once, at delivery, into a MessageIndex
// (ENVELOPE, BODYSTRUCTURE data and exact octet offsets of every part), so IMAP can answer
// ENVELOPE/BODYSTRUCTURE from metadata and serve BODY[...] sections by ranged reads.
//
// How it works. A part is a byte range [headerStart, bodyEnd) of the raw message. Its header
// runs to the first blank line (CRLF or bare LF, the blank line belongs to the header); the
// rest is its body. A multipart body is split at the delimiter lines of its own boundary
// only: a line that is exactly "--boundary" or "--boundary--", optionally followed by spaces
// or tabs (RFC 2046 section 5.1.1). The line end before a delimiter belongs to the delimiter,
// not to the part before it. Because each multipart splits only the range its parent gave it,
// a parent's delimiter always ends a child (even one whose own closing delimiter is missing),
// and boundaries that share a prefix cannot be confused. The preamble and epilogue belong to
// no part.
//
// Bounds: parts are processed from an explicit work stack (no recursion), nesting stops at
// limits.maxDepth and the part count at limits.maxParts; header fields, field length,
// addresses and parameters are capped too. Each byte is scanned a bounded number of times per
// nesting level, so the work is linear in the message size times the (capped) depth. Byte
// searches run on Buffer views cut to the part's range, never past it.
//
// Degraded shapes (so that every index can be rendered as a valid BODYSTRUCTURE):
//   - a multipart without a boundary parameter, or whose body holds no delimiter line, or
//     that sits at the depth limit, is indexed as a single text/plain part (its parameters
//     kept), like Dovecot; the depth case also sets `truncated`;
//   - a message/rfc822 (or message/global) at the depth or part limit becomes
//     application/octet-stream without `message`, and sets `truncated`.
// So: type 'multipart' always has a non-empty `children`; message/rfc822 and message/global
// always have `message`.

import { parseAddressList } from './address.js';
import { parseContentType, parseDisposition, parseEncoding, parseLanguage } from './content.js';
import { scanHeaderFields, trimWsp, unfoldValue } from './header.js';
import { DEFAULT_MIME_LIMITS, MAX_STORED_HEADER, type Address, type Envelope, type MessageIndex, type MimeLimits, type MimePart } from './types.js';

const LF_CRLF = Buffer.from('\n\r\n', 'latin1');
const LF_LF = Buffer.from('\n\n', 'latin1');

/**
 * The octets the indexer reads, by position: a Buffer (BufferSource), or a file read in
 * windows (file-source.ts) for messages too big to hold in memory. Every method works on
 * absolute offsets; results are the same whatever the source.
 */
export interface ByteSource {
  readonly length: number;
  /** The octet at i (0 <= i < length). */
  byte(i: number): number;
  /** First index >= from where `needle` occurs entirely before `end`, or -1. */
  indexOf(needle: Buffer, from: number, end: number): number;
  /** Octets [start, end) as a binary (latin1) string. */
  latin1(start: number, end: number): string;
  /** Number of LF octets in [start, end). */
  countLf(start: number, end: number): number;
}

export class BufferSource implements ByteSource {
  constructor(private readonly buf: Buffer) {}

  get length(): number {
    return this.buf.length;
  }

  byte(i: number): number {
    return this.buf[i]!;
  }

  indexOf(needle: Buffer, from: number, end: number): number {
    if (from > end) return -1;
    const i = (end === this.buf.length ? this.buf : this.buf.subarray(0, end)).indexOf(needle, from);
    return i;
  }

  latin1(start: number, end: number): string {
    return this.buf.toString('latin1', start, end);
  }

  countLf(start: number, end: number): number {
    if (end <= start) return 0;
    const view = this.buf.subarray(start, end);
    let n = 0;
    let i = view.indexOf(10);
    while (i >= 0) {
      n++;
      i = view.indexOf(10, i + 1);
    }
    return n;
  }
}

/**
 * Where the body of the entity starting at `start` begins: just after the blank line that
 * ends its header, or `end` when there is no blank line (then all of it is header).
 */
export function findHeaderEnd(buf: Buffer, start: number, end: number): number {
  return headerEnd(new BufferSource(buf), start, end);
}

function headerEnd(src: ByteSource, start: number, end: number): number {
  if (start >= end) return end;
  const c0 = src.byte(start);
  if (c0 === 10) return start + 1;
  if (c0 === 13 && start + 1 < end && src.byte(start + 1) === 10) return start + 2;
  const a = src.indexOf(LF_CRLF, start, end);
  if (a >= 0) {
    // A bare "\n\n" can only win if it starts before the "\n\r\n" found.
    const b = src.indexOf(LF_LF, start, a + 1);
    return b >= 0 ? b + 2 : a + 3;
  }
  const b = src.indexOf(LF_LF, start, end);
  return b >= 0 ? b + 2 : end;
}

/** Number of LF octets in [start, end): the RFC 3501 line count (as Dovecot counts it). */
export function countLines(buf: Buffer, start: number, end: number): number {
  return new BufferSource(buf).countLf(start, end);
}

// Header fields the indexer reads, by lower-cased name.
const CONTENT_FIELDS = new Set([
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'content-id',
  'content-description',
  'content-md5',
  'content-language',
  'content-location',
]);
const ENVELOPE_FIELDS = new Set(['date', 'subject', 'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'in-reply-to', 'message-id']);
const LONGEST_WANTED = 'content-transfer-encoding'.length;

interface Holder {
  envelope: Envelope;
  root: MimePart;
}

interface Task {
  part: MimePart;
  depth: number;
  /** Set for the root of a message (top level or message/rfc822): receives its envelope. */
  holder: Holder | null;
  /** Inside multipart/digest: the default type is message/rfc822. */
  digest: boolean;
}

function emptyEnvelope(): Envelope {
  return { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
}

function newPart(headerStart: number, bodyEnd: number): MimePart {
  return {
    headerStart,
    bodyStart: bodyEnd,
    bodyEnd,
    type: 'text',
    subtype: 'plain',
    params: [],
    id: null,
    description: null,
    encoding: '7BIT',
    size: 0,
    lines: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
  };
}

function nonEmpty(v: string | undefined): string | null {
  return v === undefined || v === '' ? null : v;
}

function sanitize(limits: MimeLimits): MimeLimits {
  const n = (v: number, d: number): number => (Number.isFinite(v) && v >= 0 ? Math.floor(v) : d);
  return {
    maxDepth: n(limits.maxDepth, DEFAULT_MIME_LIMITS.maxDepth),
    maxParts: Math.max(1, n(limits.maxParts, DEFAULT_MIME_LIMITS.maxParts)),
    maxHeaders: n(limits.maxHeaders, DEFAULT_MIME_LIMITS.maxHeaders),
    maxHeaderLength: n(limits.maxHeaderLength, DEFAULT_MIME_LIMITS.maxHeaderLength),
    maxAddresses: n(limits.maxAddresses, DEFAULT_MIME_LIMITS.maxAddresses),
    maxParams: n(limits.maxParams, DEFAULT_MIME_LIMITS.maxParams),
  };
}

class Indexer {
  truncated = false;
  parts = 0;
  topHeader = '';
  private readonly stack: Task[] = [];

  constructor(
    private readonly src: ByteSource,
    private readonly limits: MimeLimits,
  ) {}

  run(): MessageIndex {
    const src = this.src;
    const root = newPart(0, src.length);
    this.parts = 1;
    const top: Holder = { envelope: emptyEnvelope(), root };
    this.stack.push({ part: root, depth: 0, holder: top, digest: false });
    while (this.stack.length > 0) this.process(this.stack.pop()!);
    const headerSize = root.bodyStart;
    return {
      size: src.length,
      headerSize,
      header: headerSize <= MAX_STORED_HEADER ? this.topHeader : null,
      envelope: top.envelope,
      root,
      truncated: this.truncated,
    };
  }

  /** Reads the wanted fields (first occurrence of each) from a header block. */
  private fields(block: string, wantEnvelope: boolean): Map<string, string> {
    const found = new Map<string, string>();
    const { maxHeaders, maxHeaderLength } = this.limits;
    let count = 0;
    scanHeaderFields(block, (start, colon, end) => {
      if (++count > maxHeaders) {
        this.truncated = true;
        return false;
      }
      if (colon < 0) return;
      const nameLen = colon - start;
      if (nameLen > LONGEST_WANTED + 8) return; // room for whitespace before the colon
      const name = trimWsp(block.slice(start, colon)).toLowerCase();
      if (found.has(name) || !(CONTENT_FIELDS.has(name) || (wantEnvelope && ENVELOPE_FIELDS.has(name)))) return;
      if (end - colon - 1 > maxHeaderLength) this.truncated = true;
      found.set(name, unfoldValue(block, colon, end, maxHeaderLength));
    });
    return found;
  }

  private addresses(v: string | undefined): Address[] | null {
    if (v === undefined) return null;
    const { list, truncated } = parseAddressList(v, this.limits.maxAddresses);
    if (truncated) this.truncated = true;
    return list.length > 0 ? list : null;
  }

  private envelope(f: Map<string, string>): Envelope {
    const from = this.addresses(f.get('from'));
    return {
      date: f.get('date') ?? null,
      subject: f.get('subject') ?? null,
      from,
      sender: this.addresses(f.get('sender')) ?? from,
      replyTo: this.addresses(f.get('reply-to')) ?? from,
      to: this.addresses(f.get('to')),
      cc: this.addresses(f.get('cc')),
      bcc: this.addresses(f.get('bcc')),
      inReplyTo: f.get('in-reply-to') ?? null,
      messageId: f.get('message-id') ?? null,
    };
  }

  private process(t: Task): void {
    const { src, limits } = this;
    const p = t.part;
    const end = p.bodyEnd;
    const bs = headerEnd(src, p.headerStart, end);
    p.bodyStart = bs;
    p.size = end - bs;
    const block = bs > p.headerStart ? src.latin1(p.headerStart, bs) : '';
    if (p.headerStart === 0 && t.depth === 0) this.topHeader = block;
    const f = this.fields(block, t.holder !== null);
    if (t.holder) t.holder.envelope = this.envelope(f);

    // Content-Type, with the defaults of RFC 2045 section 5.2 and RFC 2046 section 5.1.5.
    const ctv = f.get('content-type');
    const ct = ctv === undefined ? null : parseContentType(ctv, limits.maxParams);
    if (ct) {
      if (ct.truncated) this.truncated = true;
      p.type = ct.type;
      p.subtype = ct.subtype;
      p.params = ct.params;
    } else if (t.digest) {
      p.type = 'message';
      p.subtype = 'rfc822';
    } else {
      p.params = [['charset', 'us-ascii']];
    }

    const cte = f.get('content-transfer-encoding');
    if (cte !== undefined) p.encoding = parseEncoding(cte);
    p.id = nonEmpty(f.get('content-id'));
    p.description = nonEmpty(f.get('content-description'));
    p.md5 = nonEmpty(f.get('content-md5'));
    p.location = nonEmpty(f.get('content-location'));
    const cd = f.get('content-disposition');
    if (cd !== undefined) {
      const d = parseDisposition(cd, limits.maxParams);
      if (d) {
        if (d.truncated) this.truncated = true;
        p.disposition = d.disposition;
      }
    }
    const cl = f.get('content-language');
    if (cl !== undefined) p.language = parseLanguage(cl, limits.maxParams);

    if (p.type === 'multipart') {
      this.multipart(t);
    } else if (p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global')) {
      if (t.depth >= limits.maxDepth || this.parts >= limits.maxParts) {
        this.truncated = true;
        p.type = 'application';
        p.subtype = 'octet-stream';
      } else {
        this.parts++;
        const root = newPart(bs, end);
        const holder: Holder = { envelope: emptyEnvelope(), root };
        p.message = holder;
        this.stack.push({ part: root, depth: t.depth + 1, holder, digest: false });
      }
    }
    if (p.type === 'text' || p.message !== undefined) p.lines = src.countLf(bs, end);
  }

  private multipart(t: Task): void {
    const p = t.part;
    let boundary: string | undefined;
    for (const [k, v] of p.params) {
      if (k === 'boundary') {
        boundary = v;
        break;
      }
    }
    let children: MimePart[] = [];
    if (boundary) {
      if (t.depth >= this.limits.maxDepth) this.truncated = true;
      else children = this.split(p, boundary);
    }
    if (children.length === 0) {
      p.type = 'text';
      p.subtype = 'plain';
      return;
    }
    p.children = children;
    const digest = p.subtype === 'digest';
    for (let i = children.length - 1; i >= 0; i--) {
      this.stack.push({ part: children[i]!, depth: t.depth + 1, holder: null, digest });
    }
  }

  /** Splits a multipart body at its delimiter lines; returns the (unprocessed) children. */
  private split(p: MimePart, boundary: string): MimePart[] {
    // Offsets below are relative to the multipart body [base, base + vlen).
    const src = this.src;
    const base = p.bodyStart;
    const vlen = p.bodyEnd - base;
    const at = (i: number): number => src.byte(base + i);
    const needle = Buffer.from('--' + boundary, 'latin1');
    const kids: MimePart[] = [];
    let partStart = -1; // start of the open part (relative offset); -1 in the preamble
    let from = 0;
    for (;;) {
      const found = from <= vlen ? src.indexOf(needle, base + from, base + vlen) : -1;
      const m = found < 0 ? -1 : found - base;
      if (m < 0) break;
      from = m + 1;
      if (m > 0 && at(m - 1) !== 10) continue; // not at the start of a line
      let q = m + needle.length;
      let close = false;
      if (q + 1 < vlen && at(q) === 45 && at(q + 1) === 45) {
        close = true;
        q += 2;
      }
      while (q < vlen && (at(q) === 32 || at(q) === 9)) q++;
      let lineEnd: number;
      if (q >= vlen) lineEnd = vlen;
      else if (at(q) === 10) lineEnd = q + 1;
      else if (at(q) === 13 && (q + 1 === vlen || at(q + 1) === 10)) lineEnd = Math.min(q + 2, vlen);
      else continue; // "--boundaryX...": another boundary or text, not ours
      if (partStart >= 0) {
        let delim = m === 0 ? 0 : m >= 2 && at(m - 2) === 13 ? m - 2 : m - 1;
        if (delim < partStart) delim = partStart;
        if (!this.addKid(kids, base + partStart, base + delim)) return kids;
      }
      if (close) return kids; // the epilogue belongs to no part
      partStart = lineEnd;
      from = lineEnd;
    }
    // No closing delimiter: the last part runs to the end of the multipart body.
    if (partStart >= 0) this.addKid(kids, base + partStart, base + vlen);
    return kids;
  }

  private addKid(kids: MimePart[], start: number, end: number): boolean {
    if (this.parts >= this.limits.maxParts) {
      this.truncated = true;
      return false;
    }
    this.parts++;
    kids.push(newPart(start, end));
    return true;
  }
}

/**
 * Indexes a raw message, throwing on an internal error. Exposed for tests, which use it to
 * prove that no input reaches the fallback of indexMessage.
 */
export function indexMessageStrict(raw: Buffer | ByteSource, limits: MimeLimits = DEFAULT_MIME_LIMITS): MessageIndex {
  return new Indexer(Buffer.isBuffer(raw) ? new BufferSource(raw) : raw, sanitize(limits)).run();
}

/**
 * Indexes a raw message (any bytes; CRLF or bare LF line ends; offsets into the bytes as
 * given), from memory or from any ByteSource (a file: file-source.ts). Never throws on the
 * message's content: should the parser fail on some input it was not designed for, the
 * message is indexed as one opaque text/plain part with `truncated` set, so delivery goes on.
 */
export function indexMessage(raw: Buffer | ByteSource, limits: MimeLimits = DEFAULT_MIME_LIMITS): MessageIndex {
  const src = Buffer.isBuffer(raw) ? new BufferSource(raw) : raw;
  try {
    return indexMessageStrict(src, limits);
  } catch (e) {
    if (!Buffer.isBuffer(raw) && isIoError(e)) throw e; // a read error of the source is not the message's fault
    const root = newPart(0, src.length);
    root.bodyStart = 0;
    root.size = src.length;
    root.params = [['charset', 'us-ascii']];
    try {
      root.lines = src.countLf(0, src.length);
    } catch {
      root.lines = 0;
    }
    return { size: src.length, headerSize: 0, header: '', envelope: emptyEnvelope(), root, truncated: true };
  }
}

function isIoError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && (e as { syscall?: unknown }).syscall !== undefined;
}
