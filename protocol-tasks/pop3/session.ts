// POP3 session state machine (RFC 1939, RFC 2449, RFC 2595, RFC 5034).
//
// Concurrency choice (checklist D34): a second session on the same mailbox is allowed and
// works on a stable snapshot of the Inbox taken at login: its numbering, sizes and UIDLs do
// not change while it lives. A message removed meanwhile by another session (POP3 or IMAP)
// answers -ERR on RETR/TOP when its bytes are gone; deletions at QUIT skip messages that are
// already gone. This keeps phones and desktops that poll the same mailbox working, where
// RFC 1939's exclusive lock (-ERR [IN-USE]) would make one of them fail.
//
// Commands are read as they arrive (PIPELINING) and run one at a time in order. Each command
// lives in commands/<name>.ts and declares the states it is allowed in.

import type { Authenticator } from '../../core/access/authenticator.js';
import type { EventBus } from '../../core/events/bus.js';
import type { ProtocolSettings } from '../../core/settings/schema.js';
import type { Account, Folder, Store } from '../../core/store/port.js';
import type { Connection, ProtocolServer } from '../net/types.js';
import { LineReceiver, err, parseCommand, type Pop3Command } from './codec.js';
import { COMMANDS } from './commands/index.js';
import { SessionLog, type ProtocolLogSink } from '../protocol-log.js';
import { newUsage, reportCommandUsage, withUsage } from '../../core/store/usage.js';

export type { ProtocolLogEntry } from '../protocol-log.js';

export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

export interface Pop3Services {
  store: Store;
  bus: EventBus;
  auth: Authenticator;
  settings: () => ProtocolSettings;
  /** For the per-user connection cap. */
  server: Pick<ProtocolServer, 'acquireUser'>;
  /** Called once per command when the protocol log is on (passwords already masked). */
  protocolLog?: ProtocolLogSink;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
}


export interface SnapshotMessage {
  uid: number;
  size: number;
  blobKey: string;
  deleted: boolean;
}

export interface Pop3CommandHandler {
  name: string;
  states: readonly Pop3State[];
  run(s: Pop3Session, cmd: Pop3Command): Promise<void>;
}

/** Failures before login that end the connection. */
const MAX_AUTH_FAILURES = 3;
const MAX_BAD_COMMANDS = 10;
/** Pause reading when this many commands are waiting (pipelining stays bounded). */
const MAX_QUEUED = 64;

export const AUTH_FAILED = err('Authentication failed.', 'AUTH');

export class Pop3Session {
  state: Pop3State = 'AUTHORIZATION';
  /** Name given by USER, waiting for PASS. */
  pendingUser: string | null = null;
  authFailures = 0;
  badCommands = 0;
  account: Account | null = null;
  inbox: Folder | null = null;
  /** Messages in client numbering order (index 0 is message 1). */
  messages: SnapshotMessage[] = [];
  /** Set by AUTH without an initial response: the next line is the SASL response. */
  saslContinuation: ((line: string) => Promise<void>) | null = null;
  /** Set when the client has sent QUIT or the session must end: queued input is ignored. */
  ending = false;

  private receiver: LineReceiver;
  private queue: Array<{ kind: 'line'; line: string } | { kind: 'too-long' }> = [];
  private running = false;
  private releaseUser: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private plog: SessionLog;
  private tlsPending = false;
  private written = 0;

  constructor(
    readonly conn: Connection,
    readonly services: Pop3Services,
  ) {
    this.receiver = new LineReceiver(services.settings().maxCommandSize);
    this.plog = new SessionLog(conn, services.protocolLog, () => this.settings.protocolLogEnabled);
    conn.onData((chunk) => this.onData(chunk));
    conn.onClose(() => this.cleanup());
  }

  get settings(): ProtocolSettings {
    return this.services.settings();
  }

  /** Sends the greeting; the session then runs until the connection closes. */
  async start(): Promise<void> {
    await this.send(`+OK ${this.settings.banner}\r\n`);
  }

  async send(data: string | Buffer): Promise<void> {
    if (this.conn.closed) return;
    this.written += data.length;
    try {
      await this.conn.write(data);
    } catch {
      // the connection is gone; cleanup runs from onClose
    }
  }

  /** Ends the session after the given final reply. */
  async finish(reply?: string): Promise<void> {
    this.ending = true;
    this.queue.length = 0;
    if (reply) await this.send(reply);
    await this.conn.end().catch(() => undefined);
  }

  /** Drops everything received but not yet run (after STLS: nothing pre-TLS may run). */
  discardInput(): void {
    this.queue.length = 0;
    this.receiver.reset();
  }

  /** Called by the login commands after the Authenticator said yes. */
  async loggedIn(account: Account): Promise<boolean> {
    const release = this.services.server.acquireUser(account.id);
    if (!release) {
      await this.send(err('Too many connections to this mailbox.', 'IN-USE'));
      return false;
    }
    this.releaseUser = release;
    const inbox = await this.services.store.getFolderByName(account.id, 'INBOX');
    const metas = inbox ? await this.services.store.listMessages(account.id, inbox.id) : [];
    const list = metas.map((m) => ({ uid: m.uid, size: m.size, blobKey: m.blobKey, deleted: false }));
    if (this.settings.messageRetrievalSortOrder === 'Descending') list.reverse();
    this.account = account;
    this.inbox = inbox;
    this.messages = list;
    this.state = 'TRANSACTION';
    this.pendingUser = null;
    // After login: no absolute deadline, the (longer) authenticated idle timeout.
    this.conn.setDeadline(0);
    this.conn.setIdleTimeout(this.settings.authenticatedConnectionTimeout * 1000);
    this.unsubscribe = this.services.bus.subscribe((n) => {
      if (n.kind === 'account' && n.accountId === account.id) void this.recheckAccount();
    });
    return true;
  }

  /** Looks up message n (1-based) that is not marked deleted. */
  message(n: number | null): SnapshotMessage | null {
    if (n === null) return null;
    const m = this.messages[n - 1];
    return m && !m.deleted ? m : null;
  }

  uidl(m: SnapshotMessage): string {
    return `${this.inbox!.uidValidity}.${m.uid}`;
  }

  /** A refused login: same bytes for every reason; after a few, the connection ends. */
  async authFailed(): Promise<void> {
    this.authFailures++;
    if (this.authFailures >= MAX_AUTH_FAILURES) {
      await this.finish(AUTH_FAILED);
      return;
    }
    await this.send(AUTH_FAILED);
  }

  /**
   * STLS: from now on nothing received in plaintext is ever run (invariant 8). The
   * connection sends the +OK, discards what it holds and performs the handshake.
   */
  async upgradeToTls(reply: string): Promise<void> {
    this.tlsPending = true;
    this.discardInput();
    try {
      // The go-ahead and the switch to TLS happen in one turn: no byte is read in between.
      await this.conn.startTls(reply);
    } catch {
      this.ending = true;
      return;
    } finally {
      this.discardInput();
      this.tlsPending = false;
    }
    this.pendingUser = null;
  }

  private onData(chunk: Buffer): void {
    if (this.ending || this.tlsPending) return;
    for (const ev of this.receiver.push(chunk)) this.queue.push(ev);
    if (this.queue.length > MAX_QUEUED) this.conn.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.ending && !this.conn.closed) {
        const ev = this.queue.shift()!;
        if (this.queue.length < MAX_QUEUED / 2) this.conn.resume();
        // Request accounting: the storage requests this command causes (core/store/usage.ts).
        const usage = newUsage();
        const command = ev.kind === 'line' ? (this.saslContinuation ? 'AUTH' : ev.line.split(' ', 1)[0]!.toUpperCase()) : '';
        await withUsage(usage, () => this.handle(ev));
        reportCommandUsage({ protocol: 'pop3', session: this.conn.id, command, usage }, this.services.log);
      }
    } catch (e) {
      // A failure inside one session (storage error, bug) ends only this session (E41).
      this.services.log?.('error', 'pop3 session error', { id: this.conn.id, err: String(e) });
      await this.finish(err('Internal error, closing connection.', 'SYS/TEMP'));
    } finally {
      this.running = false;
    }
  }

  private async handle(ev: { kind: 'line'; line: string } | { kind: 'too-long' }): Promise<void> {
    const started = Date.now();
    const before = this.written;
    if (ev.kind === 'too-long') {
      this.saslContinuation = null;
      await this.send(err('Command line too long.'));
      return this.countBad();
    }
    if (this.saslContinuation) {
      const cont = this.saslContinuation;
      this.saslContinuation = null;
      await cont(ev.line);
      this.logCommand('AUTH', '*****', started, ev.line.length, before);
      return;
    }
    const cmd = parseCommand(ev.line);
    const handler = cmd ? COMMANDS.get(cmd.name) : undefined;
    if (!cmd || !handler) {
      await this.send(err('Unknown command.'));
      return this.countBad();
    }
    if (!handler.states.includes(this.state)) {
      await this.send(err(`${cmd.name} is not allowed now.`));
      return this.countBad();
    }
    await handler.run(this, cmd);
    this.logCommand(cmd.name, maskArgs(cmd), started, ev.line.length, before);
  }

  private async countBad(): Promise<void> {
    if (this.state !== 'AUTHORIZATION') return;
    if (++this.badCommands >= MAX_BAD_COMMANDS) await this.finish(err('Too many invalid commands.'));
  }

  private logCommand(command: string, parameters: string, started: number, requestSize: number, before: number): void {
    this.plog.record({ command, parameters, user: this.account?.address ?? '', started, requestSize, responseSize: this.written - before, context: this.state });
  }


  private async recheckAccount(): Promise<void> {
    if (!this.account || this.ending) return;
    const acc = await this.services.store.getAccount(this.account.id).catch(() => this.account);
    if (!acc || !acc.pop3.enabled || acc.role !== 'user') {
      await this.finish(err('Access to this mailbox is no longer allowed.', 'SYS/PERM'));
    }
  }

  private cleanup(): void {
    this.ending = true;
    this.queue.length = 0;
    this.releaseUser?.();
    this.releaseUser = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}

function maskArgs(cmd: Pop3Command): string {
  if (cmd.name === 'PASS') return '*****';
  if (cmd.name === 'AUTH') return cmd.args.length > 1 ? `${cmd.args[0]} *****` : cmd.args.join(' ');
  return cmd.args.join(' ');
}
