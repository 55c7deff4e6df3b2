// Mailbox administration: used by mailctl, the local admin HTTP server and the admin Lambda.
import { z } from 'zod';
import { hashPassword, validateNewPassword } from '../access/password.js';
import {
  MIME_FORMATS,
  defaultMailboxProtocolSettings,
  mailboxProtocolSettingsSchema,
  type MailboxProtocolSettings,
  type MimeFormat,
} from '../settings/schema.js';
import { deliverMessage, MessageTooLargeError } from '../store/deliver.js';
import { ensureDefaultFolders } from '../store/default-folders.js';
import { StoreError, type Account, type AppendResult, type Role, type Store } from '../store/port.js';
import { AdminError } from './errors.js';
import { backoff } from './protocols.js';
import { parseInput } from './validate.js';

const ROLES = ['user', 'admin', 'guest', 'anonymous'] as const satisfies readonly Role[];

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

/** Per-mailbox settings in Exchange's Set-CASMailbox shape (flat, `pop`/`imap` prefixed). */
export interface MailboxSettingsInput {
  role?: Role;
  homeSite?: string;
  popEnabled?: boolean;
  imapEnabled?: boolean;
  popUseProtocolDefaults?: boolean;
  imapUseProtocolDefaults?: boolean;
  popMessagesRetrievalMimeFormat?: MimeFormat;
  imapMessagesRetrievalMimeFormat?: MimeFormat;
  popEnableExactRfc822Size?: boolean;
  imapEnableExactRfc822Size?: boolean;
  popSuppressReadReceipt?: boolean;
  imapSuppressReadReceipt?: boolean;
  popForceICalForCalendarRetrievalOption?: boolean;
  imapForceICalForCalendarRetrievalOption?: boolean;
}

/** Flat field suffix <-> MailboxProtocolSettings key. */
const FLAT_FIELDS: ReadonlyArray<[string, keyof MailboxProtocolSettings]> = [
  ['Enabled', 'enabled'],
  ['UseProtocolDefaults', 'useProtocolDefaults'],
  ['MessagesRetrievalMimeFormat', 'messagesRetrievalMimeFormat'],
  ['EnableExactRfc822Size', 'enableExactRfc822Size'],
  ['SuppressReadReceipt', 'suppressReadReceipt'],
  ['ForceICalForCalendarRetrievalOption', 'forceICalForCalendarRetrievalOption'],
];
const PREFIX = { pop3: 'pop', imap4: 'imap' } as const;

/** The flat fields of one protocol as a zod shape (all required; callers make them optional). */
function flatShape(prefix: 'pop' | 'imap') {
  return {
    [`${prefix}Enabled`]: z.boolean(),
    [`${prefix}UseProtocolDefaults`]: z.boolean(),
    [`${prefix}MessagesRetrievalMimeFormat`]: z.enum(MIME_FORMATS),
    [`${prefix}EnableExactRfc822Size`]: z.boolean(),
    [`${prefix}SuppressReadReceipt`]: z.boolean(),
    [`${prefix}ForceICalForCalendarRetrievalOption`]: z.boolean(),
  } as Record<string, z.ZodType>;
}

const roleSchema = z.enum(ROLES);
const homeSiteSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash or underscore (1 to 64)');

/** Mailbox as the API shows it (never the password hash). */
export const mailboxViewSchema = z
  .object({
    address: z.string(),
    role: roleSchema,
    homeSite: z.string(),
    createdAt: z.string().describe('ISO 8601'),
    version: z.number().int().describe('incremented on every change; also the ETag'),
    ...flatShape('pop'),
    ...flatShape('imap'),
  })
  .strict();
export type MailboxView = z.infer<typeof mailboxViewSchema>;

const settingsFields = () => {
  const all: Record<string, z.ZodType> = { role: roleSchema, homeSite: homeSiteSchema, ...flatShape('pop'), ...flatShape('imap') };
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.optional()]));
};

export const mailboxPatchSchema = z.object({ password: z.string().optional(), ...settingsFields() }).strict();
export const mailboxCreateSchema = z.object({ address: z.string(), password: z.string(), ...settingsFields() }).strict();

export function mailboxView(a: Account): MailboxView {
  const v: Record<string, unknown> = {
    address: a.address,
    role: a.role,
    homeSite: a.homeSite,
    createdAt: new Date(a.createdAt).toISOString(),
    version: a.version,
  };
  for (const p of ['pop3', 'imap4'] as const) {
    const cur = { ...defaultMailboxProtocolSettings(), ...a[p] };
    for (const [suffix, key] of FLAT_FIELDS) v[PREFIX[p] + suffix] = cur[key];
  }
  return v as MailboxView;
}

/** Applies the flat per-protocol fields of `input` over an account's settings; validated as a whole. */
function applyProtocolFields(base: MailboxProtocolSettings, p: 'pop3' | 'imap4', input: MailboxSettingsInput): MailboxProtocolSettings | null {
  const next: Record<string, unknown> = { ...defaultMailboxProtocolSettings(), ...base };
  let changed = false;
  for (const [suffix, key] of FLAT_FIELDS) {
    const v = (input as Record<string, unknown>)[PREFIX[p] + suffix];
    if (v !== undefined) {
      next[key] = v;
      changed = true;
    }
  }
  if (!changed) return null;
  const r = mailboxProtocolSettingsSchema.safeParse(next);
  if (!r.success) {
    const key = r.error.issues[0]!.path[0];
    const flat = FLAT_FIELDS.find(([, k]) => k === key);
    const field = flat ? PREFIX[p] + flat[0] : p;
    throw new AdminError('invalid', `${field}: ${r.error.issues[0]!.message}`, field);
  }
  return r.data;
}

export interface CreateMailboxInput extends MailboxSettingsInput {
  address: string;
  password: string;
}

export async function createMailbox(store: Store, input: CreateMailboxInput): Promise<Account> {
  const address = canonicalAddress(input.address);
  const role = parseRole(input.role ?? 'user');
  const homeSite = input.homeSite === undefined ? 'local' : parseInput(homeSiteSchema, input.homeSite, 'homeSite');
  const pop3 = applyProtocolFields(defaultMailboxProtocolSettings(), 'pop3', input) ?? defaultMailboxProtocolSettings();
  const imap4 = applyProtocolFields(defaultMailboxProtocolSettings(), 'imap4', input) ?? defaultMailboxProtocolSettings();
  const passwordHash = await checkedHash(input.password);
  let account: Account;
  try {
    account = await store.createAccount({ address, passwordHash, role, pop3, imap4, homeSite });
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

export interface MailboxChanges extends MailboxSettingsInput {
  password?: string;
}

/**
 * Applies changes over the current record with an optimistic-concurrency retry, so concurrent
 * changes of different fields all land. With `ifMatch`, only over that version (412 otherwise).
 */
export async function updateMailbox(store: Store, address: string, changes: MailboxChanges, opts: { ifMatch?: number } = {}): Promise<Account> {
  const passwordHash = changes.password !== undefined ? await checkedHash(changes.password) : undefined;
  const role = changes.role !== undefined ? parseRole(changes.role) : undefined;
  const homeSite = changes.homeSite !== undefined ? parseInput(homeSiteSchema, changes.homeSite, 'homeSite') : undefined;
  for (let attempt = 0; ; attempt++) {
    const acc = await getMailbox(store, address);
    if (opts.ifMatch !== undefined && opts.ifMatch !== acc.version) {
      throw new AdminError('precondition_failed', `mailbox ${acc.address} is at version ${acc.version}, not ${opts.ifMatch}`);
    }
    const patch: Parameters<Store['updateAccount']>[1] = {};
    if (passwordHash !== undefined) patch.passwordHash = passwordHash;
    if (role !== undefined) patch.role = role;
    if (homeSite !== undefined) patch.homeSite = homeSite;
    const pop3 = applyProtocolFields(acc.pop3, 'pop3', changes);
    const imap4 = applyProtocolFields(acc.imap4, 'imap4', changes);
    if (pop3) patch.pop3 = pop3;
    if (imap4) patch.imap4 = imap4;
    if (Object.keys(patch).length === 0) return acc;
    try {
      return await store.updateAccount(acc.id, patch, acc.version);
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'CONFLICT')) throw e;
      if (opts.ifMatch !== undefined) throw new AdminError('precondition_failed', `mailbox ${acc.address} changed meanwhile`);
      if (attempt + 1 >= 100) throw new AdminError('conflict', `mailbox ${acc.address} keeps changing; try again`);
      await backoff(attempt);
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

export const folderViewSchema = z
  .object({
    name: z.string(),
    specialUse: z.string().describe("RFC 6154 attribute, or '' for none"),
    subscribed: z.boolean(),
    messages: z.number().int(),
    size: z.number().int().describe('octets'),
    uidValidity: z.number().int(),
    uidNext: z.number().int(),
  })
  .strict();

/** A mailbox's folders (what `mailctl folders` shows). */
export async function mailboxFolders(store: Store, address: string): Promise<Array<z.infer<typeof folderViewSchema>>> {
  const acc = await getMailbox(store, address);
  return (await store.listFolders(acc.id)).map((f) => ({
    name: f.name,
    specialUse: f.specialUse ?? '',
    subscribed: f.subscribed,
    messages: f.messageCount,
    size: f.totalSize,
    uidValidity: f.uidValidity,
    uidNext: f.uidNext,
  }));
}

/** Delivers a raw RFC 5322 message to the mailbox's Inbox. */
export async function deliverToInbox(store: Store, address: string, raw: Buffer, opts: { flags?: string[]; internalDate?: Date; appendId?: string } = {}): Promise<AppendResult> {
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
