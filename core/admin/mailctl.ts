// mailctl: a client of the admin API, with a command for every resource. It talks to the
// local server (npm start: http://127.0.0.1:ADMIN_PORT with the token from ADMIN_TOKEN or
// DATA_DIR/admin-token.txt) or to a deployed API (--url, signed with SigV4 from the standard
// AWS credential chain). Output: tables for people, --json for scripts.
//
// Exit codes scripts can trust: 0 done, 1 failure (unreachable, unauthorized, a connectivity
// test that failed), 2 invalid input or usage, 3 no such mailbox, 4 already exists or
// changed concurrently (If-Match).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { imap4SettingsSchema, pop3SettingsSchema, PROTOCOLS, type ProtocolName } from '../settings/schema.js';
import { AdminClient, encodeSegment, resolveClient } from './client.js';
import { AdminError } from './errors.js';
import { mailboxPatchSchema } from './mailboxes.js';

const EXIT = { ok: 0, failure: 1, invalid: 2, not_found: 3, conflict: 4 } as const;

function exitCode(e: AdminError): number {
  switch (e.code) {
    case 'invalid':
    case 'too_large':
      return EXIT.invalid;
    case 'not_found':
      return EXIT.not_found;
    case 'conflict':
    case 'precondition_failed':
      return EXIT.conflict;
    default:
      return EXIT.failure;
  }
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function onOff(v: string, field?: string): boolean {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new AdminError('invalid', `${field ? `--${kebab(field)}: ` : ''}expected on or off, got '${v}'`, field);
}

function kebab(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

// ---- options derived from the schemas: every setting is reachable from the command line ----

type Kind = { t: 'bool' } | { t: 'number' } | { t: 'enum'; values: string[] } | { t: 'list' } | { t: 'string' };

function kindOf(schema: z.ZodType): Kind {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodBoolean) return { t: 'bool' };
  if (s instanceof z.ZodNumber) return { t: 'number' };
  if (s instanceof z.ZodEnum) return { t: 'enum', values: s.options.map(String) };
  if (s instanceof z.ZodArray) return { t: 'list' };
  return { t: 'string' };
}

function optionFor(field: string, k: Kind): Option {
  const arg = k.t === 'bool' ? '<on|off>' : k.t === 'number' ? '<n>' : k.t === 'enum' ? '<value>' : k.t === 'list' ? '<a,b,...>' : '<text>';
  const o = new Option(`--${kebab(field)} ${arg}`, field);
  return k.t === 'enum' ? o.choices(k.values) : o;
}

function convert(field: string, k: Kind, v: string): unknown {
  switch (k.t) {
    case 'bool':
      return onOff(v, field);
    case 'number': {
      if (!/^-?\d+$/.test(v.trim())) throw new AdminError('invalid', `--${kebab(field)}: expected a whole number, got '${v}'`, field);
      return Number(v);
    }
    case 'list':
      return v.trim() === '' ? [] : v.split(',').map((x) => x.trim());
    default:
      return v;
  }
}

/** Adds an option per schema field (skipping `skip`); returns a reader of the given ones. */
function schemaOptions(cmd: Command, shape: Record<string, z.ZodType>, skip: string[] = []) {
  const fields = Object.entries(shape).filter(([f]) => !skip.includes(f));
  for (const [f, s] of fields) cmd.addOption(optionFor(f, kindOf(s)));
  return (opts: Record<string, string | undefined>) => {
    const out: Record<string, unknown> = {};
    for (const [f, s] of fields) if (opts[f] !== undefined) out[f] = convert(f, kindOf(s), opts[f]!);
    return out;
  };
}

// ---- output ----

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (Array.isArray(v) ? v.join(',') : v === null || v === undefined ? '' : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/** One object as a two-column table. */
function vertical(o: Record<string, unknown>): string {
  return table(Object.entries(o).map(([setting, value]) => ({ setting, value })));
}

interface MailboxView {
  address: string;
  role: string;
  popEnabled: boolean;
  imapEnabled: boolean;
  homeSite: string;
  createdAt: string;
  [k: string]: unknown;
}

function summary(m: MailboxView) {
  return { address: m.address, role: m.role, popEnabled: m.popEnabled, imapEnabled: m.imapEnabled, homeSite: m.homeSite, createdAt: m.createdAt };
}

async function password(opts: { password?: string; passwordStdin?: boolean }): Promise<{ value: string; generated: boolean }> {
  if (opts.password !== undefined) return { value: opts.password, generated: false };
  if (opts.passwordStdin) return { value: (await readStdin()).toString('utf8').replace(/\r?\n$/, ''), generated: false };
  return { value: randomBytes(12).toString('base64url'), generated: true };
}

function ifMatchHeader(v: string | undefined): Record<string, string> {
  return v === undefined ? {} : { 'if-match': `"${v}"` };
}

function protocolArg(p: string): ProtocolName {
  if (!(PROTOCOLS as readonly string[]).includes(p)) throw new AdminError('invalid', `protocol must be pop3 or imap4, got '${p}'`);
  return p as ProtocolName;
}

const mbox = (address: string) => `/v1/mailboxes/${encodeSegment(address.trim())}`;

export async function run(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const program = new Command('mailctl')
    .description('Administer the mail access service through its admin API')
    .addOption(new Option('--url <url>', 'admin API base URL (default: http://127.0.0.1:$ADMIN_PORT, port 8080)').env('ADMIN_URL'))
    .addOption(new Option('--token <token>', 'bearer token (default: DATA_DIR/admin-token.txt for a local URL)').env('ADMIN_TOKEN'))
    .option('--sigv4', 'sign requests with AWS SigV4 (default for a remote URL without a token)')
    .option('--region <region>', 'AWS region for SigV4 (default: AWS_REGION or from the URL)')
    .addOption(new Option('--data-dir <dir>', 'data directory of the local server (for its token)').env('DATA_DIR').default('./.data'))
    .option('--json', 'machine-readable output')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  const g = () => program.opts<{ url?: string; token?: string; sigv4?: boolean; region?: string; dataDir: string; json?: boolean }>();
  const print = (human: string, json: unknown) => out(g().json ? JSON.stringify(json, null, 2) : human);
  let clientP: Promise<AdminClient> | null = null;
  /** Set by a command whose request succeeded but whose outcome is a failure (a connectivity test). */
  let failed = false;
  const api = () =>
    (clientP ??= (async () => {
      const o = g();
      const r = await resolveClient({ url: o.url, token: o.token, sigv4: o.sigv4, region: o.region, dataDir: o.dataDir, env: process.env });
      return new AdminClient(r);
    })());

  // ---- mailboxes ----

  program
    .command('add <address>')
    .description('create a mailbox (with Inbox, Sent, Drafts, Trash, Junk, Archive)')
    .option('--password <password>', 'password (default: generated and printed)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--role <role>', 'user or admin (admin mailboxes cannot log in over POP3/IMAP)', 'user')
    .option('--pop <on|off>', 'POP3 access', 'on')
    .option('--imap <on|off>', 'IMAP4 access', 'on')
    .action(async (address: string, o) => {
      const pw = await password(o);
      const body = { address, password: pw.value, role: o.role, popEnabled: onOff(o.pop, 'popEnabled'), imapEnabled: onOff(o.imap, 'imapEnabled') };
      const { body: m } = await (await api()).call<MailboxView>('POST', '/v1/mailboxes', { json: body });
      print(`created ${m.address}${pw.generated ? `\npassword: ${pw.value}` : ''}`, { ...m, ...(pw.generated ? { password: pw.value } : {}) });
    });

  program
    .command('remove <address>')
    .description('delete a mailbox and all its mail (its open sessions end)')
    .action(async (address: string) => {
      await (await api()).call('DELETE', mbox(address));
      print(`removed ${address.trim().toLowerCase()}`, { removed: address.trim().toLowerCase() });
    });

  program
    .command('passwd <address>')
    .description("set a mailbox's password")
    .option('--password <password>', 'new password (default: generated and printed)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, o) => {
      const pw = await password(o);
      const { body: m } = await (await api()).call<MailboxView>('PATCH', mbox(address), { json: { password: pw.value } });
      print(`password set for ${m.address}${pw.generated ? `\npassword: ${pw.value}` : ''}`, { address: m.address, ...(pw.generated ? { password: pw.value } : {}) });
    });

  const set = program
    .command('set <address>')
    .description('change role, protocol access and per-protocol overrides (Set-CASMailbox)')
    .option('--role <role>', 'user or admin')
    .option('--pop <on|off>', 'POP3 access (popEnabled)')
    .option('--imap <on|off>', 'IMAP4 access (imapEnabled)')
    .option('--if-match <version>', 'only if the mailbox is at this version');
  const mailboxFields = schemaOptions(set, mailboxPatchSchema.shape as Record<string, z.ZodType>, ['password', 'role', 'popEnabled', 'imapEnabled']);
  set.action(async (address: string, o) => {
    const changes: Record<string, unknown> = { ...mailboxFields(o) };
    if (o.role !== undefined) changes.role = o.role;
    if (o.pop !== undefined) changes.popEnabled = onOff(o.pop, 'popEnabled');
    if (o.imap !== undefined) changes.imapEnabled = onOff(o.imap, 'imapEnabled');
    if (Object.keys(changes).length === 0) throw new AdminError('invalid', 'nothing to change: give --role, --pop, --imap or another setting (see --help)');
    const { body: m } = await (await api()).call<MailboxView>('PATCH', mbox(address), { json: changes, headers: ifMatchHeader(o.ifMatch) });
    print(table([summary(m)]), m);
  });

  program
    .command('show <address>')
    .description('show one mailbox with its per-protocol settings')
    .action(async (address: string) => {
      const { body: m } = await (await api()).call<MailboxView>('GET', mbox(address));
      print(vertical(m), m);
    });

  program
    .command('list')
    .description('list mailboxes')
    .action(async () => {
      const c = await api();
      const all: MailboxView[] = [];
      let cursor: string | undefined;
      do {
        const { body } = await c.call<{ items: MailboxView[]; next?: string }>('GET', '/v1/mailboxes', { query: { limit: '500', ...(cursor ? { cursor } : {}) } });
        all.push(...body.items);
        cursor = body.next;
      } while (cursor);
      print(table(all.map(summary)), all);
    });

  program
    .command('folders <address>')
    .description("list a mailbox's folders")
    .action(async (address: string) => {
      const { body } = await (await api()).call<{ items: Array<Record<string, unknown>> }>('GET', `${mbox(address)}/folders`);
      print(table(body.items.map(({ subscribed: _s, ...r }) => r)), body.items);
    });

  program
    .command('deliver <address> [file]')
    .description('deliver an RFC 5322 message from a file (or standard input) to the Inbox')
    .action(async (address: string, file?: string) => {
      const raw = !file || file === '-' ? await readStdin() : await readFile(file);
      const { body: r } = await (await api()).call<{ address: string; uid: number; uidValidity: number }>('POST', `${mbox(address)}/messages`, { body: raw, contentType: 'message/rfc822' });
      print(`delivered to ${r.address} INBOX, UID ${r.uid}`, r);
    });

  program
    .command('protocol-settings <address>')
    .description('the connection settings a client of this mailbox should use (Get-CASMailbox -ProtocolSettings)')
    .action(async (address: string) => {
      type Conn = { hostname: string; port: number; encryptionType: string | null };
      type P = { enabled: boolean; loginType: string; internalConnectionSettings: Conn[]; externalConnectionSettings: Conn[] };
      const { body } = await (await api()).call<{ address: string; pop3: P; imap4: P }>('GET', `${mbox(address)}/protocol-settings`);
      const rows: Array<Record<string, unknown>> = [];
      for (const p of PROTOCOLS) {
        const s = body[p];
        for (const [scope, list] of [['internal', s.internalConnectionSettings], ['external', s.externalConnectionSettings]] as const) {
          for (const c of list) rows.push({ protocol: p, enabled: s.enabled, scope, hostname: c.hostname, port: c.port, encryption: c.encryptionType ?? 'none', loginType: s.loginType });
        }
        if (s.internalConnectionSettings.length + s.externalConnectionSettings.length === 0) rows.push({ protocol: p, enabled: s.enabled, scope: '', hostname: '', port: '', encryption: '', loginType: s.loginType });
      }
      print(table(rows), body);
    });

  // ---- protocol services ----

  const protocol = program.command('protocol').description('protocol service settings (Get-/Set-PopSettings, Get-/Set-ImapSettings)');
  protocol
    .command('show <protocol>')
    .description('show pop3 or imap4 service settings')
    .action(async (p: string) => {
      const { body, headers } = await (await api()).call<Record<string, unknown>>('GET', `/v1/protocols/${protocolArg(p)}`);
      print(vertical({ ...body, version: headers.get('etag')?.replace(/"/g, '') }), body);
    });
  const pset = protocol
    .command('set <protocol>')
    .description('change pop3 or imap4 service settings; running servers apply them at once')
    .option('--if-match <version>', 'only if the settings are at this version');
  // The union of both protocols' fields; the server refuses one the protocol does not have.
  const protocolShape = { ...(pop3SettingsSchema.shape as Record<string, z.ZodType>), ...(imap4SettingsSchema.shape as Record<string, z.ZodType>) };
  const protocolFields = schemaOptions(pset, protocolShape);
  pset.action(async (p: string, o) => {
    const patch = protocolFields(o);
    if (Object.keys(patch).length === 0) throw new AdminError('invalid', 'nothing to change: give at least one setting (see mailctl protocol set --help)');
    const { body } = await (await api()).call<Record<string, unknown>>('PATCH', `/v1/protocols/${protocolArg(p)}`, { json: patch, headers: ifMatchHeader(o.ifMatch) });
    print(vertical(body), body);
  });
  for (const [name, enabled] of [['start', true], ['stop', false]] as const) {
    protocol
      .command(`${name} <protocol>`)
      .description(enabled ? 'open the listeners of pop3 or imap4' : 'close the listeners of pop3 or imap4 and end its sessions')
      .action(async (p: string) => {
        const proto = protocolArg(p);
        await (await api()).call('PATCH', `/v1/protocols/${proto}`, { json: { enabled } });
        print(`${proto} ${enabled ? 'started' : 'stopped'}`, { protocol: proto, enabled });
      });
  }

  // ---- connectivity, autoconfig, API description ----

  program
    .command('test-connectivity <address>')
    .description('log in to a mailbox over the real protocol through the front-end (Test-PopConnectivity / Test-ImapConnectivity)')
    .addOption(new Option('--protocol <protocol>', 'pop3 or imap4').choices(['pop3', 'imap4']).default('imap4'))
    .addOption(new Option('--connection-type <type>', 'plain, tls or starttls').choices(['plain', 'tls', 'starttls']).default('tls'))
    .option('--light-mode', 'log in only')
    .option('--password <password>', "the mailbox's password")
    .option('--password-stdin', 'read the password from standard input')
    .option('--trust-any-certificate <on|off>', 'accept any certificate')
    .option('--timeout-ms <ms>', 'per front-end')
    .action(async (address: string, o) => {
      if (o.password === undefined && !o.passwordStdin) throw new AdminError('invalid', 'give --password or --password-stdin');
      const pw = await password(o);
      const body: Record<string, unknown> = { protocol: o.protocol, mailbox: address, password: pw.value, connectionType: o.connectionType, lightMode: Boolean(o.lightMode) };
      if (o.trustAnyCertificate !== undefined) body.trustAnyCertificate = onOff(o.trustAnyCertificate, 'trustAnyCertificate');
      if (o.timeoutMs !== undefined) body.timeoutMs = convert('timeoutMs', { t: 'number' }, o.timeoutMs);
      const { body: r } = await (await api()).call<{ results: Array<Record<string, unknown>> }>('POST', '/v1/connectivity-tests', { json: body });
      print(table(r.results.map((x) => ({ server: x.server, site: x.site, endpoint: x.endpoint, scenario: x.scenario, result: x.result, latencyMs: x.latencyMs, error: x.error ?? '' }))), r);
      if (r.results.some((x) => x.result !== 'Success')) failed = true;
    });

  program
    .command('autoconfig <address>')
    .description('the Thunderbird autoconfig XML served for an address')
    .action(async (address: string) => {
      const { body } = await (await api()).call<string>('GET', '/mail/config-v1.1.xml', { query: { emailaddress: address }, headers: { accept: 'application/xml' } });
      out(String(body).trimEnd());
    });

  program
    .command('openapi')
    .description('the OpenAPI 3.1 document of the admin API')
    .action(async () => {
      const { body } = await (await api()).call('GET', '/v1/openapi.json');
      out(JSON.stringify(body, null, 2));
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return failed ? EXIT.failure : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (e instanceof AdminError) {
      process.stderr.write(`mailctl: ${e.message}\n`);
      return exitCode(e);
    }
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`mailctl: ${err.code === 'ENOENT' ? `no such file: ${err.path}` : err.message}\n`);
    return EXIT.failure;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.MAILCTL_MAIN === '1') {
  run(process.argv.slice(2)).then((code) => process.exit(code));
}
