// Parsers for the MIME Content-* header values (RFC 2045, 2183, 2231, 3066). Input is an
// unfolded binary string; output keeps the raw octets of values (no charset decoding).
// Every parser is a single forward pass over the value: no backtracking, no recursion.

import type { Disposition } from './types.js';

// tspecials of RFC 2045 plus SPACE; CTLs are handled by range.
const TSPECIALS = new Uint8Array(128);
for (const ch of '()<>@,;:\\"/[]?= ') TSPECIALS[ch.charCodeAt(0)] = 1;

/** A MIME token char. Octets >= 0x80 are accepted (seen in the wild, harmless here). */
function isTokenChar(c: number): boolean {
  if (c >= 128) return true;
  return c > 32 && c !== 127 && TSPECIALS[c] === 0;
}

/** RFC 2231 attribute-char: token chars minus '*', "'" and '%'. */
function isAttributeChar(c: number): boolean {
  return c < 128 && isTokenChar(c) && c !== 42 && c !== 39 && c !== 37;
}

export class Lexer {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  /** Skips whitespace and (nested) comments. Returns the text of the first comment seen. */
  skipCfws(): string | null {
    const s = this.s;
    let first: string | null = null;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 13 || c === 10) {
        this.pos++;
      } else if (c === 40) {
        const text = this.readComment();
        if (first === null) first = text;
      } else {
        break;
      }
    }
    return first;
  }

  /** At '(': reads a comment with nesting and quoted-pairs; returns its inner text. */
  readComment(): string {
    const s = this.s;
    let depth = 0;
    let out = '';
    let run = this.pos + 1;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 92) {
        // quoted-pair: drop the backslash, keep the escaped char
        out += s.slice(run, this.pos);
        run = this.pos + 1;
        this.pos += 2;
        continue;
      }
      if (c === 40) {
        depth++;
      } else if (c === 41) {
        depth--;
        if (depth === 0) {
          out += s.slice(run, this.pos);
          this.pos++;
          return out;
        }
      }
      this.pos++;
    }
    // Unterminated: the rest of the value is the comment.
    this.pos = s.length;
    return out + s.slice(Math.min(run, s.length));
  }

  /** At '"': reads a quoted string, returns its content with quoted-pairs resolved. */
  readQuoted(): string {
    const s = this.s;
    this.pos++;
    let out = '';
    let runStart = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        out += s.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c === 92 && this.pos + 1 < s.length) {
        out += s.slice(runStart, this.pos);
        runStart = this.pos + 1;
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    return out + s.slice(runStart); // unterminated: take the rest
  }

  /** Reads a MIME token (possibly empty). */
  readToken(): string {
    const s = this.s;
    const start = this.pos;
    while (this.pos < s.length && isTokenChar(s.charCodeAt(this.pos))) this.pos++;
    return s.slice(start, this.pos);
  }

  /** Moves to the next ';' at the top level (outside quotes and comments), or to the end. */
  skipToSemicolon(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 59) return;
      if (c === 34) this.readQuoted();
      else if (c === 40) this.readComment();
      else this.pos++;
    }
  }
}

export interface ParsedParams {
  params: Array<[string, string]>;
  /** True when more than maxParams parameters were present. */
  truncated: boolean;
}

/**
 * Parses `*(";" attribute "=" value)` from the lexer position. Names are lower-cased, values
 * unquoted and kept raw. Lenient: an unquoted value running into spaces or tspecials
 * (`name=my file.pdf`, `name==?utf-8?...?=`) is taken up to the next ';'; parameters without
 * '=' are skipped. RFC 2231 continuations are joined afterwards.
 */
export function parseParams(lx: Lexer, maxParams: number): ParsedParams {
  const raw: Array<[string, string]> = [];
  let truncated = false;
  const s = lx.s;
  for (;;) {
    lx.skipCfws();
    if (lx.done) break;
    if (lx.peek() !== 59) {
      lx.skipToSemicolon(); // junk between parameters
      continue;
    }
    lx.pos++; // ';'
    lx.skipCfws();
    const name = lx.readToken();
    lx.skipCfws();
    if (name === '' || lx.peek() !== 61) {
      lx.skipToSemicolon();
      continue;
    }
    lx.pos++; // '='
    lx.skipCfws();
    let value: string;
    if (lx.peek() === 34) {
      value = lx.readQuoted();
    } else {
      const valueStart = lx.pos;
      value = lx.readToken();
      let p = lx.pos;
      while (p < s.length && (s.charCodeAt(p) === 32 || s.charCodeAt(p) === 9)) p++;
      const c = p < s.length ? s.charCodeAt(p) : -1;
      if (c !== -1 && c !== 59 && c !== 40) {
        // Sloppy unquoted value: take everything up to the next ';'.
        const semi = s.indexOf(';', lx.pos);
        const end = semi < 0 ? s.length : semi;
        let e = end;
        while (e > valueStart && (s.charCodeAt(e - 1) === 32 || s.charCodeAt(e - 1) === 9)) e--;
        value = s.slice(valueStart, e);
        lx.pos = end;
      }
    }
    if (raw.length >= maxParams) {
      truncated = true;
      break;
    }
    raw.push([name.toLowerCase(), value]);
  }
  return { params: joinRfc2231(raw), truncated };
}

interface Segment {
  index: number;
  extended: boolean;
  value: string;
}

/** Splits `name*3*` into name, 3, extended; null when the name is not a continuation. */
function continuationOf(name: string): { base: string; index: number; extended: boolean } | null {
  let end = name.length;
  let extended = false;
  if (name.charCodeAt(end - 1) === 42) {
    extended = true;
    end--;
  }
  let d = end;
  while (d > 0 && name.charCodeAt(d - 1) >= 48 && name.charCodeAt(d - 1) <= 57) d--;
  if (d === end || d < 2 || name.charCodeAt(d - 1) !== 42 || end - d > 9) return null;
  return { base: name.slice(0, d - 1), index: Number(name.slice(d, end)), extended };
}

function percentEncode(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) & 0xff;
    out += isAttributeChar(c) ? v[i] : '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}

/**
 * Joins RFC 2231 continuations (`name*0=`, `name*1*=`...) into one parameter at the place of
 * the first segment. When any segment is extended the result is `name*` with the value kept
 * in its encoded form (`charset'lang'%XX...`; plain segments are percent-encoded to match),
 * else `name` with the segments concatenated. Charsets are not decoded.
 */
export function joinRfc2231(raw: Array<[string, string]>): Array<[string, string]> {
  let any = false;
  for (const [name] of raw) {
    if (name.indexOf('*') >= 0 && continuationOf(name)) {
      any = true;
      break;
    }
  }
  if (!any) return raw;
  const groups = new Map<string, Segment[]>();
  const out: Array<[string, string] | string> = [];
  for (const [name, value] of raw) {
    const c = continuationOf(name);
    if (!c) {
      out.push([name, value]);
      continue;
    }
    let segs = groups.get(c.base);
    if (!segs) {
      segs = [];
      groups.set(c.base, segs);
      out.push(c.base);
    }
    segs.push({ index: c.index, extended: c.extended, value });
  }
  const result: Array<[string, string]> = [];
  for (const item of out) {
    if (typeof item !== 'string') {
      result.push(item);
      continue;
    }
    const segs = groups.get(item)!;
    segs.sort((a, b) => a.index - b.index);
    const extended = segs.some((s) => s.extended);
    let value = '';
    let last = -1;
    for (const seg of segs) {
      if (seg.index === last) continue; // duplicate index: first one wins
      last = seg.index;
      value += extended && !seg.extended ? percentEncode(seg.value) : seg.value;
    }
    result.push([extended ? item + '*' : item, value]);
  }
  return result;
}

export interface ContentType {
  type: string;
  subtype: string;
  params: Array<[string, string]>;
  truncated: boolean;
}

/** Parses a Content-Type value; null when there is no usable `type/subtype`. */
export function parseContentType(value: string, maxParams: number): ContentType | null {
  const lx = new Lexer(value);
  lx.skipCfws();
  const type = lx.readToken();
  lx.skipCfws();
  if (type === '' || lx.peek() !== 47) return null;
  lx.pos++;
  lx.skipCfws();
  const subtype = lx.readToken();
  if (subtype === '') return null;
  const { params, truncated } = parseParams(lx, maxParams);
  return { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params, truncated };
}

/** Parses a Content-Disposition value (type lower-cased); null without a type token. */
export function parseDisposition(value: string, maxParams: number): { disposition: Disposition; truncated: boolean } | null {
  const lx = new Lexer(value);
  lx.skipCfws();
  const type = lx.readToken();
  if (type === '') return null;
  const { params, truncated } = parseParams(lx, maxParams);
  return { disposition: { type: type.toLowerCase(), params }, truncated };
}

/** Content-Transfer-Encoding: the first token, upper-cased; '7BIT' when empty. */
export function parseEncoding(value: string): string {
  const lx = new Lexer(value);
  lx.skipCfws();
  const t = lx.readToken();
  return t === '' ? '7BIT' : t.toUpperCase();
}

/** Content-Language: the comma-separated tags, comments dropped; null when none. */
export function parseLanguage(value: string, maxItems: number): string[] | null {
  const lx = new Lexer(value);
  const s = value;
  const out: string[] = [];
  while (out.length < maxItems) {
    lx.skipCfws();
    if (lx.done) break;
    const start = lx.pos;
    while (lx.pos < s.length) {
      const c = s.charCodeAt(lx.pos);
      if (c === 44 || c === 32 || c === 9 || c === 40) break;
      lx.pos++;
    }
    if (lx.pos > start) out.push(s.slice(start, lx.pos));
    lx.skipCfws();
    if (lx.peek() === 44) lx.pos++;
    else if (lx.pos === start) lx.pos++; // stray char: step over it
  }
  return out.length > 0 ? out : null;
}
