// RFC 5322 address lists for the IMAP ENVELOPE (RFC 3501 section 7.4.2), parsed leniently
// in one forward pass. Input is an unfolded binary string; encoded words stay as they are.
//
// Representation (RFC 3501):
//   mailbox       { name, adl, mailbox: local part, host: domain }
//   group start   { name: null, adl: null, mailbox: group name, host: null }
//   group end     { name: null, adl: null, mailbox: null, host: null }
// A missing local part or domain is '' (never null, so it cannot be mistaken for a group
// marker). A name is the display phrase with quoted strings unquoted and words joined by one
// space; when there is no phrase, the first comment of the address stands in for it
// (`user@host (Real Name)`).

import type { Address } from './types.js';

const enum K {
  Atom,
  Quoted,
  Literal,
  Special,
  Comment,
}

interface Tok {
  k: K;
  /** Atom text, unquoted quoted-string content, literal text, special char, comment text. */
  v: string;
  /** As written (quoted strings keep their quotes and escapes). */
  raw: string;
  /** Whitespace or a comment came before it. */
  ws: boolean;
}

function isSpecial(c: number): boolean {
  // < > : ; @ ,
  return c === 60 || c === 62 || c === 58 || c === 59 || c === 64 || c === 44;
}

class AddrLexer {
  pos = 0;
  constructor(private readonly s: string) {}

  next(): Tok | null {
    const s = this.s;
    let ws = false;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 13 || c === 10) {
        this.pos++;
        ws = true;
      } else {
        break;
      }
    }
    if (this.pos >= s.length) return null;
    const start = this.pos;
    const c = s.charCodeAt(start);
    if (c === 40) return { k: K.Comment, v: this.comment(), raw: '', ws };
    if (c === 34) {
      const v = this.quoted();
      return { k: K.Quoted, v, raw: s.slice(start, this.pos), ws };
    }
    if (c === 91) {
      const close = s.indexOf(']', start);
      this.pos = close < 0 ? s.length : close + 1;
      const raw = s.slice(start, this.pos);
      return { k: K.Literal, v: raw, raw, ws };
    }
    if (isSpecial(c)) {
      this.pos++;
      const ch = s[start]!;
      return { k: K.Special, v: ch, raw: ch, ws };
    }
    // Atom (dots included, so dot-atoms and "Q." stay whole). Stops at anything that starts
    // another token; the first char is none of those, so this always advances.
    this.pos++;
    while (this.pos < s.length) {
      const d = s.charCodeAt(this.pos);
      if (d === 32 || d === 9 || d === 13 || d === 10 || d === 40 || d === 34 || d === 91 || isSpecial(d)) break;
      this.pos++;
    }
    const raw = s.slice(start, this.pos);
    return { k: K.Atom, v: raw, raw, ws };
  }

  private comment(): string {
    const s = this.s;
    let depth = 0;
    let out = '';
    let run = this.pos + 1;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 92) {
        out += s.slice(run, this.pos);
        run = this.pos + 1;
        this.pos += 2;
        continue;
      }
      if (c === 40) depth++;
      else if (c === 41 && --depth === 0) {
        out += s.slice(run, this.pos);
        this.pos++;
        return out;
      }
      this.pos++;
    }
    this.pos = s.length;
    return out + s.slice(Math.min(run, s.length));
  }

  private quoted(): string {
    const s = this.s;
    this.pos++;
    let out = '';
    let run = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 34) {
        out += s.slice(run, this.pos);
        this.pos++;
        return out;
      }
      if (c === 92 && this.pos + 1 < s.length) {
        out += s.slice(run, this.pos);
        run = this.pos + 1;
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    return out + s.slice(run);
  }
}

/** Display text: token values joined with one space where the source had whitespace. */
function phrase(toks: Tok[]): string {
  let out = '';
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (i > 0 && t.ws) out += ' ';
    out += t.v;
  }
  return out;
}

/** Address text: raw tokens concatenated (local parts keep their quotes). */
function concatRaw(toks: Tok[], from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) out += toks[i]!.raw;
  return out;
}

function addrSpec(toks: Tok[], from: number): { mailbox: string; host: string } {
  let at = -1;
  for (let i = toks.length - 1; i >= from; i--) {
    const t = toks[i]!;
    if (t.k === K.Special && t.v === '@') {
      at = i;
      break;
    }
  }
  if (at < 0) return { mailbox: concatRaw(toks, from, toks.length), host: '' };
  return { mailbox: concatRaw(toks, from, at), host: concatRaw(toks, at + 1, toks.length) };
}

export interface ParsedAddresses {
  list: Address[];
  /** True when the list was cut at maxAddresses. */
  truncated: boolean;
}

/**
 * Parses an address list (From, To, Cc, ...). Never throws; junk yields what can be salvaged.
 * Reading stops once maxAddresses entries (group markers included) are collected; a group cut
 * short still gets its end marker, so the list may hold one entry more than the cap.
 */
export function parseAddressList(value: string, maxAddresses: number): ParsedAddresses {
  const lx = new AddrLexer(value);
  const list: Address[] = [];
  let inGroup = false;
  let truncated = false;

  // The element being read: words outside <>, the tokens inside <>, its first comment.
  let words: Tok[] = [];
  let angle: Tok[] | null = null;
  let comment: string | null = null;
  let hasAt = false;

  const flush = (): void => {
    if (angle === null && words.length === 0) {
      comment = null;
      return;
    }
    let name: string | null = null;
    let adl: string | null = null;
    let spec: { mailbox: string; host: string };
    if (angle !== null) {
      name = phrase(words);
      let from = 0;
      if (angle.length > 0 && angle[0]!.k === K.Special && angle[0]!.v === '@') {
        // Obsolete source route: <@a,@b:user@host>
        const colon = angle.findIndex((t) => t.k === K.Special && t.v === ':');
        if (colon > 0) {
          adl = concatRaw(angle, 0, colon);
          from = colon + 1;
        }
      }
      spec = addrSpec(angle, from);
    } else {
      spec = addrSpec(words, 0);
    }
    if (!name) name = comment;
    if (name === '') name = null;
    list.push({ name, adl, mailbox: spec.mailbox, host: spec.host });
    words = [];
    angle = null;
    comment = null;
    hasAt = false;
  };

  for (;;) {
    if (list.length >= maxAddresses) {
      if (lx.next() !== null) truncated = true;
      break;
    }
    const t = lx.next();
    if (t === null) break;
    if (t.k === K.Comment) {
      if (comment === null) comment = t.v;
      continue;
    }
    if (t.k === K.Special) {
      if (t.v === ',') {
        flush();
        continue;
      }
      if (t.v === ';') {
        flush();
        if (inGroup) {
          list.push({ name: null, adl: null, mailbox: null, host: null });
          inGroup = false;
        }
        continue;
      }
      if (t.v === ':' && !inGroup && angle === null && !hasAt) {
        list.push({ name: null, adl: null, mailbox: phrase(words), host: null });
        inGroup = true;
        words = [];
        comment = null;
        continue;
      }
      if (t.v === '<') {
        if (angle !== null) flush(); // a second <...> without a comma: a new address
        const inner: Tok[] = [];
        for (;;) {
          const u = lx.next();
          if (u === null || (u.k === K.Special && u.v === '>')) break;
          if (u.k !== K.Comment) inner.push(u);
        }
        angle = inner;
        continue;
      }
      if (t.v === '>') continue; // stray
      if (t.v === '@') hasAt = true;
      // '@' and a ':' that cannot start a group are part of the words.
    }
    words.push(t);
  }
  if (!truncated) flush();
  if (inGroup) list.push({ name: null, adl: null, mailbox: null, host: null });
  return { list, truncated };
}
