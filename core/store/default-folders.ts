// Every new mailbox gets an Inbox and the special-use folders clients look for (RFC 6154).
import { StoreError, type Folder, type SpecialUse, type Store } from './port.js';

export const DEFAULT_FOLDERS: ReadonlyArray<{ name: string; specialUse: SpecialUse | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

/** Creates whichever default folders are missing; safe to run again. Returns the Inbox. */
export async function ensureDefaultFolders(store: Store, accountId: string): Promise<Folder> {
  for (const f of DEFAULT_FOLDERS) {
    if (await store.getFolderByName(accountId, f.name)) continue;
    try {
      await store.createFolder(accountId, f.name, { specialUse: f.specialUse, subscribed: true });
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'ALREADY_EXISTS')) throw e;
    }
  }
  return (await store.getFolderByName(accountId, 'INBOX'))!;
}
