// Mailbox administration: used by mailctl, the local admin HTTP server and the admin Lambda.
import { hashPassword, validateNewPassword } from '../access/password.js';
import { defaultMailboxProtocolSettings, type MailboxProtocolSettings } from '../settings/schema.js';
import { deliverMessage, MessageTooLargeError } from '../store/deliver.js';
import { ensureDefaultFolders } from '../store/default-folders.js';
import { StoreError, type Account, type AppendResult, type Role, type Store } from '../store/port.js';
import { AdminError } from './errors.js';

const ROLES: readonly Role[] = ['user', 'admin', 'guest', 'anonymous'];

/** Canonical form of a mailbox address, or an AdminError naming the field. */
export function canonicalAddress(input: string, field = 'address'): string {
  const a = input.trim().toLowerCase();
  if (a.length === 0 || a.length > 254) throw new AdminError('invalid', 'address must be 1 to 254 characters', field);
  // A deliberately plain shape: local@domain, no wildcards, quotes, spaces or control characters.
  if (!/^[a-z0-9.!#$&'+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/.test(a)) {
    throw new AdminError('invalid', `'${input}' is not a valid mailbox address`, field);
  }
  if (a.split('@')[0]!.length > 64) throw new AdminError('invalid', 'the local part is over 64 characters', field);
  return a;
}

export function parseRole(input: string, field = 'role'): Role {
  if (!(ROLES as readonly string[]).includes(input)) {
    throw new AdminError('invalid', `role must be one of ${ROLES.join(', ')}`, field);
  }
  return input as Role;
}

async function checkedHash(password: string, field = 'password'): Promise<string> {
  const problem = validateNewPassword(password);
  if (problem) throw new AdminError('invalid', problem, field);
  return hashPassword(password);
}

export interface CreateMailboxInput {
  address: string;
  password: string;
  role?: Role;
  popEnabled?: boolean;
  imapEnabled?: boolean;
  homeSite?: string;
}

export async function createMailbox(store: Store, input: CreateMailboxInput): Promise<Account> {
  const address = canonicalAddress(input.address);
  const role = parseRole(input.role ?? 'user');
  const passwordHash = await checkedHash(input.password);
  const pop3: MailboxProtocolSettings = { ...defaultMailboxProtocolSettings(), enabled: input.popEnabled ?? true };
  const imap4: MailboxProtocolSettings = { ...defaultMailboxProtocolSettings(), enabled: input.imapEnabled ?? true };
  let account: Account;
  try {
    account = await store.createAccount({ address, passwordHash, role, pop3, imap4, homeSite: input.homeSite ?? 'local' });
  } catch (e) {
    if (e instanceof StoreError && e.code === 'ALREADY_EXISTS') {
      throw new AdminError('conflict', `mailbox ${address} already exists`, 'address');
    }
    throw e;
  }
  await ensureDefaultFolders(store, account.id);
  return account;
}

export async function getMailbox(store: Store, address: string): Promise<Account> {
  const acc = await store.getAccountByAddress(canonicalAddress(address));
  if (!acc) throw new AdminError('not_found', `no mailbox ${address.trim().toLowerCase()}`);
  return acc;
}

export interface MailboxChanges {
  password?: string;
  role?: Role;
  popEnabled?: boolean;
  imapEnabled?: boolean;
}

/** Applies changes with an optimistic-concurrency retry, so concurrent changes never get lost. */
export async function updateMailbox(store: Store, address: string, changes: MailboxChanges): Promise<Account> {
  const passwordHash = changes.password !== undefined ? await checkedHash(changes.password) : undefined;
  const role = changes.role !== undefined ? parseRole(changes.role) : undefined;
  for (let attempt = 0; ; attempt++) {
    const acc = await getMailbox(store, address);
    const patch: Parameters<Store['updateAccount']>[1] = {};
    if (passwordHash !== undefined) patch.passwordHash = passwordHash;
    if (role !== undefined) patch.role = role;
    if (changes.popEnabled !== undefined) patch.pop3 = { ...acc.pop3, enabled: changes.popEnabled };
    if (changes.imapEnabled !== undefined) patch.imap4 = { ...acc.imap4, enabled: changes.imapEnabled };
    try {
      return await store.updateAccount(acc.id, patch, acc.version);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CONFLICT' && attempt < 10) continue;
      throw e;
    }
  }
}

export async function removeMailbox(store: Store, address: string): Promise<void> {
  const acc = await getMailbox(store, address);
  await store.deleteAccount(acc.id);
}

export async function listMailboxes(store: Store, opts: { limit?: number; cursor?: string } = {}) {
  return store.listAccounts({ limit: Math.min(Math.max(opts.limit ?? 100, 1), 1000), cursor: opts.cursor });
}

/** Delivers a raw RFC 5322 message to the mailbox's Inbox. */
export async function deliverToInbox(store: Store, address: string, raw: Buffer, opts: { flags?: string[]; internalDate?: Date } = {}): Promise<AppendResult> {
  const acc = await getMailbox(store, address);
  if (raw.length === 0) throw new AdminError('invalid', 'the message is empty', 'message');
  const inbox = await ensureDefaultFolders(store, acc.id);
  try {
    return await deliverMessage(store, { accountId: acc.id, folderId: inbox.id, raw, ...opts });
  } catch (e) {
    if (e instanceof MessageTooLargeError) throw new AdminError('invalid', e.message, 'message');
    throw e;
  }
}
