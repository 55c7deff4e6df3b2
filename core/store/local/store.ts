// The local adapter of the storage port: SQLite (better-sqlite3) for metadata, files for blobs.
//
// Durability: WAL. A write's promise settles only once its COMMIT is on disk: the WAL file is
// fdatasynced after the commit, so an acknowledged write survives a power cut (what
// synchronous=FULL gives), but that sync runs on the thread pool rather than inside COMMIT on
// the event loop, where each one (1.3 ms median, 4 ms at p90 on the bench machine) stopped
// every session. SQLite itself runs with synchronous=NORMAL, which still syncs around every
// checkpoint. Nothing is shown before it is durable: while a sync is pending, reads wait for
// it (see DURABLE_READS), so no session can see a message or flag that a power cut could
// still take back (a UID seen and then lost could be handed out again). Blobs are fsynced
// (file and directory) before the metadata that points at them is written, and appendMessage
// checks, inside its transaction, that the blob is there.
//
// Concurrency: every port method that writes is atomic on its own. Writes issued in the same
// turn of the event loop are group-committed: one `BEGIN IMMEDIATE` transaction (one fsync),
// each write in a savepoint of its own, every promise settled after the COMMIT. In one process
// better-sqlite3 runs a batch synchronously, so no two sessions' writes interleave; across
// processes on one data directory the write lock serializes them (busy_timeout waits for it;
// note that the wait blocks this process's event loop), and counters are read inside the
// transaction, so UIDs and modseqs never collide.
//
// Modseqs: every changed message takes the next modseq of its folder, so each journal row has a
// modseq of its own (the journal's key is (folder, modseq), like the DynamoDB sort key).
//
// Blobs are reference-counted (copies share one). When a count reaches zero the row goes in the
// same transaction and the file is deleted after the commit; if that deletion is lost, the file
// is an orphan that sweepOrphanBlobs() collects.

import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  StoreError,
  type Account,
  type AccountPatch,
  type AppendResult,
  type CopyResult,
  type FlagUpdate,
  type FlagUpdateResult,
  type Folder,
  type ListedFolder,
  type JournalEntry,
  type JournalKind,
  type MessageMeta,
  type NewAccount,
  type NewMessage,
  type Page,
  type SettingsRecord,
  type SpecialUse,
  type Store,
  type StoredMessage,
  type MessagePart,
  type MessageParts,
  type MessageReadOptions,
} from '../port.js';
import { SEARCH_FIELD_NAMES, isSearchFieldName, type SearchFieldName } from '../../mime/search-fields.js';
import type { MessageIndex } from '../../mime/types.js';
import type { MailboxProtocolSettings, ProtocolName, ProtocolSettings } from '../../settings/schema.js';
import { LocalBlobStore, validateBlobKey } from './blobs.js';
import { DERIVED_VERSION, MessageData, prepareIndex, rowsByUid } from './message-data.js';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import {
  MAX_UID,
  applyFlagOp,
  canonicalAddress,
  canonicalFlags,
  canonicalFolderName,
  checkNonNegInt,
  checkObject,
  checkRole,
  checkSpecialUse,
  checkString,
  checkUids,
  sameFlags,
} from './validate.js';

export interface LocalStoreOptions {
  /** Journal entries (and append ids) older than this may be pruned. Default 30 days. */
  journalRetentionMs?: number;
  /** Default 10,000. */
  maxFoldersPerAccount?: number;
  /** Subscribed names per account. Default 10,000. */
  maxSubscriptionsPerAccount?: number;
  /** Flags (system flags plus keywords) one message may carry. Default 1,000. */
  maxFlagsPerMessage?: number;
  /** UIDs accepted in one call (flags, expunge, copy, move, getMessages). Default 1,000,000. */
  maxUidsPerCall?: number;
  /** How long a write waits for another process's write lock. Default 10 s. */
  busyTimeoutMs?: number;
  /** Clock for createdAt, journal times and UIDVALIDITY seeding (tests). Default Date.now. */
  now?: () => number;
}

const DAY = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const MAX_PAGE = 1000;
const META_DB = 'meta.sqlite3';

/** The port's read methods: each waits for a pending WAL sync before it reads (see above). */
export const DURABLE_READS = [
  'getAccount',
  'getAccountByAddress',
  'listAccounts',
  'getFolder',
  'getFolderByName',
  'listFolders',
  'listSubscriptions',
  'listMessages',
  'getMessage',
  'getMessages',
  'changesSince',
  'getProtocolSettings',
] as const satisfies ReadonlyArray<keyof LocalStore>;
/** Most writes group-committed in one transaction. */
const MAX_BATCH = 1000;

interface AccountRow {
  id: string;
  address: string;
  password_hash: string;
  role: string;
  pop3: string;
  imap4: string;
  home_site: string;
  created_at: number;
  version: number;
}

interface FolderRow {
  id: string;
  account_id: string;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  special_use: string | null;
  /** Derived by the folder queries: 1 when the folder's name is on the subscription list. */
  subscribed: number;
  message_count: number;
  total_size: number;
}

interface MessageRow {
  folder_id: string;
  uid: number;
  modseq: number;
  flags: string;
  internal_date: number;
  size: number;
  blob_key: string;
}

/** A message row as updateFlags reads it (raw: an array, in FLAG_ROW order). */
type FlagRow = [uid: number, modseq: number, flags: string, internalDate: number, size: number, blobKey: string];
const FLAG_ROW = 'uid, modseq, flags, internal_date, size, blob_key';

interface JournalRow {
  folder_id: string;
  modseq: number;
  uid: number;
  kind: string;
  flags: string | null;
}

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    address: r.address,
    passwordHash: r.password_hash,
    role: r.role as Account['role'],
    pop3: JSON.parse(r.pop3) as MailboxProtocolSettings,
    imap4: JSON.parse(r.imap4) as MailboxProtocolSettings,
    homeSite: r.home_site,
    createdAt: r.created_at,
    version: r.version,
  };
}

function toFolder(r: FolderRow): ListedFolder {
  return {
    accountId: r.account_id,
    id: r.id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: r.special_use as SpecialUse | null,
    subscribed: r.subscribed !== 0,
    messageCount: r.message_count,
    totalSize: r.total_size,
  };
}

function toMeta(r: MessageRow): MessageMeta {
  return {
    folderId: r.folder_id,
    uid: r.uid,
    modseq: r.modseq,
    flags: JSON.parse(r.flags) as string[],
    internalDate: r.internal_date,
    size: r.size,
    blobKey: r.blob_key,
  };
}

function toJournal(r: JournalRow): JournalEntry {
  const e: JournalEntry = { folderId: r.folder_id, modseq: r.modseq, uid: r.uid, kind: r.kind as JournalKind };
  if (r.flags !== null) e.flags = JSON.parse(r.flags) as string[];
  return e;
}

function mapError(e: unknown): unknown {
  if (e instanceof StoreError) return e;
  if (e instanceof Database.SqliteError && /^SQLITE_(BUSY|LOCKED)/.test(e.code)) {
    return new StoreError('the store is busy; retry', 'UNAVAILABLE');
  }
  return e;
}

function encodeCursor(address: string): string {
  return Buffer.from(JSON.stringify({ after: address }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): string {
  try {
    const v = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    // fall through
  }
  throw new StoreError('invalid cursor', 'INVALID');
}

/** A folder row with `subscribed` derived from the subscription list (alias f). */
const FOLDER_COLUMNS = `f.id, f.account_id, f.name, f.uid_validity, f.uid_next, f.highest_modseq, f.special_use,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = f.account_id AND s.name = f.name) AS subscribed,
  f.message_count, f.total_size`;

function prepareStatements(db: Database.Database) {
  return {
    metaGet: db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?'),
    metaSet: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),

    accountById: db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE id = ?'),
    accountByAddress: db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE address = ?'),
    accountsAfter: db.prepare<[string, number], AccountRow>('SELECT * FROM accounts WHERE address > ? ORDER BY address LIMIT ?'),
    accountInsert: db.prepare(
      `INSERT INTO accounts (id, address, password_hash, role, pop3, imap4, home_site, created_at, version)
       VALUES (@id, @address, @password_hash, @role, @pop3, @imap4, @home_site, @created_at, @version)`,
    ),
    accountUpdate: db.prepare(
      `UPDATE accounts SET password_hash = @password_hash, role = @role, pop3 = @pop3, imap4 = @imap4,
       home_site = @home_site, version = @version WHERE id = @id`,
    ),
    accountDelete: db.prepare('DELETE FROM accounts WHERE id = ?'),

    folder: db.prepare<[string, string], FolderRow>(`SELECT ${FOLDER_COLUMNS} FROM folders f WHERE f.id = ? AND f.account_id = ?`),
    folderByName: db.prepare<[string, string], FolderRow>(`SELECT ${FOLDER_COLUMNS} FROM folders f WHERE f.account_id = ? AND f.name = ?`),
    folderIds: db.prepare<[string], { id: string }>('SELECT id FROM folders WHERE account_id = ?'),
    folderList: db.prepare<[string], FolderRow>(`SELECT ${FOLDER_COLUMNS} FROM folders f WHERE f.account_id = ? ORDER BY f.name`),
    folderCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM folders WHERE account_id = ?'),
    folderInsert: db.prepare(
      `INSERT INTO folders (id, account_id, name, uid_validity, uid_next, highest_modseq, special_use, subscribed,
       message_count, total_size) VALUES (@id, @account_id, @name, @uid_validity, 1, 0, @special_use, 0, 0, 0)`,
    ),
    folderRename: db.prepare('UPDATE folders SET name = ? WHERE id = ?'),
    subList: db.prepare<[string], { name: string }>('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name'),
    subHas: db.prepare<[string, string], { n: number }>('SELECT 1 AS n FROM subscriptions WHERE account_id = ? AND name = ?'),
    subCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM subscriptions WHERE account_id = ?'),
    subInsert: db.prepare('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)'),
    subDelete: db.prepare('DELETE FROM subscriptions WHERE account_id = ? AND name = ?'),
    folderCounters: db.prepare(
      `UPDATE folders SET uid_next = @uid_next, highest_modseq = @highest_modseq, message_count = @message_count,
       total_size = @total_size WHERE id = @id`,
    ),
    folderDelete: db.prepare('DELETE FROM folders WHERE id = ?'),

    message: db.prepare<[string, number], MessageRow>('SELECT * FROM messages WHERE folder_id = ? AND uid = ?'),
    messageRange: db.prepare<[string, number, number], MessageRow>(
      'SELECT * FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid',
    ),
    messageList: db
      .prepare<[string, number, number], [uid: number, modseq: number, flags: string, internalDate: number, size: number, blobKey: string]>(
        'SELECT uid, modseq, flags, internal_date, size, blob_key FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid',
      )
      .raw(true),
    messageKeyed: {
      range: db.prepare<[string, number, number], MessageRow>('SELECT * FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid'),
      point: db.prepare<[string, number], MessageRow>('SELECT * FROM messages WHERE folder_id = ? AND uid = ?'),
    },
    messageBlobKeys: db.prepare<[string], { blob_key: string }>('SELECT blob_key FROM messages WHERE folder_id = ?'),
    messageInsert: db.prepare(
      `INSERT INTO messages (folder_id, uid, modseq, flags, internal_date, size, blob_key)
       VALUES (@folder_id, @uid, @modseq, @flags, @internal_date, @size, @blob_key)`,
    ),
    messageFlags: db.prepare('UPDATE messages SET flags = ?, modseq = ? WHERE folder_id = ? AND uid = ?'),
    // updateFlags' reads, as arrays (raw mode): an object per row cost three times the query.
    flagRowsRange: db
      .prepare<[string, number, number], FlagRow>(`SELECT ${FLAG_ROW} FROM messages WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`)
      .raw(true),
    flagRow: db.prepare<[string, number], FlagRow>(`SELECT ${FLAG_ROW} FROM messages WHERE folder_id = ? AND uid = ?`).raw(true),
    messageDelete: db.prepare('DELETE FROM messages WHERE folder_id = ? AND uid = ?'),

    journalInsert: db.prepare('INSERT INTO journal (folder_id, modseq, uid, kind, flags, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    journalSince: db.prepare<[string, number, number], JournalRow>(
      'SELECT folder_id, modseq, uid, kind, flags FROM journal WHERE folder_id = ? AND modseq > ? ORDER BY modseq LIMIT ?',
    ),
    journalPrune: db.prepare(
      `DELETE FROM journal WHERE created_at < ?
       AND modseq < (SELECT f.highest_modseq FROM folders f WHERE f.id = journal.folder_id)`,
    ),

    refGet: db.prepare<[string], { refs: number }>('SELECT refs FROM blob_refs WHERE blob_key = ?'),
    refInc: db.prepare('INSERT INTO blob_refs (blob_key, refs) VALUES (?, 1) ON CONFLICT (blob_key) DO UPDATE SET refs = refs + 1'),
    refDec: db.prepare('UPDATE blob_refs SET refs = refs - 1 WHERE blob_key = ?'),
    refDelete: db.prepare('DELETE FROM blob_refs WHERE blob_key = ?'),

    settingsGet: db.prepare<[string], { value: string; version: number }>('SELECT value, version FROM settings WHERE protocol = ?'),
    settingsPut: db.prepare(
      `INSERT INTO settings (protocol, value, version) VALUES (?, ?, ?)
       ON CONFLICT (protocol) DO UPDATE SET value = excluded.value, version = excluded.version`,
    ),

    appendIdGet: db.prepare<[string, string], { uid: number; modseq: number; uid_validity: number }>(
      'SELECT uid, modseq, uid_validity FROM append_ids WHERE folder_id = ? AND append_id = ?',
    ),
    appendIdInsert: db.prepare(
      'INSERT INTO append_ids (folder_id, append_id, uid, modseq, uid_validity, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    appendIdPrune: db.prepare('DELETE FROM append_ids WHERE created_at < ?'),
  };
}

export class LocalStore implements Store {
  readonly blobs: LocalBlobStore;
  readonly dataDir: string;
  private readonly db: Database.Database;
  private readonly q: ReturnType<typeof prepareStatements>;
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly maxFolders: number;
  private readonly maxSubscriptions: number;
  private readonly maxFlags: number;
  private readonly maxUids: number;
  private readonly data: MessageData;
  private backfillTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastPrune = 0;
  private readonly queue: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  private flushScheduled = false;
  /** Descriptor of the WAL file, opened at the first sync. */
  private walFd = -1;
  /**
   * The WAL sync of the last commit while it runs, else null. Reads wait for it, and the next
   * commit waits for it too (writes queue meanwhile and commit together afterwards): so all that
   * is committed is durable whenever no sync is pending, and a read never sees more.
   */
  private syncPending: Promise<void> | null = null;

  /** Prefer openLocalStore(), which also creates the directories. */
  constructor(dataDir: string, blobs: LocalBlobStore, opts: LocalStoreOptions = {}) {
    this.dataDir = dataDir;
    this.blobs = blobs;
    this.now = opts.now ?? Date.now;
    this.retentionMs = opts.journalRetentionMs ?? 30 * DAY;
    this.maxFolders = opts.maxFoldersPerAccount ?? 10_000;
    this.maxSubscriptions = opts.maxSubscriptionsPerAccount ?? 10_000;
    this.maxFlags = opts.maxFlagsPerMessage ?? 1000;
    this.maxUids = opts.maxUidsPerCall ?? 1_000_000;
    // Reads wait for a pending WAL sync (see the header comment). Wrapped here, once, so no
    // read method can forget it; test/store/local.test.ts checks that every read is listed.
    for (const name of DURABLE_READS) {
      const read = (this[name] as (...a: unknown[]) => Promise<unknown>).bind(this);
      (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]): Promise<unknown> => {
        const pending = this.syncPending;
        return pending === null ? read(...args) : pending.then(() => read(...args), () => read(...args));
      };
    }

    this.db = new Database(join(dataDir, META_DB));
    try {
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 10_000))}`);
      this.db.pragma('journal_mode = WAL');
      // The commit's own sync is ours (syncWal); SQLite keeps syncing around checkpoints.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db
        .transaction(() => {
          this.db.exec(SCHEMA_SQL);
          const v = this.db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE key = ?').get('schema_version');
          if (v === undefined) {
            this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', SCHEMA_VERSION);
            this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('derived_version', DERIVED_VERSION);
          } else if (v.value > SCHEMA_VERSION) {
            throw new Error(`data directory has schema ${v.value}, newer than this code (${SCHEMA_VERSION})`);
          } else if (v.value < SCHEMA_VERSION) {
            for (const m of MIGRATIONS) {
              if (m.to <= v.value) continue;
              if (m.sql !== undefined) this.db.exec(m.sql);
              m.run?.(this.db);
            }
            this.db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(SCHEMA_VERSION, 'schema_version');
          }
        })
        .immediate();
      this.q = prepareStatements(this.db);
      this.data = new MessageData(this.db);
    } catch (e) {
      this.db.close();
      throw mapError(e);
    }
    this.maybePrune();
    if (this.q.metaGet.get('derived_version')?.value !== DERIVED_VERSION) this.scheduleBackfill(0);
  }

  /**
   * Derived rows (IMAP forms, SEARCH values) of an older version, or missing after a migration,
   * are rewritten in the background, a few hundred messages per transaction; until then reads
   * compute them. The meta marker records that every row is current.
   */
  private scheduleBackfill(delayMs: number): void {
    if (this.closed || this.backfillTimer !== null) return;
    this.backfillTimer = setTimeout(() => {
      this.backfillTimer = null;
      if (this.closed) return;
      let done = false;
      try {
        done = this.writeNow(() => {
          const end = this.data.backfillStep(200);
          if (end) this.q.metaSet.run('derived_version', DERIVED_VERSION);
          return end;
        });
      } catch {
        this.scheduleBackfill(1000); // busy (another process writing): try again later
        return;
      }
      if (!done) this.scheduleBackfill(0);
    }, delayMs);
    this.backfillTimer.unref();
  }

  // ---- transactions ----

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('store is closed', 'UNAVAILABLE');
  }

  /**
   * A write. Writes requested in the same turn of the event loop are group-committed: one
   * BEGIN IMMEDIATE transaction (one fsync) holding each write in a savepoint of its own, so
   * each stays atomic and one's failure undoes only itself. Every promise settles after the
   * COMMIT, so an acknowledged write is durable.
   */
  private write<T>(fn: () => T): Promise<T> {
    this.ensureOpen();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    if (this.syncPending !== null) {
      // Commit after the sync, behind the reads waiting for it (they run in its microtasks).
      const again = (): void => void setImmediate(() => this.flush());
      this.syncPending.then(again, again);
      return;
    }
    this.flushScheduled = false;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (batch.length === 0) return;
    if (this.db.open === false) {
      const err = new StoreError('store is closed', 'UNAVAILABLE');
      for (const op of batch) op.reject(err);
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      if (batch.length === 1) {
        outcomes.push({ ok: true, value: this.db.transaction(batch[0]!.fn).immediate() });
      } else {
        this.db
          .transaction(() => {
            for (const op of batch) {
              // An I/O or disk-full error can make SQLite roll the whole transaction back; the
              // rest must not then run outside one. Abort the batch: every write in it fails.
              if (!this.db.inTransaction) throw new StoreError('the transaction was aborted', 'UNAVAILABLE');
              try {
                outcomes.push({ ok: true, value: this.db.transaction(op.fn)() }); // a savepoint
              } catch (e) {
                outcomes.push({ ok: false, error: mapError(e) });
              }
            }
          })
          .immediate();
      }
    } catch (e) {
      const err = mapError(e);
      for (const op of batch) op.reject(err);
      return;
    }
    const settle = (): void =>
      batch.forEach((op, i) => {
        const o = outcomes[i]!;
        if (o.ok) op.resolve(o.value);
        else op.reject(o.error);
      });
    if (!outcomes.some((o) => o.ok)) return settle(); // nothing was committed
    this.syncWal().then(settle, (e: unknown) => {
      const err = new StoreError(`the commit could not be made durable: ${String(e)}`, 'UNAVAILABLE');
      for (const op of batch) op.reject(err);
    });
  }

  /** Resolves once the last commit is on disk: one fdatasync of the WAL on the thread pool. */
  private syncWal(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      let fd: number;
      try {
        fd = this.openWal();
      } catch (e) {
        reject(e);
        return;
      }
      fdatasync(fd, (e) => {
        this.syncPending = null;
        if (e) reject(e);
        else resolve();
      });
    });
    this.syncPending = p;
    return p;
  }

  private openWal(): number {
    if (this.walFd < 0) this.walFd = openSync(join(this.dataDir, `${META_DB}-wal`), 'r');
    return this.walFd;
  }

  /** A write outside the queue, for synchronous maintenance. */
  private writeNow<T>(fn: () => T): T {
    this.ensureOpen();
    try {
      const out = this.db.transaction(fn).immediate();
      fdatasyncSync(this.openWal()); // maintenance is rare: made durable at once, in line
      return out;
    } catch (e) {
      throw mapError(e);
    }
  }

  /** A read of several statements from one snapshot. */
  private read<T>(fn: () => T): T {
    this.ensureOpen();
    try {
      return this.db.transaction(fn).deferred();
    } catch (e) {
      throw mapError(e);
    }
  }

  private folderRow(accountId: string, folderId: string): FolderRow {
    const f = typeof accountId === 'string' && typeof folderId === 'string' ? this.q.folder.get(folderId, accountId) : undefined;
    if (f === undefined) throw new StoreError('no such folder', 'NONEXISTENT');
    return f;
  }

  private saveCounters(f: FolderRow): void {
    this.q.folderCounters.run({
      id: f.id,
      uid_next: f.uid_next,
      highest_modseq: f.highest_modseq,
      message_count: f.message_count,
      total_size: f.total_size,
    });
  }

  private journal(f: FolderRow, uid: number, kind: JournalKind, flags: string | null, now: number): number {
    const modseq = ++f.highest_modseq;
    this.q.journalInsert.run(f.id, modseq, uid, kind, flags, now);
    return modseq;
  }

  private unref(blobKey: string, freed: string[]): void {
    const r = this.q.refGet.get(blobKey);
    if (r === undefined) return;
    if (r.refs <= 1) {
      this.q.refDelete.run(blobKey);
      freed.push(blobKey);
    } else {
      this.q.refDec.run(blobKey);
    }
  }

  /** After the commit that dropped their last reference; a failure leaves an orphan for the sweep. */
  private async deleteFreed(freed: string[]): Promise<void> {
    await Promise.all(freed.map((k) => this.blobs.delete(k).catch(() => {})));
  }

  private nextUid(f: FolderRow): number {
    if (f.uid_next > MAX_UID) throw new StoreError('UID space of the folder is exhausted', 'LIMIT');
    return f.uid_next++;
  }

  private removeMessages(f: FolderRow, uids: number[], now: number, freed: string[]): number[] {
    const removed: number[] = [];
    for (const uid of uids) {
      const m = this.q.message.get(f.id, uid);
      if (m === undefined) continue;
      this.q.messageDelete.run(f.id, uid);
      this.unref(m.blob_key, freed);
      this.journal(f, uid, 'expunge', null, now);
      f.message_count--;
      f.total_size -= m.size;
      removed.push(uid);
    }
    return removed;
  }

  private copyInto(src: FolderRow, uids: number[], dst: FolderRow, now: number): Array<[number, number]> {
    const mapping: Array<[number, number]> = [];
    for (const uid of uids) {
      const m = this.q.message.get(src.id, uid);
      if (m === undefined) continue;
      const newUid = this.nextUid(dst);
      const modseq = this.journal(dst, newUid, 'new', m.flags, now);
      this.q.messageInsert.run({ ...m, folder_id: dst.id, uid: newUid, modseq });
      this.data.copy(src.id, uid, dst.id, newUid);
      this.q.refInc.run(m.blob_key);
      dst.message_count++;
      dst.total_size += m.size;
      mapping.push([uid, newUid]);
    }
    return mapping;
  }

  // ---- accounts ----

  async createAccount(a: NewAccount): Promise<Account> {
    const address = canonicalAddress(a?.address);
    const row: AccountRow = {
      id: randomUUID(),
      address,
      password_hash: checkString(a.passwordHash, 'password hash'),
      role: checkRole(a.role),
      pop3: JSON.stringify(checkObject(a.pop3, 'pop3 settings')),
      imap4: JSON.stringify(checkObject(a.imap4, 'imap4 settings')),
      home_site: checkString(a.homeSite, 'home site', 255),
      created_at: this.now(),
      version: 1,
    };
    await this.write(() => {
      if (this.q.accountByAddress.get(address) !== undefined) {
        throw new StoreError('an account with this address exists', 'ALREADY_EXISTS');
      }
      this.q.accountInsert.run(row);
    });
    return toAccount(row);
  }

  async getAccount(id: string): Promise<Account | null> {
    this.ensureOpen();
    const r = typeof id === 'string' ? this.q.accountById.get(id) : undefined;
    return r === undefined ? null : toAccount(r);
  }

  async getAccountByAddress(address: string): Promise<Account | null> {
    this.ensureOpen();
    if (typeof address !== 'string') return null;
    const r = this.q.accountByAddress.get(address.trim().toLowerCase());
    return r === undefined ? null : toAccount(r);
  }

  async updateAccount(id: string, patch: AccountPatch, expectedVersion?: number): Promise<Account> {
    checkObject(patch, 'patch');
    const p: Partial<AccountRow> = {};
    if (patch.passwordHash !== undefined) p.password_hash = checkString(patch.passwordHash, 'password hash');
    if (patch.role !== undefined) p.role = checkRole(patch.role);
    if (patch.pop3 !== undefined) p.pop3 = JSON.stringify(checkObject(patch.pop3, 'pop3 settings'));
    if (patch.imap4 !== undefined) p.imap4 = JSON.stringify(checkObject(patch.imap4, 'imap4 settings'));
    if (patch.homeSite !== undefined) p.home_site = checkString(patch.homeSite, 'home site', 255);
    return await this.write(() => {
      const cur = typeof id === 'string' ? this.q.accountById.get(id) : undefined;
      if (cur === undefined) throw new StoreError('no such account', 'NOT_FOUND');
      if (expectedVersion !== undefined && cur.version !== expectedVersion) {
        throw new StoreError(`account version is ${cur.version}, not ${expectedVersion}`, 'CONFLICT');
      }
      const next: AccountRow = { ...cur, ...p, version: cur.version + 1 };
      this.q.accountUpdate.run(next);
      return toAccount(next);
    });
  }

  async deleteAccount(id: string): Promise<void> {
    if (typeof id !== 'string') return;
    const freed: string[] = [];
    await this.write(() => {
      for (const { id: folderId } of this.q.folderIds.all(id)) {
        for (const { blob_key } of this.q.messageBlobKeys.all(folderId)) this.unref(blob_key, freed);
      }
      this.q.accountDelete.run(id); // cascades to folders, subscriptions, messages, index, journal, append ids
    });
    await this.deleteFreed(freed);
  }

  async listAccounts(opts: { limit: number; cursor?: string }): Promise<Page<Account>> {
    this.ensureOpen();
    const limit = opts?.limit;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new StoreError(`limit must be 1..${MAX_PAGE}`, 'INVALID');
    }
    const after = opts.cursor === undefined ? '' : decodeCursor(opts.cursor);
    const rows = this.q.accountsAfter.all(after, limit + 1);
    const items = rows.slice(0, limit).map(toAccount);
    const page: Page<Account> = { items };
    if (rows.length > limit) page.next = encodeCursor(items[items.length - 1]!.address);
    return page;
  }

  // ---- folders ----

  async createFolder(
    accountId: string,
    name: string,
    opts?: { specialUse?: SpecialUse | null; subscribed?: boolean },
  ): Promise<ListedFolder> {
    const n = canonicalFolderName(name);
    const specialUse = checkSpecialUse(opts?.specialUse);
    const subscribed = opts?.subscribed === true;
    return await this.write(() => {
      if (typeof accountId !== 'string' || this.q.accountById.get(accountId) === undefined) {
        throw new StoreError('no such account', 'NOT_FOUND');
      }
      if (this.q.folderByName.get(accountId, n) !== undefined) throw new StoreError('folder exists', 'ALREADY_EXISTS');
      if (this.q.folderCount.get(accountId)!.n >= this.maxFolders) {
        throw new StoreError(`too many folders (max ${this.maxFolders})`, 'LIMIT');
      }
      // Global, only growing, seeded from the clock: a value is never handed out twice, and a
      // fresh data directory starts above the values an older one used earlier.
      const last = this.q.metaGet.get('uid_validity')?.value ?? 0;
      const uidValidity = Math.max(last + 1, Math.floor(this.now() / 1000));
      if (uidValidity > MAX_UID) throw new StoreError('UIDVALIDITY space exhausted', 'LIMIT');
      this.q.metaSet.run('uid_validity', uidValidity);
      const id = randomUUID();
      this.q.folderInsert.run({
        id,
        account_id: accountId,
        name: n,
        uid_validity: uidValidity,
        special_use: specialUse,
      });
      if (subscribed) this.addSubscription(accountId, n);
      return toFolder(this.q.folder.get(id, accountId)!);
    });
  }

  async getFolder(accountId: string, folderId: string): Promise<Folder | null> {
    this.ensureOpen();
    if (typeof accountId !== 'string' || typeof folderId !== 'string') return null;
    const f = this.q.folder.get(folderId, accountId);
    return f === undefined ? null : toFolder(f);
  }

  async getFolderByName(accountId: string, name: string): Promise<Folder | null> {
    this.ensureOpen();
    let n: string;
    try {
      n = canonicalFolderName(name);
    } catch {
      return null; // an ill-formed name names no folder
    }
    const f = typeof accountId === 'string' ? this.q.folderByName.get(accountId, n) : undefined;
    return f === undefined ? null : toFolder(f);
  }

  async listFolders(accountId: string): Promise<ListedFolder[]> {
    this.ensureOpen();
    if (typeof accountId !== 'string') return [];
    return this.q.folderList.all(accountId).map(toFolder);
  }

  async renameFolder(accountId: string, folderId: string, newName: string): Promise<ListedFolder> {
    const n = canonicalFolderName(newName);
    return await this.write(() => {
      const f = this.folderRow(accountId, folderId);
      if (f.name === n) return toFolder(f);
      if (this.q.folderByName.get(accountId, n) !== undefined) throw new StoreError('folder exists', 'ALREADY_EXISTS');
      this.q.folderRename.run(n, f.id);
      if (f.subscribed !== 0) {
        this.q.subDelete.run(accountId, f.name);
        this.q.subInsert.run(accountId, n);
      }
      return toFolder(this.q.folder.get(f.id, accountId)!);
    });
  }

  async setSubscribed(accountId: string, folderId: string, subscribed: boolean): Promise<void> {
    await this.write(() => {
      const f = this.folderRow(accountId, folderId);
      if (subscribed) this.addSubscription(accountId, f.name);
      else this.q.subDelete.run(accountId, f.name);
    });
  }

  /** Inside a write: adds a name to the list (idempotent), within the per-account bound. */
  private addSubscription(accountId: string, name: string): void {
    if (this.q.subHas.get(accountId, name) !== undefined) return;
    if (this.q.subCount.get(accountId)!.n >= this.maxSubscriptions) {
      throw new StoreError(`too many subscriptions (max ${this.maxSubscriptions})`, 'LIMIT');
    }
    this.q.subInsert.run(accountId, name);
  }

  // ---- subscriptions ----

  async listSubscriptions(accountId: string): Promise<string[]> {
    this.ensureOpen();
    if (typeof accountId !== 'string') return [];
    return this.q.subList.all(accountId).map((r) => r.name);
  }

  async subscribe(accountId: string, name: string): Promise<void> {
    const n = canonicalFolderName(name);
    await this.write(() => {
      if (typeof accountId !== 'string' || this.q.accountById.get(accountId) === undefined) {
        throw new StoreError('no such account', 'NOT_FOUND');
      }
      this.addSubscription(accountId, n);
    });
  }

  async unsubscribe(accountId: string, name: string): Promise<void> {
    let n: string;
    try {
      n = canonicalFolderName(name);
    } catch {
      return; // an ill-formed name is never subscribed
    }
    if (typeof accountId !== 'string') return;
    await this.write(() => {
      this.q.subDelete.run(accountId, n);
    });
  }

  async deleteFolder(accountId: string, folderId: string): Promise<void> {
    const freed: string[] = [];
    await this.write(() => {
      const f = this.folderRow(accountId, folderId);
      for (const { blob_key } of this.q.messageBlobKeys.all(f.id)) this.unref(blob_key, freed);
      this.q.folderDelete.run(f.id); // cascades to messages, index, journal, append ids
    });
    await this.deleteFreed(freed);
  }

  // ---- messages ----

  async appendMessage(accountId: string, folderId: string, msg: NewMessage): Promise<AppendResult> {
    checkObject(msg, 'message');
    const blobKey = validateBlobKey(msg.blobKey);
    const size = checkNonNegInt(msg.size, 'size');
    if (!Number.isSafeInteger(msg.internalDate)) throw new StoreError('invalid internal date', 'INVALID');
    const flags = canonicalFlags(msg.flags);
    if (flags.length > this.maxFlags) throw new StoreError(`too many flags (max ${this.maxFlags})`, 'LIMIT');
    const flagsJson = JSON.stringify(flags);
    const prepared = prepareIndex(checkObject(msg.index, 'index') as MessageIndex);
    const appendId = msg.appendId === undefined ? undefined : checkString(msg.appendId, 'append id', 256);
    const now = this.now();
    const result = await this.write((): AppendResult => {
      const f = this.folderRow(accountId, folderId);
      if (appendId !== undefined) {
        const prior = this.q.appendIdGet.get(f.id, appendId);
        if (prior !== undefined) return { uid: prior.uid, modseq: prior.modseq, uidValidity: prior.uid_validity };
      }
      // Checked inside the write lock, which the orphan sweep also holds while deleting: the
      // blob cannot vanish between this check and the commit.
      const st = this.blobs.statSync(blobKey);
      if (st === null) throw new StoreError(`blob not found: ${blobKey}`, 'NOT_FOUND');
      if (st.size !== size) throw new StoreError(`size ${size} differs from the blob's ${st.size}`, 'INVALID');
      const uid = this.nextUid(f);
      const modseq = this.journal(f, uid, 'new', flagsJson, now);
      this.q.messageInsert.run({
        folder_id: f.id,
        uid,
        modseq,
        flags: flagsJson,
        internal_date: msg.internalDate,
        size,
        blob_key: blobKey,
      });
      this.data.insert(f.id, uid, prepared);
      this.q.refInc.run(blobKey);
      f.message_count++;
      f.total_size += size;
      this.saveCounters(f);
      if (appendId !== undefined) this.q.appendIdInsert.run(f.id, appendId, uid, modseq, f.uid_validity, now);
      return { uid, modseq, uidValidity: f.uid_validity };
    });
    this.maybePrune();
    return result;
  }

  async listMessages(accountId: string, folderId: string, range?: { uidFrom?: number; uidTo?: number }): Promise<MessageMeta[]> {
    const from = range?.uidFrom ?? 1;
    const to = range?.uidTo ?? MAX_UID;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw new StoreError('invalid UID range', 'INVALID');
    return this.read(() => {
      const f = this.folderRow(accountId, folderId);
      // Raw rows (no object per row from the driver), and the flags of each distinct stored
      // list parsed once and shared, frozen: a folder has few distinct lists. SELECT of a big
      // folder is mostly this read.
      const lists = new Map<string, string[]>();
      const rows = this.q.messageList.all(f.id, from, to);
      const out: MessageMeta[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        let flags = lists.get(r[2]);
        if (flags === undefined) {
          flags = Object.freeze(JSON.parse(r[2]) as string[]) as string[];
          lists.set(r[2], flags);
        }
        out[i] = { folderId: f.id, uid: r[0], modseq: r[1], flags, internalDate: r[3], size: r[4], blobKey: r[5] };
      }
      return out;
    });
  }

  async getMessage(accountId: string, folderId: string, uid: number): Promise<StoredMessage | null> {
    return this.read(() => {
      const f = this.folderRow(accountId, folderId);
      if (!Number.isInteger(uid)) return null;
      const r = this.q.message.get(f.id, uid);
      const index = r === undefined ? undefined : this.data.readFull(f.id, [uid]).get(uid);
      return r === undefined || index === undefined ? null : { ...toMeta(r), index };
    });
  }

  /** Ascending by UID; missing UIDs are omitted. With `parts`, only those parts are read. */
  async getMessages(accountId: string, folderId: string, uids: number[]): Promise<StoredMessage[]>;
  async getMessages(accountId: string, folderId: string, uids: number[], opts: MessageReadOptions): Promise<MessageParts[]>;
  async getMessages(accountId: string, folderId: string, uids: number[], opts?: MessageReadOptions): Promise<StoredMessage[] | MessageParts[]> {
    const list = checkUids(uids, this.maxUids);
    const parts = opts?.parts === undefined ? null : checkParts(opts.parts);
    return this.read(() => {
      const f = this.folderRow(accountId, folderId);
      if (parts !== null) return this.data.readParts(f.id, list, parts, checkSearchFields(opts?.searchFields));
      const metas = rowsByUid(this.q.messageKeyed, f.id, list, (r) => r.uid);
      const indexes = this.data.readFull(f.id, list);
      const out: StoredMessage[] = [];
      for (const r of metas) {
        const index = indexes.get(r.uid);
        if (index !== undefined) out.push({ ...toMeta(r), index });
      }
      return out;
    });
  }

  async updateFlags(accountId: string, folderId: string, update: FlagUpdate): Promise<FlagUpdateResult> {
    checkObject(update, 'flag update');
    const uids = checkUids(update.uids, this.maxUids);
    const op = update.op;
    if (op !== 'add' && op !== 'remove' && op !== 'replace') throw new StoreError('invalid flag operation', 'INVALID');
    const change = canonicalFlags(update.flags);
    const since = update.unchangedSince === undefined ? undefined : checkNonNegInt(update.unchangedSince, 'unchangedSince');
    const now = this.now();
    const result = await this.write((): FlagUpdateResult => {
      const f = this.folderRow(accountId, folderId);
      const updated: MessageMeta[] = [];
      const modified: number[] = [];
      // The new flags are worked out once per distinct stored list (a folder has few), and
      // messages with the same new list share one frozen array.
      const outcome = new Map<string, { next: string[]; json: string } | null>();
      const apply = (r: FlagRow) => {
        const [uid, rowModseq, flags] = r;
        if (since !== undefined && rowModseq > since) {
          modified.push(uid);
          return;
        }
        let o = outcome.get(flags);
        if (o === undefined) {
          const cur = JSON.parse(flags) as string[];
          const next = applyFlagOp(cur, op, change);
          o = sameFlags(cur, next) ? null : { next: Object.freeze(next) as string[], json: JSON.stringify(next) };
          outcome.set(flags, o);
        }
        if (o === null) return;
        if (o.next.length > this.maxFlags) throw new StoreError(`too many flags (max ${this.maxFlags})`, 'LIMIT');
        const modseq = this.journal(f, uid, 'flags', o.json, now);
        this.q.messageFlags.run(o.json, modseq, f.id, uid);
        updated.push({ folderId: f.id, uid, modseq, flags: o.next, internalDate: r[3], size: r[4], blobKey: r[5] });
      };
      const first = uids[0];
      const last = uids[uids.length - 1];
      if (first !== undefined && last !== undefined && last - first < 2 * uids.length) {
        // Dense (1:* and the like): one range scan instead of a lookup per UID.
        let k = 0;
        for (const r of this.q.flagRowsRange.all(f.id, first, last)) {
          while (uids[k]! < r[0]) k++;
          if (uids[k] === r[0]) apply(r);
        }
      } else {
        for (const uid of uids) {
          const r = this.q.flagRow.get(f.id, uid);
          if (r !== undefined) apply(r);
        }
      }
      if (updated.length > 0) this.saveCounters(f);
      return { updated, modified };
    });
    this.maybePrune();
    return result;
  }

  async expunge(accountId: string, folderId: string, uids: number[]): Promise<number[]> {
    const list = checkUids(uids, this.maxUids);
    const freed: string[] = [];
    const now = this.now();
    const removed = await this.write(() => {
      const f = this.folderRow(accountId, folderId);
      const r = this.removeMessages(f, list, now, freed);
      if (r.length > 0) this.saveCounters(f);
      return r;
    });
    await this.deleteFreed(freed);
    this.maybePrune();
    return removed;
  }

  async copyMessages(accountId: string, fromFolderId: string, uids: number[], toFolderId: string): Promise<CopyResult> {
    const list = checkUids(uids, this.maxUids);
    const now = this.now();
    return await this.write(() => {
      const src = this.folderRow(accountId, fromFolderId);
      const dst = src.id === toFolderId ? src : this.folderRow(accountId, toFolderId);
      const mapping = this.copyInto(src, list, dst, now);
      if (mapping.length > 0) this.saveCounters(dst);
      return { uidValidity: dst.uid_validity, mapping };
    });
  }

  async moveMessages(accountId: string, fromFolderId: string, uids: number[], toFolderId: string): Promise<CopyResult> {
    const list = checkUids(uids, this.maxUids);
    const now = this.now();
    const freed: string[] = [];
    const result = await this.write(() => {
      const src = this.folderRow(accountId, fromFolderId);
      const dst = src.id === toFolderId ? src : this.folderRow(accountId, toFolderId);
      const mapping = this.copyInto(src, list, dst, now);
      if (mapping.length > 0) {
        this.removeMessages(
          src,
          mapping.map(([s]) => s),
          now,
          freed,
        );
        this.saveCounters(src);
        if (dst !== src) this.saveCounters(dst);
      }
      return { uidValidity: dst.uid_validity, mapping };
    });
    await this.deleteFreed(freed); // empty in practice: the copies hold the blobs
    return result;
  }

  // ---- change journal ----

  async changesSince(accountId: string, folderId: string, sinceModseq: number, limit?: number): Promise<JournalEntry[]> {
    const since = checkNonNegInt(sinceModseq, 'modseq');
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new StoreError('invalid limit', 'INVALID');
    return this.read(() => {
      const f = this.folderRow(accountId, folderId);
      return this.q.journalSince.all(f.id, since, limit ?? -1).map(toJournal);
    });
  }

  /**
   * Deletes journal entries and append ids older than the retention, keeping each folder's
   * newest journal entry. Runs by itself at most hourly after writes; returns entries deleted.
   */
  pruneJournal(now: number = this.now()): number {
    const cut = now - this.retentionMs;
    return this.writeNow(() => {
      const n = this.q.journalPrune.run(cut).changes;
      this.q.appendIdPrune.run(cut);
      return n;
    });
  }

  private maybePrune(): void {
    const now = this.now();
    if (this.closed || now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    try {
      this.pruneJournal(now);
    } catch {
      // Busy or closed: pruning is best-effort and runs again later.
    }
  }

  // ---- settings ----

  async getProtocolSettings(protocol: ProtocolName): Promise<SettingsRecord<ProtocolSettings> | null> {
    this.ensureOpen();
    const r = this.q.settingsGet.get(checkProtocol(protocol));
    return r === undefined ? null : { value: JSON.parse(r.value) as ProtocolSettings, version: r.version };
  }

  /** expectedVersion 0 means "only if no record exists yet". */
  async putProtocolSettings(
    protocol: ProtocolName,
    value: ProtocolSettings,
    expectedVersion?: number,
  ): Promise<SettingsRecord<ProtocolSettings>> {
    const p = checkProtocol(protocol);
    const json = JSON.stringify(checkObject(value, 'settings'));
    return await this.write(() => {
      const cur = this.q.settingsGet.get(p)?.version ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== cur) {
        throw new StoreError(`settings version is ${cur}, not ${expectedVersion}`, 'CONFLICT');
      }
      this.q.settingsPut.run(p, json, cur + 1);
      return { value: JSON.parse(json) as ProtocolSettings, version: cur + 1 };
    });
  }

  // ---- maintenance ----

  async sweepOrphanBlobs(olderThanMs: number): Promise<number> {
    this.ensureOpen();
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new StoreError('invalid age', 'INVALID');
    // File times come from the real clock, whatever clock the store was given.
    const cutoff = Date.now() - olderThanMs;
    await this.blobs.sweepTemp(cutoff);
    const candidates: string[] = [];
    for await (const { key, mtimeMs } of this.blobs.walk()) {
      if (Math.floor(mtimeMs) <= cutoff) candidates.push(key);
    }
    let deleted = 0;
    for (let i = 0; i < candidates.length; i += 500) {
      const batch = candidates.slice(i, i + 500);
      // Under the write lock, which appendMessage holds while it checks its blob: a blob is
      // either referenced before we look, or its append fails with NOT_FOUND after we delete.
      deleted += await this.write(() => {
        let n = 0;
        for (const key of batch) {
          try {
            validateBlobKey(key);
          } catch {
            continue; // not a name this store writes; leave it alone
          }
          if (this.q.refGet.get(key) === undefined && this.blobs.deleteSync(key)) n++;
        }
        return n;
      });
    }
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.backfillTimer !== null) clearTimeout(this.backfillTimer);
    this.backfillTimer = null;
    // Writes already accepted still commit...
    // ...and are made durable (their promises settle).
    while (this.syncPending !== null || this.queue.length > 0) {
      await this.syncPending?.catch(() => undefined);
      if (this.syncPending === null) this.flush();
    }
    this.db.close();
    if (this.walFd >= 0) closeSync(this.walFd);
    this.walFd = -1;
  }
}

const PARTS: ReadonlySet<string> = new Set<MessagePart>(['structure', 'header', 'imap', 'search']);

/** The parts asked for; none at all reads the structure (which tells which messages exist). */
function checkParts(parts: unknown): ReadonlySet<MessagePart> {
  if (!Array.isArray(parts)) throw new StoreError('parts must be an array', 'INVALID');
  const out = new Set<MessagePart>();
  for (const p of parts) {
    if (typeof p !== 'string' || !PARTS.has(p)) throw new StoreError(`unknown message part ${String(p).slice(0, 40)}`, 'INVALID');
    out.add(p as MessagePart);
  }
  if (out.size === 0) out.add('structure');
  return out;
}

/** The SEARCH fields asked for, in a canonical order (a prepared query per distinct list). */
function checkSearchFields(fields: unknown): readonly SearchFieldName[] {
  if (fields === undefined) return SEARCH_FIELD_NAMES;
  if (!Array.isArray(fields)) throw new StoreError('searchFields must be an array', 'INVALID');
  for (const f of fields) {
    if (typeof f !== 'string' || !isSearchFieldName(f)) throw new StoreError(`unknown search field ${String(f).slice(0, 40)}`, 'INVALID');
  }
  return SEARCH_FIELD_NAMES.filter((n) => fields.includes(n));
}

function checkProtocol(p: unknown): ProtocolName {
  if (p !== 'pop3' && p !== 'imap4') throw new StoreError('unknown protocol', 'INVALID');
  return p;
}

/** Opens (creating if needed) the store in dataDir: <dataDir>/meta.sqlite3 and <dataDir>/blobs/. */
export async function openLocalStore(dataDir: string, opts: LocalStoreOptions = {}): Promise<LocalStore> {
  await mkdir(dataDir, { recursive: true });
  const blobs = new LocalBlobStore(dataDir);
  await blobs.init();
  return new LocalStore(dataDir, blobs, opts);
}
