// SEARCH and UID SEARCH (RFC 3501 §6.4.4), with ESEARCH results (RFC 4731) when the client
// asks with RETURN (...), and the MODSEQ key (RFC 7162) and OLDER/YOUNGER (RFC 5032) the
// codec also parses. CHARSET is checked by the codec (UTF-8, US-ASCII; else NO [BADCHARSET]).
//
// Cost decides the order of work (DESIGN §5 invariant 5). The criteria are evaluated with
// three-valued logic (true / false / not known yet) in three passes, each only over the
// messages the previous one left undecided:
//   1. metadata already in the view: flags, size, internal date, UID, sequence number, modseq;
//   2. the stored index, read in batches (store.getMessages), only the parts the criteria
//      need: FROM, TO, CC, BCC, SUBJECT (and HEADER on those fields) from the decoded values
//      the store keeps for them (MessagePart 'search'; else from the header block), other
//      HEADER fields and TEXT from the stored header block, the sent date from the envelope;
//   3. the blob, only for BODY and TEXT, and for header keys of messages whose header block
//      was too big to keep in the index. Only the ranges of the text parts are read (an
//      attachment is never downloaded to search a text part next to it).
// So `UNSEEN SUBJECT x` fetches the index only of unseen messages, `FLAGGED BODY x` reads the
// blobs of flagged messages only, and `OR SUBJECT x BODY x` reads no blob for a message whose
// subject already matched.
//
// Matching: substrings, case-insensitive (Unicode lower case after NFC), on decoded text:
// RFC 2047 encoded words in header values, quoted-printable and base64 bodies, and the
// part's charset. BODY searches the text parts (text/*) and the headers of attached
// messages; TEXT is BODY plus the message header. Text parts are matched by TextMatcher
// (core/mime/match.ts): it answers from the raw octets when that gives the same result as
// decoding (most US-ASCII and UTF-8 text) and decodes the rest; a message's parts are matched
// until every needle is found. Dates ignore time and zone: the internal date is taken in
// UTC; the sent date as written in the Date header (the internal date when the message has
// no readable Date header). \Recent is never set by this server (SELECT
// reports 0 RECENT), so RECENT and NEW match nothing and OLD matches everything.
//
// No untagged EXPUNGE is sent during a non-UID SEARCH (invariant 4): the search runs on the
// session's view, which keeps messages other sessions expunged until an EXPUNGE may be sent.
// A message already gone from the store matches no key that needs its index or blob.

import { compareImapDates, imapDateToUtcMs } from '../codec/dates.js';
import type { SearchCommand, SearchKey } from '../codec/commands/types.js';
import { compressNumbers, intervalsContain, setToIntervals, type Interval } from '../codec/sequence.js';
import { decodeHeaderValue, foldForMatch, parseSentDate } from '../../../core/mime/decode.js';
import { fieldName, scanHeaderFields, unfoldValue } from '../../../core/mime/header.js';
import { TextMatcher, type TextSource } from '../../../core/mime/match.js';
import { isSearchFieldName, matchSearchField, searchFieldValues, type SearchFieldName } from '../../../core/mime/search-fields.js';
import type { MessageIndex, MimePart } from '../../../core/mime/types.js';
import type { MessageMeta, MessagePart, MessageParts, Store } from '../../../core/store/port.js';
import { bad, ok, type ImapCommandHandler } from '../session.js';
import type { MailboxView } from '../mailbox-view.js';

const DAY_MS = 86_400_000;
/** UIDs per store.getMessages call in pass 2. */
const INDEX_BATCH = 250;
/** The same when only the kept SEARCH values are read (a few hundred octets a message). */
const SEARCH_VALUES_BATCH = 2000;
/** Blob reads in flight at once in pass 3. */
const BLOB_CONCURRENCY = 4;
/** Text-part ranges closer than this are read as one range. */
const RANGE_MERGE_GAP = 64 * 1024;

// Three-valued results.
const F = 0;
const T = 1;
const U = 2;
type Tri = typeof F | typeof T | typeof U;

/** Cost class of a key: what must be read to decide it. */
const META = 0;
const INDEX = 1;
const BLOB = 2;

type Node =
  | { k: 'const'; v: Tri; cost: number }
  | { k: 'and'; c: Node[]; cost: number }
  | { k: 'or'; a: Node; b: Node; cost: number }
  | { k: 'not'; c: Node; cost: number }
  | { k: 'seq'; iv: Interval[]; cost: number }
  | { k: 'uid'; iv: Interval[]; cost: number }
  | { k: 'flag'; flag: string; exact: string; not: boolean; cost: number }
  | { k: 'idate'; op: 'before' | 'on' | 'since'; day: number; cost: number }
  | { k: 'sdate'; op: 'before' | 'on' | 'since'; date: { year: number; month: number; day: number }; cost: number }
  | { k: 'size'; op: 'larger' | 'smaller'; n: number; cost: number }
  | { k: 'modseq'; n: number; cost: number }
  | { k: 'age'; op: 'older' | 'younger'; ms: number; cost: number }
  | { k: 'header'; field: string; needle: string; cost: number }
  | { k: 'body'; needle: string; cost: number }
  | { k: 'text'; needle: string; cost: number };

interface Compiled {
  root: Node;
  /** The criteria use MODSEQ: results carry the highest modseq (RFC 7162 §3.1.5). */
  modseq: boolean;
}

interface CompileContext {
  exists: number;
  maxUid: number;
  now: number;
  modseq: boolean;
  /** The parts of the stored index pass 2 reads (see MessagePart). */
  parts: Set<MessagePart>;
  /** With 'search': the fields whose kept values are read. */
  searchFields: Set<SearchFieldName>;
}

function compile(key: SearchKey, cx: CompileContext): Node {
  switch (key.type) {
    case 'all':
      return { k: 'const', v: T, cost: META };
    case 'and': {
      const c = key.keys.map((x) => compile(x, cx));
      // Cheap keys first: a false one then spares the reads the others would need.
      c.sort((a, b) => a.cost - b.cost);
      return { k: 'and', c, cost: Math.max(META, ...c.map((x) => x.cost)) };
    }
    case 'or': {
      let a = compile(key.left, cx);
      let b = compile(key.right, cx);
      if (b.cost < a.cost) [a, b] = [b, a];
      return { k: 'or', a, b, cost: Math.max(a.cost, b.cost) };
    }
    case 'not': {
      const c = compile(key.key, cx);
      return { k: 'not', c, cost: c.cost };
    }
    case 'seq':
      return { k: 'seq', iv: setToIntervals(key.set, cx.exists), cost: META };
    case 'uid':
      return { k: 'uid', iv: setToIntervals(key.set, cx.maxUid), cost: META };
    case 'flag':
      if (key.flag === '\\Recent') return { k: 'const', v: key.not ? T : F, cost: META };
      return { k: 'flag', flag: key.flag.toLowerCase(), exact: key.flag, not: key.not, cost: META };
    case 'date':
      if (key.field === 'internal') return { k: 'idate', op: key.op, day: Math.floor(imapDateToUtcMs(key.date) / DAY_MS), cost: META };
      cx.parts.add('structure');
      return { k: 'sdate', op: key.op, date: key.date, cost: INDEX };
    case 'size':
      return { k: 'size', op: key.op, n: key.size, cost: META };
    case 'modseq':
      cx.modseq = true;
      return { k: 'modseq', n: key.modseq, cost: META };
    case 'age':
      return { k: 'age', op: key.op, ms: key.seconds * 1000, cost: META };
    case 'header': {
      const field = key.field.toLowerCase();
      if (isSearchFieldName(field)) {
        cx.parts.add('search');
        cx.searchFields.add(field);
      } else {
        cx.parts.add('header');
      }
      return { k: 'header', field, needle: foldForMatch(key.value), cost: INDEX };
    }
    case 'body':
      cx.parts.add('structure');
      return { k: 'body', needle: foldForMatch(key.value), cost: BLOB };
    case 'text':
      cx.parts.add('structure').add('header');
      return { k: 'text', needle: foldForMatch(key.value), cost: BLOB };
  }
}

/** One message under evaluation, with what has been read for it so far. */
interface Candidate {
  idx: number;
  uid: number;
  meta: MessageMeta;
  /** The parts of the stored index read in pass 2. */
  msg?: MessageParts;
  /** The top-level header block (binary string), from the store or the blob, when read in pass 3. */
  headerBlock?: string | null;
  /** Decoded, folded header fields: [lower-cased name, value]. */
  fields?: Array<[string, string]>;
  /** Decoded, folded values of single fields by lower-cased name (HEADER, FROM, SUBJECT...). */
  fieldValues?: Map<string, string[]>;
  /** The BODY/TEXT needles its text parts contain, once they were read (TextMatcher). */
  bodyHits?: Set<string>;
}

/** What pass 3 must read for a message (recorded while pass 2 finds keys it cannot decide). */
interface Needs {
  header: boolean;
  body: boolean;
}

class Evaluator {
  constructor(private readonly now: number) {}

  eval(n: Node, c: Candidate, level: number, needs: Needs): Tri {
    switch (n.k) {
      case 'const':
        return n.v;
      case 'and': {
        let r: Tri = T;
        for (const x of n.c) {
          const v = this.eval(x, c, level, needs);
          if (v === F) return F;
          if (v === U) r = U;
        }
        return r;
      }
      case 'or': {
        const a = this.eval(n.a, c, level, needs);
        if (a === T) return T;
        const b = this.eval(n.b, c, level, needs);
        if (b === T) return T;
        return a === F && b === F ? F : U;
      }
      case 'not': {
        const v = this.eval(n.c, c, level, needs);
        return v === U ? U : v === T ? F : T;
      }
      case 'seq':
        return intervalsContain(n.iv, c.idx + 1) ? T : F;
      case 'uid':
        return intervalsContain(n.iv, c.uid) ? T : F;
      case 'flag':
        return flagIn(c.meta.flags, n) !== n.not ? T : F;
      case 'idate':
        return compareDay(Math.floor(c.meta.internalDate / DAY_MS), n.day, n.op) ? T : F;
      case 'size':
        return (n.op === 'larger' ? c.meta.size > n.n : c.meta.size < n.n) ? T : F;
      case 'modseq':
        return c.meta.modseq >= n.n ? T : F;
      case 'age': {
        const age = this.now - c.meta.internalDate;
        return (n.op === 'older' ? age > n.ms : age <= n.ms) ? T : F;
      }
      case 'sdate': {
        if (level < INDEX || !c.msg?.index.envelope) return U;
        const sent = parseSentDate(c.msg.index.envelope.date);
        const d = sent ?? dayToDate(Math.floor(c.meta.internalDate / DAY_MS));
        const cmp = compareImapDates(d, n.date);
        return (n.op === 'before' ? cmp < 0 : n.op === 'on' ? cmp === 0 : cmp >= 0) ? T : F;
      }
      case 'header': {
        if (level < INDEX || !c.msg) return U;
        const kept = c.msg.search && isSearchFieldName(n.field) ? c.msg.search[n.field] : undefined;
        if (kept !== undefined) {
          const hit = matchSearchField(kept, n.needle);
          if (hit !== null) return hit ? T : F;
        }
        const values = this.field(c, n.field);
        if (!values) {
          needs.header = true;
          return U;
        }
        for (const value of values) if (value.includes(n.needle)) return T;
        return F;
      }
      case 'body': {
        if (c.bodyHits === undefined) {
          needs.body = true;
          return U;
        }
        return c.bodyHits.has(n.needle) ? T : F;
      }
      case 'text': {
        const fields = level >= INDEX && c.msg ? this.fields(c) : null;
        if (fields) {
          for (const [name, value] of fields) if (`${name}: ${value}`.includes(n.needle)) return T;
        } else {
          needs.header = true;
        }
        if (c.bodyHits === undefined) {
          needs.body = true;
          return U;
        }
        if (c.bodyHits.has(n.needle)) return T;
        return fields ? F : U;
      }
    }
  }

  /**
   * The decoded values of one field (lower-cased name), or null while the header block is not
   * available. Only that field is decoded (searchFieldValues).
   */
  private field(c: Candidate, name: string): string[] | null {
    if (c.fields) return c.fields.filter(([n]) => n === name).map(([, v]) => v);
    const cached = c.fieldValues?.get(name);
    if (cached) return cached;
    const block = headerOf(c);
    if (block === null || block === undefined) return null;
    const out = searchFieldValues(block, name);
    (c.fieldValues ??= new Map()).set(name, out);
    return out;
  }

  /** The decoded header fields, or null while the header block is not available. */
  private fields(c: Candidate): Array<[string, string]> | null {
    if (c.fields) return c.fields;
    const block = headerOf(c);
    if (block === null || block === undefined) return null;
    const out: Array<[string, string]> = [];
    scanHeaderFields(block, (start, colon, end) => {
      if (colon < 0) return;
      out.push([fieldName(block, start, colon).toLowerCase(), foldForMatch(decodeHeaderValue(unfoldValue(block, colon, end)))]);
    });
    c.fields = out;
    return out;
  }
}

/** The header block read so far: a string, null (too big for the index) or undefined (not read). */
function headerOf(c: Candidate): string | null | undefined {
  return c.headerBlock !== undefined ? c.headerBlock : c.msg?.index.header;
}

/**
 * Whether the flags hold the key's flag. The store keeps system flags in their canonical case
 * (the codec gives them so too), so those are compared as they are; keywords case-insensitively.
 */
function flagIn(flags: readonly string[], n: { flag: string; exact: string }): boolean {
  return n.exact.charCodeAt(0) === 0x5c ? flags.includes(n.exact) : hasFlag(flags, n.flag);
}

/** Whether the flags hold one (given lower-cased), case-insensitively, without allocating for ASCII. */
function hasFlag(flags: readonly string[], lower: string): boolean {
  for (let j = 0; j < flags.length; j++) {
    const f = flags[j]!;
    if (f.length !== lower.length) continue;
    let same = true;
    for (let i = 0; i < f.length; i++) {
      let ch = f.charCodeAt(i);
      if (ch >= 0x41 && ch <= 0x5a) ch |= 0x20;
      else if (ch >= 0x80) {
        same = f.toLowerCase() === lower;
        break;
      }
      if (ch !== lower.charCodeAt(i)) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

type MetaTest = (m: MessageMeta, idx: number) => boolean;

/**
 * Criteria that need nothing but the view's metadata (cost META) as one function, so a
 * search on flags, sizes, dates or sets is a single synchronous pass over the view.
 */
function metaTest(n: Node, now: number): MetaTest {
  switch (n.k) {
    case 'const': {
      const v = n.v === T;
      return () => v;
    }
    case 'and': {
      const cs = n.c.map((x) => metaTest(x, now));
      if (cs.length === 1) return cs[0]!;
      return (m, i) => {
        for (const t of cs) if (!t(m, i)) return false;
        return true;
      };
    }
    case 'or': {
      const a = metaTest(n.a, now);
      const b = metaTest(n.b, now);
      return (m, i) => a(m, i) || b(m, i);
    }
    case 'not': {
      const t = metaTest(n.c, now);
      return (m, i) => !t(m, i);
    }
    case 'seq': {
      const iv = n.iv;
      return (_m, i) => intervalsContain(iv, i + 1);
    }
    case 'uid': {
      const iv = n.iv;
      return (m) => intervalsContain(iv, m.uid);
    }
    case 'flag': {
      const { exact, not } = n;
      if (exact.charCodeAt(0) === 0x5c) return (m) => m.flags.includes(exact) !== not;
      return (m) => flagIn(m.flags, n) !== not;
    }
    case 'idate': {
      const { day, op } = n;
      return (m) => compareDay(Math.floor(m.internalDate / DAY_MS), day, op);
    }
    case 'size': {
      const size = n.n;
      return n.op === 'larger' ? (m) => m.size > size : (m) => m.size < size;
    }
    case 'modseq': {
      const ms = n.n;
      return (m) => m.modseq >= ms;
    }
    case 'age': {
      const ms = n.ms;
      return n.op === 'older' ? (m) => now - m.internalDate > ms : (m) => now - m.internalDate <= ms;
    }
    default:
      throw new Error(`search key ${n.k} needs more than metadata`);
  }
}

/** Criteria that are system-flag keys only (one, or several ANDed): those keys, else null. */
function systemFlagTests(n: Node): Array<{ exact: string; not: boolean }> | null {
  const keys = n.k === 'and' ? n.c : [n];
  const out: Array<{ exact: string; not: boolean }> = [];
  for (const k of keys) {
    if (k.k !== 'flag' || k.exact.charCodeAt(0) !== 0x5c) return null;
    out.push({ exact: k.exact, not: k.not });
  }
  return out.length > 0 ? out : null;
}

/** The BODY and TEXT needles of the criteria. */
function bodyNeedles(n: Node, out: Set<string>): Set<string> {
  if (n.k === 'body' || n.k === 'text') out.add(n.needle);
  else if (n.k === 'and') for (const x of n.c) bodyNeedles(x, out);
  else if (n.k === 'or') {
    bodyNeedles(n.a, out);
    bodyNeedles(n.b, out);
  } else if (n.k === 'not') bodyNeedles(n.c, out);
  return out;
}

function compareDay(day: number, ref: number, op: 'before' | 'on' | 'since'): boolean {
  return op === 'before' ? day < ref : op === 'on' ? day === ref : day >= ref;
}

function dayToDate(day: number): { year: number; month: number; day: number } {
  const d = new Date(day * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** A range of the blob to match for BODY/TEXT, and how to decode it. */
interface TextRange extends TextSource {
  start: number;
  end: number;
}

function collectTextRanges(part: MimePart, out: TextRange[]): void {
  if (part.children) {
    for (const ch of part.children) collectTextRanges(ch, out);
    return;
  }
  if (part.message) {
    const inner = part.message.root;
    out.push({ start: inner.headerStart, end: inner.bodyStart, kind: 'header', encoding: '7BIT', charset: null });
    collectTextRanges(inner, out);
    return;
  }
  if (part.type === 'text' && part.bodyEnd > part.bodyStart) {
    const cs = part.params.find(([name]) => name === 'charset');
    out.push({ start: part.bodyStart, end: part.bodyEnd, kind: 'text', encoding: part.encoding, charset: cs ? cs[1] : null });
  }
}

/** Reads the ranges, merging close ones so a message costs few reads. */
async function readRanges(store: Store, blobKey: string, ranges: TextRange[]): Promise<Buffer[]> {
  if (ranges.length === 1) return [await store.blobs.get(blobKey, { start: ranges[0]!.start, end: ranges[0]!.end })];
  const order = ranges.map((r, i) => i).sort((a, b) => ranges[a]!.start - ranges[b]!.start);
  const groups: Array<{ start: number; end: number; members: number[] }> = [];
  for (const i of order) {
    const r = ranges[i]!;
    const g = groups[groups.length - 1];
    if (g && r.start <= g.end + RANGE_MERGE_GAP) {
      g.end = Math.max(g.end, r.end);
      g.members.push(i);
    } else {
      groups.push({ start: r.start, end: r.end, members: [i] });
    }
  }
  const out: Buffer[] = new Array(ranges.length);
  for (const g of groups) {
    const data = await store.blobs.get(blobKey, { start: g.start, end: g.end });
    for (const i of g.members) {
      const r = ranges[i]!;
      out[i] = r.start === g.start && r.end === g.end ? data : data.subarray(r.start - g.start, r.end - g.start);
    }
  }
  return out;
}

/** Pass 3: reads what the message still needs from its blob (and the store). */
async function loadFromBlob(store: Store, view: MailboxView, c: Candidate, needs: Needs, matcher: TextMatcher): Promise<void> {
  const msg = c.msg!;
  const blobKey = c.meta.blobKey;
  if (needs.header && c.headerBlock === undefined) {
    let header = msg.index.header;
    let headerSize = msg.index.headerSize;
    if (header === undefined) {
      // Pass 2 read other parts (the kept SEARCH values could not decide): the header now.
      const [h] = await store.getMessages(view.accountId, view.folder.id, [c.uid], { parts: ['header'] });
      if (!h) return; // expunged meanwhile
      header = h.index.header;
      headerSize = h.index.headerSize;
    }
    if (typeof header === 'string') c.headerBlock = header;
    else if (headerSize !== undefined) c.headerBlock = (await store.blobs.get(blobKey, { start: 0, end: headerSize })).toString('latin1');
  }
  const index = msg.index as MessageIndex;
  if (needs.body && c.bodyHits === undefined) {
    const ranges: TextRange[] = [];
    if (index.truncated) {
      // The structure was capped: search the whole body undecoded rather than miss text.
      ranges.push({ start: index.headerSize, end: index.size, kind: 'raw', encoding: '7BIT', charset: null });
    } else {
      collectTextRanges(index.root, ranges);
    }
    const parts = ranges.length ? await readRanges(store, blobKey, ranges) : [];
    c.bodyHits = matcher.match(ranges.map((r, i) => ({ kind: r.kind, encoding: r.encoding, charset: r.charset, data: parts[i]! })));
  }
}

/**
 * Criteria needing only the view's metadata. Small functions of their own: the loop is then
 * compiled on its own, quickly, on the first searches of a process.
 */
function searchMeta(metas: ReadonlyMap<number, MessageMeta>, uids: readonly number[], compiled: Compiled, now: number): SearchResult {
  const flags = systemFlagTests(compiled.root);
  if (flags !== null) return searchFlags(metas, uids, flags);
  const test = metaTest(compiled.root, now);
  const positions: number[] = [];
  let highestModseq = 0;
  for (let i = 0; i < uids.length; i++) {
    const meta = metas.get(uids[i]!);
    if (meta === undefined || !test(meta, i)) continue;
    positions.push(i);
    if (compiled.modseq && meta.modseq > highestModseq) highestModseq = meta.modseq;
  }
  return { positions, highestModseq };
}

/** The commonest searches (UNSEEN, FLAGGED, UNDELETED UNSEEN...): system flags, ANDed. */
function searchFlags(metas: ReadonlyMap<number, MessageMeta>, uids: readonly number[], flags: Array<{ exact: string; not: boolean }>): SearchResult {
  const positions: number[] = [];
  const n = flags.length;
  for (let i = 0; i < uids.length; i++) {
    const meta = metas.get(uids[i]!);
    if (meta === undefined) continue;
    let k = 0;
    while (k < n && meta.flags.includes(flags[k]!.exact) !== flags[k]!.not) k++;
    if (k === n) positions.push(i);
  }
  return { positions, highestModseq: 0 };
}

/**
 * Pass 1 over the view's metadata (a plain function, so its loop is optimized while it runs,
 * which an async function's is not): sets the hits, returns the positions still undecided.
 */
function passMeta(view: MailboxView, uids: readonly number[], root: Node, ev: Evaluator, hit: Uint8Array): number[] {
  const pending: number[] = [];
  const needs: Needs = { header: false, body: false };
  for (let i = 0; i < uids.length; i++) {
    const uid = uids[i]!;
    const meta = view.meta.get(uid);
    if (!meta) continue;
    const v = ev.eval(root, { idx: i, uid, meta }, META, needs);
    if (v === T) hit[i] = 1;
    else if (v === U) pending.push(i);
  }
  return pending;
}

/**
 * Pass 2 for one batch: each message decided with the parts read for it; returns those that
 * need their blob (messages gone from the store meanwhile match nothing that needs content).
 */
function passIndex(
  view: MailboxView,
  uids: readonly number[],
  positions: readonly number[],
  stored: readonly MessageParts[],
  root: Node,
  ev: Evaluator,
  hit: Uint8Array,
): Array<[Candidate, Needs]> {
  const needBlob: Array<[Candidate, Needs]> = [];
  // Both in ascending UID order.
  let j = 0;
  for (const i of positions) {
    const uid = uids[i]!;
    while (j < stored.length && stored[j]!.uid < uid) j++;
    const msg = stored[j];
    if (msg === undefined || msg.uid !== uid) continue;
    const meta = view.meta.get(uid);
    if (!meta) continue;
    const c: Candidate = { idx: i, uid, meta, msg };
    const needs: Needs = { header: false, body: false };
    const v = ev.eval(root, c, INDEX, needs);
    if (v === T) hit[i] = 1;
    else if (v === U) needBlob.push([c, needs]);
  }
  return needBlob;
}

export interface SearchResult {
  /** 0-based positions in the view, ascending. */
  positions: number[];
  /** Highest modseq of the matches (for MODSEQ searches), 0 otherwise. */
  highestModseq: number;
}

/** Evaluates the criteria over the view's messages. The view must not change meanwhile. */
export async function searchView(store: Store, view: MailboxView, criteria: SearchKey): Promise<SearchResult> {
  const now = Date.now();
  const exists = view.uids.length;
  const cx: CompileContext = { exists, maxUid: exists ? view.uids[exists - 1]! : 0, now, modseq: false, parts: new Set(), searchFields: new Set() };
  const compiled: Compiled = { root: compile(criteria, cx), modseq: cx.modseq };
  // Metadata only: one synchronous pass, no store access (and no copy of the UIDs: the view
  // cannot change while it runs).
  if (compiled.root.cost === META) return searchMeta(view.meta, view.uids, compiled, now);
  const uids = view.uids.slice();
  const ev = new Evaluator(now);
  const matcher = new TextMatcher(bodyNeedles(compiled.root, new Set()));
  const hit = new Uint8Array(uids.length);

  // Pass 1: metadata. The undecided are kept as positions (no object per message lives
  // through the search); each batch makes its candidates.
  const pending = passMeta(view, uids, compiled.root, ev, hit);

  // Pass 2 (index) and pass 3 (blob), batch by batch so memory stays bounded.
  const batchSize = cx.parts.size === 1 && cx.parts.has('search') ? SEARCH_VALUES_BATCH : INDEX_BATCH;
  const readOpts = { parts: [...cx.parts], searchFields: [...cx.searchFields] };
  for (let b = 0; b < pending.length; b += batchSize) {
    const positions = pending.slice(b, b + batchSize);
    const stored = await store.getMessages(
      view.accountId,
      view.folder.id,
      positions.map((i) => uids[i]!),
      readOpts,
    );
    const needBlob = passIndex(view, uids, positions, stored, compiled.root, ev, hit);
    let next = 0;
    const worker = async () => {
      while (next < needBlob.length) {
        const [c, needs] = needBlob[next++]!;
        try {
          await loadFromBlob(store, view, c, needs, matcher);
        } catch (e) {
          if ((e as { code?: string }).code === 'NOT_FOUND') continue; // blob gone with the message
          throw e;
        }
        if (ev.eval(compiled.root, c, BLOB, { header: false, body: false }) === T) hit[c.idx] = 1;
        c.bodyHits = undefined;
        c.fields = undefined;
        c.fieldValues = undefined;
      }
    };
    await Promise.all(Array.from({ length: Math.min(BLOB_CONCURRENCY, needBlob.length) }, worker));
    // What was read for the batch is dropped with it (its candidates are not kept): kept to
    // the end of the search, every message's index survived young-generation collections,
    // which then copied it around (most of a BODY search's garbage-collection time).
    // Small blob reads are synchronous: let other sessions run between batches.
    if (needBlob.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  const positions: number[] = [];
  let highestModseq = 0;
  for (let i = 0; i < hit.length; i++) {
    if (!hit[i]) continue;
    positions.push(i);
    if (compiled.modseq) highestModseq = Math.max(highestModseq, view.meta.get(uids[i]!)?.modseq ?? 0);
  }
  return { positions, highestModseq };
}

export const search: ImapCommandHandler<SearchCommand> = {
  name: 'SEARCH',
  states: ['selected'],
  async run(s, cmd, tag) {
    const view = s.selected!;
    const opts = cmd.returnOptions;
    if (opts?.includes('SAVE')) return bad('SEARCH RETURN (SAVE) is not supported.');
    const { positions, highestModseq } = await searchView(s.store, view, cmd.criteria);
    const nums = cmd.uid ? positions.map((i) => view.uids[i]!) : positions.map((i) => i + 1);
    if (opts === null) {
      let line = 'SEARCH';
      if (nums.length) line += ' ' + nums.join(' ');
      if (highestModseq && nums.length) line += ` (MODSEQ ${highestModseq})`;
      await s.untaggedLine(line);
    } else {
      // ESEARCH (RFC 4731): RETURN () means ALL. The tag is an atom, so quoting it is safe.
      const want = opts.length ? opts : ['ALL'];
      let line = `ESEARCH (TAG "${tag}")`;
      if (cmd.uid) line += ' UID';
      if (nums.length && want.includes('MIN')) line += ` MIN ${nums[0]}`;
      if (nums.length && want.includes('MAX')) line += ` MAX ${nums[nums.length - 1]}`;
      if (want.includes('COUNT')) line += ` COUNT ${nums.length}`;
      if (nums.length && want.includes('ALL')) line += ` ALL ${compressNumbers(nums)}`;
      if (highestModseq && nums.length) line += ` MODSEQ ${highestModseq}`;
      await s.untaggedLine(line);
    }
    return ok(`${cmd.uid ? 'UID SEARCH' : 'SEARCH'} completed (${nums.length} found)`);
  },
};
