// Input checks and canonical forms shared by the local adapter's methods. Pure functions; the
// AWS adapter can move them up to core/store/ when it needs the same rules.

import { StoreError, type FlagOp, type Role, type SpecialUse } from '../port.js';

function invalid(msg: string): never {
  throw new StoreError(msg, 'INVALID');
}

// ---- flags ----

const SYSTEM_FLAGS = new Map(
  ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f] as const),
);
/** An IMAP atom: printable ASCII without atom-specials ( ) { SP % * " \ ]. */
const KEYWORD = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;
export const MAX_FLAG_LENGTH = 255;

/**
 * System flags are matched case-insensitively and written in their canonical case; \Recent is
 * dropped (it is session state, never stored); other backslash names are refused; keywords are
 * kept as given. The result is de-duplicated and sorted.
 */
export function canonicalFlags(flags: unknown): string[] {
  if (!Array.isArray(flags)) invalid('flags must be an array');
  const out = new Set<string>();
  for (const f of flags) {
    if (typeof f !== 'string' || f.length === 0 || f.length > MAX_FLAG_LENGTH) invalid('invalid flag');
    if (f.charCodeAt(0) === 0x5c) {
      const lower = f.toLowerCase();
      if (lower === '\\recent') continue;
      const sys = SYSTEM_FLAGS.get(lower);
      if (sys === undefined) invalid(`unknown system flag ${JSON.stringify(f.slice(0, 40))}`);
      out.add(sys);
    } else {
      if (!KEYWORD.test(f)) invalid(`invalid keyword ${JSON.stringify(f.slice(0, 40))}`);
      out.add(f);
    }
  }
  return [...out].sort();
}

/** Applies a flag operation to canonical flags; `change` must be canonical too. */
export function applyFlagOp(current: string[], op: FlagOp, change: string[]): string[] {
  switch (op) {
    case 'replace':
      return change;
    case 'add': {
      const s = new Set(current);
      for (const f of change) s.add(f);
      return s.size === current.length ? current : [...s].sort();
    }
    case 'remove': {
      const drop = new Set(change);
      return current.filter((f) => !drop.has(f));
    }
    default:
      return invalid('invalid flag operation');
  }
}

export function sameFlags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

// ---- names ----

export const MAX_FOLDER_NAME_LENGTH = 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A folder name: '/'-separated non-empty levels, no control characters, at most 1024 chars.
 * A first level spelled INBOX in any case is written 'INBOX' (RFC 3501 §5.1).
 */
export function canonicalFolderName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) invalid('empty folder name');
  if (name.length > MAX_FOLDER_NAME_LENGTH) invalid('folder name too long');
  if (/[\x00-\x1f\x7f]/.test(name)) invalid('control character in folder name');
  if (name.split('/').some((level) => level.length === 0)) invalid('empty level in folder name');
  if (LONE_SURROGATE.test(name)) invalid('folder name is not well-formed Unicode');
  if (name.slice(0, 5).toUpperCase() === 'INBOX' && (name.length === 5 || name[5] === '/')) {
    return 'INBOX' + name.slice(5);
  }
  return name;
}

const SPECIAL_USES: ReadonlySet<string> = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged']);

export function checkSpecialUse(v: unknown): SpecialUse | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !SPECIAL_USES.has(v)) invalid('invalid special-use');
  return v as SpecialUse;
}

// ---- accounts ----

const ROLES: ReadonlySet<string> = new Set(['user', 'admin', 'guest', 'anonymous']);
export const MAX_ADDRESS_LENGTH = 320;

/** Lower-cased and trimmed; refuses empty, over-long, or whitespace / control characters. */
export function canonicalAddress(address: unknown): string {
  if (typeof address !== 'string') invalid('address must be a string');
  const a = address.trim().toLowerCase();
  if (a.length === 0 || a.length > MAX_ADDRESS_LENGTH || /[\s\x00-\x1f\x7f]/.test(a)) invalid('invalid address');
  return a;
}

export function checkRole(v: unknown): Role {
  if (typeof v !== 'string' || !ROLES.has(v)) invalid('invalid role');
  return v as Role;
}

export function checkString(v: unknown, what: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max) invalid(`invalid ${what}`);
  return v;
}

export function checkObject(v: unknown, what: string): object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(`invalid ${what}`);
  return v;
}

// ---- numbers ----

export const MAX_UID = 0xffffffff;

/** Positive 32-bit UIDs, de-duplicated and sorted ascending. */
export function checkUids(uids: unknown, max: number): number[] {
  if (!Array.isArray(uids)) invalid('uids must be an array');
  if (uids.length > max) throw new StoreError(`too many UIDs in one call (max ${max})`, 'LIMIT');
  let ascending = true;
  let prev = 0;
  for (const u of uids) {
    if (!Number.isInteger(u) || u < 1 || u > MAX_UID) invalid('invalid UID');
    if (u <= prev) ascending = false;
    prev = u;
  }
  // Callers mostly pass sorted sets (a view's UIDs): then no de-duplication or sort is needed.
  if (ascending) return (uids as number[]).slice();
  return [...new Set(uids as number[])].sort((a, b) => a - b);
}

export function checkNonNegInt(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) invalid(`invalid ${what}`);
  return v as number;
}
