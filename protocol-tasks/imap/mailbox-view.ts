// The selected mailbox as one IMAP session sees it: the UID <-> sequence-number map, the
// small per-message metadata (flags, size, dates), and the changes other sessions made that
// this session has not been told about yet.
//
// Changes are read from the store's change journal (modseq order) whenever the session
// syncs. They are held back and released as untagged responses only at the moments RFC 3501
// allows: EXPUNGE never while a FETCH, STORE or SEARCH (non-UID) runs (§7.4.1, DESIGN §5
// invariant 4); EXISTS and FETCH FLAGS at the end of any command, or at once during IDLE.
// Sequence numbers therefore stay consistent for every session.

import type { Folder, JournalEntry, MessageMeta, Store } from '../../core/store/port.js';

export interface ViewUpdate {
  /** Untagged response lines (without the leading "* " and CRLF), in order. */
  lines: string[];
}

export class MailboxView {
  /** UIDs in ascending order; index i is sequence number i + 1. */
  uids: number[] = [];
  /** Metadata by UID for the messages in `uids`. */
  meta = new Map<number, MessageMeta>();
  /** Journal position this view has read up to. */
  modseq = 0;
  /** UIDs removed by others, still present in this view until an EXPUNGE may be sent. */
  private pendingExpunge = new Set<number>();
  /** UIDs whose flags changed (by others) and were not reported yet. */
  private pendingFlags = new Set<number>();
  /** Message count last reported with EXISTS. */
  reportedExists = 0;
  /** Set when the folder disappeared or its UIDVALIDITY changed under the session. */
  gone = false;

  private constructor(
    private store: Store,
    readonly accountId: string,
    public folder: Folder,
    readonly readOnly: boolean,
  ) {}

  static async open(store: Store, accountId: string, folder: Folder, readOnly: boolean): Promise<MailboxView> {
    const v = new MailboxView(store, accountId, folder, readOnly);
    // Read the journal position first: a change that lands between the two reads is then
    // seen twice (harmless) rather than never.
    v.modseq = folder.highestModseq;
    const metas = await store.listMessages(accountId, folder.id);
    for (const m of metas) {
      v.uids.push(m.uid);
      v.meta.set(m.uid, m);
      if (m.modseq > v.modseq) v.modseq = m.modseq;
    }
    v.reportedExists = v.uids.length;
    return v;
  }

  get exists(): number {
    return this.uids.length;
  }

  /** Sequence number (1-based) of a UID in this view, or 0. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const u = this.uids[mid]!;
      if (u === uid) return mid + 1;
      if (u < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  get maxUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1]! : 0;
  }

  /** True when a message in the view has been expunged by another session. */
  isExpunged(uid: number): boolean {
    return this.pendingExpunge.has(uid);
  }

  /** Reads journal entries newer than this view and folds them in (no output yet). */
  async sync(): Promise<void> {
    if (this.gone) return;
    // The folder first (one key lookup): gone or recreated ends the view, and a HIGHESTMODSEQ
    // this view has already reached means there is no journal entry to read.
    const f = await this.store.getFolder(this.accountId, this.folder.id);
    if (!f || f.uidValidity !== this.folder.uidValidity) {
      this.gone = true;
      return;
    }
    this.folder = f;
    if (f.highestModseq <= this.modseq) return;
    let entries: JournalEntry[];
    for (;;) {
      entries = await this.store.changesSince(this.accountId, this.folder.id, this.modseq, 1000);
      if (entries.length === 0) break;
      const newUids: number[] = [];
      for (const e of entries) {
        if (e.modseq > this.modseq) this.modseq = e.modseq;
        if (e.kind === 'new') {
          if (e.uid > this.maxUid && !this.meta.has(e.uid)) newUids.push(e.uid);
        } else if (e.kind === 'flags') {
          const m = this.meta.get(e.uid);
          if (m && e.flags && !sameFlags(m.flags, e.flags)) {
            this.meta.set(e.uid, { ...m, flags: e.flags, modseq: e.modseq });
            this.pendingFlags.add(e.uid);
          } else if (m) {
            m.modseq = Math.max(m.modseq, e.modseq);
          }
        } else if (e.kind === 'expunge') {
          if (this.meta.has(e.uid)) this.pendingExpunge.add(e.uid);
        }
      }
      if (newUids.length) {
        // New messages' metadata (a range query from the lowest new UID).
        newUids.sort((a, b) => a - b);
        const metas = await this.store.listMessages(this.accountId, this.folder.id, { uidFrom: newUids[0] });
        for (const m of metas) {
          if (m.uid <= this.maxUid || this.meta.has(m.uid)) continue;
          this.uids.push(m.uid);
          this.meta.set(m.uid, m);
        }
      }
      if (entries.length < 1000) break;
    }
  }

  /**
   * The untagged responses owed to the client now. `allowExpunge` is false during FETCH,
   * STORE and SEARCH (non-UID). `withUid` adds UID to FETCH FLAGS (for UID commands and
   * clients that need it); `withModseq` adds MODSEQ (CONDSTORE).
   */
  flush(allowExpunge: boolean, withUid = true, withModseq = false): string[] {
    const out: string[] = [];
    if (allowExpunge && this.pendingExpunge.size > 0) {
      const gone = [...this.pendingExpunge].sort((a, b) => b - a);
      // Report from the highest sequence number down: each number is then valid when sent.
      for (const uid of gone) {
        const seq = this.seqOf(uid);
        if (!seq) continue;
        this.uids.splice(seq - 1, 1);
        this.meta.delete(uid);
        this.pendingFlags.delete(uid);
        out.push(`${seq} EXPUNGE`);
      }
      this.pendingExpunge.clear();
      this.reportedExists = this.uids.length;
    }
    if (this.uids.length !== this.reportedExists && this.uids.length > this.reportedExists) {
      out.push(`${this.uids.length} EXISTS`);
      this.reportedExists = this.uids.length;
    }
    if (this.pendingFlags.size > 0) {
      for (const uid of [...this.pendingFlags].sort((a, b) => a - b)) {
        const seq = this.seqOf(uid);
        const m = this.meta.get(uid);
        if (!seq || !m) continue;
        const items = [`FLAGS (${m.flags.join(' ')})`];
        if (withUid) items.unshift(`UID ${uid}`);
        if (withModseq) items.push(`MODSEQ (${m.modseq})`);
        out.push(`${seq} FETCH (${items.join(' ')})`);
      }
      this.pendingFlags.clear();
    }
    return out;
  }

  /** Applies this session's own flag changes (already answered by the command itself). */
  applyOwnFlags(updated: MessageMeta[]): void {
    for (const m of updated) {
      const cur = this.meta.get(m.uid);
      if (cur) this.meta.set(m.uid, { ...cur, flags: m.flags, modseq: m.modseq });
      this.pendingFlags.delete(m.uid);
    }
  }

  /** Removes this session's own expunged messages; returns their EXPUNGE lines. */
  applyOwnExpunge(uids: number[]): string[] {
    const out: string[] = [];
    for (const uid of [...uids].sort((a, b) => b - a)) {
      const seq = this.seqOf(uid);
      if (!seq) continue;
      this.uids.splice(seq - 1, 1);
      this.meta.delete(uid);
      this.pendingFlags.delete(uid);
      this.pendingExpunge.delete(uid);
      out.push(`${seq} EXPUNGE`);
    }
    this.reportedExists = this.uids.length;
    return out;
  }
}

export function sameFlags(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
