// SQLite schema of the local store. It mirrors the DynamoDB model of DESIGN §4: every read the
// port makes is a primary-key lookup or a range on a key prefix.

import type Database from 'better-sqlite3';

// 1: initial. 2: subscriptions table (seeded from the legacy folders.subscribed column, which
//    is no longer read or written beyond its NOT NULL default). 3: message_index (one JSON
//    row per message) split into message_structure and message_header, plus the derived
//    message_forms and message_search (filled in the background after the migration).
export const SCHEMA_VERSION = 3;

export const SCHEMA_SQL = `
-- Small counters and markers: 'schema_version', 'uid_validity' (last UIDVALIDITY handed out;
-- global and only growing, so no folder, in any account, ever gets a value used before).
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS accounts (
  id            TEXT PRIMARY KEY,
  address       TEXT NOT NULL UNIQUE,   -- canonical (trimmed, lower-case); listAccounts walks this index
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL,
  pop3          TEXT NOT NULL,          -- JSON MailboxProtocolSettings
  imap4         TEXT NOT NULL,          -- JSON MailboxProtocolSettings
  home_site     TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  version       INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS folders (
  id             TEXT PRIMARY KEY,
  account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  uid_validity   INTEGER NOT NULL,
  uid_next       INTEGER NOT NULL,      -- never decreases
  highest_modseq INTEGER NOT NULL,      -- every change takes the next value, one per message
  special_use    TEXT,
  subscribed     INTEGER NOT NULL,      -- legacy (schema 1); subscriptions are in their own table
  message_count  INTEGER NOT NULL,
  total_size     INTEGER NOT NULL,
  UNIQUE (account_id, name)
);

-- Subscribed names per account (RFC 3501 §6.3.6): names, not folders, so a subscription
-- survives DELETE and may name a mailbox that does not exist.
CREATE TABLE IF NOT EXISTS subscriptions (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- The small per-message record a flags sync reads.
CREATE TABLE IF NOT EXISTS messages (
  folder_id     TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
  uid           INTEGER NOT NULL,
  modseq        INTEGER NOT NULL,
  flags         TEXT NOT NULL,          -- JSON array, canonical, sorted
  internal_date INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  blob_key      TEXT NOT NULL,
  PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;

-- The MessageIndex, split by how it is read (core/store/local/message-data.ts), each table
-- keyed by (folder_id, uid) and read by UID ranges. Rows of about a kilobyte or more live in
-- rowid tables (a WITHOUT ROWID table keeps under about 1 KB of a row in the b-tree page and
-- puts the rest on overflow pages), found through their unique (folder_id, uid) index.
CREATE TABLE IF NOT EXISTS message_structure (
  folder_id TEXT NOT NULL,
  uid       INTEGER NOT NULL,
  structure TEXT NOT NULL,              -- JSON MessageIndex without its header block
  UNIQUE (folder_id, uid),
  FOREIGN KEY (folder_id, uid) REFERENCES messages(folder_id, uid) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS message_header (
  folder_id   TEXT NOT NULL,
  uid         INTEGER NOT NULL,
  header_size INTEGER NOT NULL,
  header      TEXT,                     -- the top-level header block (binary string); NULL when too big to keep
  UNIQUE (folder_id, uid),
  FOREIGN KEY (folder_id, uid) REFERENCES messages(folder_id, uid) ON DELETE CASCADE
);
-- Derived data, recomputed when v is not the version of the code that reads it.
-- IMAP wire forms (core/mime/imap-forms.ts); the *8 columns only when the UTF8=ACCEPT form differs.
CREATE TABLE IF NOT EXISTS message_forms (
  folder_id      TEXT NOT NULL,
  uid            INTEGER NOT NULL,
  v              INTEGER NOT NULL,
  envelope       TEXT NOT NULL,
  bodystructure  TEXT NOT NULL,
  envelope8      TEXT,
  bodystructure8 TEXT,
  UNIQUE (folder_id, uid),
  FOREIGN KEY (folder_id, uid) REFERENCES messages(folder_id, uid) ON DELETE CASCADE
);
-- Decoded, folded SEARCH values (core/mime/search-fields.ts); v = 0 when the header block was
-- too big to keep (then SEARCH reads it from the blob).
CREATE TABLE IF NOT EXISTS message_search (
  folder_id TEXT NOT NULL,
  uid       INTEGER NOT NULL,
  v         INTEGER NOT NULL,
  subject   TEXT,
  from_     TEXT,
  to_       TEXT,
  cc        TEXT,
  bcc       TEXT,
  PRIMARY KEY (folder_id, uid),
  FOREIGN KEY (folder_id, uid) REFERENCES messages(folder_id, uid) ON DELETE CASCADE
) WITHOUT ROWID;

-- Change journal: one row per modseq of a folder.
CREATE TABLE IF NOT EXISTS journal (
  folder_id  TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
  modseq     INTEGER NOT NULL,
  uid        INTEGER NOT NULL,
  kind       TEXT NOT NULL,             -- 'new' | 'flags' | 'expunge'
  flags      TEXT,                      -- JSON array for 'new' and 'flags'
  created_at INTEGER NOT NULL,
  PRIMARY KEY (folder_id, modseq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS journal_by_time ON journal (created_at);

-- How many messages point at each blob (copies share one). A blob without a row is an orphan.
CREATE TABLE IF NOT EXISTS blob_refs (
  blob_key TEXT PRIMARY KEY,
  refs     INTEGER NOT NULL CHECK (refs > 0)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS settings (
  protocol TEXT PRIMARY KEY,
  value    TEXT NOT NULL,               -- JSON ProtocolSettings
  version  INTEGER NOT NULL
) WITHOUT ROWID;

-- Idempotent APPEND: the first result for an appendId in a folder.
CREATE TABLE IF NOT EXISTS append_ids (
  folder_id    TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
  append_id    TEXT NOT NULL,
  uid          INTEGER NOT NULL,
  modseq       INTEGER NOT NULL,
  uid_validity INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (folder_id, append_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS append_ids_by_time ON append_ids (created_at);
`;

/** Run once when a data directory of an older schema is opened (inside the opening transaction). */
export const MIGRATIONS: ReadonlyArray<{ to: number; sql?: string; run?: (db: Database.Database) => void }> = [
  {
    to: 2,
    sql: `INSERT OR IGNORE INTO subscriptions (account_id, name)
          SELECT account_id, name FROM folders WHERE subscribed <> 0;`,
  },
  {
    // The JSON index of each message split into structure and header (in JS: the header is a
    // binary string and must come out byte for byte). The derived tables are left to the
    // background backfill, so a big data directory opens quickly.
    to: 3,
    run: (db) => {
      const has = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_index'`).get();
      if (has === undefined) return;
      const page = db.prepare<[string, number], { folder_id: string; uid: number; idx: string }>(
        'SELECT folder_id, uid, idx FROM message_index WHERE (folder_id, uid) > (?, ?) ORDER BY folder_id, uid LIMIT 500',
      );
      const putStructure = db.prepare('INSERT OR REPLACE INTO message_structure (folder_id, uid, structure) VALUES (?, ?, ?)');
      const putHeader = db.prepare('INSERT OR REPLACE INTO message_header (folder_id, uid, header_size, header) VALUES (?, ?, ?, ?)');
      let after: [string, number] = ['', 0];
      for (;;) {
        const rows = page.all(after[0], after[1]);
        for (const r of rows) {
          const { header, ...rest } = JSON.parse(r.idx) as { header?: unknown; headerSize: number };
          putStructure.run(r.folder_id, r.uid, JSON.stringify(rest));
          putHeader.run(r.folder_id, r.uid, rest.headerSize, typeof header === 'string' ? header : null);
        }
        if (rows.length < 500) break;
        after = [rows[rows.length - 1]!.folder_id, rows[rows.length - 1]!.uid];
      }
      db.exec('DROP TABLE message_index');
    },
  },
];
