// IMAP response serializer: typed values -> octets. Pure: no I/O.
//
// Values (ImapValue):
//   null              -> NIL
//   number / bigint   -> a number (non-negative integer)
//   string            -> an IMAP string of its UTF-8 octets: quoted when safe, else a literal
//   bytes(buf)        -> an IMAP string of these octets (quoted when safe, else literal);
//                        binary(s) does the same for a "binary string" (one char = one octet,
//                        as core/mime stores header text)
//   Buffer            -> always a literal {n}
//   literal8(buf)     -> ~{n} (BINARY fetch)
//   raw(text)         -> written verbatim: atoms, flags, FETCH item names, section labels
//   array             -> a parenthesized list, items separated by SP
//   adjacent(list)    -> the items back to back, no separator
//
// Quoted or literal: a quoted string is used when every octet is allowed in one (no NUL, CR,
// LF; no 8-bit octet unless UTF-8 mode is on and the octets are valid UTF-8), it is at most
// MAX_QUOTED octets long, and it is not escape-heavy (more than 8 quotes/backslashes making
// over a quarter of it). Otherwise a literal. A NUL cannot be represented in a quoted string
// nor (by the grammar) in a literal; such strings are sent as a literal anyway (clients
// accept it) unless the caller chooses literal8.

import { isUtf8 } from 'node:buffer';

export interface RawValue {
  readonly $: 'raw';
  readonly text: string;
}
export interface BytesValue {
  readonly $: 'bytes';
  readonly data: Buffer;
}
export interface LiteralValue {
  readonly $: 'literal' | 'literal8';
  readonly data: Buffer;
}

/** Values written back to back with no separator (multipart bodies in BODYSTRUCTURE). */
export interface AdjacentValue {
  readonly $: 'adjacent';
  readonly items: readonly ImapValue[];
}

export type ImapValue =
  | null
  | number
  | bigint
  | string
  | Buffer
  | RawValue
  | BytesValue
  | LiteralValue
  | AdjacentValue
  | readonly ImapValue[];

export interface SerializeOptions {
  /** UTF8=ACCEPT is enabled: valid UTF-8 may be sent in quoted strings. */
  utf8?: boolean;
}

export const MAX_QUOTED = 1024;

/** Written verbatim. Throws on CR, LF or NUL. */
export function raw(text: string): RawValue {
  if (/[\r\n\0]/.test(text)) throw new Error('raw IMAP text must not contain CR, LF or NUL');
  return { $: 'raw', text };
}
/** An IMAP string of these octets (quoted or literal). */
export function bytes(data: Buffer): BytesValue {
  return { $: 'bytes', data };
}
/** An IMAP string of a binary string (each char code is one octet, 0..255). */
export function binary(s: string): BytesValue {
  return { $: 'bytes', data: Buffer.from(s, 'latin1') };
}
/** Nullable binary string: NIL for null. */
export function nbinary(s: string | null | undefined): BytesValue | null {
  return s == null ? null : binary(s);
}
/** Values written back to back, without SP between them. */
export function adjacent(items: readonly ImapValue[]): AdjacentValue {
  return { $: 'adjacent', items };
}
export function literal(data: Buffer): LiteralValue {
  return { $: 'literal', data };
}
export function literal8(data: Buffer): LiteralValue {
  return { $: 'literal8', data };
}

/** Returns 'quoted' or 'literal': how a string of these octets is written. */
export function stringForm(data: Buffer, opts: SerializeOptions = {}): 'quoted' | 'literal' {
  if (data.length > MAX_QUOTED) return 'literal';
  let esc = 0;
  let high = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0 || b === 0x0d || b === 0x0a) return 'literal';
    if (b >= 0x80) {
      if (!opts.utf8) return 'literal';
      high = true;
    } else if (b === 0x22 || b === 0x5c) esc++;
  }
  if (high && !isUtf8(data)) return 'literal';
  if (esc > 8 && esc * 4 > data.length) return 'literal';
  return 'quoted';
}

/** Text goes into buffers of up to this many octets (grown from small for short responses). */
const MAX_CHUNK = 64 * 1024;
const EMPTY_CHUNK = Buffer.alloc(0);

/**
 * Accumulates response octets: text written straight into buffers as it comes (no long
 * string is built: flattening a rope of many pieces into octets costs far more than copying
 * each piece once), big literals kept as the caller's Buffers.
 */
export class ResponseWriter {
  private parts: Buffer[] = [];
  /** Where text goes: `chunk[0, off)` is written and not yet in `parts`. */
  private chunk: Buffer = EMPTY_CHUNK;
  private off = 0;
  private size = 256;
  constructor(readonly opts: SerializeOptions = {}) {}

  /** Appends text (latin1: each char one octet; callers pass ASCII). */
  text(s: string): this {
    if (this.off + s.length > this.chunk.length) this.grow(s.length);
    this.off += this.chunk.write(s, this.off, 'latin1');
    return this;
  }

  /** Appends octets verbatim. */
  octets(b: Buffer): this {
    if (b.length < 256) {
      if (this.off + b.length > this.chunk.length) this.grow(b.length);
      this.off += b.copy(this.chunk, this.off);
    } else {
      this.flush();
      this.parts.push(b);
    }
    return this;
  }

  /** A new chunk with room for at least n octets. */
  private grow(n: number): void {
    this.flush();
    this.size = Math.min(this.size * 4, MAX_CHUNK);
    this.chunk = Buffer.allocUnsafe(Math.max(this.size, n));
  }

  /** Moves what was written into `parts`; later text continues in the rest of the chunk. */
  private flush(): void {
    if (this.off > 0) {
      this.parts.push(this.chunk.subarray(0, this.off));
      this.chunk = this.chunk.subarray(this.off);
      this.off = 0;
    }
  }

  string(data: Buffer): this {
    if (stringForm(data, this.opts) === 'quoted') {
      let s = '"';
      for (let i = 0; i < data.length; i++) {
        const b = data[i]!;
        if (b === 0x22 || b === 0x5c) s += '\\';
        s += String.fromCharCode(b);
      }
      return this.text(s + '"');
    }
    return this.literal(data);
  }

  /**
   * string() of a binary string (each char one octet, as core/mime keeps header text), written
   * without first copying it into a Buffer. Every char code must be at most 0xFF (as
   * Buffer.from(s, 'latin1'), a larger one would be written as its low octet).
   */
  binaryString(s: string): this {
    const n = s.length;
    let quoted = n <= MAX_QUOTED;
    let esc = 0;
    let high = false;
    for (let i = 0; quoted && i < n; i++) {
      const b = s.charCodeAt(i);
      if (b === 0 || b === 0x0d || b === 0x0a) quoted = false;
      else if (b >= 0x80) {
        if (!this.opts.utf8) quoted = false;
        high = true;
      } else if (b === 0x22 || b === 0x5c) esc++;
    }
    if (quoted && high && !isUtf8(Buffer.from(s, 'latin1'))) quoted = false;
    if (quoted && esc > 8 && esc * 4 > n) quoted = false;
    if (!quoted) return this.text(`{${n}}\r\n`).text(s);
    return this.text(esc === 0 ? `"${s}"` : `"${s.replace(/["\\]/g, '\\$&')}"`);
  }

  literal(data: Buffer, eight = false): this {
    this.text(`${eight ? '~' : ''}{${data.length}}\r\n`);
    return this.octets(data);
  }

  value(v: ImapValue, depth = 0): this {
    if (v === null || v === undefined) return this.text('NIL');
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) throw new Error(`invalid IMAP number ${v}`);
      return this.text(String(v));
    }
    if (typeof v === 'bigint') {
      if (v < 0n) throw new Error(`invalid IMAP number ${v}`);
      return this.text(v.toString());
    }
    if (typeof v === 'string') return this.string(Buffer.from(v, 'utf8'));
    if (Buffer.isBuffer(v)) return this.literal(v);
    if (Array.isArray(v)) {
      if (depth > 512) throw new Error('IMAP value nested too deeply');
      this.text('(');
      for (let i = 0; i < v.length; i++) {
        if (i > 0) this.text(' ');
        this.value(v[i]!, depth + 1);
      }
      return this.text(')');
    }
    const o = v as RawValue | BytesValue | LiteralValue | AdjacentValue;
    switch (o.$) {
      case 'adjacent':
        if (depth > 512) throw new Error('IMAP value nested too deeply');
        for (const item of o.items) this.value(item, depth + 1);
        return this;
      case 'raw':
        return this.text(o.text);
      case 'bytes':
        return this.string(o.data);
      case 'literal':
        return this.literal(o.data);
      case 'literal8':
        return this.literal(o.data, true);
    }
    throw new Error('unknown IMAP value');
  }

  /** Values separated by SP. */
  values(list: readonly ImapValue[]): this {
    for (let i = 0; i < list.length; i++) {
      if (i > 0) this.text(' ');
      this.value(list[i]!);
    }
    return this;
  }

  crlf(): this {
    return this.text('\r\n');
  }

  toBuffers(): Buffer[] {
    this.flush();
    const out = this.parts;
    this.parts = [];
    return out;
  }

  toBuffer(): Buffer {
    const list = this.toBuffers();
    return list.length === 1 ? list[0]! : Buffer.concat(list);
  }
}

/** Serializes one value (no line end). */
export function serializeValue(v: ImapValue, opts?: SerializeOptions): Buffer {
  return new ResponseWriter(opts).value(v).toBuffer();
}

// ---------------------------------------------------------------------------------------
// Lines

export interface ResponseCode {
  /** e.g. 'APPENDUID', 'TOOBIG', 'PERMANENTFLAGS', 'CAPABILITY'. */
  name: string;
  /** Arguments, separated by SP (a list value is written in parentheses). */
  args?: readonly ImapValue[];
}

/** Human-readable text: CR, LF and NUL become spaces; never empty. */
export function sanitizeText(text: string): string {
  const t = text.replace(/[\r\n\0]/g, ' ');
  return t.length > 0 ? t : 'Completed';
}

function writeCode(w: ResponseWriter, code: ResponseCode | string | null | undefined): void {
  if (!code) return;
  if (typeof code === 'string') {
    // A string code may carry its arguments after a space, e.g. 'BADCHARSET (UTF-8 US-ASCII)'
    // as the parsers report it; they are written as given (no CR, LF, NUL or ']').
    const sp = code.indexOf(' ');
    const name = sp < 0 ? code : code.slice(0, sp);
    if (!/^[A-Za-z0-9.=_-]+$/.test(name) || (sp >= 0 && !/^[\x20-\x5c\x5e-\x7e]+$/.test(code.slice(sp)))) {
      throw new Error(`invalid response code ${code.slice(0, 60)}`);
    }
    w.text('[' + code + '] ');
    return;
  }
  const c = code;
  if (!/^[A-Za-z0-9.=_-]+$/.test(c.name)) throw new Error(`invalid response code ${c.name}`);
  w.text('[' + c.name);
  if (c.args && c.args.length > 0) {
    w.text(' ');
    w.values(c.args);
  }
  w.text('] ');
}

function writeText(w: ResponseWriter, text: string): void {
  w.octets(Buffer.from(sanitizeText(text), 'utf8'));
}

export type Status = 'OK' | 'NO' | 'BAD';

/** `tag OK [CODE args] text` */
export function tagged(tag: string, status: Status, text: string, code?: ResponseCode | string | null, opts?: SerializeOptions): Buffer {
  const w = new ResponseWriter(opts).text(`${tag} ${status} `);
  writeCode(w, code);
  writeText(w, text);
  return w.crlf().toBuffer();
}

/** `* OK|NO|BAD|BYE|PREAUTH [CODE args] text` */
export function untaggedStatus(
  status: Status | 'BYE' | 'PREAUTH',
  text: string,
  code?: ResponseCode | string | null,
  opts?: SerializeOptions,
): Buffer {
  const w = new ResponseWriter(opts).text(`* ${status} `);
  writeCode(w, code);
  writeText(w, text);
  return w.crlf().toBuffer();
}

/** `* ` + values separated by SP + CRLF, e.g. untagged([3, raw('EXISTS')]). */
export function untagged(parts: readonly ImapValue[], opts?: SerializeOptions): Buffer {
  return new ResponseWriter(opts).text('* ').values(parts).crlf().toBuffer();
}

/** Same as untagged() but returns the parts, keeping big literals as their own Buffers. */
export function untaggedBuffers(parts: readonly ImapValue[], opts?: SerializeOptions): Buffer[] {
  return new ResponseWriter(opts).text('* ').values(parts).crlf().toBuffers();
}

/** `+ text` (a continuation request); `+ ` alone for an empty SASL challenge. */
export function continuation(text = 'Ready'): Buffer {
  return Buffer.from(`+ ${text.replace(/[\r\n\0]/g, ' ')}\r\n`, 'utf8');
}

/**
 * `* seq FETCH (name value name value ...)`. Names are written verbatim (e.g. 'UID',
 * 'BODY[HEADER.FIELDS (From)]', 'BODY[]<0>'). Returns Buffers (big literals not copied).
 */
export function fetchResponse(seq: number, items: ReadonlyArray<readonly [string, ImapValue]>, opts?: SerializeOptions): Buffer[] {
  const w = new ResponseWriter(opts).text(`* ${seq} FETCH (`);
  items.forEach(([name, value], i) => {
    if (/[\r\n\0]/.test(name)) throw new Error('invalid FETCH item name');
    if (i > 0) w.text(' ');
    w.text(name + ' ');
    w.value(value);
  });
  return w.text(')').crlf().toBuffers();
}

/** A flag list value: (\Seen $Forwarded). */
export function flagList(flags: readonly string[]): ImapValue[] {
  return flags.map((f) => raw(f));
}
