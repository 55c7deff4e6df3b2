// Folder lookup shared by the IMAP commands. Names arrive from the codec as Unicode with
// "INBOX" (any case) normalized; the store uses the same names, "/" as the delimiter.
import type { Folder } from '../../core/store/port.js';
import type { ImapSession } from './session.js';

export const DELIMITER = '/';

export async function findFolder(s: ImapSession, name: string): Promise<Folder | null> {
  return s.store.getFolderByName(s.account!.id, normalizeName(name));
}

/** INBOX is case-insensitive (RFC 3501 §5.1), also as the first level of a hierarchy. */
export function normalizeName(name: string): string {
  const first = name.split(DELIMITER, 1)[0]!;
  return first.toUpperCase() === 'INBOX' ? 'INBOX' + name.slice(first.length) : name;
}
