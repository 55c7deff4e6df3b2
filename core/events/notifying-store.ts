// Wraps a Store so that every successful change publishes a notice on the bus. Protocol
// sessions and admin operations use the wrapped store, so no caller can forget to notify.

import type { Store } from '../store/port.js';
import type { EventBus } from './bus.js';

export function withNotifications(store: Store, bus: EventBus): Store {
  const mailbox = (accountId: string, folderId: string, modseq = 0) =>
    bus.publish({ kind: 'mailbox', accountId, folderId, modseq });
  const overrides: Partial<Store> = {
    async updateAccount(...a: Parameters<Store['updateAccount']>) {
      const r = await store.updateAccount(...a);
      bus.publish({ kind: 'account', accountId: r.id });
      return r;
    },
    async deleteAccount(id: string) {
      await store.deleteAccount(id);
      bus.publish({ kind: 'account', accountId: id });
    },
    async createFolder(...a: Parameters<Store['createFolder']>) {
      const r = await store.createFolder(...a);
      bus.publish({ kind: 'folders', accountId: r.accountId });
      return r;
    },
    async renameFolder(...a: Parameters<Store['renameFolder']>) {
      const r = await store.renameFolder(...a);
      bus.publish({ kind: 'folders', accountId: r.accountId });
      return r;
    },
    async deleteFolder(accountId: string, folderId: string) {
      await store.deleteFolder(accountId, folderId);
      bus.publish({ kind: 'folders', accountId });
      mailbox(accountId, folderId);
    },
    async appendMessage(...a: Parameters<Store['appendMessage']>) {
      const r = await store.appendMessage(...a);
      mailbox(a[0], a[1], r.modseq);
      return r;
    },
    async updateFlags(...a: Parameters<Store['updateFlags']>) {
      const r = await store.updateFlags(...a);
      if (r.updated.length > 0) mailbox(a[0], a[1], Math.max(...r.updated.map((m) => m.modseq)));
      return r;
    },
    async expunge(...a: Parameters<Store['expunge']>) {
      const r = await store.expunge(...a);
      if (r.length > 0) mailbox(a[0], a[1]);
      return r;
    },
    async copyMessages(...a: Parameters<Store['copyMessages']>) {
      const r = await store.copyMessages(...a);
      if (r.mapping.length > 0) mailbox(a[0], a[3]);
      return r;
    },
    async moveMessages(...a: Parameters<Store['moveMessages']>) {
      const r = await store.moveMessages(...a);
      if (r.mapping.length > 0) {
        mailbox(a[0], a[1]);
        mailbox(a[0], a[3]);
      }
      return r;
    },
    async putProtocolSettings(...a: Parameters<Store['putProtocolSettings']>) {
      const r = await store.putProtocolSettings(...a);
      bus.publish({ kind: 'settings', protocol: a[0] });
      return r;
    },
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      const o = (overrides as Record<string | symbol, unknown>)[prop];
      if (o !== undefined) return o;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
