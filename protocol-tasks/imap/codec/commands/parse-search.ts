// SEARCH [RETURN (options)] [CHARSET name] key... (RFC 3501 §6.4.4, ESEARCH RFC 4731,
// CONDSTORE MODSEQ RFC 7162, WITHIN RFC 5032), with or without UID.
//
// Every RFC 3501 key is supported. FROM/TO/CC/BCC/SUBJECT become header keys; ANSWERED,
// DELETED, ... and their UN- forms become flag keys; NEW is RECENT UNSEEN, OLD is NOT
// RECENT. Strings are decoded as UTF-8 (CHARSET UTF-8 or US-ASCII; without CHARSET, octets
// that are not UTF-8 are read as Latin-1). Other charsets: NO [BADCHARSET (UTF-8 US-ASCII)].
// NOT / OR / parentheses nest at most MAX_SEARCH_DEPTH levels (BAD beyond), so evaluation
// by recursion is safe.

import { ImapDateError, parseSearchDate, type ImapDate } from '../dates.js';
import { looksLikeSequenceSet } from '../sequence.js';
import { describeToken, type Token } from '../tokens.js';
import { Args, ParseError, decodeUtf8, isAtom, parseModseq, parseNumber, toSequenceSet } from './reader.js';
import type { SearchCommand, SearchKey, SearchReturnOption } from './types.js';

export const MAX_SEARCH_DEPTH = 1000;
export const SEARCH_CHARSETS = ['UTF-8', 'US-ASCII'];

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', false],
  DRAFT: ['\\Draft', false],
  FLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', false],
  RECENT: ['\\Recent', false],
  UNANSWERED: ['\\Answered', true],
  UNDELETED: ['\\Deleted', true],
  UNDRAFT: ['\\Draft', true],
  UNFLAGGED: ['\\Flagged', true],
  UNSEEN: ['\\Seen', true],
  OLD: ['\\Recent', true],
};

const HEADER_KEYS: Record<string, string> = {
  FROM: 'From',
  TO: 'To',
  CC: 'Cc',
  BCC: 'Bcc',
  SUBJECT: 'Subject',
};

const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

const SYSTEM = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '\\Recent'].map((f) => [f.toLowerCase(), f]));

const latin1 = new TextDecoder('latin1');

class SearchParser {
  constructor(private readonly charset: string | null) {}

  text(args: Args, what: string): string {
    const data = args.astring(what);
    if (this.charset === null) {
      try {
        return decodeUtf8(data, what);
      } catch {
        return latin1.decode(data);
      }
    }
    return decodeUtf8(data, what);
  }

  date(args: Args): ImapDate {
    const t = args.next('date');
    let s: string;
    if (t.type === 'atom' && !t.section) s = t.value;
    else if (t.type === 'string' && t.form === 'quoted') s = t.value.toString('latin1');
    else throw new ParseError(`SEARCH: expected a date, got ${describeToken(t)}`);
    try {
      return parseSearchDate(s);
    } catch (e) {
      if (e instanceof ImapDateError) throw new ParseError(`SEARCH: ${e.message}`);
      throw e;
    }
  }

  /** One search key at the cursor. */
  key(args: Args, depth: number): SearchKey {
    if (depth > MAX_SEARCH_DEPTH) throw new ParseError('SEARCH: criteria nested too deeply');
    const t = args.next('search key');
    if (t.type === 'list') {
      const inner = new Args(t.items, 'SEARCH');
      if (inner.done) throw new ParseError('SEARCH: empty parenthesized key');
      return this.program(inner, depth + 1);
    }
    if (t.type !== 'atom' || t.section) throw new ParseError(`SEARCH: expected a search key, got ${describeToken(t)}`);
    const word = t.value.toUpperCase();
    if (looksLikeSequenceSet(t.value)) return { type: 'seq', set: toSequenceSet(t.value) };
    const flag = FLAG_KEYS[word];
    if (flag) return { type: 'flag', flag: flag[0], not: flag[1] };
    const header = HEADER_KEYS[word];
    if (header) return { type: 'header', field: header, value: this.text(args, 'search string') };
    const date = DATE_KEYS[word];
    if (date) return { type: 'date', field: date[0], op: date[1], date: this.date(args) };
    switch (word) {
      case 'ALL':
        return { type: 'all' };
      case 'NEW':
        return {
          type: 'and',
          keys: [
            { type: 'flag', flag: '\\Recent', not: false },
            { type: 'flag', flag: '\\Seen', not: true },
          ],
        };
      case 'KEYWORD':
      case 'UNKEYWORD': {
        const k = args.atom('keyword');
        const sys = SYSTEM.get(k.toLowerCase());
        if (!sys && !isAtom(k)) throw new ParseError(`SEARCH: invalid keyword ${k.slice(0, 40)}`);
        return { type: 'flag', flag: sys ?? k, not: word === 'UNKEYWORD' };
      }
      case 'HEADER': {
        const field = this.text(args, 'header field name');
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field)) throw new ParseError('SEARCH: invalid header field name');
        return { type: 'header', field, value: this.text(args, 'search string') };
      }
      case 'BODY':
        return { type: 'body', value: this.text(args, 'search string') };
      case 'TEXT':
        return { type: 'text', value: this.text(args, 'search string') };
      case 'LARGER':
      case 'SMALLER':
        return {
          type: 'size',
          op: word === 'LARGER' ? 'larger' : 'smaller',
          size: parseNumber(args.atom('size'), 'size', Number.MAX_SAFE_INTEGER),
        };
      case 'UID':
        return { type: 'uid', set: args.sequenceSet('UID set') };
      case 'NOT':
        return { type: 'not', key: this.key(args, depth + 1) };
      case 'OR': {
        const left = this.key(args, depth + 1);
        const right = this.key(args, depth + 1);
        return { type: 'or', left, right };
      }
      case 'MODSEQ': {
        let entry: { name: string; kind: 'priv' | 'shared' | 'all' } | null = null;
        if (args.peek()?.type === 'string') {
          const name = args.string('entry name').toString('latin1');
          if (!/^\/flags\/\\?[!#$&'+-[^-z|}~]+$/i.test(name)) throw new ParseError('SEARCH: invalid MODSEQ entry name');
          const kind = args.keyword('entry type').toLowerCase();
          if (kind !== 'priv' && kind !== 'shared' && kind !== 'all') throw new ParseError('SEARCH: invalid MODSEQ entry type');
          entry = { name, kind };
        }
        return { type: 'modseq', modseq: parseModseq(args.atom('mod-sequence'), 'mod-sequence', true), entry };
      }
      case 'OLDER':
      case 'YOUNGER': {
        const seconds = parseNumber(args.atom('interval'), 'interval');
        if (seconds === 0) throw new ParseError('SEARCH: interval must not be 0');
        return { type: 'age', op: word === 'OLDER' ? 'older' : 'younger', seconds };
      }
    }
    throw new ParseError(`SEARCH: unknown search key ${t.value.slice(0, 40)}`);
  }

  /** Keys until the end of `args`, ANDed. */
  program(args: Args, depth: number): SearchKey {
    const keys: SearchKey[] = [];
    while (!args.done) keys.push(this.key(args, depth));
    if (keys.length === 0) throw new ParseError('SEARCH: missing search criteria');
    return keys.length === 1 ? keys[0]! : { type: 'and', keys };
  }
}

const RETURN_OPTIONS = new Set<SearchReturnOption>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);

function returnOptions(items: readonly Token[]): SearchReturnOption[] {
  const out: SearchReturnOption[] = [];
  for (const t of items) {
    if (t.type !== 'atom' || t.section) throw new ParseError('SEARCH: invalid RETURN option');
    const o = t.value.toUpperCase() as SearchReturnOption;
    if (!RETURN_OPTIONS.has(o)) throw new ParseError(`SEARCH: unknown RETURN option ${t.value.slice(0, 40)}`);
    if (!out.includes(o)) out.push(o);
  }
  return out;
}

export function parseSearch(args: Args, uid: boolean): SearchCommand {
  let returnOpts: SearchReturnOption[] | null = null;
  let charset: string | null = null;
  if (args.peekKeyword() === 'RETURN') {
    args.next('RETURN');
    returnOpts = returnOptions(args.list('RETURN options'));
  }
  if (args.peekKeyword() === 'CHARSET') {
    args.next('CHARSET');
    charset = args.astring('charset').toString('latin1').toUpperCase();
    if (!SEARCH_CHARSETS.includes(charset)) {
      throw new ParseError(`SEARCH: unsupported charset ${charset.slice(0, 40)}`, 'NO', `BADCHARSET (${SEARCH_CHARSETS.join(' ')})`);
    }
  }
  const criteria = new SearchParser(charset).program(args, 0);
  return { name: 'SEARCH', uid, charset, criteria, returnOptions: returnOpts };
}
