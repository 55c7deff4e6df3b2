// FETCH data items (RFC 3501 §6.4.5, §7.4.2; RFC 3516 BINARY) served from three sources, each
// read only when an item needs it (DESIGN §5 invariant 5):
//
//   view metadata   FLAGS, UID, INTERNALDATE, RFC822.SIZE, MODSEQ: no store read at all
//   message index   ENVELOPE, BODYSTRUCTURE, BODY, BODY[HEADER], BODY[HEADER.FIELDS (..)],
//                   HEADER.FIELDS.NOT, RFC822.HEADER: store.getMessages in batches, never the
//                   blob (unless the top-level header was too big to keep in the index), and
//                   only the parts the items need (MessagePart): ENVELOPE and BODYSTRUCTURE
//                   from the wire forms the store keeps (else rendered from the structure),
//                   header items from the header block alone
//   message blob    every other section: only the octet range it needs, by ranged read;
//                   big ranges are streamed with backpressure
//
// Partial fetches (<o.n>) count octets of the section as stored (the encoded form), so
// clients can resume downloads by offset. Section labels repeat the client's text exactly.
//
// Messages whose items need no blob read are written synchronously, each response built as one
// string and the output sent in large chunks.
//
// A message another session expunged but still in this view (RFC 2180 §4.1): its metadata
// items are answered from the view; data that is gone is sent as NIL (sections) or left out
// (ENVELOPE, BODY, BODYSTRUCTURE, which cannot be NIL), and the command ends in
// NO [EXPUNGEISSUED]. A message's bytes always come from that message's own blob.

import type { MessageIndex, MimePart } from '../../core/mime/types.js';
import { findSection, sectionRange, selectHeaderFields } from '../../core/mime/index.js';
import { bodyForm, bodyStructureForm, envelopeForm } from '../../core/mime/imap-forms.js';
import { StoreError, type ByteRange, type MessageMeta, type MessagePart, type MessageParts } from '../../core/store/port.js';
import type { FetchCommand, FetchItem, PartialRange } from './codec/commands/types.js';
import { formatDateTime } from './codec/dates.js';
import { resolveSeqSet, seqSetOutOfRange, uidIndexRanges, type SequenceSet } from './codec/sequence.js';
import { ResponseWriter } from './codec/serialize.js';
import type { MailboxView } from './mailbox-view.js';
import { bad, no, ok, type Done, type ImapSession } from './session.js';

/** Messages per batch: one store read (index) and at most a few writes per batch. */
export const BATCH = 250;
/** Pending output past which it is written before the batch ends. */
const FLUSH_BYTES = 256 * 1024;
/**
 * Output of messages written without I/O goes out every this many octets: the client parses
 * one write while the next is built (and the writer's buffers stay small).
 */
const SYNC_FLUSH_BYTES = 64 * 1024;
/** Section ranges at least this long are streamed from the blob instead of read whole. */
export const STREAM_THRESHOLD = 1024 * 1024;
/** Small section reads started ahead of their turn, and the octets they may hold. */
const READ_AHEAD = 8;
const READ_AHEAD_BYTES = 8 * 1024 * 1024;
/** UIDs per store.updateFlags call. */
export const FLAG_BATCH = 1000;

export interface Target {
  seq: number;
  uid: number;
}

/** CONDSTORE is on for this session (RFC 7162). */
export function condstoreOn(s: ImapSession): boolean {
  return s.enabled.has('CONDSTORE') || s.enabled.has('QRESYNC');
}

/**
 * The messages a sequence set names, in ascending sequence order. Message sequence numbers
 * above EXISTS make the set invalid (null: BAD). A UID set takes the UIDs in it that exist;
 * `*` is the highest UID, so `n:*` always includes the last message (RFC 3501 §6.4.8).
 */
export function resolveTargets(view: MailboxView, set: SequenceSet, uid: boolean): Target[] | null {
  const out: Target[] = [];
  if (uid) {
    for (const [a, b] of uidIndexRanges(set, view.uids)) {
      for (let i = a; i <= b; i++) out.push({ seq: i + 1, uid: view.uids[i]! });
    }
    return out;
  }
  if (seqSetOutOfRange(set, view.exists)) return null;
  for (const [a, b] of resolveSeqSet(set, view.exists)) {
    for (let seq = a; seq <= b; seq++) out.push({ seq, uid: view.uids[seq - 1]! });
  }
  return out;
}

/**
 * resolveTargets as two parallel lists of numbers: a FETCH of a big folder then keeps no
 * object per message alive for the whole command (objects that live that long are copied by
 * every young-generation collection until promoted; a list of small integers is not).
 */
function resolveTargetList(view: MailboxView, set: SequenceSet, uid: boolean): { seqs: number[]; uids: number[] } | null {
  const seqs: number[] = [];
  const uids: number[] = [];
  if (uid) {
    for (const [a, b] of uidIndexRanges(set, view.uids)) {
      for (let i = a; i <= b; i++) {
        seqs.push(i + 1);
        uids.push(view.uids[i]!);
      }
    }
    return { seqs, uids };
  }
  if (seqSetOutOfRange(set, view.exists)) return null;
  for (const [a, b] of resolveSeqSet(set, view.exists)) {
    for (let seq = a; seq <= b; seq++) {
      seqs.push(seq);
      uids.push(view.uids[seq - 1]!);
    }
  }
  return { seqs, uids };
}

/** Store errors a command reports as NO instead of ending the session. */
export function storeFailure(e: unknown): Done | null {
  if (!(e instanceof StoreError)) return null;
  switch (e.code) {
    case 'NONEXISTENT':
      return no('The mailbox no longer exists.', 'NONEXISTENT');
    case 'LIMIT':
      return no(e.message, 'LIMIT');
    case 'INVALID':
      return no(e.message, 'CANNOT');
    case 'UNAVAILABLE':
      return no('Storage is temporarily unavailable; try again.', 'UNAVAILABLE');
    default:
      return null;
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof StoreError && e.code === 'NOT_FOUND';
}

// ---------------------------------------------------------------------------------------
// Plan: which sources the requested items need.

/** What was read of a message's stored index (the parts the plan asked for). */
type PartialIndex = Partial<MessageIndex>;

interface Plan {
  items: FetchItem[];
  /** Some item needs the stored index (envelope, structure, section offsets, header). */
  needIndex: boolean;
  /** The parts of the index the items need (store.getMessages reads only these). */
  parts: MessagePart[];
  /**
   * Every item is served from the view and the index alone (no blob read) as long as the
   * message's header block is kept in the index: the message is written synchronously.
   */
  sync: boolean;
  /** Some item sets \Seen (non-peek body section) and the mailbox is writable. */
  setsSeen: boolean;
  hasFlags: boolean;
  /** Some item reads message bytes. */
  readsBlob: boolean;
}

/** Section items served from the whole blob without offsets: BODY[] / RFC822 (with partial). */
function isWholeMessage(it: FetchItem): boolean {
  return it.type === 'section' && it.section.part.length === 0 && it.section.text === null;
}

/** Top-level HEADER, HEADER.FIELDS and HEADER.FIELDS.NOT: served from the stored header block. */
function isTopHeader(it: FetchItem): it is Extract<FetchItem, { type: 'section' }> {
  if (it.type !== 'section' || it.section.part.length !== 0) return false;
  const t = it.section.text;
  return t === 'HEADER' || t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT';
}

function makePlan(cmd: FetchCommand, readOnly: boolean, withModseq: boolean): Plan {
  const items: FetchItem[] = [];
  const seen = new Set<string>();
  const add = (it: FetchItem, key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    items.push(it);
  };
  if (cmd.uid) add({ type: 'UID' }, 'UID');
  for (const it of cmd.items) {
    if (it.type === 'section' || it.type === 'binary' || it.type === 'binary.size') add(it, `${it.type} ${it.label}`);
    else add(it, it.type);
  }
  if (withModseq) add({ type: 'MODSEQ' }, 'MODSEQ');
  let needIndex = false;
  let setsSeen = false;
  let sync = true;
  const parts = new Set<MessagePart>();
  for (const it of items) {
    switch (it.type) {
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
        needIndex = true;
        parts.add('imap');
        break;
      case 'BODY':
        needIndex = true;
        parts.add('structure');
        break;
      case 'binary':
      case 'binary.size':
        needIndex = true;
        sync = false;
        parts.add('structure');
        break;
      case 'section':
        if (isTopHeader(it)) {
          needIndex = true;
          parts.add('header');
        } else {
          sync = false;
          if (!isWholeMessage(it)) {
            needIndex = true;
            parts.add('structure');
          }
        }
        break;
    }
    if ((it.type === 'section' || it.type === 'binary') && !it.peek && !readOnly) setsSeen = true;
  }
  const readsBlob = items.some((it) => it.type === 'section' || it.type === 'binary' || it.type === 'binary.size');
  return { items, needIndex, parts: [...parts], sync, setsSeen, hasFlags: seen.has('FLAGS'), readsBlob };
}

// ---------------------------------------------------------------------------------------
// Output: responses accumulate in a writer and go out a few hundred at a time, or sooner
// when big section data piles up. Streamed literals flush first, then go straight out.

class FetchOutput {
  private w: ResponseWriter;
  private pending = 0;
  /** `FLAGS (...)` by flag list: the view shares one array per distinct list (a folder has few). */
  private flagTexts = new Map<readonly string[], string>();

  constructor(private s: ImapSession) {
    this.w = new ResponseWriter({ utf8: s.utf8 });
  }

  get writer(): ResponseWriter {
    return this.w;
  }

  /** Counts octets that were added to the writer (for the flush threshold). */
  added(n: number): void {
    this.pending += n;
  }

  /** The FLAGS item of a flag list. */
  flagsItem(flags: readonly string[]): string {
    let t = this.flagTexts.get(flags);
    if (t === undefined) {
      t = `FLAGS ${flagsText(flags)}`;
      // Remembered for shared lists; a store handing out an array per message gains nothing.
      if (this.flagTexts.size < 256) this.flagTexts.set(flags, t);
    }
    return t;
  }

  /** Enough output has piled up to be sent before going on. */
  get full(): boolean {
    return this.pending >= SYNC_FLUSH_BYTES;
  }

  async maybeFlush(): Promise<void> {
    if (this.pending >= FLUSH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    const bufs = this.w.toBuffers();
    this.pending = 0;
    if (bufs.length > 0) await this.s.send(bufs);
  }

  /**
   * `{n}\r\n` plus n octets streamed from the blob range. Returns false (nothing written)
   * when the blob is missing. Throws when the blob ends early (the literal cannot be
   * completed: the session then ends the connection).
   */
  async streamLiteral(key: string, range: ByteRange): Promise<boolean> {
    const stream = this.s.store.blobs.stream(key, range);
    const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let first: IteratorResult<Buffer>;
    try {
      first = await it.next();
    } catch (e) {
      stream.destroy();
      if (isNotFound(e)) return false;
      throw e;
    }
    const length = range.end - range.start;
    await this.flush();
    await this.s.send(`{${length}}\r\n`);
    let sent = 0;
    try {
      let r = first;
      while (!r.done) {
        const chunk = r.value.length > length - sent ? r.value.subarray(0, length - sent) : r.value;
        sent += chunk.length;
        if (chunk.length > 0) await this.s.send(chunk);
        if (this.s.conn.closed || sent >= length) break;
        r = await it.next();
      }
    } finally {
      stream.destroy();
    }
    if (sent < length && !this.s.conn.closed) throw new Error(`blob ${key} ended ${length - sent} octets early`);
    return true;
  }
}

// ---------------------------------------------------------------------------------------
// Section data

/** Applies <o.n> to section data (octets of the section as stored). */
function applyPartial(data: Buffer, p: PartialRange | null): Buffer {
  if (!p) return data;
  if (p.offset >= data.length) return data.subarray(0, 0);
  return data.subarray(p.offset, Math.min(data.length, p.offset + p.length));
}

/** Narrows a blob range by <o.n>. */
function partialRange(r: ByteRange, p: PartialRange | null): ByteRange {
  if (!p) return r;
  const start = Math.min(r.end, r.start + p.offset);
  return { start, end: Math.min(r.end, start + p.length) };
}

/** What a section resolves to: bytes already known, a blob range to read, or nothing. */
type SectionData = { kind: 'bytes'; data: Buffer } | { kind: 'range'; range: ByteRange; fields?: { names: string[]; not: boolean } } | { kind: 'empty' };

const EMPTY: SectionData = { kind: 'empty' };

function resolveSection(it: Extract<FetchItem, { type: 'section' }>, meta: MessageMeta, pidx: PartialIndex | null): SectionData {
  const { part, text, fields } = it.section;
  if (part.length === 0 && text === null) return { kind: 'range', range: { start: 0, end: pidx?.size ?? meta.size } };
  if (!pidx) return EMPTY;
  // The plan read the parts this section needs: the header (and its size) for a top-level
  // header section, the structure for every other.
  const index = pidx as MessageIndex;
  if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
    const not = text === 'HEADER.FIELDS.NOT';
    if (part.length === 0 && typeof index.header === 'string') {
      return { kind: 'bytes', data: Buffer.from(selectHeaderFields(index.header, fields ?? [], not), 'latin1') };
    }
    const r = sectionRange(index, part, 'HEADER');
    return r ? { kind: 'range', range: r, fields: { names: fields ?? [], not } } : EMPTY;
  }
  if (part.length === 0 && text === 'HEADER' && typeof index.header === 'string') {
    return { kind: 'bytes', data: Buffer.from(index.header, 'latin1') };
  }
  const r = sectionRange(index, part, text ?? '');
  return r ? { kind: 'range', range: r } : EMPTY;
}

/** The section text of a top-level header item from a kept header block (binary string). */
function topHeaderText(it: Extract<FetchItem, { type: 'section' }>, header: string): string {
  const text = it.section.text;
  if (text === 'HEADER') return header;
  return selectHeaderFields(header, it.section.fields ?? [], text === 'HEADER.FIELDS.NOT');
}

// ---------------------------------------------------------------------------------------
// BINARY (RFC 3516): the decoded content of a leaf part.

function decodeQuotedPrintable(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  const hex = (c: number): number => {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x37;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    // Soft line break: "=" then optional trailing whitespace, then CRLF or LF.
    let j = i + 1;
    while (j < src.length && (src[j] === 0x20 || src[j] === 0x09)) j++;
    if (j < src.length && src[j] === 0x0d && src[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (j < src.length && src[j] === 0x0a) {
      i = j;
      continue;
    }
    if (j >= src.length) {
      i = j;
      continue;
    }
    const h = i + 2 < src.length ? hex(src[i + 1]!) : -1;
    const l = i + 2 < src.length ? hex(src[i + 2]!) : -1;
    if (h >= 0 && l >= 0) {
      out[n++] = (h << 4) | l;
      i += 2;
    } else {
      out[n++] = c; // a stray "=" is kept as it is
    }
  }
  return out.subarray(0, n);
}

function binaryPart(index: MessageIndex, path: number[]): { range: ByteRange; encoding: string } | null {
  if (path.length === 0) return { range: { start: 0, end: index.size }, encoding: '7BIT' };
  const p: MimePart | null = findSection(index.root, path);
  if (!p) return null;
  const identity = p.children || p.message;
  return { range: { start: p.bodyStart, end: p.bodyEnd }, encoding: identity ? '7BIT' : p.encoding.toUpperCase() };
}

/** Decodes raw part octets; null for an unknown transfer encoding. */
function decodeBody(raw: Buffer, encoding: string): Buffer | null {
  switch (encoding) {
    case '7BIT':
    case '8BIT':
    case 'BINARY':
      return raw;
    case 'BASE64':
      return Buffer.from(raw.toString('latin1'), 'base64');
    case 'QUOTED-PRINTABLE':
      return decodeQuotedPrintable(raw);
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------
// The FETCH command

class UnknownCte extends Error {}

export async function runFetch(s: ImapSession, cmd: FetchCommand): Promise<Done> {
  const view = s.selected!;
  const condstore = condstoreOn(s);
  if (!condstore) {
    if (cmd.changedSince !== null) return bad('CHANGEDSINCE needs CONDSTORE, which is not enabled.');
    if (cmd.items.some((i) => i.type === 'MODSEQ')) return bad('MODSEQ needs CONDSTORE, which is not enabled.');
  }
  if (cmd.vanished && !s.enabled.has('QRESYNC')) return bad('VANISHED needs QRESYNC, which is not enabled.');
  const targets = resolveTargetList(view, cmd.set, cmd.uid);
  if (!targets) return bad('Invalid sequence set: no such message.');
  let { seqs, uids } = targets;
  if (cmd.changedSince !== null) {
    const since = cmd.changedSince;
    const keep = uids.map((u) => view.meta.get(u)!.modseq > since);
    seqs = seqs.filter((_, k) => keep[k]);
    uids = uids.filter((_, k) => keep[k]);
  }
  const count = uids.length;
  const plan = makePlan(cmd, view.readOnly, condstore && cmd.changedSince !== null);
  const out = new FetchOutput(s);
  const reader = new BlobReader(s);
  const result: WriteResult = { missing: false, unknownCte: false };

  // Index reads for the next batch run while the current one is written.
  type IndexResult = { ok: true; map: Map<number, MessageParts> } | { ok: false; error: unknown };
  const liveOf = (from: number): number[] => {
    const out: number[] = [];
    const end = Math.min(count, from + BATCH);
    for (let k = from; k < end; k++) {
      const uid = uids[k]!;
      if (!view.isExpunged(uid)) out.push(uid);
    }
    return out;
  };
  const loadIndex = (uids: number[]): Promise<IndexResult> | null =>
    plan.needIndex && uids.length > 0
      ? s.store.getMessages(view.accountId, view.folder.id, uids, { parts: plan.parts }).then(
          (list): IndexResult => {
            const map = new Map<number, MessageParts>();
            for (const m of list) map.set(m.uid, m);
            return { ok: true, map };
          },
          (error: unknown): IndexResult => ({ ok: false, error }),
        )
      : null;
  let nextIndex = plan.needIndex ? loadIndex(liveOf(0)) : null;

  for (let i = 0; i < count; i += BATCH) {
    if (s.conn.closed) break;
    const end = Math.min(count, i + BATCH);

    let stored: Map<number, MessageParts> | null = null;
    const loaded = nextIndex ? await nextIndex : null;
    nextIndex = plan.needIndex && end < count ? loadIndex(liveOf(end)) : null;
    if (loaded && !loaded.ok) {
      const f = storeFailure(loaded.error);
      if (f) {
        await out.flush();
        return f;
      }
      throw loaded.error;
    }
    if (loaded) stored = loaded.map;

    const newlySeen = new Set<number>();
    if (plan.setsSeen) {
      const unseen = liveOf(i).filter((u) => !view.meta.get(u)!.flags.includes('\\Seen') && (!stored || stored.has(u)));
      if (unseen.length > 0) {
        try {
          const r = await s.store.updateFlags(view.accountId, view.folder.id, { uids: unseen, op: 'add', flags: ['\\Seen'] });
          view.applyOwnFlags(r.updated);
          for (const m of r.updated) newlySeen.add(m.uid);
        } catch (e) {
          const f = storeFailure(e);
          if (!f) throw e;
          // \Seen could not be set: the data is still served.
        }
      }
    }

    if (plan.readsBlob && !plan.sync) {
      for (let k = i; k < end; k++) {
        const uid = uids[k]!;
        const rec = stored ? stored.get(uid) ?? null : null;
        planReads(reader, plan, view.meta.get(uid)!, view.isExpunged(uid), plan.needIndex && !rec, rec ? rec.index : null);
      }
    }

    for (let k = i; k < end; ) {
      if (s.conn.closed) break;
      if (plan.sync) {
        // As many messages as can be written without I/O, in a plain function (an async
        // function's loop is not optimized while it runs: this one is, within the first call).
        if (out.full) await out.flush();
        const done = writeRangeSync(s, out, plan, seqs, uids, k, end, stored, newlySeen, result);
        if (done > k) {
          k = done;
          continue;
        }
      }
      const t: Target = { seq: seqs[k]!, uid: uids[k]! };
      const rec = stored ? stored.get(t.uid) ?? null : null;
      const unavailable = view.isExpunged(t.uid) || (plan.needIndex && !rec);
      const r = await writeMessage(s, out, reader, plan, t, view.meta.get(t.uid)!, unavailable, rec, newlySeen.has(t.uid));
      await out.maybeFlush();
      if (r.missing) result.missing = true;
      if (r.unknownCte) result.unknownCte = true;
      k++;
    }
    // A sync plan's output goes out in large writes (out.full); others' at each batch end.
    if (!plan.sync || out.full) await out.flush();
    reader.clear();
  }
  await out.flush();
  if (result.missing) return no('Some messages were expunged by another session; their data is no longer available.', 'EXPUNGEISSUED');
  if (result.unknownCte) return no('A part has an unknown Content-Transfer-Encoding; BINARY cannot decode it.', 'UNKNOWN-CTE');
  return ok(cmd.uid ? 'UID FETCH completed' : 'FETCH completed');
}

/** Announces the blob reads writeMessage will make for one message, in the same order. */
function planReads(reader: BlobReader, plan: Plan, meta: MessageMeta, expunged: boolean, noIndex: boolean, pidx: PartialIndex | null): void {
  const index = pidx as MessageIndex | null;
  for (const it of plan.items) {
    if (it.type === 'section') {
      if ((expunged || noIndex) && !(isWholeMessage(it) && !expunged)) continue;
      if (isTopHeader(it) && typeof index?.header === 'string') continue; // no blob read
      const sd = resolveSection(it, meta, index);
      if (sd.kind !== 'range') continue;
      reader.plan(meta.blobKey, sd.fields ? sd.range : partialRange(sd.range, it.partial));
    } else if ((it.type === 'binary' || it.type === 'binary.size') && index) {
      const bp = binaryPart(index, it.part);
      if (!bp) continue;
      const identity = bp.encoding === '7BIT' || bp.encoding === '8BIT' || bp.encoding === 'BINARY';
      if (it.type === 'binary.size' && identity) continue;
      reader.plan(meta.blobKey, bp.range);
    }
  }
}

/** `(\Seen \Flagged)`. */
function flagsText(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

interface WriteResult {
  missing: boolean;
  unknownCte: boolean;
}

/**
 * The text of an item served from the view's metadata or the stored index without I/O (with
 * its name, no leading space), '' when it has nothing to write for this message, or null when
 * it needs the blob. Sets r.missing for data that is gone.
 */
function itemText(s: ImapSession, out: FetchOutput, it: FetchItem, uid: number, meta: MessageMeta, rec: MessageParts | null, r: WriteResult): string | null {
  switch (it.type) {
    case 'UID':
      return `UID ${uid}`;
    case 'FLAGS':
      return out.flagsItem(meta.flags);
    case 'INTERNALDATE':
      return `INTERNALDATE "${formatDateTime(meta.internalDate)}"`;
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${meta.size}`;
    case 'MODSEQ':
      return `MODSEQ (${meta.modseq})`;
    case 'ENVELOPE':
    case 'BODYSTRUCTURE':
    case 'BODY': {
      if (!rec) {
        r.missing = true;
        return '';
      }
      const utf8 = s.utf8;
      const index = rec.index as MessageIndex;
      if (it.type === 'BODY') return 'BODY ' + bodyForm(index.root, { utf8 });
      // The forms the store keeps (for a UTF8=ACCEPT session, its own when they differ), else
      // rendered from the index.
      const forms = rec.imap ? (utf8 && rec.imap.utf8 ? rec.imap.utf8 : rec.imap) : null;
      if (it.type === 'ENVELOPE') return 'ENVELOPE ' + (forms ? forms.envelope : envelopeForm(index.envelope, { utf8 }));
      return 'BODYSTRUCTURE ' + (forms ? forms.bodyStructure : bodyStructureForm(index.root, { utf8 }));
    }
    default:
      return null;
  }
}

/**
 * For a sync plan: writes the messages from index `from` on, up to `end`, until one needs the
 * blob (its header block was too big to keep in the index) or the output is full. Returns the
 * index of the first message not written.
 */
function writeRangeSync(
  s: ImapSession,
  out: FetchOutput,
  plan: Plan,
  seqs: readonly number[],
  uids: readonly number[],
  from: number,
  end: number,
  stored: Map<number, MessageParts> | null,
  newlySeen: ReadonlySet<number>,
  r: WriteResult,
): number {
  const view = s.selected!;
  let k = from;
  for (; k < end && !out.full; k++) {
    const uid = uids[k]!;
    const rec = stored ? stored.get(uid) ?? null : null;
    const unavailable = view.isExpunged(uid) || (plan.needIndex && !rec);
    if (!unavailable && plan.readsBlob && typeof rec?.index.header !== 'string') break;
    writeMessageSync(s, out, plan, seqs[k]!, uid, view.meta.get(uid)!, unavailable, rec, newlySeen.has(uid), r);
  }
  return k;
}

/**
 * writeMessage for a sync plan (see Plan.sync) when the message's header block, if needed, is
 * in the index: no I/O, one string per response.
 */
function writeMessageSync(
  s: ImapSession,
  out: FetchOutput,
  plan: Plan,
  seq: number,
  uid: number,
  meta: MessageMeta,
  unavailable: boolean,
  rec: MessageParts | null,
  newlySeen: boolean,
  r: WriteResult,
): void {
  const w = out.writer;
  let line = '';
  let count = 0;
  for (const it of plan.items) {
    let text = itemText(s, out, it, uid, meta, rec, r);
    if (text === '') continue;
    if (text === null) {
      // A top-level header section (the only other kind in a sync plan).
      const sec = it as Extract<FetchItem, { type: 'section' }>;
      const header = rec?.index.header;
      if (unavailable || typeof header !== 'string') {
        r.missing = true;
        text = sec.label + ' NIL';
      } else {
        let data = topHeaderText(sec, header);
        if (sec.partial) data = data.slice(Math.min(data.length, sec.partial.offset), Math.min(data.length, sec.partial.offset + sec.partial.length));
        // The line so far, then the string (quoted or literal, by the codec's rule).
        w.text(count++ === 0 ? `* ${seq} FETCH (${line}${sec.label} ` : `${line} ${sec.label} `);
        w.binaryString(data);
        out.added(data.length + line.length);
        line = '';
        continue;
      }
    }
    line += count++ === 0 ? `* ${seq} FETCH (${text}` : ' ' + text;
  }
  if (count === 0) return;
  if (newlySeen && !plan.hasFlags) line += ' ' + out.flagsItem(meta.flags);
  w.text(line + ')\r\n');
  out.added(line.length + 3);
}

/**
 * Writes one `* n FETCH (...)` response. `unavailable`: the message was expunged by another
 * session (its index and blob may be gone).
 */
async function writeMessage(
  s: ImapSession,
  out: FetchOutput,
  reader: BlobReader,
  plan: Plan,
  t: Target,
  metaIn: MessageMeta,
  unavailable: boolean,
  rec: MessageParts | null,
  newlySeen: boolean,
): Promise<WriteResult> {
  const w = out.writer;
  const index = rec ? rec.index : null;
  const result: WriteResult = { missing: false, unknownCte: false };
  let missing = false;
  let unknownCte = false;
  let count = 0;
  const sep = () => {
    if (count++ === 0) w.text(`* ${t.seq} FETCH (`);
    else w.text(' ');
  };
  for (const it of plan.items) {
    // Re-read the view each time: flags may have changed by this command (\Seen).
    const meta = s.selected!.meta.get(t.uid) ?? metaIn;
    switch (it.type) {
      case 'UID':
      case 'FLAGS':
      case 'INTERNALDATE':
      case 'RFC822.SIZE':
      case 'MODSEQ':
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
      case 'BODY': {
        const text = itemText(s, out, it, t.uid, meta, rec, result);
        if (text) {
          sep();
          w.text(text);
          out.added(text.length);
        }
        break;
      }
      case 'section': {
        sep();
        w.text(it.label + ' ');
        if (unavailable && !(isWholeMessage(it) && !s.selected!.isExpunged(t.uid))) {
          w.text('NIL');
          missing = true;
          break;
        }
        const sd = resolveSection(it, meta, index);
        if (sd.kind === 'empty') {
          w.text('""');
        } else if (sd.kind === 'bytes') {
          const data = applyPartial(sd.data, it.partial);
          w.string(data);
          out.added(data.length);
        } else if (sd.fields) {
          // HEADER.FIELDS of an encapsulated message (or of an oversized top-level header).
          const raw = await reader.read(meta.blobKey, sd.range);
          if (!raw) {
            w.text('NIL');
            missing = true;
            break;
          }
          const data = applyPartial(Buffer.from(selectHeaderFields(raw.toString('latin1'), sd.fields.names, sd.fields.not), 'latin1'), it.partial);
          w.string(data);
          out.added(data.length);
        } else {
          const range = partialRange(sd.range, it.partial);
          const length = range.end - range.start;
          if (length === 0) {
            w.text('""');
          } else if (length >= STREAM_THRESHOLD) {
            if (!(await out.streamLiteral(meta.blobKey, range))) {
              w.text('NIL');
              missing = true;
            }
          } else {
            const data = await reader.read(meta.blobKey, range);
            if (!data) {
              w.text('NIL');
              missing = true;
              break;
            }
            w.string(data);
            out.added(data.length);
          }
        }
        break;
      }
      case 'binary':
      case 'binary.size': {
        if (!index) {
          sep();
          w.text(it.label + ' NIL');
          missing = true;
          break;
        }
        const bp = binaryPart(index as MessageIndex, it.part);
        if (!bp) {
          sep();
          w.text(it.type === 'binary.size' ? `${it.label} 0` : `${it.label} ""`);
          break;
        }
        const identity = bp.encoding === '7BIT' || bp.encoding === '8BIT' || bp.encoding === 'BINARY';
        if (it.type === 'binary.size' && identity) {
          sep();
          w.text(`${it.label} ${bp.range.end - bp.range.start}`);
          break;
        }
        try {
          const raw = await reader.read(meta.blobKey, bp.range);
          if (!raw) {
            sep();
            w.text(it.label + ' NIL');
            missing = true;
            break;
          }
          const decoded = decodeBody(raw, bp.encoding);
          if (!decoded) throw new UnknownCte();
          sep();
          if (it.type === 'binary.size') {
            w.text(`${it.label} ${decoded.length}`);
          } else {
            const data = applyPartial(decoded, it.partial);
            w.text(it.label + ' ');
            if (data.includes(0)) w.literal(data, true);
            else w.string(data);
            out.added(data.length);
          }
        } catch (e) {
          if (!(e instanceof UnknownCte)) throw e;
          unknownCte = true;
        }
        break;
      }
    }
  }
  if (newlySeen && !plan.hasFlags && count > 0) {
    const meta = s.selected!.meta.get(t.uid) ?? metaIn;
    w.text(` FLAGS ${flagsText(meta.flags)}`);
  }
  if (count > 0) {
    w.text(')\r\n');
    out.added(24);
  }
  return { missing: missing || result.missing, unknownCte };
}

type ReadResult = { ok: true; data: Buffer | null } | { ok: false; error: unknown };

/**
 * Ranged blob reads with a bounded read-ahead: the small section reads of a batch are
 * started a few at a time ahead of their turn (object stores answer each read with some
 * latency), within a cap on octets held. Big ranges are streamed and never read ahead.
 */
class BlobReader {
  private queue: Array<{ id: string; key: string; range: ByteRange }> = [];
  private ready = new Map<string, Promise<ReadResult>>();
  private held = 0;

  constructor(private s: ImapSession) {}

  private static id(key: string, range: ByteRange): string {
    return `${range.start}:${range.end}:${key}`;
  }

  /** Plans reads in the order they will be asked for. */
  plan(key: string, range: ByteRange): void {
    if (range.end - range.start >= STREAM_THRESHOLD || range.end <= range.start) return;
    this.queue.push({ id: BlobReader.id(key, range), key, range });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.ready.size < READ_AHEAD && this.held < READ_AHEAD_BYTES) {
      const q = this.queue.shift()!;
      if (this.ready.has(q.id)) continue;
      this.held += q.range.end - q.range.start;
      this.ready.set(
        q.id,
        this.direct(q.key, q.range).then(
          (data): ReadResult => ({ ok: true, data }),
          (error: unknown): ReadResult => ({ ok: false, error }),
        ),
      );
    }
  }

  /** A ranged read; null when the blob is gone. */
  async read(key: string, range: ByteRange): Promise<Buffer | null> {
    const id = BlobReader.id(key, range);
    // Drop plans for reads that were passed over (e.g. a message found unavailable).
    while (this.queue.length > 0 && !this.ready.has(id) && this.queue[0]!.id !== id) {
      const i = this.queue.findIndex((q) => q.id === id);
      if (i < 0) break;
      this.queue.splice(0, i);
    }
    this.pump();
    const p = this.ready.get(id);
    if (!p) return this.direct(key, range);
    this.ready.delete(id);
    this.held -= range.end - range.start;
    const r = await p;
    this.pump();
    if (!r.ok) throw r.error;
    return r.data;
  }

  /** Forgets what was not used (settled promises never reject: nothing leaks). */
  clear(): void {
    this.queue = [];
    this.ready.clear();
    this.held = 0;
  }

  private async direct(key: string, range: ByteRange): Promise<Buffer | null> {
    try {
      return await this.s.store.blobs.get(key, range);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }
}
