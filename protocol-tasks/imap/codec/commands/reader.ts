// Argument reader shared by the command parsers: a cursor over a token list with typed
// accessors that throw ParseError (answered BAD, or NO with a response code) on mismatch.

import { decodeMailboxName, MailboxNameError } from '../mutf7.js';
import { parseSequenceSet, SequenceSetError, type SequenceSet } from '../sequence.js';
import { describeToken, type Token } from '../tokens.js';
import type { ParseContext } from './types.js';

export class ParseError extends Error {
  constructor(
    message: string,
    readonly status: 'BAD' | 'NO' = 'BAD',
    /** Response code without brackets, e.g. 'BADCHARSET (UTF-8 US-ASCII)'. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ParseError';
  }
}

export const MAX_UINT32 = 4294967295;
/** RFC 7162 mod-sequence-value upper bound (2^63-1). */
export const MAX_MODSEQ = 9223372036854775807n;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly; throws ParseError when invalid. */
export function decodeUtf8(data: Buffer, what: string): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new ParseError(`${what} is not valid UTF-8`);
  }
}

/** Parses a decimal number atom: digits only, no sign, value <= max. */
export function parseNumber(text: string, what: string, max = MAX_UINT32): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw new ParseError(`Invalid ${what}: expected a number`);
  const n = Number(text);
  if (n > max) throw new ParseError(`Invalid ${what}: number too large`);
  return n;
}

/**
 * Parses a mod-sequence value (RFC 7162: 1..2^63-1, 0 where allowed). Values above
 * Number.MAX_SAFE_INTEGER are clamped to it: modseqs the server hands out stay far below it,
 * so CHANGEDSINCE/UNCHANGEDSINCE comparisons keep their meaning.
 */
export function parseModseq(text: string, what: string, allowZero: boolean): number {
  if (!/^[0-9]{1,19}$/.test(text)) throw new ParseError(`Invalid ${what}: expected a number`);
  const big = BigInt(text);
  if (big > MAX_MODSEQ) throw new ParseError(`Invalid ${what}: number too large`);
  if (big === 0n && !allowZero) throw new ParseError(`Invalid ${what}: must not be 0`);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}

/** Decodes a mailbox name (see types.ts); throws ParseError when invalid. */
export function decodeMailbox(data: Buffer, ctx: ParseContext, what = 'Mailbox name'): string {
  let name: string;
  if (ctx.utf8) {
    name = decodeUtf8(data, what);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c < 0x20 || c === 0x7f) throw new ParseError(`${what} contains a control character`);
    }
  } else {
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      if (b < 0x20 || b > 0x7e) throw new ParseError(`${what} contains a character outside printable US-ASCII (use modified UTF-7)`);
    }
    try {
      name = decodeMailboxName(data.toString('latin1'));
    } catch (e) {
      if (e instanceof MailboxNameError) throw new ParseError(`${what}: ${e.message}`);
      throw e;
    }
  }
  return name.length === 5 && name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

export function toSequenceSet(text: string): SequenceSet {
  try {
    return parseSequenceSet(text);
  } catch (e) {
    if (e instanceof SequenceSetError) throw new ParseError(e.message);
    throw e;
  }
}

const SYSTEM_FLAGS = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]));

/** ATOM-CHAR run (no atom-specials, no "]"). */
export function isAtom(s: string): boolean {
  return /^[!#$&'+-[^-z|}~]+$/.test(s);
}

/**
 * Validates and normalizes a flag for STORE / APPEND: system flags get canonical case,
 * keywords must be atoms. \Recent and unknown \flags are refused.
 */
export function normalizeFlag(text: string): string {
  if (text.startsWith('\\')) {
    const sys = SYSTEM_FLAGS.get(text.toLowerCase());
    if (sys) return sys;
    if (text.toLowerCase() === '\\recent') throw new ParseError('\\Recent cannot be set by the client');
    throw new ParseError(`Invalid system flag ${text.slice(0, 40)}`);
  }
  if (!isAtom(text)) throw new ParseError(`Invalid flag ${text.slice(0, 40)}`);
  return text;
}

export class Args {
  private i = 0;
  constructor(
    private readonly tokens: readonly Token[],
    /** Command name for messages. */
    readonly command: string,
  ) {}

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  get remaining(): number {
    return this.tokens.length - this.i;
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  /** Upper-cased atom at the cursor, or null when it is not a plain atom. */
  peekKeyword(): string | null {
    const t = this.tokens[this.i];
    return t && t.type === 'atom' && !t.section ? t.value.toUpperCase() : null;
  }

  next(what: string): Token {
    const t = this.tokens[this.i];
    if (!t) throw new ParseError(`${this.command}: missing ${what}`);
    this.i++;
    return t;
  }

  /** A plain atom (no FETCH section). */
  atom(what: string): string {
    const t = this.next(what);
    if (t.type !== 'atom' || t.section) throw new ParseError(`${this.command}: expected ${what}, got ${describeToken(t)}`);
    return t.value;
  }

  keyword(what: string): string {
    return this.atom(what).toUpperCase();
  }

  number(what: string, max = MAX_UINT32): number {
    return parseNumber(this.atom(what), what, max);
  }

  nzNumber(what: string): number {
    const n = this.number(what);
    if (n === 0) throw new ParseError(`Invalid ${what}: must not be 0`);
    return n;
  }

  modseq(what: string, allowZero: boolean): number {
    return parseModseq(this.atom(what), what, allowZero);
  }

  /** A quoted string or literal. */
  string(what: string): Buffer {
    const t = this.next(what);
    if (t.type !== 'string') throw new ParseError(`${this.command}: expected ${what} as a string, got ${describeToken(t)}`);
    return t.value;
  }

  /** astring: atom, quoted string or literal; octets. */
  astring(what: string): Buffer {
    const t = this.next(what);
    if (t.type === 'string') return t.value;
    if (t.type === 'atom' && !t.section) return Buffer.from(t.value, 'latin1');
    throw new ParseError(`${this.command}: expected ${what}, got ${describeToken(t)}`);
  }

  astringUtf8(what: string): string {
    return decodeUtf8(this.astring(what), what);
  }

  /** nstring: NIL or a string (atoms other than NIL are tolerated as strings). */
  nstring(what: string): Buffer | null {
    const t = this.next(what);
    if (t.type === 'atom' && !t.section && t.value.toUpperCase() === 'NIL') return null;
    if (t.type === 'string') return t.value;
    if (t.type === 'atom' && !t.section) return Buffer.from(t.value, 'latin1');
    throw new ParseError(`${this.command}: expected ${what}, got ${describeToken(t)}`);
  }

  list(what: string): Token[] {
    const t = this.next(what);
    if (t.type !== 'list') throw new ParseError(`${this.command}: expected ${what} in parentheses, got ${describeToken(t)}`);
    return t.items;
  }

  /** A mailbox name (astring), decoded. */
  mailbox(ctx: ParseContext, what = 'mailbox name'): string {
    return decodeMailbox(this.astring(what), ctx, what);
  }

  sequenceSet(what = 'sequence set'): SequenceSet {
    const t = this.next(what);
    if (t.type !== 'atom' || t.section) throw new ParseError(`${this.command}: expected ${what}, got ${describeToken(t)}`);
    return toSequenceSet(t.value);
  }

  /** Flags in parentheses, validated and normalized, duplicates dropped. */
  flagList(what = 'flag list'): string[] {
    return flagsOf(this.list(what), this.command);
  }

  end(): void {
    const t = this.tokens[this.i];
    if (t) throw new ParseError(`${this.command}: unexpected ${describeToken(t)}`);
  }
}

export function flagsOf(items: readonly Token[], command: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of items) {
    if (t.type !== 'atom' || t.section) throw new ParseError(`${command}: invalid flag (${describeToken(t)})`);
    const f = normalizeFlag(t.value);
    const key = f.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  }
  return out;
}
