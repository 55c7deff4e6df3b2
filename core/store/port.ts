// The storage port: everything the protocol code and the admin operations need from storage.
//
// It is shaped for DynamoDB + S3 semantics so that the AWS adapter implements it directly:
//   - every read is a key lookup or a range query on a sort key (no scans, no listings);
//   - allocation of UIDs and modseqs is an atomic counter update on the folder item;
//   - a message is written as: blob first (immutable, unique key), then metadata in one small
//     transaction (message item + folder counters + journal entry). A blob without metadata is
//     an orphan that sweepOrphanBlobs() collects; metadata never points at a missing blob;
//   - optimistic concurrency uses a `version` number compared in a conditional write.
//
// Adapters: core/store/local (SQLite + files) and core/store/aws (DynamoDB + S3). Both must
// pass test/store/contract.ts unchanged.

import type { Readable } from 'node:stream';
import type { ImapForms } from '../mime/imap-forms.js';
import type { SearchFieldName, SearchFields } from '../mime/search-fields.js';
import type { MessageIndex } from '../mime/types.js';
import type { MailboxProtocolSettings, ProtocolName, ProtocolSettings } from '../settings/schema.js';

export type Role = 'user' | 'admin' | 'guest' | 'anonymous';

export interface Account {
  /** Stable opaque id; used in every key. Never reused. */
  id: string;
  /** Canonical (lower-cased, trimmed) address; unique. */
  address: string;
  /** Encoded password hash (see core/access/password.ts); '' means no password can match. */
  passwordHash: string;
  role: Role;
  /** Per-protocol settings (Exchange's Set-CASMailbox). */
  pop3: MailboxProtocolSettings;
  imap4: MailboxProtocolSettings;
  /** The site that holds this mailbox; front-ends route sessions there. */
  homeSite: string;
  createdAt: number;
  /** Incremented on every update; used for conditional (optimistic) writes. */
  version: number;
}

export type NewAccount = Omit<Account, 'id' | 'createdAt' | 'version'>;
export type AccountPatch = Partial<Pick<Account, 'passwordHash' | 'role' | 'pop3' | 'imap4' | 'homeSite'>>;

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

export interface Folder {
  accountId: string;
  /** Stable opaque id; a folder keeps it across RENAME. Never reused. */
  id: string;
  /** Full hierarchical name in Unicode, '/' as the hierarchy delimiter. 'INBOX' is special. */
  name: string;
  uidValidity: number;
  /** The next UID to allocate; every allocated UID is below it. Never decreases. */
  uidNext: number;
  /** Highest modseq assigned to any change in this folder (0 before any change). */
  highestModseq: number;
  specialUse: SpecialUse | null;
  /**
   * Derived, read-only: whether the folder's current name is on the account's subscription
   * list (see Store.listSubscriptions). Subscriptions are kept by name, apart from folders.
   * Always set by createFolder, listFolders and renameFolder; set by getFolder and
   * getFolderByName only when asked for ({ subscribed: true }): it can cost the adapter one
   * more read (AWS), which SELECT, STATUS, APPEND and the journal sync do not need.
   */
  subscribed?: boolean;
  /** Number of messages present and their total size in octets (kept exact by the adapter). */
  messageCount: number;
  totalSize: number;
}

/** A folder whose subscription state is known (createFolder, listFolders, renameFolder). */
export type ListedFolder = Folder & { subscribed: boolean };

export interface FolderReadOptions {
  /** Also tell whether the folder's name is subscribed (Folder.subscribed). Default false. */
  subscribed?: boolean;
}

/** The small per-message record a flags sync reads. */
export interface MessageMeta {
  folderId: string;
  uid: number;
  modseq: number;
  /** System flags (e.g. \Seen) and keywords; stored sorted and de-duplicated. */
  flags: string[];
  /** Internal date, ms since the epoch. */
  internalDate: number;
  /** Size of the stored message in octets (RFC822.SIZE). */
  size: number;
  /** Key of the immutable blob holding the raw message. */
  blobKey: string;
}

export interface StoredMessage extends MessageMeta {
  /** Precomputed at delivery: envelope, body structure, header block and section offsets. */
  index: MessageIndex;
}

/**
 * Parts of a stored message that getMessages can be asked for, so a caller reads only what it
 * needs (an adapter may return more, e.g. the whole index):
 *   structure  index.size, headerSize, envelope, root, truncated
 *   header     index.header (null when too big to keep: read it from the blob) and headerSize
 *   imap       `imap`: the precomputed ENVELOPE and BODYSTRUCTURE forms (core/mime/imap-forms.ts)
 *              of the current IMAP_FORMS_VERSION, from an adapter that keeps them; else the
 *              structure, to render them from
 *   search     `search`: decoded, folded values of the common SEARCH fields
 *              (core/mime/search-fields.ts) of the current SEARCH_FIELDS_VERSION, from an
 *              adapter that keeps them; else the header (and its size), to compute them from
 */
export type MessagePart = 'structure' | 'header' | 'imap' | 'search';

export interface MessageReadOptions {
  /** The parts wanted. Default: the whole index (what getMessages returns without options). */
  parts?: readonly MessagePart[];
  /** With 'search': the fields whose values are wanted (default: all of them). */
  searchFields?: readonly SearchFieldName[];
}

/** What getMessages returns when asked for parts: at least those parts (see MessagePart). */
export interface MessageParts {
  uid: number;
  index: Partial<MessageIndex>;
  imap?: ImapForms;
  /** The SEARCH values of (at least) the fields asked for. */
  search?: Partial<SearchFields>;
}

export interface NewMessage {
  blobKey: string;
  size: number;
  internalDate: number;
  flags: string[];
  index: MessageIndex;
  /**
   * Optional idempotency key: a retried append with the same key into the same folder
   * returns the first result instead of adding a second copy.
   */
  appendId?: string;
}

export type JournalKind = 'new' | 'flags' | 'expunge';

export interface JournalEntry {
  folderId: string;
  modseq: number;
  uid: number;
  kind: JournalKind;
  /** For 'flags' and 'new': the flags after the change. */
  flags?: string[];
}

export type FlagOp = 'add' | 'remove' | 'replace';

export interface FlagUpdate {
  uids: number[];
  op: FlagOp;
  flags: string[];
  /** CONDSTORE: only change messages whose modseq is <= this. */
  unchangedSince?: number;
}

export interface FlagUpdateResult {
  /** Messages that changed (with their new flags and modseq). */
  updated: MessageMeta[];
  /** UIDs skipped because of unchangedSince. */
  modified: number[];
}

export interface AppendResult {
  uid: number;
  modseq: number;
  uidValidity: number;
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs of [source uid, destination uid], in source-UID order. */
  mapping: Array<[number, number]>;
}

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page; absent on the last page. */
  next?: string;
}

export interface ByteRange {
  /** First octet, inclusive. */
  start: number;
  /** Last octet, exclusive. */
  end: number;
}

export interface BlobStore {
  /** Stores an immutable blob under a new unique key. Streams are consumed fully. */
  put(key: string, data: Buffer | AsyncIterable<Buffer>): Promise<{ size: number }>;
  /** Reads a whole blob or a byte range of it. Throws NotFoundError if missing. */
  get(key: string, range?: ByteRange): Promise<Buffer>;
  /** Streams a whole blob or a byte range, without holding it in memory. */
  stream(key: string, range?: ByteRange): Readable;
  delete(key: string): Promise<void>;
}

export interface SettingsRecord<T> {
  value: T;
  version: number;
}

/** Errors every adapter raises with these classes, so callers can tell them apart. */
export class StoreError extends Error {
  constructor(message: string, readonly code: StoreErrorCode) {
    super(message);
    this.name = 'StoreError';
  }
}
export type StoreErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT' // a conditional write lost (stale version)
  | 'NONEXISTENT' // folder gone
  | 'LIMIT' // a bound was hit (e.g. too many folders)
  | 'INVALID' // malformed input (empty or ill-formed folder name, bad flag, bad blob key)
  | 'UNAVAILABLE'; // transient: throttled or backend down; safe to retry

export interface Store {
  readonly blobs: BlobStore;

  // ---- accounts ----
  createAccount(account: NewAccount): Promise<Account>; // ALREADY_EXISTS if address taken
  getAccount(id: string): Promise<Account | null>;
  getAccountByAddress(address: string): Promise<Account | null>;
  /** Conditional on expectedVersion when given (CONFLICT otherwise). Returns the new record. */
  updateAccount(id: string, patch: AccountPatch, expectedVersion?: number): Promise<Account>;
  /** Deletes the account, its folders, subscriptions, messages and (eventually) blobs. */
  deleteAccount(id: string): Promise<void>;
  /** Ordered by address; a key-range walk, not a scan. */
  listAccounts(opts: { limit: number; cursor?: string }): Promise<Page<Account>>;

  // ---- folders ----
  /** ALREADY_EXISTS if the name is taken. A new folder always gets a UIDVALIDITY never used before by this account. */
  /** `subscribed: true` also puts the name on the subscription list (same transaction where the adapter can). */
  createFolder(accountId: string, name: string, opts?: { specialUse?: SpecialUse | null; subscribed?: boolean }): Promise<ListedFolder>;
  getFolder(accountId: string, folderId: string, opts?: FolderReadOptions): Promise<Folder | null>;
  getFolderByName(accountId: string, name: string, opts?: FolderReadOptions): Promise<Folder | null>;
  listFolders(accountId: string): Promise<ListedFolder[]>;
  /**
   * Moves a folder (keeping its id, UIDVALIDITY and messages) to a new name. If the old name is
   * subscribed, the subscription moves to the new name (same transaction where the adapter can);
   * otherwise the subscription list is left as it is.
   */
  renameFolder(accountId: string, folderId: string, newName: string): Promise<ListedFolder>;
  /** Subscribes or unsubscribes the folder's current name (NONEXISTENT if there is no such folder). */
  setSubscribed(accountId: string, folderId: string, subscribed: boolean): Promise<void>;
  /** Deletes a folder and its messages. Its name stays on the subscription list (RFC 3501 §6.3.6). */
  deleteFolder(accountId: string, folderId: string): Promise<void>;

  // ---- subscriptions (RFC 3501 §6.3.6-7): a list of names per account, kept apart from folders ----
  /** The subscribed names, sorted; names need not be existing folders. */
  listSubscriptions(accountId: string): Promise<string[]>;
  /**
   * Adds a name (canonical folder-name rules; INVALID otherwise). Idempotent. NOT_FOUND for an
   * unknown account; LIMIT past the per-account bound (default 10,000).
   */
  subscribe(accountId: string, name: string): Promise<void>;
  /** Removes a name. Idempotent (a name not subscribed is fine). */
  unsubscribe(accountId: string, name: string): Promise<void>;

  // ---- messages ----
  /** Allocates UID and modseq atomically, writes metadata and a 'new' journal entry. */
  appendMessage(accountId: string, folderId: string, msg: NewMessage): Promise<AppendResult>;
  /** Messages with uidFrom <= uid <= uidTo (defaults: all), ascending by UID. */
  listMessages(accountId: string, folderId: string, range?: { uidFrom?: number; uidTo?: number }): Promise<MessageMeta[]>;
  getMessage(accountId: string, folderId: string, uid: number): Promise<StoredMessage | null>;
  /** Batch read of full records (metadata + index) for the given UIDs; missing UIDs are omitted. */
  getMessages(accountId: string, folderId: string, uids: number[]): Promise<StoredMessage[]>;
  /**
   * Batch read of only some parts (see MessagePart) for the given UIDs, ascending by UID;
   * missing UIDs are omitted. A full record is a valid answer (adapters may ignore `parts`).
   */
  getMessages(accountId: string, folderId: string, uids: number[], opts: MessageReadOptions): Promise<MessageParts[]>;
  updateFlags(accountId: string, folderId: string, update: FlagUpdate): Promise<FlagUpdateResult>;
  /** Removes the messages, writes 'expunge' journal entries; returns the UIDs actually removed. */
  expunge(accountId: string, folderId: string, uids: number[]): Promise<number[]>;
  /** Copies messages (sharing their immutable blobs) to another folder of the same account. */
  copyMessages(accountId: string, fromFolderId: string, uids: number[], toFolderId: string): Promise<CopyResult>;
  /** Copy then expunge from the source, as one operation as far as the adapter can make it. */
  moveMessages(accountId: string, fromFolderId: string, uids: number[], toFolderId: string): Promise<CopyResult>;

  // ---- change journal ----
  /** Journal entries with modseq > sinceModseq, ascending by modseq. */
  changesSince(accountId: string, folderId: string, sinceModseq: number, limit?: number): Promise<JournalEntry[]>;

  // ---- settings ----
  getProtocolSettings(protocol: ProtocolName): Promise<SettingsRecord<ProtocolSettings> | null>;
  /** Conditional on expectedVersion when given (CONFLICT otherwise). */
  putProtocolSettings(protocol: ProtocolName, value: ProtocolSettings, expectedVersion?: number): Promise<SettingsRecord<ProtocolSettings>>;

  // ---- maintenance ----
  /** Deletes blobs older than olderThanMs that no message points at; returns how many. */
  sweepOrphanBlobs(olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}
