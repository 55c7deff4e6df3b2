// FETCH sequence-set (items | macro) [(CHANGEDSINCE n [VANISHED])]
// (RFC 3501 §6.4.5, BINARY RFC 3516, CONDSTORE/QRESYNC RFC 7162), with or without UID.
//
// BODY[section]<partial> items keep the section text exactly as the client sent it, in
// `label`, so the reply can repeat it: Apple Mail ignores a reply whose
// BODY[HEADER.FIELDS (...)] label differs from its request.
// RFC822, RFC822.HEADER, RFC822.TEXT and Outlook's RFC822.PEEK map onto section items
// labelled with their own names.

import { describeToken, type AtomToken, type Token } from '../tokens.js';
import { Args, MAX_UINT32, ParseError, decodeUtf8 } from './reader.js';
import type { BodySection, FetchCommand, FetchItem, PartialRange, BodySectionText, SimpleFetchItem } from './types.js';

const SIMPLE: Record<string, SimpleFetchItem> = {
  FLAGS: 'FLAGS',
  UID: 'UID',
  INTERNALDATE: 'INTERNALDATE',
  'RFC822.SIZE': 'RFC822.SIZE',
  ENVELOPE: 'ENVELOPE',
  BODYSTRUCTURE: 'BODYSTRUCTURE',
  BODY: 'BODY',
  MODSEQ: 'MODSEQ',
};

const MACROS: Record<string, SimpleFetchItem[]> = {
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** Maximum part path length (1.2.3...). */
export const MAX_PART_DEPTH = 64;

function partPath(parts: string[], what: string): number[] {
  if (parts.length > MAX_PART_DEPTH) throw new ParseError(`FETCH: ${what} part path too long`);
  return parts.map((p) => {
    if (!/^[1-9][0-9]{0,9}$/.test(p) || Number(p) > MAX_UINT32) throw new ParseError(`FETCH: invalid part number in ${what}`);
    return Number(p);
  });
}

/** Parses the `<o.n>` suffix. */
function partial(suffix: string): PartialRange | null {
  if (suffix === '') return null;
  const m = /^<([0-9]{1,10})\.([0-9]{1,10})>$/.exec(suffix);
  if (!m) throw new ParseError('FETCH: invalid partial specification');
  const offset = Number(m[1]);
  const length = Number(m[2]);
  if (offset > MAX_UINT32 || length > MAX_UINT32 || length === 0) throw new ParseError('FETCH: invalid partial specification');
  return { offset, length };
}

function headerFieldNames(items: readonly Token[]): string[] {
  if (items.length === 0) throw new ParseError('FETCH: empty header field list');
  return items.map((t) => {
    let name: string;
    if (t.type === 'atom' && !t.section) name = t.value;
    else if (t.type === 'string') name = decodeUtf8(t.value, 'header field name');
    else throw new ParseError('FETCH: invalid header field name');
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) throw new ParseError('FETCH: invalid header field name');
    return name;
  });
}

/** section-spec from the bracket tokens. */
function bodySection(items: readonly Token[]): BodySection {
  if (items.length === 0) return { part: [], text: null, fields: null };
  const first = items[0]!;
  if (first.type !== 'atom' || first.section) throw new ParseError('FETCH: invalid section');
  const pieces = first.value.split('.');
  let n = 0;
  while (n < pieces.length && /^[0-9]+$/.test(pieces[n]!)) n++;
  const part = partPath(pieces.slice(0, n), 'section');
  const rest = pieces.slice(n).join('.').toUpperCase();
  let text: BodySectionText | null = null;
  let fields: string[] | null = null;
  if (rest === '') {
    if (n === 0) throw new ParseError('FETCH: invalid section');
  } else if (rest === 'HEADER' || rest === 'TEXT') {
    text = rest;
  } else if (rest === 'MIME') {
    if (n === 0) throw new ParseError('FETCH: MIME needs a part number');
    text = rest;
  } else if (rest === 'HEADER.FIELDS' || rest === 'HEADER.FIELDS.NOT') {
    text = rest;
    const list = items[1];
    if (!list || list.type !== 'list') throw new ParseError(`FETCH: ${rest} needs a list of field names`);
    fields = headerFieldNames(list.items);
    if (items.length > 2) throw new ParseError('FETCH: invalid section');
    return { part, text, fields };
  } else {
    throw new ParseError(`FETCH: invalid section ${first.value.slice(0, 40)}`);
  }
  if (items.length > 1) throw new ParseError('FETCH: invalid section');
  return { part, text, fields };
}

function sectionItem(t: AtomToken): FetchItem {
  const s = t.section!;
  const prefix = s.prefix.toUpperCase();
  if (prefix === 'BODY' || prefix === 'BODY.PEEK') {
    const section = bodySection(s.items);
    const p = partial(s.suffix);
    return {
      type: 'section',
      peek: prefix === 'BODY.PEEK',
      section,
      partial: p,
      label: `BODY[${s.raw}]` + (p ? `<${p.offset}>` : ''),
    };
  }
  // BINARY, BINARY.PEEK, BINARY.SIZE: section-binary = "[" [section-part] "]"
  let part: number[] = [];
  if (s.items.length > 0) {
    const first = s.items[0]!;
    if (s.items.length > 1 || first.type !== 'atom' || first.section) throw new ParseError('FETCH: invalid BINARY section');
    part = partPath(first.value.split('.'), 'BINARY section');
  }
  if (prefix === 'BINARY.SIZE') {
    if (s.suffix !== '') throw new ParseError('FETCH: BINARY.SIZE takes no partial');
    return { type: 'binary.size', part, label: `BINARY.SIZE[${s.raw}]` };
  }
  const p = partial(s.suffix);
  return { type: 'binary', peek: prefix === 'BINARY.PEEK', part, partial: p, label: `BINARY[${s.raw}]` + (p ? `<${p.offset}>` : '') };
}

function fetchAtt(t: Token): FetchItem {
  if (t.type !== 'atom') throw new ParseError(`FETCH: invalid data item (${describeToken(t)})`);
  if (t.section) return sectionItem(t);
  const name = t.value.toUpperCase();
  const simple = SIMPLE[name];
  if (simple) return { type: simple };
  const whole: BodySection = { part: [], text: null, fields: null };
  switch (name) {
    case 'RFC822':
      return { type: 'section', peek: false, section: whole, partial: null, label: 'RFC822' };
    case 'RFC822.PEEK':
      return { type: 'section', peek: true, section: whole, partial: null, label: 'RFC822' };
    case 'RFC822.HEADER':
      return { type: 'section', peek: true, section: { part: [], text: 'HEADER', fields: null }, partial: null, label: 'RFC822.HEADER' };
    case 'RFC822.TEXT':
      return { type: 'section', peek: false, section: { part: [], text: 'TEXT', fields: null }, partial: null, label: 'RFC822.TEXT' };
  }
  throw new ParseError(`FETCH: unknown data item ${t.value.slice(0, 40)}`);
}

export function parseFetch(args: Args, uid: boolean): FetchCommand {
  const set = args.sequenceSet(uid ? 'UID set' : 'sequence set');
  const what = args.next('data items');
  let items: FetchItem[];
  let macro: FetchCommand['macro'] = null;
  if (what.type === 'list') {
    if (what.items.length === 0) throw new ParseError('FETCH: empty data item list');
    items = what.items.map(fetchAtt);
  } else {
    const m = what.type === 'atom' && !what.section ? MACROS[what.value.toUpperCase()] : undefined;
    if (m) {
      macro = what.type === 'atom' ? (what.value.toUpperCase() as 'ALL' | 'FAST' | 'FULL') : null;
      items = m.map((type) => ({ type }));
    } else {
      items = [fetchAtt(what)];
    }
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (!args.done) {
    const mods = new Args(args.list('FETCH modifiers'), 'FETCH');
    while (!mods.done) {
      const mod = mods.keyword('FETCH modifier');
      if (mod === 'CHANGEDSINCE') {
        if (changedSince !== null) throw new ParseError('FETCH: CHANGEDSINCE given twice');
        changedSince = mods.modseq('CHANGEDSINCE value', true);
      } else if (mod === 'VANISHED') {
        if (!uid) throw new ParseError('FETCH: VANISHED is only allowed in UID FETCH');
        vanished = true;
      } else throw new ParseError(`FETCH: unknown modifier ${mod.slice(0, 40)}`);
    }
    if (vanished && changedSince === null) throw new ParseError('FETCH: VANISHED needs CHANGEDSINCE');
  }
  args.end();
  return { name: 'FETCH', uid, set, items, macro, changedSince, vanished };
}
