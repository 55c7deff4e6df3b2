// Protocol service settings (Exchange's Get-/Set-PopSettings and Get-/Set-ImapSettings).
//
// A PATCH carries only the fields to change. It is checked field by field (types, ranges,
// unknown names refused), merged over the current record, checked again as a whole, and
// written conditionally on the version it was merged over. When another change got in first
// the merge is redone on the newer record, so concurrent PATCHes of different fields all
// land (no lost update). With If-Match the caller asks for its version only: 412 otherwise.
import {
  PROTOCOLS,
  defaultProtocolSettings,
  normalizeProtocolSettings,
  protocolSettingsSchema,
  type ProtocolName,
  type ProtocolSettings,
} from '../settings/schema.js';
import { StoreError, type Store } from '../store/port.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { parseInput, patchSchemaOf, requireObject } from './validate.js';

export interface VersionedSettings {
  protocol: ProtocolName;
  settings: ProtocolSettings;
  /** 0 while nothing is stored (the defaults apply). */
  version: number;
}

export function parseProtocol(input: string): ProtocolName {
  if ((PROTOCOLS as readonly string[]).includes(input)) return input as ProtocolName;
  throw new AdminError('not_found', `no protocol service '${input}' (pop3 or imap4)`, 'protocol');
}

export const pop3SettingsPatchSchema = patchSchemaOf(protocolSettingsSchema('pop3').shape);
export const imap4SettingsPatchSchema = patchSchemaOf(protocolSettingsSchema('imap4').shape);

export function settingsPatchSchema(p: ProtocolName) {
  return p === 'pop3' ? pop3SettingsPatchSchema : imap4SettingsPatchSchema;
}

export async function getProtocolSettings(store: Store, p: ProtocolName): Promise<VersionedSettings> {
  const rec = await store.getProtocolSettings(p);
  return rec
    ? { protocol: p, settings: normalizeProtocolSettings(p, rec.value), version: rec.version }
    : { protocol: p, settings: defaultProtocolSettings(p), version: 0 };
}

/** Checks that hold between fields, after the merge. */
function checkWhole(s: ProtocolSettings): void {
  if (s.calendarItemRetrievalOption === 'Custom' && !s.owaServerUrl) {
    throw new AdminError('invalid', "owaServerUrl: required when calendarItemRetrievalOption is 'Custom'", 'owaServerUrl');
  }
}

/** Attempts before giving up on a record that keeps changing under us (each loss means another writer won). */
const MAX_ATTEMPTS = 100;

export async function backoff(attempt: number): Promise<void> {
  if (attempt < 2) return;
  await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
}

export async function patchProtocolSettings(
  ctx: Pick<AdminContext, 'store' | 'settingsChanged'>,
  p: ProtocolName,
  body: unknown,
  opts: { ifMatch?: number } = {},
): Promise<VersionedSettings> {
  const patch = parseInput(settingsPatchSchema(p), requireObject(body)) as Partial<ProtocolSettings>;
  for (let attempt = 0; ; attempt++) {
    const cur = await getProtocolSettings(ctx.store, p);
    if (opts.ifMatch !== undefined && opts.ifMatch !== cur.version) {
      throw new AdminError('precondition_failed', `the ${p} settings are at version ${cur.version}, not ${opts.ifMatch}`);
    }
    const merged = parseInput(protocolSettingsSchema(p), { ...cur.settings, ...patch }) as ProtocolSettings;
    checkWhole(merged);
    try {
      const rec = await ctx.store.putProtocolSettings(p, merged, cur.version);
      await ctx.settingsChanged?.(p);
      return { protocol: p, settings: normalizeProtocolSettings(p, rec.value), version: rec.version };
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'CONFLICT')) throw e;
      if (opts.ifMatch !== undefined) throw new AdminError('precondition_failed', `the ${p} settings changed meanwhile`);
      if (attempt + 1 >= MAX_ATTEMPTS) throw new AdminError('conflict', `the ${p} settings keep changing; try again`);
      await backoff(attempt);
    }
  }
}
