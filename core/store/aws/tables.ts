// The one definition of the AWS adapter's DynamoDB tables and S3 bucket.
//
// Used by the adapter (attribute and key names), by the local set-up (test/helpers/aws-local.ts,
// and the start:aws-local script) through createTableInputs(), and by the CDK stack (a later
// issue) which maps the same TABLES entries to dynamodb.TableV2 constructs. Nothing else may
// spell a table's keys, TTL attribute or stream setting, so the three cannot drift.
//
// Why these tables and keys: see core/store/aws/DESIGN.md. In short:
//   directory  accounts (one partition, sorted by address), id pointers, settings
//   folders    per account: folder items, name items, the UIDVALIDITY/folder counter, append ids,
//              subscribed names
//   messages   per folder: the small per-message record (flags sync), sort key UID
//   index      per folder: envelope/body structure/header block, read only when asked, key UID
//   journal    per folder: change journal, sort key modseq, TTL, stream for the IDLE fan-out
//   blobs      per blob key: reference count (copies share a blob), tombstones with TTL
// No table has a GSI: every access pattern is served by a primary key.

import type { CreateTableCommandInput, UpdateTimeToLiveCommandInput } from '@aws-sdk/client-dynamodb';

export type KeyType = 'S' | 'N' | 'B';

export interface KeyDef {
  name: string;
  type: KeyType;
}

export interface TableDef {
  /** Logical name; the physical name is `${prefix}${logical}`. Keep stable (CDK logical ids too). */
  logical: TableName;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  /** Attribute holding an expiry in epoch seconds; DynamoDB deletes the item some time after it. */
  ttlAttribute?: string;
  /** DynamoDB Streams view type, when the table feeds a consumer. */
  stream?: 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';
  /** Global secondary indexes. None today: each would add a write per item write. */
  gsis: ReadonlyArray<{ name: string; partitionKey: KeyDef; sortKey?: KeyDef; projection: 'KEYS_ONLY' | 'ALL' }>;
  /** What the table holds and which access pattern each key serves (for people and the CDK docs). */
  purpose: string;
}

export type TableName = 'directory' | 'folders' | 'messages' | 'index' | 'journal' | 'blobs';

/** The TTL attribute of every table that has one (epoch seconds). */
export const TTL_ATTRIBUTE = 'exp';

export const TABLES: Readonly<Record<TableName, TableDef>> = {
  directory: {
    logical: 'directory',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    gsis: [],
    purpose:
      'Accounts: pk "ACCT", sk address (login lookup, listAccounts by key range). ' +
      'Id pointers: pk "ID#<accountId>", sk "ACCT" -> address. Settings: pk "SETTINGS", sk protocol.',
  },
  folders: {
    logical: 'folders',
    partitionKey: { name: 'a', type: 'S' },
    sortKey: { name: 's', type: 'S' },
    ttlAttribute: TTL_ATTRIBUTE,
    gsis: [],
    purpose:
      'Per account (pk accountId): "F#<folderId>" folder item with counters; "N#<name>" name item -> folderId; ' +
      '"V" UIDVALIDITY and folder-count counter; "I#<folderId>#<appendId>" append idempotency (TTL); ' +
      '"SUB#N#<name>" (or "SUB#L#<sha256>") subscribed name, "SC" subscription count. ' +
      'pk "#gc": deletions still to be cleaned up (sk "A#<accountId>" or "F#<accountId>#<folderId>").',
  },
  messages: {
    logical: 'messages',
    partitionKey: { name: 'f', type: 'S' },
    sortKey: { name: 'u', type: 'N' },
    gsis: [],
    purpose:
      'Per folder (pk folderId), sort key UID: the small record a flags sync reads (modseq, system flags as a bitmask, ' +
      'keywords, size, date, blob key as its random bytes), about 56 bytes: a Query bills the summed item sizes.',
  },
  index: {
    logical: 'index',
    partitionKey: { name: 'f', type: 'S' },
    sortKey: { name: 'u', type: 'N' },
    gsis: [],
    purpose: 'Per folder, sort key UID: the compressed MessageIndex (envelope, body structure, header block), read only when asked.',
  },
  journal: {
    logical: 'journal',
    partitionKey: { name: 'f', type: 'S' },
    sortKey: { name: 'm', type: 'N' },
    ttlAttribute: TTL_ATTRIBUTE,
    stream: 'KEYS_ONLY',
    gsis: [],
    purpose:
      'Per folder, sort key modseq: what changed (new, flags, expunge). Entries expire by TTL. ' +
      'Its stream (keys only: folder id + modseq) feeds the IDLE fan-out Lambda; TTL deletions arrive as REMOVE and are ignored.',
  },
  blobs: {
    logical: 'blobs',
    partitionKey: { name: 'k', type: 'S' },
    ttlAttribute: TTL_ATTRIBUTE,
    gsis: [],
    purpose:
      'Per blob key: how many messages point at the blob (copies share it). refs 0 is a tombstone: the S3 object is ' +
      'being or has been deleted, no append may take the key again; it expires by TTL.',
  },
};

export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

export type PhysicalNames = Record<TableName, string>;

/** Physical table names for a prefix, e.g. 'mail-prod-' -> 'mail-prod-messages'. */
export function tableNames(prefix: string): PhysicalNames {
  const out = {} as PhysicalNames;
  for (const t of TABLE_NAMES) out[t] = `${prefix}${t}`;
  return out;
}

/** The message bucket. Objects live under BLOB_PREFIX; other prefixes (e.g. incoming/) belong to others. */
export interface BucketDef {
  /** Blobs are immutable; versioning would only keep deleted messages around. */
  versioned: false;
  /** Key prefix of message blobs; the orphan sweep lists only this prefix. */
  blobPrefix: string;
  /** Multipart uploads that never completed are aborted after this many days (lifecycle rule). */
  abortIncompleteMultipartDays: number;
  blockPublicAccess: true;
  encryption: 'S3_MANAGED';
}

export const BUCKET: BucketDef = {
  versioned: false,
  blobPrefix: 'blobs/',
  abortIncompleteMultipartDays: 2,
  blockPublicAccess: true,
  encryption: 'S3_MANAGED',
};

/** CreateTable inputs (on-demand billing) for every table, for local set-up and tests. */
export function createTableInputs(names: PhysicalNames): CreateTableCommandInput[] {
  return TABLE_NAMES.map((t) => {
    const def = TABLES[t];
    const attrs = new Map<string, KeyType>();
    const keys = [def.partitionKey, ...(def.sortKey ? [def.sortKey] : [])];
    for (const k of keys) attrs.set(k.name, k.type);
    for (const g of def.gsis) {
      attrs.set(g.partitionKey.name, g.partitionKey.type);
      if (g.sortKey) attrs.set(g.sortKey.name, g.sortKey.type);
    }
    const input: CreateTableCommandInput = {
      TableName: names[t],
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attrs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
      KeySchema: [
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        ...(def.sortKey ? [{ AttributeName: def.sortKey.name, KeyType: 'RANGE' as const }] : []),
      ],
    };
    if (def.gsis.length > 0) {
      input.GlobalSecondaryIndexes = def.gsis.map((g) => ({
        IndexName: g.name,
        KeySchema: [
          { AttributeName: g.partitionKey.name, KeyType: 'HASH' },
          ...(g.sortKey ? [{ AttributeName: g.sortKey.name, KeyType: 'RANGE' as const }] : []),
        ],
        Projection: { ProjectionType: g.projection },
      }));
    }
    if (def.stream) input.StreamSpecification = { StreamEnabled: true, StreamViewType: def.stream };
    return input;
  });
}

/** UpdateTimeToLive inputs for the tables that have a TTL attribute. */
export function ttlInputs(names: PhysicalNames): UpdateTimeToLiveCommandInput[] {
  return TABLE_NAMES.filter((t) => TABLES[t].ttlAttribute !== undefined).map((t) => ({
    TableName: names[t],
    TimeToLiveSpecification: { Enabled: true, AttributeName: TABLES[t].ttlAttribute! },
  }));
}
