// Which account a folder belongs to, as far as this process has seen.
//
// The journal stream carries keys only (folder id + modseq), so a mailbox change arriving from
// the fan-out names a folder, not its account. Sessions match notices on (account, folder),
// and a session can only be on a folder it has read through the store first (SELECT, STATUS,
// LIST...). So the task records the owner of every folder its store calls return or name, and
// looks the owner up when a notice arrives: a folder this task has never touched has no session
// here, and its notice is dropped at no cost. No registry: the map is this process's own memory
// of its own reads, bounded (least recently used out). An evicted entry only costs a session
// the wait until its next journal poll.

import type { Folder, Store } from '../store/port.js';
import type { EventBus } from './bus.js';
import type { WireChange } from './fanout.js';

export class FolderOwners {
  private readonly map = new Map<string, string>();

  constructor(private readonly max = 200_000) {}

  remember(folderId: string, accountId: string): void {
    if (typeof folderId !== 'string' || typeof accountId !== 'string') return;
    const had = this.map.get(folderId);
    if (had === accountId) {
      // refresh recency
      this.map.delete(folderId);
    } else if (had === undefined && this.map.size >= this.max) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(folderId, accountId);
  }

  owner(folderId: string): string | undefined {
    return this.map.get(folderId);
  }

  get size(): number {
    return this.map.size;
  }
}

function isFolder(v: unknown): v is Folder {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Folder).id === 'string' &&
    typeof (v as Folder).accountId === 'string' &&
    typeof (v as Folder).uidValidity === 'number'
  );
}

/** Store methods whose first two arguments are (accountId, folderId). */
const FOLDER_ARG_METHODS = new Set([
  'getFolder',
  'renameFolder',
  'setSubscribed',
  'appendMessage',
  'listMessages',
  'getMessage',
  'getMessages',
  'updateFlags',
  'expunge',
  'copyMessages',
  'moveMessages',
  'changesSince',
]);

/** Wraps a store so every folder it returns or is asked about is remembered with its owner. */
export function withFolderOwners(store: Store, owners: FolderOwners): Store {
  const record = (v: unknown) => {
    if (isFolder(v)) owners.remember(v.id, v.accountId);
    else if (Array.isArray(v)) for (const f of v) if (isFolder(f)) owners.remember(f.id, f.accountId);
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      const name = String(prop);
      return (...args: unknown[]) => {
        if (FOLDER_ARG_METHODS.has(name) && typeof args[0] === 'string' && typeof args[1] === 'string') {
          owners.remember(args[1], args[0]);
        }
        const r = v.apply(target, args);
        if (r instanceof Promise) return r.then((x) => (record(x), x));
        return r;
      };
    },
  });
}

export interface PublishOutcome {
  published: number;
  /** Mailbox changes for folders no session of this process has opened. */
  skipped: number;
}

/** Publishes a received batch on this process's bus, filling in mailbox owners. */
export function publishChanges(bus: EventBus, owners: FolderOwners, changes: readonly WireChange[]): PublishOutcome {
  let published = 0;
  let skipped = 0;
  for (const c of changes) {
    if (c.kind === 'mailbox') {
      const accountId = c.accountId ?? owners.owner(c.folderId);
      if (accountId === undefined) {
        skipped++;
        continue;
      }
      bus.publish({ kind: 'mailbox', accountId, folderId: c.folderId, modseq: c.modseq });
    } else {
      bus.publish(c);
    }
    published++;
  }
  return { published, skipped };
}
