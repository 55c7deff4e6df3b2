// Change notices. Locally they travel in-process; in the cloud the idle-fanout Lambda turns
// DynamoDB stream records into the same notices and posts them to every task, which
// publishes them on its own bus. A notice only says "look again": receivers read the change
// journal (or the settings / account record) themselves.

import type { ProtocolName } from '../settings/schema.js';

export type ChangeNotice =
  | { kind: 'mailbox'; accountId: string; folderId: string; modseq: number }
  | { kind: 'folders'; accountId: string } // folder created, renamed or deleted
  | { kind: 'account'; accountId: string } // account updated or deleted
  | { kind: 'settings'; protocol: ProtocolName };

export type Listener = (n: ChangeNotice) => void;

export interface EventBus {
  publish(n: ChangeNotice): void;
  /** Returns an unsubscribe function. */
  subscribe(fn: Listener): () => void;
}

/** In-process bus. Listeners run on a later tick, so publishers never re-enter them. */
export class LocalEventBus implements EventBus {
  private listeners = new Set<Listener>();

  publish(n: ChangeNotice): void {
    for (const fn of [...this.listeners]) {
      queueMicrotask(() => {
        try {
          fn(n);
        } catch {
          // A listener's failure is its own session's business; the bus goes on.
        }
      });
    }
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
