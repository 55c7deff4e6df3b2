// The local store's per-message data beyond the small metadata row: the message index, split
// by how it is read, and data derived from it (schema 3; see schema.ts).
//
//   message_structure  the index without its header block (JSON): ENVELOPE, BODYSTRUCTURE
//                      fallback, section offsets, sizes
//   message_header     the top-level header block as text (a binary string) and its size:
//                      HEADER / HEADER.FIELDS fetches, SEARCH on other fields
//   message_forms      the IMAP ENVELOPE and BODYSTRUCTURE wire forms (core/mime/imap-forms.ts)
//   message_search     decoded, folded SUBJECT/FROM/TO/CC/BCC values (core/mime/search-fields.ts)
//
// Each is keyed by (folder_id, uid) and read by one range query when the UIDs asked for are
// dense, else by point queries. The two derived tables carry the version of the code that
// computed them: a row of another version (or none, after a migration) is recomputed from the
// structure or header on read, and rewritten by a background pass (backfillStep), so a
// serializer fix never serves stale forms.

import type Database from 'better-sqlite3';
import { IMAP_FORMS_VERSION, imapForms, type ImapForms } from '../../mime/imap-forms.js';
import { SEARCH_FIELD_NAMES, SEARCH_FIELDS_VERSION, searchFields, type SearchFieldName, type SearchFields } from '../../mime/search-fields.js';
import type { MessageIndex } from '../../mime/types.js';
import type { MessagePart, MessageParts } from '../port.js';

/** Marks a search row of a message whose header block was too big to keep (nothing to derive from). */
const NO_HEADER = 0;

/** meta value when every derived row is of the current versions (see backfillStep). */
export const DERIVED_VERSION = IMAP_FORMS_VERSION * 10_000 + SEARCH_FIELDS_VERSION;

/** The rows of one message, computed before the write transaction. */
export interface PreparedIndex {
  structure: string;
  headerSize: number;
  header: string | null;
  forms: ImapForms;
  search: SearchFields | null;
}

/** Splits an index into its rows and computes the derived data (pure; outside any transaction). */
export function prepareIndex(index: MessageIndex): PreparedIndex {
  const { header, ...rest } = index;
  return {
    structure: JSON.stringify(rest),
    headerSize: index.headerSize,
    header: typeof header === 'string' ? header : null,
    forms: imapForms(index),
    search: typeof header === 'string' ? searchFields(header) : null,
  };
}

// Rows are read as arrays (better-sqlite3 raw mode: no object per row), the UID first.
type StructureRow = [uid: number, structure: string];
type HeaderRow = [uid: number, headerSize: number, header: string | null];
type FormsRow = [uid: number, v: number, envelope: string, bodystructure: string, envelope8: string | null, bodystructure8: string | null];
/** The version, then the values of the fields asked for, in that order. */
type SearchRow = [uid: number, v: number, ...values: Array<string | null>];

type Structure = Omit<MessageIndex, 'header'>;

const SEARCH_COLUMN: Record<SearchFieldName, string> = { subject: 'subject', from: 'from_', to: 'to_', cc: 'cc', bcc: 'bcc' };

/** A UID set is read by one range query when at most about half of the range is absent. */
function dense(list: readonly number[]): boolean {
  const span = list[list.length - 1]! - list[0]! + 1;
  return span <= list.length * 2 + 32;
}

/** A range query and a point query on (folder_id, uid) of one table. */
export interface KeyedQueries<R> {
  range: Database.Statement<[string, number, number], R>;
  point: Database.Statement<[string, number], R>;
}

const firstColumn = (r: unknown): number => (r as [number])[0];

/**
 * Rows of a table for the UIDs of `list` (ascending, distinct), in UID order, absent ones left
 * out: one range query when the list is dense, else one point query per UID. `uidOf` reads a
 * row's UID (default: the first column of a raw row).
 */
export function rowsByUid<R>(t: KeyedQueries<R>, folderId: string, list: readonly number[], uidOf: (r: R) => number = firstColumn): R[] {
  if (list.length === 0) return [];
  const lo = list[0]!;
  const hi = list[list.length - 1]!;
  if (!dense(list)) {
    const out: R[] = [];
    for (const uid of list) {
      const r = t.point.get(folderId, uid);
      if (r !== undefined) out.push(r);
    }
    return out;
  }
  const all = t.range.all(folderId, lo, hi);
  if (hi - lo + 1 === list.length) return all; // the list is the whole range
  const out: R[] = [];
  let j = 0;
  for (const r of all) {
    const uid = uidOf(r);
    while (j < list.length && list[j]! < uid) j++;
    if (j === list.length) break;
    if (list[j] === uid) out.push(r);
  }
  return out;
}

function toForms(r: FormsRow): ImapForms {
  const f: ImapForms = { envelope: r[2], bodyStructure: r[3] };
  if (r[4] !== null && r[5] !== null) f.utf8 = { envelope: r[4], bodyStructure: r[5] };
  return f;
}

function prepare(db: Database.Database) {
  const table = <R>(name: string, cols: string): KeyedQueries<R> => ({
    range: db.prepare<[string, number, number], R>(`SELECT uid, ${cols} FROM ${name} WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`).raw(true),
    point: db.prepare<[string, number], R>(`SELECT uid, ${cols} FROM ${name} WHERE folder_id = ? AND uid = ?`).raw(true),
  });
  return {
    table,
    structure: table<StructureRow>('message_structure', 'structure'),
    header: table<HeaderRow>('message_header', 'header_size, header'),
    forms: table<FormsRow>('message_forms', 'v, envelope, bodystructure, envelope8, bodystructure8'),
    structureInsert: db.prepare('INSERT INTO message_structure (folder_id, uid, structure) VALUES (?, ?, ?)'),
    headerInsert: db.prepare('INSERT INTO message_header (folder_id, uid, header_size, header) VALUES (?, ?, ?, ?)'),
    formsPut: db.prepare(
      `INSERT OR REPLACE INTO message_forms (folder_id, uid, v, envelope, bodystructure, envelope8, bodystructure8)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    searchPut: db.prepare(
      'INSERT OR REPLACE INTO message_search (folder_id, uid, v, subject, from_, to_, cc, bcc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    structureCopy: db.prepare(
      'INSERT INTO message_structure (folder_id, uid, structure) SELECT ?, ?, structure FROM message_structure WHERE folder_id = ? AND uid = ?',
    ),
    headerCopy: db.prepare(
      `INSERT INTO message_header (folder_id, uid, header_size, header)
       SELECT ?, ?, header_size, header FROM message_header WHERE folder_id = ? AND uid = ?`,
    ),
    formsCopy: db.prepare(
      `INSERT OR REPLACE INTO message_forms (folder_id, uid, v, envelope, bodystructure, envelope8, bodystructure8)
       SELECT ?, ?, v, envelope, bodystructure, envelope8, bodystructure8 FROM message_forms WHERE folder_id = ? AND uid = ? AND v = ?`,
    ),
    searchCopy: db.prepare(
      `INSERT OR REPLACE INTO message_search (folder_id, uid, v, subject, from_, to_, cc, bcc)
       SELECT ?, ?, v, subject, from_, to_, cc, bcc FROM message_search WHERE folder_id = ? AND uid = ? AND v IN (?, ${NO_HEADER})`,
    ),
    walk: db.prepare<[string, number, number], { folder_id: string; uid: number; fv: number | null; sv: number | null }>(
      `SELECT m.folder_id, m.uid, f.v AS fv, s.v AS sv FROM messages m
       LEFT JOIN message_forms f ON f.folder_id = m.folder_id AND f.uid = m.uid
       LEFT JOIN message_search s ON s.folder_id = m.folder_id AND s.uid = m.uid
       WHERE (m.folder_id, m.uid) > (?, ?) ORDER BY m.folder_id, m.uid LIMIT ?`,
    ),
  };
}

export class MessageData {
  private readonly q: ReturnType<typeof prepare>;
  /** SEARCH value queries by the fields they read. */
  private readonly searchQueries = new Map<string, KeyedQueries<SearchRow>>();
  /** Backfill position: the last (folder, uid) visited. */
  private cursor: [string, number] = ['', 0];

  constructor(db: Database.Database) {
    this.q = prepare(db);
  }

  /** Inside a write: the rows of a new message. */
  insert(folderId: string, uid: number, p: PreparedIndex): void {
    this.q.structureInsert.run(folderId, uid, p.structure);
    this.q.headerInsert.run(folderId, uid, p.headerSize, p.header);
    this.putForms(folderId, uid, p.forms);
    this.putSearch(folderId, uid, p.search);
  }

  /** Inside a write: the rows of a copy (derived rows recomputed if the source's are stale). */
  copy(srcFolderId: string, srcUid: number, dstFolderId: string, dstUid: number): void {
    this.q.structureCopy.run(dstFolderId, dstUid, srcFolderId, srcUid);
    this.q.headerCopy.run(dstFolderId, dstUid, srcFolderId, srcUid);
    if (this.q.formsCopy.run(dstFolderId, dstUid, srcFolderId, srcUid, IMAP_FORMS_VERSION).changes === 0) {
      const s = this.q.structure.point.get(dstFolderId, dstUid);
      if (s) this.putForms(dstFolderId, dstUid, imapForms(JSON.parse(s[1]) as Structure));
    }
    if (this.q.searchCopy.run(dstFolderId, dstUid, srcFolderId, srcUid, SEARCH_FIELDS_VERSION).changes === 0) {
      const h = this.q.header.point.get(dstFolderId, dstUid);
      if (h) this.putSearch(dstFolderId, dstUid, h[2] === null ? null : searchFields(h[2]));
    }
  }

  private putForms(folderId: string, uid: number, f: ImapForms): void {
    this.q.formsPut.run(folderId, uid, IMAP_FORMS_VERSION, f.envelope, f.bodyStructure, f.utf8?.envelope ?? null, f.utf8?.bodyStructure ?? null);
  }

  private putSearch(folderId: string, uid: number, s: SearchFields | null): void {
    if (s === null) this.q.searchPut.run(folderId, uid, NO_HEADER, null, null, null, null, null);
    else this.q.searchPut.run(folderId, uid, SEARCH_FIELDS_VERSION, s.subject, s.from, s.to, s.cc, s.bcc);
  }

  private search(fields: readonly SearchFieldName[]): KeyedQueries<SearchRow> {
    const key = fields.join(',');
    let t = this.searchQueries.get(key);
    if (t === undefined) {
      t = this.q.table<SearchRow>('message_search', ['v', ...fields.map((f) => SEARCH_COLUMN[f])].join(', '));
      this.searchQueries.set(key, t);
    }
    return t;
  }

  /** Inside a read: the whole index of each message (structure and header). */
  readFull(folderId: string, list: readonly number[]): Map<number, MessageIndex> {
    const out = new Map<number, MessageIndex>();
    const headers = rowsByUid(this.q.header, folderId, list);
    let j = 0;
    for (const s of rowsByUid(this.q.structure, folderId, list)) {
      while (j < headers.length && headers[j]![0] < s[0]) j++;
      const h = headers[j]?.[0] === s[0] ? headers[j]! : undefined;
      const index = JSON.parse(s[1]) as MessageIndex;
      index.header = h ? h[2] : null;
      out.set(s[0], index);
    }
    return out;
  }

  /**
   * Inside a read: the parts asked for, for the UIDs of `list` (ascending, distinct) that are
   * present (each table's rows exist exactly for the messages present). Derived rows that are
   * missing or of another version are computed here from the structure or header. With
   * 'search', `fields` are the SEARCH values read (default: all).
   */
  readParts(folderId: string, list: readonly number[], parts: ReadonlySet<MessagePart>, fields: readonly SearchFieldName[] = SEARCH_FIELD_NAMES): MessageParts[] {
    const out: MessageParts[] = [];
    if (list.length === 0) return out;
    const wantImap = parts.has('imap');
    const wantSearch = parts.has('search');
    // Each table's rows, walked together below (all in UID order).
    const structure = parts.has('structure') ? rowsByUid(this.q.structure, folderId, list) : null;
    const header = parts.has('header') ? rowsByUid(this.q.header, folderId, list) : null;
    const forms = wantImap ? rowsByUid(this.q.forms, folderId, list) : null;
    const search = wantSearch ? rowsByUid(this.search(fields), folderId, list) : null;
    let si = 0;
    let hi = 0;
    let fi = 0;
    let qi = 0;
    for (const uid of list) {
      const index: Partial<MessageIndex> = {};
      const m: MessageParts = { uid, index };
      let parsed: Structure | undefined;
      if (structure !== null) {
        while (si < structure.length && structure[si]![0] < uid) si++;
        if (structure[si]?.[0] !== uid) continue;
        parsed = JSON.parse(structure[si]![1]) as Structure;
        Object.assign(index, parsed);
      }
      let h: HeaderRow | undefined;
      if (header !== null) {
        while (hi < header.length && header[hi]![0] < uid) hi++;
        if (header[hi]?.[0] !== uid) continue;
        h = header[hi]!;
        index.header = h[2];
        index.headerSize = h[1];
      }
      if (forms !== null) {
        while (fi < forms.length && forms[fi]![0] < uid) fi++;
        const f = forms[fi]?.[0] === uid ? forms[fi]! : undefined;
        if (f !== undefined && f[1] === IMAP_FORMS_VERSION) {
          m.imap = toForms(f);
        } else {
          if (parsed === undefined) {
            const s = this.q.structure.point.get(folderId, uid);
            if (s === undefined) continue;
            parsed = JSON.parse(s[1]) as Structure;
          }
          m.imap = imapForms(parsed);
        }
      }
      if (search !== null) {
        while (qi < search.length && search[qi]![0] < uid) qi++;
        const r = search[qi]?.[0] === uid ? search[qi]! : undefined;
        if (r !== undefined && r[1] === SEARCH_FIELDS_VERSION) {
          const values: Partial<SearchFields> = {};
          for (let k = 0; k < fields.length; k++) values[fields[k]!] = r[k + 2] as string | null;
          m.search = values;
        } else {
          // Stale or missing (computed from the header), or no header kept: then the caller
          // gets the header's size, to read the header from the blob.
          h ??= this.q.header.point.get(folderId, uid);
          if (h === undefined) continue;
          if (h[2] !== null) {
            m.search = searchFields(h[2]);
          } else {
            index.header = null;
            index.headerSize = h[1];
          }
        }
      }
      out.push(m);
    }
    return out;
  }

  /**
   * Inside a write: brings up to `limit` messages' derived rows to the current versions,
   * walking all messages in key order from where the last step stopped. Returns true when the
   * walk has passed the last message.
   */
  backfillStep(limit: number): boolean {
    const [f0, u0] = this.cursor;
    const rows = this.q.walk.all(f0, u0, limit);
    for (const r of rows) {
      if (r.fv !== IMAP_FORMS_VERSION) {
        const s = this.q.structure.point.get(r.folder_id, r.uid);
        if (s) this.putForms(r.folder_id, r.uid, imapForms(JSON.parse(s[1]) as Structure));
      }
      if (r.sv !== SEARCH_FIELDS_VERSION && r.sv !== NO_HEADER) {
        const h = this.q.header.point.get(r.folder_id, r.uid);
        if (h) this.putSearch(r.folder_id, r.uid, h[2] === null ? null : searchFields(h[2]));
      }
    }
    if (rows.length > 0) {
      const last = rows[rows.length - 1]!;
      this.cursor = [last.folder_id, last.uid];
    }
    return rows.length < limit;
  }
}
