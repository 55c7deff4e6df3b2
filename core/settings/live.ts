// Live protocol settings for a running server: read from the store, validated against the
// schema (so fields added later get their defaults), cached, and refreshed on a settings
// change notice (at once) or after `refreshMs` (the safety net for missed notices).

import type { EventBus } from '../events/bus.js';
import type { Store } from '../store/port.js';
import {
  PROTOCOLS,
  defaultProtocolSettings,
  normalizeProtocolSettings,
  type ProtocolName,
  type ProtocolSettings,
} from './schema.js';

export type SettingsListener = (next: ProtocolSettings, prev: ProtocolSettings) => void;

export class LiveSettings {
  private current = new Map<ProtocolName, ProtocolSettings>();
  private listeners = new Map<ProtocolName, Set<SettingsListener>>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  private constructor(
    private store: Store,
    private refreshMs: number,
  ) {}

  static async load(store: Store, bus: EventBus | null, opts: { refreshMs?: number } = {}): Promise<LiveSettings> {
    const live = new LiveSettings(store, opts.refreshMs ?? 30_000);
    for (const p of PROTOCOLS) live.current.set(p, await live.read(p));
    if (bus) {
      live.unsubscribe = bus.subscribe((n) => {
        if (n.kind === 'settings') void live.refresh(n.protocol);
      });
    }
    if (live.refreshMs > 0) {
      live.timer = setInterval(() => {
        for (const p of PROTOCOLS) void live.refresh(p);
      }, live.refreshMs);
      live.timer.unref();
    }
    return live;
  }

  get(p: ProtocolName): ProtocolSettings {
    return this.current.get(p)!;
  }

  onChange(p: ProtocolName, fn: SettingsListener): () => void {
    let set = this.listeners.get(p);
    if (!set) this.listeners.set(p, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  /** Re-reads one protocol's settings and tells listeners when anything changed. */
  async refresh(p: ProtocolName): Promise<void> {
    let next: ProtocolSettings;
    try {
      next = await this.read(p);
    } catch {
      return; // keep serving with the last good settings; the next refresh tries again
    }
    const prev = this.current.get(p)!;
    if (JSON.stringify(prev) === JSON.stringify(next)) return;
    this.current.set(p, next);
    for (const fn of this.listeners.get(p) ?? []) {
      try {
        fn(next, prev);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }

  private async read(p: ProtocolName): Promise<ProtocolSettings> {
    const rec = await this.store.getProtocolSettings(p);
    return rec ? normalizeProtocolSettings(p, rec.value) : defaultProtocolSettings(p);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
  }
}
