// The AWS adapter of the storage port: DynamoDB for metadata, S3 for message blobs (SDK v3).
// Table design, item shapes and cost reasoning: core/store/aws/DESIGN.md; key names: tables.ts.
//
// Writes that touch a folder's messages (append, flags, expunge, copy, move) are one
// TransactWriteItems each (or one per chunk of at most 100 items): the folder item's counters
// (UIDNEXT, HIGHESTMODSEQ, count, size) are updated on the condition that HIGHESTMODSEQ is still
// the value this writer read, together with the message items, the journal entries, the blob
// reference counts and (append) the idempotency item. Every such write raises HIGHESTMODSEQ, so
// that one condition serialises all of them, across processes: a writer that lost re-reads and
// retries with backoff. Within one process, writes to one folder queue behind each other (no
// self-inflicted conflicts) and keep the folder's counters from their own last commit, so the
// common case is one read of the messages concerned and one transaction.
//
// Blob first, metadata second: appendMessage checks (HEAD) that the blob exists with the given
// size, and the transaction takes a reference on the blob's item unless that item is a
// tombstone (refs 0: being deleted by an expunge or the orphan sweep). A blob whose metadata
// never committed has no reference item and is collected by sweepOrphanBlobs(), which lists
// the bucket (maintenance only; no protocol path lists or scans anything).

import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  StoreError,
  type Account,
  type AccountPatch,
  type AppendResult,
  type CopyResult,
  type FlagUpdate,
  type FlagUpdateResult,
  type Folder,
  type FolderReadOptions,
  type JournalEntry,
  type ListedFolder,
  type JournalKind,
  type MessageMeta,
  type NewAccount,
  type NewMessage,
  type Page,
  type SettingsRecord,
  type SpecialUse,
  type Store,
  type StoredMessage,
} from '../port.js';
import type { MessageIndex } from '../../mime/types.js';
import type { MailboxProtocolSettings, ProtocolName, ProtocolSettings } from '../../settings/schema.js';
import { validateBlobKey } from '../local/blobs.js';
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
} from '../local/validate.js';
import { S3BlobStore } from './blobs.js';
import { awsErrorName, mapAwsError } from './errors.js';
import { attachUsageContext } from './metering.js';
import { tableNames, type PhysicalNames } from './tables.js';

export interface AwsStoreOptions {
  /** Physical table names; or give tablePrefix. */
  names?: PhysicalNames;
  /** Table name prefix, e.g. 'mail-' -> 'mail-messages'. Default 'mail-'. */
  tablePrefix?: string;
  bucket: string;
  /** Default: the SDK's (AWS_REGION). */
  region?: string;
  /** Default: the SDK's credential chain. */
  credentials?: DynamoDBClientConfig['credentials'];
  /** Use these clients instead of making new ones (tests wrap them; metering adds middleware). */
  dynamodb?: DynamoDBClient;
  s3?: S3Client;
  /** SDK retry attempts per request (default 3). */
  sdkMaxAttempts?: number;
  /** S3 path-style addressing (local S3 servers). Default: true when AWS_ENDPOINT_URL_S3 is set. */
  forcePathStyle?: boolean;
  /**
   * If-None-Match on blob PUTs (AWS). s3rver ignores it: set false there, and put() checks with
   * a HEAD first (racy; local only). Default true.
   */
  conditionalPut?: boolean;
  /** Compute/validate S3 checksums only when required (local S3 servers). Default: as the SDK. */
  checksumsWhenRequired?: boolean;
  /** HEAD the blob before an append to check it exists with the given size. Default true. */
  verifyBlobOnAppend?: boolean;
  /** Journal entries and append ids expire this long after they are written. Default 30 days. */
  journalRetentionMs?: number;
  /** Default 10,000. */
  maxFoldersPerAccount?: number;
  /** Subscribed names per account. Default 10,000. */
  maxSubscriptionsPerAccount?: number;
  /** Default 1,000. */
  maxFlagsPerMessage?: number;
  /** Default 1,000,000. */
  maxUidsPerCall?: number;
  /** Attempts of a conditional write that keeps losing to other writers. Default 20. */
  maxWriteAttempts?: number;
  /** Clock for createdAt, TTLs and UIDVALIDITY seeding. Default Date.now. */
  now?: () => number;
}

const DAY = 24 * 60 * 60 * 1000;
const MAX_PAGE = 1000;
const MAX_TX_ITEMS = 100;
/** Budget per transaction for item bytes (the service limit is 4 MB). */
const MAX_TX_BYTES = 3 * 1024 * 1024;
/** The compressed index must fit in one item (400 KB, keys and names included). */
const MAX_INDEX_BYTES = 380 * 1024;
const TOMBSTONE_TTL_MS = 7 * DAY;
const FOLDER_CACHE_MAX = 10_000;

const ACCT_PK = 'ACCT';
const SETTINGS_PK = 'SETTINGS';
const GC_PK = '#gc';

type TxItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
type Item = Record<string, unknown>;

interface FolderState {
  accountId: string;
  id: string;
  uidValidity: number;
  uidNext: number;
  hm: number;
}

/**
 * A `messages` item as written now (DESIGN.md "messages"): every byte counts, since a flags
 * sync reads them all. Empty attributes are left out.
 */
interface MetaItem {
  f: string;
  u: number;
  ms: number;
  /** System flags as a bitmask (SYSTEM_FLAG_BITS); absent when none. */
  fl?: number;
  /** Keywords, space-joined; absent when none. */
  kw?: string;
  d: number;
  z: number;
  /** Blob key: the random part alone, as bytes, when it is `<accountId>/<base64url>`; else the key. */
  b: Uint8Array | string;
}

interface PendingAppend {
  accountId: string;
  blobKey: string;
  size: number;
  internalDate: number;
  flags: string[];
  x: Uint8Array;
  appendId: string | undefined;
  now: number;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

const RETRY = Symbol('retry');
type Retry = typeof RETRY;

// ---- small codecs ----

/** New folder ids: 16 random bytes, base64url (22 characters). Ids are opaque: older UUIDs stay valid. */
function newFolderId(): string {
  return randomBytes(16).toString('base64url');
}

/** System flags on message and journal items: one bit each (canonical names, validate.ts). */
const SYSTEM_FLAG_BITS: ReadonlyArray<readonly [string, number]> = [
  ['\\Seen', 1],
  ['\\Answered', 2],
  ['\\Flagged', 4],
  ['\\Deleted', 8],
  ['\\Draft', 16],
];
const SYSTEM_FLAG_BIT = new Map(SYSTEM_FLAG_BITS);

/** Canonical flags as item attributes: `fl` bitmask of system flags, `kw` keywords; each only when non-empty. */
function flagAttrs(flags: string[]): { fl?: number; kw?: string } {
  let bits = 0;
  const kw: string[] = [];
  for (const f of flags) {
    const bit = SYSTEM_FLAG_BIT.get(f);
    if (bit !== undefined) bits |= bit;
    else kw.push(f);
  }
  const out: { fl?: number; kw?: string } = {};
  if (bits !== 0) out.fl = bits;
  if (kw.length > 0) out.kw = kw.join(' '); // keywords are atoms: no space inside
  return out;
}

/** The canonical (sorted) flags of an item; items written before the bitmask hold `fl` as a space-joined string. */
function itemFlags(it: Item): string[] {
  if (typeof it.fl === 'string') return it.fl.length > 0 ? it.fl.split(' ') : [];
  const bits = typeof it.fl === 'number' ? it.fl : 0;
  const out = typeof it.kw === 'string' && it.kw.length > 0 ? it.kw.split(' ') : [];
  if (bits === 0) return out;
  for (const [f, bit] of SYSTEM_FLAG_BITS) if (bits & bit) out.push(f);
  return out.sort();
}

/** SET/REMOVE clauses writing canonical flags over whatever form an item holds. */
function flagUpdate(flags: string[]): { set: string[]; remove: string[]; values: Item } {
  const a = flagAttrs(flags);
  const set: string[] = [];
  const remove: string[] = [];
  const values: Item = {};
  if (a.fl !== undefined) {
    set.push('fl = :fl');
    values[':fl'] = a.fl;
  } else remove.push('fl');
  if (a.kw !== undefined) {
    set.push('kw = :kw');
    values[':kw'] = a.kw;
  } else remove.push('kw');
  return { set, remove, values };
}

/**
 * The `b` attribute of a message item. Keys that deliver.ts makes (`<accountId>/<base64url of
 * random bytes>`) are stored as the random bytes alone (the account is the caller's, every
 * message method is given it); any other key as the string.
 */
function blobAttr(accountId: string, key: string): Uint8Array | string {
  const prefix = `${accountId}/`;
  if (!key.startsWith(prefix)) return key;
  const token = key.slice(prefix.length);
  if (token.length === 0 || token.length > 43) return key;
  const bytes = Buffer.from(token, 'base64url');
  return bytes.toString('base64url') === token ? new Uint8Array(bytes) : key;
}

function blobKeyOf(accountId: string, b: unknown): string {
  if (typeof b === 'string') return b;
  return `${accountId}/${Buffer.from(b as Uint8Array).toString('base64url')}`;
}

function encodeIndex(index: object): Uint8Array {
  const x = deflateRawSync(Buffer.from(JSON.stringify(index), 'utf8'));
  if (x.length > MAX_INDEX_BYTES) throw new StoreError(`message index too large (${x.length} octets compressed)`, 'LIMIT');
  return x;
}
function decodeIndex(x: unknown): MessageIndex {
  return JSON.parse(inflateRawSync(x as Uint8Array).toString('utf8')) as MessageIndex;
}

function toMeta(accountId: string, m: Item): MessageMeta {
  return {
    folderId: m.f as string,
    uid: m.u as number,
    modseq: m.ms as number,
    flags: itemFlags(m),
    internalDate: m.d as number,
    size: m.z as number,
    blobKey: blobKeyOf(accountId, m.b),
  };
}

function metaItem(folderId: string, uid: number, modseq: number, flags: string[], internalDate: number, size: number, b: Uint8Array | string): MetaItem {
  return { f: folderId, u: uid, ms: modseq, ...flagAttrs(flags), d: internalDate, z: size, b };
}

const KIND_CODE: Record<JournalKind, string> = { new: 'n', flags: 'f', expunge: 'e' };
const CODE_KIND: Record<string, JournalKind> = { n: 'new', f: 'flags', e: 'expunge' };

function toJournal(it: Item): JournalEntry {
  const kind = CODE_KIND[it.k as string] ?? 'flags';
  const e: JournalEntry = { folderId: it.f as string, modseq: it.m as number, uid: it.u as number, kind };
  if (kind !== 'expunge') e.flags = itemFlags(it);
  return e;
}

/** `subscribed` is derived: whether the folder's name has a subscription item (left out when not read). */
function toFolder(it: Item, subscribed: boolean): ListedFolder;
function toFolder(it: Item, subscribed: boolean | undefined): Folder;
function toFolder(it: Item, subscribed: boolean | undefined): Folder {
  const f: Folder = {
    accountId: it.a as string,
    id: it.id as string,
    name: it.n as string,
    uidValidity: it.uv as number,
    uidNext: it.un as number,
    highestModseq: it.hm as number,
    specialUse: (it.su ?? null) as SpecialUse | null,
    messageCount: it.mc as number,
    totalSize: it.ts as number,
  };
  if (subscribed !== undefined) f.subscribed = subscribed;
  return f;
}

function toAccount(it: Item): Account {
  return {
    id: it.id as string,
    address: it.sk as string,
    passwordHash: it.ph as string,
    role: it.role as Account['role'],
    pop3: JSON.parse(it.p3 as string) as MailboxProtocolSettings,
    imap4: JSON.parse(it.i4 as string) as MailboxProtocolSettings,
    homeSite: it.hs as string,
    createdAt: it.ca as number,
    version: it.ver as number,
  };
}

/** Sort key of a folder's name item. Sort keys hold at most 1024 bytes: long names are hashed. */
function nameSk(name: string): string {
  return Buffer.byteLength(name, 'utf8') <= 1000 ? `N#${name}` : `L#${createHash('sha256').update(name, 'utf8').digest('base64url')}`;
}

/** Sort key of a subscription item (a subscribed name; it need not be a folder's). */
function subSk(name: string): string {
  return `SUB#${nameSk(name)}`;
}
const SUB_PREFIX = 'SUB#';
/** Sort key of the subscription counter item. */
const SUB_COUNT_SK = 'SC';

function encodeCursor(address: string): string {
  return Buffer.from(JSON.stringify({ after: address }), 'utf8').toString('base64url');
}
function decodeCursor(cursor: unknown): string {
  try {
    const v = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string' && v.after.length > 0) return v.after;
  } catch {
    // fall through
  }
  throw new StoreError('invalid cursor', 'INVALID');
}

function checkProtocol(p: unknown): ProtocolName {
  if (p !== 'pop3' && p !== 'imap4') throw new StoreError('unknown protocol', 'INVALID');
  return p;
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 512;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function backoffMs(attempt: number): number {
  if (attempt <= 1) return 0; // the first retry after a lost condition re-reads at once
  return Math.random() * Math.min(1000, 5 * 2 ** attempt);
}

function chunked<T>(list: T[], size: (item: T) => { items: number; bytes: number }, fixedItems: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let items = fixedItems;
  let bytes = 0;
  for (const x of list) {
    const s = size(x);
    if (cur.length > 0 && (items + s.items > MAX_TX_ITEMS || bytes + s.bytes > MAX_TX_BYTES)) {
      out.push(cur);
      cur = [];
      items = fixedItems;
      bytes = 0;
    }
    cur.push(x);
    items += s.items;
    bytes += s.bytes;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Serialises async work per key (per folder) inside this process. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    try {
      for (const k of sorted) releases.push(await this.acquire(k));
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}

type TxOutcome = { ok: true } | { ok: false; reasons: string[] };

export class AwsStore implements Store {
  readonly blobs: S3BlobStore;
  readonly names: PhysicalNames;
  readonly bucket: string;
  readonly ddb: DynamoDBClient;
  readonly s3: S3Client;
  private readonly doc: DynamoDBDocumentClient;
  private readonly ownsClients: boolean;
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly maxFolders: number;
  private readonly maxSubscriptions: number;
  private readonly maxFlags: number;
  private readonly maxUids: number;
  private readonly maxAttempts: number;
  private readonly verifyBlobs: boolean;
  private readonly cache = new Map<string, FolderState>();
  private readonly mutex = new KeyedMutex();
  private readonly appendQueues = new Map<string, PendingAppend[]>();
  private closed = false;

  constructor(opts: AwsStoreOptions) {
    if (typeof opts?.bucket !== 'string' || opts.bucket.length === 0) throw new Error('AwsStore needs a bucket name');
    this.names = opts.names ?? tableNames(opts.tablePrefix ?? 'mail-');
    this.bucket = opts.bucket;
    const common = {
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.sdkMaxAttempts ? { maxAttempts: opts.sdkMaxAttempts } : {}),
    };
    this.ownsClients = opts.dynamodb === undefined && opts.s3 === undefined;
    this.ddb = opts.dynamodb ?? new DynamoDBClient(common);
    const local = Boolean(process.env.AWS_ENDPOINT_URL_S3);
    const s3cfg: S3ClientConfig = { ...common, forcePathStyle: opts.forcePathStyle ?? local };
    if (opts.checksumsWhenRequired ?? local) {
      s3cfg.requestChecksumCalculation = 'WHEN_REQUIRED';
      s3cfg.responseChecksumValidation = 'WHEN_REQUIRED';
    }
    this.s3 = opts.s3 ?? new S3Client(s3cfg);
    // Request accounting: every request counts into the caller's usage context (usage.ts).
    attachUsageContext({ dynamodb: this.ddb, s3: this.s3 });
    this.doc = DynamoDBDocumentClient.from(this.ddb, { marshallOptions: { removeUndefinedValues: true } });
    this.blobs = new S3BlobStore(this.s3, { bucket: this.bucket, conditionalPut: opts.conditionalPut ?? true });
    this.now = opts.now ?? Date.now;
    this.retentionMs = opts.journalRetentionMs ?? 30 * DAY;
    this.maxFolders = opts.maxFoldersPerAccount ?? 10_000;
    this.maxSubscriptions = opts.maxSubscriptionsPerAccount ?? 10_000;
    this.maxFlags = opts.maxFlagsPerMessage ?? 1000;
    this.maxUids = opts.maxUidsPerCall ?? 1_000_000;
    this.maxAttempts = opts.maxWriteAttempts ?? 20;
    this.verifyBlobs = opts.verifyBlobOnAppend ?? true;
  }

  // ---- plumbing ----

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('store is closed', 'UNAVAILABLE');
  }

  private async send<T>(cmd: { input: unknown }, what: string): Promise<T> {
    try {
      return (await this.doc.send(cmd as never)) as T;
    } catch (e) {
      throw mapAwsError(e, what);
    }
  }

  private expiry(now: number, ms: number): number {
    return Math.floor((now + ms) / 1000);
  }

  /** One TransactWriteItems; a cancellation comes back as its per-item reason codes. */
  private async tx(items: TxItem[]): Promise<TxOutcome> {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true };
    } catch (e) {
      if (awsErrorName(e) === 'TransactionCanceledException') {
        const reasons = ((e as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? []).map((r) => r?.Code ?? 'None');
        if (reasons.includes('ValidationError')) throw new StoreError(`invalid write: ${(e as Error).message}`, 'INVALID');
        if (reasons.includes('ItemCollectionSizeLimitExceeded')) throw new StoreError('item collection too large', 'LIMIT');
        return { ok: false, reasons };
      }
      throw mapAwsError(e, 'transaction');
    }
  }

  /** Runs an attempt until it returns something other than RETRY, with backoff. */
  private async retrying<T>(what: string, attempt: (n: number) => Promise<T | Retry>): Promise<T> {
    for (let n = 0; n < this.maxAttempts; n++) {
      if (n > 0) await sleep(backoffMs(n));
      const r = await attempt(n);
      if (r !== RETRY) return r;
    }
    throw new StoreError(`${what}: lost to concurrent writers ${this.maxAttempts} times; retry later`, 'UNAVAILABLE');
  }

  private folderKey(accountId: string, folderId: string): Item {
    return { a: accountId, s: `F#${folderId}` };
  }

  private async loadFolder(accountId: string, folderId: string): Promise<Item | null> {
    if (!isId(accountId) || !isId(folderId)) return null;
    const r = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.folders, Key: this.folderKey(accountId, folderId), ConsistentRead: true }),
      'folder read',
    );
    return r.Item ?? null;
  }

  private async requireFolder(accountId: string, folderId: string): Promise<Item> {
    const it = await this.loadFolder(accountId, folderId);
    if (it === null) throw new StoreError('no such folder', 'NONEXISTENT');
    return it;
  }

  /** The folder's counters: this process's own view (only under the folder's mutex), or fresh. */
  private async folderState(accountId: string, folderId: string, fresh: boolean): Promise<FolderState> {
    const c = this.cache.get(folderId);
    if (!fresh && c !== undefined && c.accountId === accountId) return c;
    const it = await this.loadFolder(accountId, folderId);
    if (it === null) {
      this.cache.delete(folderId);
      throw new StoreError('no such folder', 'NONEXISTENT');
    }
    const st: FolderState = { accountId, id: folderId, uidValidity: it.uv as number, uidNext: it.un as number, hm: it.hm as number };
    this.cache.delete(folderId);
    this.cache.set(folderId, st);
    if (this.cache.size > FOLDER_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    return st;
  }

  /** Counter update of a folder, conditional on HIGHESTMODSEQ being what this writer read. */
  private folderUpdate(st: FolderState, uidNext: number, hm: number, dCount: number, dSize: number): TxItem {
    return {
      Update: {
        TableName: this.names.folders,
        Key: this.folderKey(st.accountId, st.id),
        UpdateExpression: 'SET un = :un, hm = :hm ADD mc :dc, ts :ds',
        ConditionExpression: 'hm = :old',
        ExpressionAttributeValues: { ':un': uidNext, ':hm': hm, ':dc': dCount, ':ds': dSize, ':old': st.hm },
      },
    };
  }

  private journalPut(folderId: string, modseq: number, uid: number, kind: JournalKind, flags: string[] | null, now: number): TxItem {
    const Item: Item = { f: folderId, m: modseq, u: uid, k: KIND_CODE[kind], exp: this.expiry(now, this.retentionMs) };
    if (flags !== null) Object.assign(Item, flagAttrs(flags));
    return { Put: { TableName: this.names.journal, Item } };
  }

  private async queryAll(input: QueryCommandInput, what: string, max = Infinity): Promise<Item[]> {
    const out: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.send<{ Items?: Item[]; LastEvaluatedKey?: Record<string, unknown> }>(
        new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }),
        what,
      );
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start !== undefined && out.length < max);
    return out.length > max ? out.slice(0, max) : out;
  }

  private async batchGet(table: string, keys: Item[], what: string): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Item[] = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= this.maxAttempts) throw new StoreError(`${what}: throttled; retry later`, 'UNAVAILABLE');
        if (attempt > 0) await sleep(backoffMs(attempt + 1));
        const r = await this.send<{ Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys?: Item[] }> }>(
          new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
          what,
        );
        out.push(...(r.Responses?.[table] ?? []));
        pending = r.UnprocessedKeys?.[table]?.Keys ?? [];
      }
    }
    return out;
  }

  private async batchDelete(table: string, keys: Item[], what: string): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let pending = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= this.maxAttempts) throw new StoreError(`${what}: throttled; retry later`, 'UNAVAILABLE');
        if (attempt > 0) await sleep(backoffMs(attempt + 1));
        const r = await this.send<{ UnprocessedItems?: Record<string, Array<{ DeleteRequest: { Key: Item } }>> }>(
          new BatchWriteCommand({ RequestItems: { [table]: pending } }),
          what,
        );
        pending = (r.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
    }
  }

  /**
   * Items of a per-folder table (messages or index) for a sorted, de-duplicated UID list: one
   * range Query when that reads fewer bytes than it saves (a Query bills the summed size of
   * the items it reads, rounded once), else BatchGetItem (which bills every item rounded up
   * to 4 KB). Message records are ~50-60 bytes, so a Query over a span up to ~64 times the
   * number wanted is still cheaper; index items are ~1-2 KB compressed, so up to ~2 times.
   */
  private async readByUid(table: string, folderId: string, uids: number[], what: string): Promise<Map<number, Item>> {
    const out = new Map<number, Item>();
    if (uids.length === 0) return out;
    const lo = uids[0]!;
    const hi = uids[uids.length - 1]!;
    const spanFactor = table === this.names.messages ? 64 : 2;
    let items: Item[];
    if (hi - lo + 1 <= uids.length * spanFactor) {
      items = await this.queryAll(
        {
          TableName: table,
          KeyConditionExpression: 'f = :f AND u BETWEEN :lo AND :hi',
          ExpressionAttributeValues: { ':f': folderId, ':lo': lo, ':hi': hi },
          ConsistentRead: true,
        },
        what,
      );
      const want = new Set(uids);
      items = items.filter((it) => want.has(it.u as number));
    } else {
      items = await this.batchGet(
        table,
        uids.map((u) => ({ f: folderId, u })),
        what,
      );
    }
    const byUid = new Map<number, Item>();
    for (const it of items) byUid.set(it.u as number, it);
    for (const u of uids) {
      const it = byUid.get(u);
      if (it !== undefined) out.set(u, it); // ascending by UID
    }
    return out;
  }

  // ---- accounts ----

  async createAccount(a: NewAccount): Promise<Account> {
    this.ensureOpen();
    const address = canonicalAddress(a?.address);
    const item: Item = {
      pk: ACCT_PK,
      sk: address,
      id: randomUUID(),
      ph: checkString(a.passwordHash, 'password hash'),
      role: checkRole(a.role),
      p3: JSON.stringify(checkObject(a.pop3, 'pop3 settings')),
      i4: JSON.stringify(checkObject(a.imap4, 'imap4 settings')),
      hs: checkString(a.homeSite, 'home site', 255),
      ca: this.now(),
      ver: 1,
    };
    await this.retrying('create account', async () => {
      const r = await this.tx([
        { Put: { TableName: this.names.directory, Item: item, ConditionExpression: 'attribute_not_exists(sk)' } },
        {
          Put: {
            TableName: this.names.directory,
            Item: { pk: `ID#${item.id as string}`, sk: 'ACCT', ad: address },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ]);
      if (r.ok) return true;
      if (r.reasons[0] === 'ConditionalCheckFailed') throw new StoreError('an account with this address exists', 'ALREADY_EXISTS');
      return RETRY;
    });
    return toAccount(item);
  }

  private async accountItem(id: string): Promise<Item | null> {
    if (!isId(id)) return null;
    const p = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.directory, Key: { pk: `ID#${id}`, sk: 'ACCT' }, ConsistentRead: true }),
      'account read',
    );
    if (p.Item === undefined) return null;
    const r = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.directory, Key: { pk: ACCT_PK, sk: p.Item.ad }, ConsistentRead: true }),
      'account read',
    );
    return r.Item !== undefined && r.Item.id === id ? r.Item : null;
  }

  async getAccount(id: string): Promise<Account | null> {
    this.ensureOpen();
    const it = await this.accountItem(id);
    return it === null ? null : toAccount(it);
  }

  async getAccountByAddress(address: string): Promise<Account | null> {
    this.ensureOpen();
    if (typeof address !== 'string') return null;
    const a = address.trim().toLowerCase();
    if (a.length === 0 || Buffer.byteLength(a, 'utf8') > 1024) return null;
    const r = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.directory, Key: { pk: ACCT_PK, sk: a }, ConsistentRead: true }),
      'account read',
    );
    return r.Item === undefined ? null : toAccount(r.Item);
  }

  async updateAccount(id: string, patch: AccountPatch, expectedVersion?: number): Promise<Account> {
    this.ensureOpen();
    checkObject(patch, 'patch');
    const p: Item = {};
    if (patch.passwordHash !== undefined) p.ph = checkString(patch.passwordHash, 'password hash');
    if (patch.role !== undefined) p.role = checkRole(patch.role);
    if (patch.pop3 !== undefined) p.p3 = JSON.stringify(checkObject(patch.pop3, 'pop3 settings'));
    if (patch.imap4 !== undefined) p.i4 = JSON.stringify(checkObject(patch.imap4, 'imap4 settings'));
    if (patch.homeSite !== undefined) p.hs = checkString(patch.homeSite, 'home site', 255);
    return await this.retrying('update account', async () => {
      const cur = await this.accountItem(id);
      if (cur === null) throw new StoreError('no such account', 'NOT_FOUND');
      const ver = cur.ver as number;
      if (expectedVersion !== undefined && ver !== expectedVersion) {
        throw new StoreError(`account version is ${ver}, not ${String(expectedVersion)}`, 'CONFLICT');
      }
      const next: Item = { ...cur, ...p, ver: ver + 1 };
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.names.directory,
            Item: next,
            ConditionExpression: 'ver = :v AND id = :id',
            ExpressionAttributeValues: { ':v': ver, ':id': id },
          }),
        );
      } catch (e) {
        if (awsErrorName(e) === 'ConditionalCheckFailedException') {
          if (expectedVersion !== undefined) throw new StoreError('account changed concurrently', 'CONFLICT');
          return RETRY;
        }
        throw mapAwsError(e, 'account update');
      }
      return toAccount(next);
    });
  }

  async deleteAccount(id: string): Promise<void> {
    this.ensureOpen();
    if (!isId(id)) return;
    const gone = await this.retrying('delete account', async () => {
      const p = await this.send<{ Item?: Item }>(
        new GetCommand({ TableName: this.names.directory, Key: { pk: `ID#${id}`, sk: 'ACCT' }, ConsistentRead: true }),
        'account read',
      );
      if (p.Item === undefined) return false;
      const r = await this.tx([
        { Delete: { TableName: this.names.directory, Key: { pk: `ID#${id}`, sk: 'ACCT' }, ConditionExpression: 'attribute_exists(pk)' } },
        {
          Delete: {
            TableName: this.names.directory,
            Key: { pk: ACCT_PK, sk: p.Item.ad },
            ConditionExpression: 'attribute_not_exists(sk) OR id = :id',
            ExpressionAttributeValues: { ':id': id },
          },
        },
        { Put: { TableName: this.names.folders, Item: { a: GC_PK, s: `A#${id}`, t: this.now() } } },
      ]);
      return r.ok ? true : RETRY;
    });
    if (!gone) return;
    await this.gcAccount(id);
    await this.send(new DeleteCommand({ TableName: this.names.folders, Key: { a: GC_PK, s: `A#${id}` } }), 'cleanup');
  }

  async listAccounts(opts: { limit: number; cursor?: string }): Promise<Page<Account>> {
    this.ensureOpen();
    const limit = opts?.limit;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new StoreError(`limit must be 1..${MAX_PAGE}`, 'INVALID');
    }
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor);
    const items = await this.queryAll(
      {
        TableName: this.names.directory,
        KeyConditionExpression: after === undefined ? 'pk = :p' : 'pk = :p AND sk > :after',
        ExpressionAttributeValues: after === undefined ? { ':p': ACCT_PK } : { ':p': ACCT_PK, ':after': after },
        ConsistentRead: true,
        Limit: limit + 1,
      },
      'account listing',
      limit + 1,
    );
    const page: Page<Account> = { items: items.slice(0, limit).map(toAccount) };
    if (items.length > limit) page.next = encodeCursor(page.items[page.items.length - 1]!.address);
    return page;
  }

  // ---- folders ----

  async createFolder(accountId: string, name: string, opts?: { specialUse?: SpecialUse | null; subscribed?: boolean }): Promise<ListedFolder> {
    this.ensureOpen();
    const n = canonicalFolderName(name);
    const specialUse = checkSpecialUse(opts?.specialUse);
    const subscribed = opts?.subscribed === true;
    if (!isId(accountId)) throw new StoreError('no such account', 'NOT_FOUND');
    const created = await this.retrying('create folder', async () => {
      const [v, subbed] = await Promise.all([
        this.send<{ Item?: Item }>(
          new GetCommand({ TableName: this.names.folders, Key: { a: accountId, s: 'V' }, ConsistentRead: true }),
          'folder counter read',
        ),
        subscribed ? Promise.resolve(true) : this.isSubscribed(accountId, n),
      ]);
      const last = (v.Item?.v as number | undefined) ?? 0;
      const count = (v.Item?.c as number | undefined) ?? 0;
      if (count >= this.maxFolders) throw new StoreError(`too many folders (max ${this.maxFolders})`, 'LIMIT');
      // Per account, only growing, seeded from the clock: never handed out twice in an account.
      const uidValidity = Math.max(last + 1, Math.floor(this.now() / 1000));
      if (uidValidity > MAX_UID) throw new StoreError('UIDVALIDITY space exhausted', 'LIMIT');
      const id = newFolderId();
      const item: Item = {
        a: accountId,
        s: `F#${id}`,
        id,
        n,
        uv: uidValidity,
        un: 1,
        hm: 0,
        su: specialUse,
        mc: 0,
        ts: 0,
      };
      const r = await this.tx([
        {
          ConditionCheck: {
            TableName: this.names.directory,
            Key: { pk: `ID#${accountId}`, sk: 'ACCT' },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        {
          Update: {
            TableName: this.names.folders,
            Key: { a: accountId, s: 'V' },
            UpdateExpression: 'SET v = :uv ADD c :one',
            ConditionExpression: v.Item === undefined ? 'attribute_not_exists(s)' : 'v = :last AND c = :count',
            ExpressionAttributeValues: {
              ':uv': uidValidity,
              ':one': 1,
              ...(v.Item === undefined ? {} : { ':last': last, ':count': count }),
            },
          },
        },
        { Put: { TableName: this.names.folders, Item: { a: accountId, s: nameSk(n), id }, ConditionExpression: 'attribute_not_exists(s)' } },
        { Put: { TableName: this.names.folders, Item: item, ConditionExpression: 'attribute_not_exists(s)' } },
      ]);
      if (r.ok) return toFolder(item, subbed);
      if (r.reasons[0] === 'ConditionalCheckFailed') throw new StoreError('no such account', 'NOT_FOUND');
      if (r.reasons[2] === 'ConditionalCheckFailed') throw new StoreError('folder exists', 'ALREADY_EXISTS');
      return RETRY;
    });
    // A second write (the subscription counter's limit condition does not fit the folder
    // transaction's retry logic); a LIMIT here leaves the folder created, not subscribed.
    if (subscribed) await this.subscribe(accountId, n);
    return created;
  }

  /** One GetItem; with { subscribed: true }, one more of the name's subscription item. */
  async getFolder(accountId: string, folderId: string, opts?: FolderReadOptions): Promise<Folder | null> {
    this.ensureOpen();
    const it = await this.loadFolder(accountId, folderId);
    if (it === null) return null;
    return toFolder(it, opts?.subscribed === true ? await this.isSubscribed(accountId, it.n as string) : undefined);
  }

  /** Two GetItems (name item, then folder item); with { subscribed: true }, a third in parallel with the second. */
  async getFolderByName(accountId: string, name: string, opts?: FolderReadOptions): Promise<Folder | null> {
    this.ensureOpen();
    let n: string;
    try {
      n = canonicalFolderName(name);
    } catch {
      return null; // an ill-formed name names no folder
    }
    if (!isId(accountId)) return null;
    const r = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.folders, Key: { a: accountId, s: nameSk(n) }, ConsistentRead: true }),
      'folder read',
    );
    if (r.Item === undefined) return null;
    const [f, subbed] = await Promise.all([
      this.loadFolder(accountId, r.Item.id as string),
      opts?.subscribed === true ? this.isSubscribed(accountId, n) : Promise.resolve(undefined),
    ]);
    return f !== null && f.n === n ? toFolder(f, subbed) : null;
  }

  async listFolders(accountId: string): Promise<ListedFolder[]> {
    this.ensureOpen();
    if (!isId(accountId)) return [];
    const [items, subs] = await Promise.all([
      this.queryAll(
        {
          TableName: this.names.folders,
          KeyConditionExpression: 'a = :a AND begins_with(s, :p)',
          ExpressionAttributeValues: { ':a': accountId, ':p': 'F#' },
          ConsistentRead: true,
        },
        'folder listing',
      ),
      this.listSubscriptions(accountId),
    ]);
    const subscribed = new Set(subs);
    // Folder items written before subscriptions were kept apart carry `sub`: move it to the list.
    for (const it of items) {
      if (it.sub === undefined) continue;
      if (it.sub === true) {
        await this.subscribe(accountId, it.n as string).catch(() => undefined);
        subscribed.add(it.n as string);
      }
      await this.send(
        new UpdateCommand({
          TableName: this.names.folders,
          Key: { a: accountId, s: it.s },
          UpdateExpression: 'REMOVE #sub',
          ConditionExpression: 'attribute_exists(s)',
          ExpressionAttributeNames: { '#sub': 'sub' },
        }),
        'subscription migration',
      ).catch(() => undefined);
    }
    return items
      .map((it) => toFolder(it, subscribed.has(it.n as string)))
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  }

  async renameFolder(accountId: string, folderId: string, newName: string): Promise<ListedFolder> {
    this.ensureOpen();
    const n = canonicalFolderName(newName);
    return await this.mutex.run([folderId], () =>
      this.retrying('rename folder', async () => {
        const f = await this.requireFolder(accountId, folderId);
        const old = f.n as string;
        const [oldSub, newSub] = await Promise.all([this.isSubscribed(accountId, old), this.isSubscribed(accountId, n)]);
        if (old === n) return toFolder(f, oldSub);
        // The subscription of the old name moves to the new one, in the same transaction.
        const subMove: TxItem[] = [];
        if (oldSub) {
          subMove.push(
            { Delete: { TableName: this.names.folders, Key: { a: accountId, s: subSk(old) }, ConditionExpression: 'attribute_exists(s)' } },
            {
              Put: {
                TableName: this.names.folders,
                Item: { a: accountId, s: subSk(n), n },
                ConditionExpression: newSub ? 'attribute_exists(s)' : 'attribute_not_exists(s)',
              },
            },
          );
          if (newSub) {
            subMove.push({
              Update: {
                TableName: this.names.folders,
                Key: { a: accountId, s: SUB_COUNT_SK },
                UpdateExpression: 'ADD c :minus',
                ExpressionAttributeValues: { ':minus': -1 },
              },
            });
          }
        }
        const r = await this.tx([
          {
            Update: {
              TableName: this.names.folders,
              Key: this.folderKey(accountId, folderId),
              UpdateExpression: 'SET n = :n',
              ConditionExpression: 'n = :old',
              ExpressionAttributeValues: { ':n': n, ':old': f.n },
            },
          },
          {
            Delete: {
              TableName: this.names.folders,
              Key: { a: accountId, s: nameSk(f.n as string) },
              ConditionExpression: 'id = :id',
              ExpressionAttributeValues: { ':id': folderId },
            },
          },
          { Put: { TableName: this.names.folders, Item: { a: accountId, s: nameSk(n), id: folderId }, ConditionExpression: 'attribute_not_exists(s)' } },
          ...subMove,
        ]);
        if (r.ok) return toFolder({ ...f, n }, oldSub || newSub);
        if (r.reasons[2] === 'ConditionalCheckFailed') throw new StoreError('folder exists', 'ALREADY_EXISTS');
        return RETRY;
      }),
    );
  }

  async setSubscribed(accountId: string, folderId: string, subscribed: boolean): Promise<void> {
    this.ensureOpen();
    const f = await this.requireFolder(accountId, folderId);
    if (subscribed) await this.subscribe(accountId, f.n as string);
    else await this.unsubscribe(accountId, f.n as string);
  }

  // ---- subscriptions ----

  private async isSubscribed(accountId: string, name: string): Promise<boolean> {
    const r = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.folders, Key: { a: accountId, s: subSk(name) }, ConsistentRead: true, ProjectionExpression: 's' }),
      'subscription read',
    );
    return r.Item !== undefined;
  }

  async listSubscriptions(accountId: string): Promise<string[]> {
    this.ensureOpen();
    if (!isId(accountId)) return [];
    const items = await this.queryAll(
      {
        TableName: this.names.folders,
        KeyConditionExpression: 'a = :a AND begins_with(s, :p)',
        ExpressionAttributeValues: { ':a': accountId, ':p': SUB_PREFIX },
        ProjectionExpression: 'n',
        ConsistentRead: true,
      },
      'subscription listing',
    );
    return items.map((it) => it.n as string).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  }

  async subscribe(accountId: string, name: string): Promise<void> {
    this.ensureOpen();
    const n = canonicalFolderName(name);
    if (!isId(accountId)) throw new StoreError('no such account', 'NOT_FOUND');
    await this.retrying('subscribe', async () => {
      const r = await this.tx([
        {
          ConditionCheck: {
            TableName: this.names.directory,
            Key: { pk: `ID#${accountId}`, sk: 'ACCT' },
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        { Put: { TableName: this.names.folders, Item: { a: accountId, s: subSk(n), n }, ConditionExpression: 'attribute_not_exists(s)' } },
        {
          Update: {
            TableName: this.names.folders,
            Key: { a: accountId, s: SUB_COUNT_SK },
            UpdateExpression: 'ADD c :one',
            ConditionExpression: 'attribute_not_exists(c) OR c < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': this.maxSubscriptions },
          },
        },
      ]);
      if (r.ok) return true;
      if (r.reasons[0] === 'ConditionalCheckFailed') throw new StoreError('no such account', 'NOT_FOUND');
      if (r.reasons[1] === 'ConditionalCheckFailed') return true; // already subscribed
      if (r.reasons[2] === 'ConditionalCheckFailed') throw new StoreError(`too many subscriptions (max ${this.maxSubscriptions})`, 'LIMIT');
      return RETRY;
    });
  }

  async unsubscribe(accountId: string, name: string): Promise<void> {
    this.ensureOpen();
    let n: string;
    try {
      n = canonicalFolderName(name);
    } catch {
      return; // an ill-formed name is never subscribed
    }
    if (!isId(accountId)) return;
    await this.retrying('unsubscribe', async () => {
      const r = await this.tx([
        { Delete: { TableName: this.names.folders, Key: { a: accountId, s: subSk(n) }, ConditionExpression: 'attribute_exists(s)' } },
        {
          Update: {
            TableName: this.names.folders,
            Key: { a: accountId, s: SUB_COUNT_SK },
            UpdateExpression: 'ADD c :minus',
            ExpressionAttributeValues: { ':minus': -1 },
          },
        },
      ]);
      if (r.ok) return true;
      if (r.reasons[0] === 'ConditionalCheckFailed') return true; // not subscribed
      return RETRY;
    });
  }

  async deleteFolder(accountId: string, folderId: string): Promise<void> {
    this.ensureOpen();
    await this.mutex.run([folderId], () =>
      this.retrying('delete folder', async () => {
        const f = await this.requireFolder(accountId, folderId);
        const r = await this.tx([
          {
            Delete: {
              TableName: this.names.folders,
              Key: this.folderKey(accountId, folderId),
              ConditionExpression: 'n = :n',
              ExpressionAttributeValues: { ':n': f.n },
            },
          },
          {
            Delete: {
              TableName: this.names.folders,
              Key: { a: accountId, s: nameSk(f.n as string) },
              ConditionExpression: 'id = :id',
              ExpressionAttributeValues: { ':id': folderId },
            },
          },
          {
            Update: {
              TableName: this.names.folders,
              Key: { a: accountId, s: 'V' },
              UpdateExpression: 'ADD c :minus',
              ExpressionAttributeValues: { ':minus': -1 },
            },
          },
          { Put: { TableName: this.names.folders, Item: { a: GC_PK, s: `F#${accountId}#${folderId}`, t: this.now() } } },
        ]);
        return r.ok ? true : RETRY;
      }),
    );
    this.cache.delete(folderId);
    await this.cleanupFolder(accountId, folderId);
    await this.send(new DeleteCommand({ TableName: this.names.folders, Key: { a: GC_PK, s: `F#${accountId}#${folderId}` } }), 'cleanup');
  }

  /**
   * Removes what a deleted folder left (its folder item is already gone, so nothing new can
   * arrive): messages with their index items and blob references, journal, append ids.
   * Each step is idempotent; an interrupted cleanup stays queued under pk "#gc" and
   * sweepOrphanBlobs() finishes it.
   */
  private async cleanupFolder(accountId: string, folderId: string): Promise<void> {
    for (;;) {
      const page = await this.send<{ Items?: Item[] }>(
        new QueryCommand({
          TableName: this.names.messages,
          KeyConditionExpression: 'f = :f',
          ExpressionAttributeValues: { ':f': folderId },
          ProjectionExpression: 'u, b',
          ConsistentRead: true,
          Limit: 500,
        }),
        'cleanup',
      );
      const msgs = page.Items ?? [];
      if (msgs.length === 0) break;
      const released: string[] = [];
      for (const chunk of chunked(msgs, () => ({ items: 3, bytes: 0 }), 0)) {
        const refs = new Map<string, number>();
        for (const m of chunk) {
          const k = blobKeyOf(accountId, m.b);
          refs.set(k, (refs.get(k) ?? 0) + 1);
        }
        const items: TxItem[] = [];
        for (const m of chunk) {
          items.push({
            Delete: { TableName: this.names.messages, Key: { f: folderId, u: m.u }, ConditionExpression: 'attribute_exists(u)' },
          });
          items.push({ Delete: { TableName: this.names.index, Key: { f: folderId, u: m.u } } });
        }
        for (const [k, n] of refs) items.push(this.refUpdate(k, -n));
        const ok = await this.retrying('cleanup', async () => {
          const r = await this.tx(items);
          if (r.ok) return true;
          if (r.reasons.includes('ConditionalCheckFailed')) return false; // someone else is cleaning up too
          return RETRY;
        });
        if (ok) released.push(...refs.keys());
      }
      await this.releaseBlobs(released);
    }
    const journal = await this.queryAll(
      {
        TableName: this.names.journal,
        KeyConditionExpression: 'f = :f',
        ExpressionAttributeValues: { ':f': folderId },
        ProjectionExpression: 'f, m',
        ConsistentRead: true,
      },
      'cleanup',
    );
    await this.batchDelete(this.names.journal, journal, 'cleanup');
    const ids = await this.queryAll(
      {
        TableName: this.names.folders,
        KeyConditionExpression: 'a = :a AND begins_with(s, :p)',
        ExpressionAttributeValues: { ':a': accountId, ':p': `I#${folderId}#` },
        ProjectionExpression: 'a, s',
        ConsistentRead: true,
      },
      'cleanup',
    );
    await this.batchDelete(this.names.folders, ids, 'cleanup');
  }

  /** Removes every folder of a deleted account, then the rest of its partition. */
  private async gcAccount(accountId: string): Promise<void> {
    const all = await this.queryAll(
      {
        TableName: this.names.folders,
        KeyConditionExpression: 'a = :a AND begins_with(s, :p)',
        ExpressionAttributeValues: { ':a': accountId, ':p': 'F#' },
        ProjectionExpression: 'a, s, id',
        ConsistentRead: true,
      },
      'cleanup',
    );
    for (const f of all) {
      // The folder item goes first: appends are conditional on it, so nothing new arrives.
      await this.mutex.run([f.id as string], async () => {
        await this.send(new DeleteCommand({ TableName: this.names.folders, Key: { a: accountId, s: f.s } }), 'cleanup');
        this.cache.delete(f.id as string);
      });
      await this.cleanupFolder(accountId, f.id as string);
    }
    const rest = await this.queryAll(
      {
        TableName: this.names.folders,
        KeyConditionExpression: 'a = :a',
        ExpressionAttributeValues: { ':a': accountId },
        ProjectionExpression: 'a, s',
        ConsistentRead: true,
      },
      'cleanup',
    );
    await this.batchDelete(this.names.folders, rest, 'cleanup');
  }

  // ---- blob references ----

  private refUpdate(blobKey: string, delta: number): TxItem {
    if (delta > 0) {
      return {
        Update: {
          TableName: this.names.blobs,
          Key: { k: blobKey },
          UpdateExpression: 'SET t = if_not_exists(t, :now) ADD r :d',
          // A tombstone (refs 0) means the object is being deleted: no new reference.
          ConditionExpression: 'attribute_not_exists(r) OR r > :zero',
          ExpressionAttributeValues: { ':d': delta, ':zero': 0, ':now': this.now() },
        },
      };
    }
    return {
      Update: {
        TableName: this.names.blobs,
        Key: { k: blobKey },
        UpdateExpression: 'ADD r :d',
        ExpressionAttributeValues: { ':d': delta },
      },
    };
  }

  /** After a commit that dropped references: deletes the blobs nobody points at any more. */
  private async releaseBlobs(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      const items = await this.batchGet(
        this.names.blobs,
        [...new Set(keys)].map((k) => ({ k })),
        'blob references',
      );
      for (const it of items) {
        if ((it.r as number) > 0) continue;
        if (await this.tombstone(it.k as string)) await this.blobs.delete(it.k as string);
      }
    } catch {
      // Committed already; a blob left behind is an orphan that sweepOrphanBlobs() collects.
    }
  }

  /** Marks a blob as deleted (refs 0, expiring) unless something references it; true if marked. */
  private async tombstone(blobKey: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.names.blobs,
          Key: { k: blobKey },
          UpdateExpression: 'SET r = if_not_exists(r, :zero), exp = :exp',
          ConditionExpression: 'attribute_not_exists(r) OR r <= :zero',
          ExpressionAttributeValues: { ':zero': 0, ':exp': this.expiry(this.now(), TOMBSTONE_TTL_MS) },
        }),
      );
      return true;
    } catch (e) {
      if (awsErrorName(e) === 'ConditionalCheckFailedException') return false;
      throw mapAwsError(e, 'blob tombstone');
    }
  }

  // ---- messages ----

  async appendMessage(accountId: string, folderId: string, msg: NewMessage): Promise<AppendResult> {
    this.ensureOpen();
    checkObject(msg, 'message');
    const blobKey = validateBlobKey(msg.blobKey);
    const size = checkNonNegInt(msg.size, 'size');
    if (!Number.isSafeInteger(msg.internalDate)) throw new StoreError('invalid internal date', 'INVALID');
    const flags = canonicalFlags(msg.flags);
    if (flags.length > this.maxFlags) throw new StoreError(`too many flags (max ${this.maxFlags})`, 'LIMIT');
    const x = encodeIndex(checkObject(msg.index, 'index'));
    const appendId = msg.appendId === undefined ? undefined : checkString(msg.appendId, 'append id', 256);
    if (!isId(accountId) || !isId(folderId)) throw new StoreError('no such folder', 'NONEXISTENT');
    if (this.verifyBlobs) {
      const h = await this.blobs.head(blobKey);
      if (h === null) throw new StoreError(`blob not found: ${blobKey}`, 'NOT_FOUND');
      if (h.size !== size) throw new StoreError(`size ${size} differs from the blob's ${h.size}`, 'INVALID');
    }
    return await new Promise<AppendResult>((resolve, reject) => {
      const p: PendingAppend = { accountId, blobKey, size, internalDate: msg.internalDate, flags, x, appendId, now: this.now(), resolve, reject };
      let q = this.appendQueues.get(folderId);
      if (q === undefined) {
        q = [];
        this.appendQueues.set(folderId, q);
        q.push(p);
        void this.drainAppends(folderId);
      } else {
        q.push(p);
      }
    });
  }

  /**
   * Group commit: appends to one folder that wait while an earlier one commits go together
   * in the next transaction (as many as fit in 100 items / 3 MB), each with its own UID,
   * modseq and journal entry, so concurrent APPENDs cost one transaction per batch.
   */
  private async drainAppends(folderId: string): Promise<void> {
    const q = this.appendQueues.get(folderId)!;
    try {
      await this.mutex.run([folderId], async () => {
        while (q.length > 0) {
          const batch: PendingAppend[] = [];
          let items = 1;
          let bytes = 0;
          const ids = new Set<string>();
          const blobs = new Set<string>();
          while (q.length > 0) {
            const p = q[0]!;
            const need = 3 + (p.appendId !== undefined ? 1 : 0) + (blobs.has(p.blobKey) ? 0 : 1);
            if (batch.length > 0 && (p.accountId !== batch[0]!.accountId || items + need > MAX_TX_ITEMS || bytes + p.x.length > MAX_TX_BYTES)) break;
            if (p.appendId !== undefined && ids.has(p.appendId)) break;
            q.shift();
            batch.push(p);
            items += need;
            bytes += p.x.length + 1024;
            if (p.appendId !== undefined) ids.add(p.appendId);
            blobs.add(p.blobKey);
          }
          try {
            await this.commitAppends(folderId, batch);
          } catch (e) {
            for (const p of batch) p.reject(e);
          }
        }
      });
    } catch (e) {
      for (const p of q.splice(0)) p.reject(e);
    } finally {
      this.appendQueues.delete(folderId);
      // Appends that arrived after the loop ended start a new drain.
      if (q.length > 0) {
        this.appendQueues.set(folderId, q);
        void this.drainAppends(folderId);
      }
    }
  }

  private async commitAppends(folderId: string, initial: PendingAppend[]): Promise<void> {
    let batch = initial;
    const accountId = batch[0]!.accountId;
    await this.retrying('append', async (attempt): Promise<true | Retry> => {
      if (batch.length === 0) return true;
      const st = await this.folderState(accountId, folderId, attempt > 0);
      const n = batch.length;
      if (st.uidNext + n - 1 > MAX_UID) throw new StoreError('UID space of the folder is exhausted', 'LIMIT');
      const items: TxItem[] = [this.folderUpdate(st, st.uidNext + n, st.hm + n, n, batch.reduce((t, p) => t + p.size, 0))];
      // Which append (or blob key) each transaction item belongs to, to read cancellation reasons.
      const owner: Array<{ kind: 'folder' | 'msg' | 'id' | 'blob'; i?: number; key?: string }> = [{ kind: 'folder' }];
      const refs = new Map<string, number>();
      batch.forEach((p, i) => {
        const uid = st.uidNext + i;
        const modseq = st.hm + 1 + i;
        const meta = metaItem(folderId, uid, modseq, p.flags, p.internalDate, p.size, blobAttr(accountId, p.blobKey));
        items.push({ Put: { TableName: this.names.messages, Item: meta as unknown as Item, ConditionExpression: 'attribute_not_exists(u)' } });
        items.push({ Put: { TableName: this.names.index, Item: { f: folderId, u: uid, x: p.x } } });
        items.push(this.journalPut(folderId, modseq, uid, 'new', p.flags, p.now));
        owner.push({ kind: 'msg', i }, { kind: 'msg', i }, { kind: 'msg', i });
        if (p.appendId !== undefined) {
          items.push({
            Put: {
              TableName: this.names.folders,
              Item: { a: accountId, s: `I#${folderId}#${p.appendId}`, uid, ms: modseq, uv: st.uidValidity, exp: this.expiry(p.now, this.retentionMs) },
              ConditionExpression: 'attribute_not_exists(s)',
            },
          });
          owner.push({ kind: 'id', i });
        }
        refs.set(p.blobKey, (refs.get(p.blobKey) ?? 0) + 1);
      });
      for (const [k, d] of refs) {
        items.push(this.refUpdate(k, d));
        owner.push({ kind: 'blob', key: k });
      }
      const r = await this.tx(items);
      if (r.ok) {
        batch.forEach((p, i) => p.resolve({ uid: st.uidNext + i, modseq: st.hm + 1 + i, uidValidity: st.uidValidity }));
        st.uidNext += n;
        st.hm += n;
        batch = [];
        return true;
      }
      this.cache.delete(folderId);
      if (r.reasons[0] === 'ConditionalCheckFailed' || r.reasons.some((c) => c !== 'None' && c !== 'ConditionalCheckFailed')) {
        return RETRY; // lost the folder condition, a conflict or throttling: re-read, try again
      }
      // Settle the appends whose own condition failed; the rest go again at once.
      const settled = new Set<number>();
      for (let j = 0; j < r.reasons.length; j++) {
        if (r.reasons[j] !== 'ConditionalCheckFailed') continue;
        const o = owner[j]!;
        if (o.kind === 'blob') {
          batch.forEach((p, i) => {
            if (p.blobKey === o.key && !settled.has(i)) {
              settled.add(i);
              p.reject(new StoreError(`blob not found (being deleted): ${p.blobKey}`, 'NOT_FOUND'));
            }
          });
        } else if (o.kind === 'id' && !settled.has(o.i!)) {
          const p = batch[o.i!]!;
          settled.add(o.i!);
          try {
            const prior = await this.send<{ Item?: Item }>(
              new GetCommand({ TableName: this.names.folders, Key: { a: accountId, s: `I#${folderId}#${p.appendId!}` }, ConsistentRead: true }),
              'append id read',
            );
            if (prior.Item === undefined) settled.delete(o.i!); // expired meanwhile: append anew
            else p.resolve({ uid: prior.Item.uid as number, modseq: prior.Item.ms as number, uidValidity: prior.Item.uv as number });
          } catch (e) {
            p.reject(e);
          }
        }
      }
      batch = batch.filter((_, i) => !settled.has(i));
      return RETRY;
    });
  }

  async listMessages(accountId: string, folderId: string, range?: { uidFrom?: number; uidTo?: number }): Promise<MessageMeta[]> {
    this.ensureOpen();
    const from = range?.uidFrom ?? 1;
    const to = range?.uidTo ?? MAX_UID;
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw new StoreError('invalid UID range', 'INVALID');
    const lo = Math.max(from, 1);
    const hi = Math.min(to, MAX_UID);
    const [, items] = await Promise.all([
      this.requireFolder(accountId, folderId),
      lo > hi
        ? Promise.resolve([] as Item[])
        : this.queryAll(
            {
              TableName: this.names.messages,
              KeyConditionExpression: 'f = :f AND u BETWEEN :lo AND :hi',
              ExpressionAttributeValues: { ':f': folderId, ':lo': lo, ':hi': hi },
              ConsistentRead: true,
            },
            'message listing',
          ),
    ]);
    return items.map((m) => toMeta(accountId, m));
  }

  async getMessage(accountId: string, folderId: string, uid: number): Promise<StoredMessage | null> {
    this.ensureOpen();
    if (!Number.isInteger(uid) || uid < 1 || uid > MAX_UID) {
      await this.requireFolder(accountId, folderId);
      return null;
    }
    if (!isId(accountId) || !isId(folderId)) throw new StoreError('no such folder', 'NONEXISTENT');
    // One round trip: the folder (existence), the message record and its index.
    const got = new Map<string, Item[]>();
    let request: Record<string, { Keys: Item[]; ConsistentRead: boolean; ProjectionExpression?: string; ExpressionAttributeNames?: Record<string, string> }> = {
      [this.names.folders]: { Keys: [this.folderKey(accountId, folderId)], ConsistentRead: true, ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 's' } },
      [this.names.messages]: { Keys: [{ f: folderId, u: uid }], ConsistentRead: true },
      [this.names.index]: { Keys: [{ f: folderId, u: uid }], ConsistentRead: true },
    };
    for (let attempt = 0; Object.keys(request).length > 0; attempt++) {
      if (attempt >= this.maxAttempts) throw new StoreError('message read: throttled; retry later', 'UNAVAILABLE');
      if (attempt > 0) await sleep(backoffMs(attempt + 1));
      const r = await this.send<{ Responses?: Record<string, Item[]>; UnprocessedKeys?: typeof request }>(
        new BatchGetCommand({ RequestItems: request }),
        'message read',
      );
      for (const [t, items] of Object.entries(r.Responses ?? {})) got.set(t, [...(got.get(t) ?? []), ...items]);
      request = r.UnprocessedKeys ?? {};
    }
    if ((got.get(this.names.folders) ?? []).length === 0) throw new StoreError('no such folder', 'NONEXISTENT');
    const m = got.get(this.names.messages)?.[0];
    const i = got.get(this.names.index)?.[0];
    if (m === undefined || i === undefined) return null;
    return { ...toMeta(accountId, m), index: decodeIndex(i.x) };
  }

  /** Ascending by UID; missing UIDs are omitted. */
  async getMessages(accountId: string, folderId: string, uids: number[]): Promise<StoredMessage[]> {
    this.ensureOpen();
    const list = checkUids(uids, this.maxUids);
    const [, metas, idx] = await Promise.all([
      this.requireFolder(accountId, folderId),
      this.readByUid(this.names.messages, folderId, list, 'message read'),
      this.readByUid(this.names.index, folderId, list, 'message read'),
    ]);
    const out: StoredMessage[] = [];
    for (const uid of list) {
      const m = metas.get(uid);
      const i = idx.get(uid);
      if (m !== undefined && i !== undefined) out.push({ ...toMeta(accountId, m), index: decodeIndex(i.x) });
    }
    return out;
  }

  async updateFlags(accountId: string, folderId: string, update: FlagUpdate): Promise<FlagUpdateResult> {
    this.ensureOpen();
    checkObject(update, 'flag update');
    const uids = checkUids(update.uids, this.maxUids);
    const op = update.op;
    if (op !== 'add' && op !== 'remove' && op !== 'replace') throw new StoreError('invalid flag operation', 'INVALID');
    const change = canonicalFlags(update.flags);
    const since = update.unchangedSince === undefined ? undefined : checkNonNegInt(update.unchangedSince, 'unchangedSince');
    if (!isId(accountId) || !isId(folderId)) throw new StoreError('no such folder', 'NONEXISTENT');
    const now = this.now();
    const updated: MessageMeta[] = [];
    const done = new Set<number>();
    return await this.mutex.run([folderId], () =>
      this.retrying('flag update', async (attempt): Promise<FlagUpdateResult | Retry> => {
        const st = await this.folderState(accountId, folderId, attempt > 0);
        const pending = uids.filter((u) => !done.has(u));
        const metas = await this.readByUid(this.names.messages, folderId, pending, 'message read');
        const modified: number[] = [];
        const changes: Array<{ m: Item; next: string[] }> = [];
        for (const uid of pending) {
          const m = metas.get(uid);
          if (m === undefined) continue;
          if (since !== undefined && (m.ms as number) > since) {
            modified.push(uid);
            continue;
          }
          const cur = itemFlags(m);
          const next = applyFlagOp(cur, op, change);
          if (sameFlags(cur, next)) continue;
          if (next.length > this.maxFlags) throw new StoreError(`too many flags (max ${this.maxFlags})`, 'LIMIT');
          changes.push({ m, next });
        }
        for (const chunk of chunked(changes, () => ({ items: 2, bytes: 0 }), 1)) {
          const items: TxItem[] = [this.folderUpdate(st, st.uidNext, st.hm + chunk.length, 0, 0)];
          chunk.forEach(({ m, next }, i) => {
            const ms = st.hm + 1 + i;
            const fu = flagUpdate(next);
            items.push({
              Update: {
                TableName: this.names.messages,
                Key: { f: folderId, u: m.u },
                UpdateExpression: [`SET ${['ms = :ms', ...fu.set].join(', ')}`, ...(fu.remove.length > 0 ? [`REMOVE ${fu.remove.join(', ')}`] : [])].join(' '),
                ConditionExpression: 'attribute_exists(u)',
                ExpressionAttributeValues: { ':ms': ms, ...fu.values },
              },
            });
            items.push(this.journalPut(folderId, ms, m.u as number, 'flags', next, now));
          });
          const r = await this.tx(items);
          if (!r.ok) {
            this.cache.delete(folderId);
            return RETRY;
          }
          chunk.forEach(({ m, next }, i) => {
            done.add(m.u as number);
            updated.push({ ...toMeta(accountId, m), flags: next, modseq: st.hm + 1 + i });
          });
          st.hm += chunk.length;
        }
        updated.sort((a, b) => a.uid - b.uid);
        return { updated, modified };
      }),
    );
  }

  async expunge(accountId: string, folderId: string, uids: number[]): Promise<number[]> {
    this.ensureOpen();
    const list = checkUids(uids, this.maxUids);
    if (!isId(accountId) || !isId(folderId)) throw new StoreError('no such folder', 'NONEXISTENT');
    const now = this.now();
    const removed: number[] = [];
    const released: string[] = [];
    const done = new Set<number>();
    await this.mutex.run([folderId], () =>
      this.retrying('expunge', async (attempt): Promise<true | Retry> => {
        const st = await this.folderState(accountId, folderId, attempt > 0);
        const pending = list.filter((u) => !done.has(u));
        const metas = [...(await this.readByUid(this.names.messages, folderId, pending, 'message read')).values()];
        for (const chunk of chunked(metas, () => ({ items: 4, bytes: 0 }), 1)) {
          const refs = new Map<string, number>();
          let bytes = 0;
          const items: TxItem[] = [];
          chunk.forEach((m, i) => {
            const k = blobKeyOf(accountId, m.b);
            refs.set(k, (refs.get(k) ?? 0) - 1);
            bytes += m.z as number;
            items.push({ Delete: { TableName: this.names.messages, Key: { f: folderId, u: m.u }, ConditionExpression: 'attribute_exists(u)' } });
            items.push({ Delete: { TableName: this.names.index, Key: { f: folderId, u: m.u } } });
            items.push(this.journalPut(folderId, st.hm + 1 + i, m.u as number, 'expunge', null, now));
          });
          for (const [k, d] of refs) items.push(this.refUpdate(k, d));
          items.unshift(this.folderUpdate(st, st.uidNext, st.hm + chunk.length, -chunk.length, -bytes));
          const r = await this.tx(items);
          if (!r.ok) {
            this.cache.delete(folderId);
            return RETRY;
          }
          for (const m of chunk) {
            done.add(m.u as number);
            removed.push(m.u as number);
          }
          released.push(...refs.keys());
          st.hm += chunk.length;
        }
        return true;
      }),
    );
    await this.releaseBlobs(released);
    return removed.sort((a, b) => a - b);
  }

  async copyMessages(accountId: string, fromFolderId: string, uids: number[], toFolderId: string): Promise<CopyResult> {
    return await this.transfer(accountId, fromFolderId, uids, toFolderId, false);
  }

  async moveMessages(accountId: string, fromFolderId: string, uids: number[], toFolderId: string): Promise<CopyResult> {
    return await this.transfer(accountId, fromFolderId, uids, toFolderId, true);
  }

  /**
   * COPY and MOVE. Each chunk is one transaction. A copy takes one more reference on each
   * blob (refused if the blob is a tombstone: its source was expunged meanwhile, so the copy
   * re-reads); a move deletes the source records in the same transaction and leaves the
   * reference counts alone.
   */
  private async transfer(accountId: string, fromId: string, uids: number[], toId: string, move: boolean): Promise<CopyResult> {
    this.ensureOpen();
    const list = checkUids(uids, this.maxUids);
    if (!isId(accountId) || !isId(fromId) || !isId(toId)) throw new StoreError('no such folder', 'NONEXISTENT');
    const now = this.now();
    const mapping: Array<[number, number]> = [];
    const done = new Set<number>();
    const same = fromId === toId;
    return await this.mutex.run([fromId, toId], () =>
      this.retrying(move ? 'move' : 'copy', async (attempt): Promise<CopyResult | Retry> => {
        const src = await this.folderState(accountId, fromId, attempt > 0);
        const dst = same ? src : await this.folderState(accountId, toId, attempt > 0);
        const pending = list.filter((u) => !done.has(u));
        const metas = await this.readByUid(this.names.messages, fromId, pending, 'message read');
        const idx = await this.readByUid(this.names.index, fromId, [...metas.keys()], 'message read');
        const todo = [...metas.values()].filter((m) => idx.has(m.u as number));
        const perMsg = move ? 6 : 4;
        const fixed = move && !same ? 2 : 1;
        for (const chunk of chunked(todo, (m) => ({ items: perMsg, bytes: (idx.get(m.u as number)!.x as Uint8Array).length + 512 }), fixed)) {
          const n = chunk.length;
          if (dst.uidNext + n - 1 > MAX_UID) throw new StoreError('UID space of the folder is exhausted', 'LIMIT');
          const items: TxItem[] = [];
          const refs = new Map<string, number>();
          let bytes = 0;
          const pairs: Array<[number, number]> = [];
          chunk.forEach((m, i) => {
            const newUid = dst.uidNext + i;
            const ms = dst.hm + 1 + i;
            bytes += m.z as number;
            pairs.push([m.u as number, newUid]);
            const flags = itemFlags(m);
            // Same account, so the blob attribute carries over as it is.
            const copy = metaItem(toId, newUid, ms, flags, m.d as number, m.z as number, m.b as Uint8Array | string);
            items.push({
              Put: {
                TableName: this.names.messages,
                Item: copy as unknown as Item,
                ConditionExpression: 'attribute_not_exists(u)',
              },
            });
            items.push({ Put: { TableName: this.names.index, Item: { f: toId, u: newUid, x: idx.get(m.u as number)!.x } } });
            items.push(this.journalPut(toId, ms, newUid, 'new', flags, now));
            if (!move) {
              const k = blobKeyOf(accountId, m.b);
              refs.set(k, (refs.get(k) ?? 0) + 1);
            }
          });
          if (move) {
            // The source's modseqs follow the destination's when both are one folder.
            const base = same ? dst.hm + n : src.hm;
            chunk.forEach((m, i) => {
              items.push({
                Delete: { TableName: this.names.messages, Key: { f: fromId, u: m.u }, ConditionExpression: 'attribute_exists(u)' },
              });
              items.push({ Delete: { TableName: this.names.index, Key: { f: fromId, u: m.u } } });
              items.push(this.journalPut(fromId, base + 1 + i, m.u as number, 'expunge', null, now));
            });
            if (same) {
              items.unshift(this.folderUpdate(dst, dst.uidNext + n, dst.hm + 2 * n, 0, 0));
            } else {
              items.unshift(this.folderUpdate(src, src.uidNext, src.hm + n, -n, -bytes));
              items.unshift(this.folderUpdate(dst, dst.uidNext + n, dst.hm + n, n, bytes));
            }
          } else {
            for (const [k, d] of refs) items.push(this.refUpdate(k, d));
            items.unshift(this.folderUpdate(dst, dst.uidNext + n, dst.hm + n, n, bytes));
          }
          const r = await this.tx(items);
          if (!r.ok) {
            this.cache.delete(fromId);
            this.cache.delete(toId);
            return RETRY;
          }
          for (const p of pairs) {
            done.add(p[0]);
            mapping.push(p);
          }
          if (move && same) {
            dst.uidNext += n;
            dst.hm += 2 * n;
          } else {
            dst.uidNext += n;
            dst.hm += n;
            if (move) src.hm += n;
          }
        }
        mapping.sort((a, b) => a[0] - b[0]);
        return { uidValidity: dst.uidValidity, mapping };
      }),
    );
  }

  // ---- change journal ----

  async changesSince(accountId: string, folderId: string, sinceModseq: number, limit?: number): Promise<JournalEntry[]> {
    this.ensureOpen();
    const since = checkNonNegInt(sinceModseq, 'modseq');
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new StoreError('invalid limit', 'INVALID');
    const [, items] = await Promise.all([
      this.requireFolder(accountId, folderId),
      this.queryAll(
        {
          TableName: this.names.journal,
          KeyConditionExpression: 'f = :f AND m > :since',
          ExpressionAttributeValues: { ':f': folderId, ':since': since },
          ConsistentRead: true,
          ...(limit !== undefined ? { Limit: limit } : {}),
        },
        'journal read',
        limit ?? Infinity,
      ),
    ]);
    return items.map(toJournal);
  }

  // ---- settings ----

  async getProtocolSettings(protocol: ProtocolName): Promise<SettingsRecord<ProtocolSettings> | null> {
    this.ensureOpen();
    const r = await this.send<{ Item?: Item }>(
      new GetCommand({ TableName: this.names.directory, Key: { pk: SETTINGS_PK, sk: checkProtocol(protocol) }, ConsistentRead: true }),
      'settings read',
    );
    return r.Item === undefined ? null : { value: JSON.parse(r.Item.val as string) as ProtocolSettings, version: r.Item.ver as number };
  }

  /** expectedVersion 0 means "only if no record exists yet". */
  async putProtocolSettings(protocol: ProtocolName, value: ProtocolSettings, expectedVersion?: number): Promise<SettingsRecord<ProtocolSettings>> {
    this.ensureOpen();
    const p = checkProtocol(protocol);
    const json = JSON.stringify(checkObject(value, 'settings'));
    return await this.retrying('settings update', async () => {
      const r = await this.send<{ Item?: Item }>(
        new GetCommand({ TableName: this.names.directory, Key: { pk: SETTINGS_PK, sk: p }, ConsistentRead: true }),
        'settings read',
      );
      const cur = (r.Item?.ver as number | undefined) ?? 0;
      if (expectedVersion !== undefined && expectedVersion !== cur) {
        throw new StoreError(`settings version is ${cur}, not ${expectedVersion}`, 'CONFLICT');
      }
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.names.directory,
            Item: { pk: SETTINGS_PK, sk: p, val: json, ver: cur + 1 },
            ConditionExpression: cur === 0 ? 'attribute_not_exists(sk)' : 'ver = :v',
            ...(cur === 0 ? {} : { ExpressionAttributeValues: { ':v': cur } }),
          }),
        );
      } catch (e) {
        if (awsErrorName(e) === 'ConditionalCheckFailedException') {
          if (expectedVersion !== undefined) throw new StoreError('settings changed concurrently', 'CONFLICT');
          return RETRY;
        }
        throw mapAwsError(e, 'settings update');
      }
      return { value: JSON.parse(json) as ProtocolSettings, version: cur + 1 };
    });
  }

  // ---- maintenance ----

  /**
   * Finishes interrupted folder/account deletions, then lists the bucket (maintenance only)
   * and deletes blobs older than olderThanMs that have no reference: each is first made a
   * tombstone by a conditional write, which an append racing with the sweep cannot pass.
   */
  async sweepOrphanBlobs(olderThanMs: number): Promise<number> {
    this.ensureOpen();
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) throw new StoreError('invalid age', 'INVALID');
    const queued = await this.queryAll(
      {
        TableName: this.names.folders,
        KeyConditionExpression: 'a = :a',
        ExpressionAttributeValues: { ':a': GC_PK },
        ConsistentRead: true,
      },
      'cleanup queue',
    );
    for (const q of queued) {
      const s = q.s as string;
      if (s.startsWith('A#')) await this.gcAccount(s.slice(2));
      else if (s.startsWith('F#')) {
        const [acct, folder] = s.slice(2).split('#');
        if (acct && folder) await this.cleanupFolder(acct, folder);
      }
      await this.send(new DeleteCommand({ TableName: this.names.folders, Key: { a: GC_PK, s } }), 'cleanup');
    }
    // Object times come from the S3 clock, at one-second resolution.
    const cutoff = Date.now() - olderThanMs;
    let deleted = 0;
    let batch: string[] = [];
    const flush = async () => {
      const keys = batch;
      batch = [];
      if (keys.length === 0) return;
      const items = await this.batchGet(
        this.names.blobs,
        keys.map((k) => ({ k })),
        'blob references',
      );
      const refs = new Map(items.map((it) => [it.k as string, it.r as number]));
      for (const k of keys) {
        if ((refs.get(k) ?? 0) > 0) continue;
        if (await this.tombstone(k)) {
          await this.blobs.delete(k);
          deleted++;
        }
      }
    };
    for await (const o of this.blobs.list()) {
      if (o.lastModified > cutoff) continue;
      try {
        validateBlobKey(o.key);
      } catch {
        continue; // not a name this store writes; leave it alone
      }
      batch.push(o.key);
      if (batch.length >= 100) await flush();
    }
    await flush();
    return deleted;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClients) {
      this.ddb.destroy();
      this.s3.destroy();
    }
  }
}

/**
 * Opens the store; names, bucket and region as given, endpoints from the SDK's environment
 * (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3). Selection from STORE=aws and the table and
 * bucket variables is core/store/open.ts.
 */
export function openAwsStore(opts: AwsStoreOptions): AwsStore {
  return new AwsStore(opts);
}
