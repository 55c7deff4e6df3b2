// A tiny in-memory stand-in for the Store: only what the authenticator calls.

import type { Account, Role, Store } from '../../core/store/port.js';
import { defaultMailboxProtocolSettings } from '../../core/settings/schema.js';

export class FakeStore implements Pick<Store, 'getAccountByAddress'> {
  readonly accounts = new Map<string, Account>();
  lookups = 0;
  /** When set, lookups throw it (a store outage). */
  failWith: Error | null = null;

  add(address: string, passwordHash: string, opts: { role?: Role; pop3?: boolean; imap4?: boolean } = {}): Account {
    const account: Account = {
      id: `acc-${this.accounts.size + 1}`,
      address,
      passwordHash,
      role: opts.role ?? 'user',
      pop3: { ...defaultMailboxProtocolSettings(), enabled: opts.pop3 ?? true },
      imap4: { ...defaultMailboxProtocolSettings(), enabled: opts.imap4 ?? true },
      homeSite: 'local',
      createdAt: 0,
      version: 1,
    };
    this.accounts.set(address, account);
    return account;
  }

  async getAccountByAddress(address: string): Promise<Account | null> {
    this.lookups++;
    if (this.failWith) throw this.failWith;
    return this.accounts.get(address) ?? null;
  }
}
