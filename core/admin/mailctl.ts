// mailctl: local administration of the embedded store (DATA_DIR). Exit codes scripts can
// trust: 0 done, 1 failure, 2 invalid input or usage, 3 no such mailbox, 4 already exists.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { openLocalStore } from '../store/local/index.js';
import type { Account, Store } from '../store/port.js';
import { AdminError } from './errors.js';
import { createMailbox, deliverToInbox, getMailbox, listMailboxes, removeMailbox, updateMailbox } from './mailboxes.js';

const EXIT = { ok: 0, failure: 1, invalid: 2, not_found: 3, conflict: 4 } as const;

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function onOff(v: string): boolean {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new AdminError('invalid', `expected on or off, got '${v}'`);
}

function summary(a: Account) {
  return { address: a.address, role: a.role, popEnabled: a.pop3.enabled, imapEnabled: a.imap4.enabled, homeSite: a.homeSite, createdAt: new Date(a.createdAt).toISOString() };
}

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i]!)).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}

async function password(opts: { password?: string; passwordStdin?: boolean }): Promise<{ value: string; generated: boolean }> {
  if (opts.password !== undefined) return { value: opts.password, generated: false };
  if (opts.passwordStdin) return { value: (await readStdin()).toString('utf8').replace(/\r?\n$/, ''), generated: false };
  return { value: randomBytes(12).toString('base64url'), generated: true };
}

export async function run(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  let store: Store | null = null;
  const open = async (dir: string) => (store = await openLocalStore(dir));
  const program = new Command('mailctl')
    .description('Administer mailboxes of the local mail access server')
    .addOption(new Option('--data-dir <dir>', 'data directory of the local store').env('DATA_DIR').default('./.data'))
    .option('--json', 'machine-readable output')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  const g = () => program.opts<{ dataDir: string; json?: boolean }>();
  const print = (human: string, json: unknown) => out(g().json ? JSON.stringify(json, null, 2) : human);

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
      const acc = await createMailbox(await open(g().dataDir), { address, password: pw.value, role: o.role, popEnabled: onOff(o.pop), imapEnabled: onOff(o.imap) });
      print(`created ${acc.address}${pw.generated ? `\npassword: ${pw.value}` : ''}`, { ...summary(acc), ...(pw.generated ? { password: pw.value } : {}) });
    });

  program
    .command('remove <address>')
    .description('delete a mailbox and all its mail')
    .action(async (address: string) => {
      await removeMailbox(await open(g().dataDir), address);
      print(`removed ${address.toLowerCase()}`, { removed: address.toLowerCase() });
    });

  program
    .command('passwd <address>')
    .description("set a mailbox's password")
    .option('--password <password>', 'new password (default: generated and printed)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, o) => {
      const pw = await password(o);
      const acc = await updateMailbox(await open(g().dataDir), address, { password: pw.value });
      print(`password set for ${acc.address}${pw.generated ? `\npassword: ${pw.value}` : ''}`, { address: acc.address, ...(pw.generated ? { password: pw.value } : {}) });
    });

  program
    .command('set <address>')
    .description('change role or protocol access')
    .option('--role <role>', 'user or admin')
    .option('--pop <on|off>', 'POP3 access')
    .option('--imap <on|off>', 'IMAP4 access')
    .action(async (address: string, o) => {
      if (o.role === undefined && o.pop === undefined && o.imap === undefined) throw new AdminError('invalid', 'nothing to change: give --role, --pop or --imap');
      const acc = await updateMailbox(await open(g().dataDir), address, {
        role: o.role,
        popEnabled: o.pop === undefined ? undefined : onOff(o.pop),
        imapEnabled: o.imap === undefined ? undefined : onOff(o.imap),
      });
      print(table([summary(acc)]), summary(acc));
    });

  program
    .command('show <address>')
    .description('show one mailbox')
    .action(async (address: string) => {
      const acc = await getMailbox(await open(g().dataDir), address);
      print(table([summary(acc)]), summary(acc));
    });

  program
    .command('list')
    .description('list mailboxes')
    .action(async () => {
      const s = await open(g().dataDir);
      const all: Account[] = [];
      let cursor: string | undefined;
      do {
        const page = await listMailboxes(s, { limit: 500, cursor });
        all.push(...page.items);
        cursor = page.next;
      } while (cursor);
      print(table(all.map(summary)), all.map(summary));
    });

  program
    .command('folders <address>')
    .description("list a mailbox's folders")
    .action(async (address: string) => {
      const s = await open(g().dataDir);
      const acc = await getMailbox(s, address);
      const rows = (await s.listFolders(acc.id)).map((f) => ({ name: f.name, specialUse: f.specialUse ?? '', messages: f.messageCount, size: f.totalSize, uidValidity: f.uidValidity, uidNext: f.uidNext }));
      print(table(rows), rows);
    });

  program
    .command('deliver <address> [file]')
    .description('deliver an RFC 5322 message from a file (or standard input) to the Inbox')
    .action(async (address: string, file?: string) => {
      const raw = !file || file === '-' ? await readStdin() : await readFile(file);
      const r = await deliverToInbox(await open(g().dataDir), address, raw);
      print(`delivered to ${address.toLowerCase()} INBOX, UID ${r.uid}`, { address: address.toLowerCase(), folder: 'INBOX', uid: r.uid, uidValidity: r.uidValidity });
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (e instanceof AdminError) {
      process.stderr.write(`mailctl: ${e.message}\n`);
      return e.code === 'not_found' ? EXIT.not_found : e.code === 'conflict' ? EXIT.conflict : e.code === 'invalid' ? EXIT.invalid : EXIT.failure;
    }
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`mailctl: ${err.code === 'ENOENT' ? `no such file: ${err.path}` : err.message}\n`);
    return EXIT.failure;
  } finally {
    await (store as Store | null)?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.MAILCTL_MAIN === '1') {
  run(process.argv.slice(2)).then((code) => process.exit(code));
}
