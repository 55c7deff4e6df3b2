// IMAP4rev1 session state machine (RFC 3501) over a net Connection.
//
// Input: the codec's streaming Receiver turns bytes into commands; commands run one at a
// time, in order (clients may pipeline). While a command runs the receiver is not asked for
// the next command, except for the lines the command itself reads (AUTHENTICATE responses,
// IDLE's DONE). Each command lives in commands/<name>.ts, declares the states it is allowed
// in, writes its untagged data through the session and returns its tagged completion; the
// session then releases the mailbox updates RFC 3501 allows at that point and writes the
// tagged line.

import { credentialsAllowed } from '../../core/access/types.js';
import type { Authenticator } from '../../core/access/authenticator.js';
import type { EventBus } from '../../core/events/bus.js';
import type { ProtocolSettings } from '../../core/settings/schema.js';
import type { Account, Store } from '../../core/store/port.js';
import { MAX_MESSAGE_SIZE } from '../../core/store/deliver.js';
import { newUsage, reportCommandUsage, withUsage } from '../../core/store/usage.js';
import type { Connection, ProtocolServer } from '../net/types.js';
import { SessionLog, type ProtocolLogSink } from '../protocol-log.js';
import { parseCommand } from './codec/commands/index.js';
import type { Command } from './codec/commands/types.js';
import { Receiver, type ReceiverEvent } from './codec/receiver.js';
import {
  continuation,
  tagged,
  untaggedBuffers,
  untaggedStatus,
  type ImapValue,
  type ResponseCode,
  type Status,
} from './codec/serialize.js';
import type { RawCommand } from './codec/tokens.js';
import { COMMANDS } from './commands/index.js';
import { appendBudget } from './literal-budget.js';
import { appendSinkFor, type AppendSink } from './literal-stream.js';
import type { MailboxView } from './mailbox-view.js';

export type ImapState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export interface ImapServices {
  store: Store;
  bus: EventBus;
  auth: Authenticator;
  settings: () => ProtocolSettings;
  server: Pick<ProtocolServer, 'acquireUser'>;
  protocolLog?: ProtocolLogSink;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** IDLE keepalive interval, ms (must stay below the load balancer's idle timeout). */
  idleKeepaliveMs?: number;
  /** How often an IDLE session checks the journal without a change notice, ms. */
  idlePollMs?: number;
  /** Throttle for cheap polling commands (NOOP, CHECK, ...): burst, then a steady rate (E40). */
  pollThrottle?: { burst: number; perSecond: number };
}

/** How a command ended: written as the tagged response. */
export interface Done {
  status: Status;
  text: string;
  code?: ResponseCode | string | null;
}

export const ok = (text = 'Completed', code?: ResponseCode | string | null): Done => ({ status: 'OK', text, code });
export const no = (text: string, code?: ResponseCode | string | null): Done => ({ status: 'NO', text, code });
export const bad = (text: string, code?: ResponseCode | string | null): Done => ({ status: 'BAD', text, code });

export interface ImapCommandHandler<C extends Command = Command> {
  /** The parsed command's name (UID variants share the handler: cmd.uid tells). */
  name: C['name'];
  states: readonly ImapState[];
  run(s: ImapSession, cmd: C, tag: string): Promise<Done>;
}

/** Failed logins before the connection ends. */
const MAX_AUTH_FAILURES = 3;
/** Invalid commands before login that end the connection (checklist B18). */
const MAX_BAD_BEFORE_LOGIN = 10;
/** Unparsed input held while a command runs; past this, reading pauses. */
const MAX_PENDING_INPUT = 256 * 1024;
export const DEFAULT_IDLE_KEEPALIVE_MS = 120_000;
export const DEFAULT_IDLE_POLL_MS = 30_000;

/** Cheap commands a client has no reason to send in a tight loop; a flood of them is slowed. */
const THROTTLED = new Set(['NOOP', 'CHECK', 'CAPABILITY', 'ID', 'NAMESPACE']);
export const DEFAULT_POLL_THROTTLE = { burst: 100, perSecond: 20 };

/** A token bucket: take() waits until a token is there. */
class TokenBucket {
  private tokens: number;
  private last = Date.now();
  constructor(private burst: number, private perSecond: number) {
    this.tokens = burst;
  }
  async take(): Promise<void> {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    const waitMs = Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
    this.tokens -= 1;
    await new Promise((r) => setTimeout(r, waitMs));
  }
}

/** Literals up to this size (command arguments) are not counted against the APPEND budget. */
const SMALL_LITERAL = 64 * 1024;
const LITERAL_DEADLINE_BASE_MS = 5 * 60_000;

export const AUTH_FAILED: Done = no('Authentication failed.', 'AUTHENTICATIONFAILED');

export class ImapSession {
  state: ImapState = 'not-authenticated';
  account: Account | null = null;
  selected: MailboxView | null = null;
  /** Extensions turned on with ENABLE (upper-cased). */
  enabled = new Set<string>();
  /** Set when another session changed the selected mailbox: sync before the next reply. */
  dirty = false;
  authFailures = 0;
  badCommands = 0;
  /** Client identification from ID (for logs). */
  clientId: Array<[string, string | null]> | null = null;

  readonly receiver: Receiver;
  private busy = false;
  private pumping = false;
  private lineWaiter: ((line: Buffer | null) => void) | null = null;
  private tlsPending = false;
  private releaseUser: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private onChangeHook: (() => void) | null = null;
  private plog: SessionLog;
  private pollBucket: TokenBucket;
  /** Literal octets of the command being received/run, taken from the process-wide budget. */
  private literalBytes = 0;
  private written = 0;
  /** Name of the command running (for request accounting). */
  private commandName = '';
  /** Streamed APPEND literals not yet released, and whether one paused the input. */
  private sinks = new Set<AppendSink>();
  private sinkPaused = false;
  ending = false;
  /** When set, the connection ends with this BYE right after the current tagged reply. */
  closeAfterReply: string | null = null;
  /** STARTTLS wrote its own tagged reply before the handshake. */
  suppressReply = false;
  /** LOGOUT: the connection ends (no further BYE) right after the current tagged reply. */
  endAfterReply = false;

  constructor(
    readonly conn: Connection,
    readonly services: ImapServices,
  ) {
    this.receiver = new Receiver({
      maxCommandSize: services.settings().maxCommandSize,
      maxLiteralSize: MAX_MESSAGE_SIZE,
      admitLiteral: (info) => {
        // Only APPEND takes big literals, and only once logged in.
        if (info.command === 'APPEND' && this.state === 'not-authenticated') {
          return { status: 'NO', message: 'Log in first.' };
        }
        if (info.command === 'APPEND' || info.size > SMALL_LITERAL) {
          if (!appendBudget.tryTake(info.size)) {
            return { status: 'NO', code: 'LIMIT', message: 'Too much message data in transit on this server; try again shortly.' };
          }
          this.literalBytes += info.size;
          // A big literal must arrive within an absolute time that new bytes do not extend
          // (checklist E37): 5 minutes plus what 16 KiB/s would need.
          if (this.state !== 'not-authenticated') this.conn.setDeadline(LITERAL_DEADLINE_BASE_MS + Math.ceil(this.literalBytes / 16));
        }
        return null;
      },
      // Big APPEND literals stream to storage as they arrive (literal-stream.ts).
      literalSink: (info) => {
        const sink = appendSinkFor(info, this.store, this.account?.id ?? null, {
          pause: () => {
            this.sinkPaused = true;
            this.conn.pause();
          },
          resume: () => {
            this.sinkPaused = false;
            if (!this.ending) this.conn.resume();
          },
        });
        if (sink) this.sinks.add(sink);
        return sink;
      },
    });
    this.plog = new SessionLog(conn, services.protocolLog, () => this.settings.protocolLogEnabled);
    const t = services.pollThrottle ?? DEFAULT_POLL_THROTTLE;
    this.pollBucket = new TokenBucket(t.burst, t.perSecond);
    conn.onData((chunk) => this.onData(chunk));
    conn.onClose(() => this.cleanup());
  }

  get settings(): ProtocolSettings {
    return this.services.settings();
  }

  get store(): Store {
    return this.services.store;
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }

  /** The capability list for the current state of this connection. */
  capabilities(): string[] {
    const caps = ['IMAP4rev1'];
    const canLogin = credentialsAllowed(this.settings.loginType, this.conn.secure);
    if (this.state === 'not-authenticated') {
      if (this.conn.canStartTls) caps.push('STARTTLS');
      if (canLogin) caps.push('AUTH=PLAIN', 'SASL-IR');
      else caps.push('LOGINDISABLED');
    }
    caps.push(
      'LITERAL+',
      'ID',
      'ENABLE',
      'IDLE',
      'NAMESPACE',
      'UIDPLUS',
      'MOVE',
      'UNSELECT',
      'CHILDREN',
      'SPECIAL-USE',
      'LIST-EXTENDED',
      'LIST-STATUS',
      `APPENDLIMIT=${MAX_MESSAGE_SIZE}`,
      'STATUS=SIZE',
    );
    return caps;
  }

  async start(): Promise<void> {
    await this.send(untaggedStatus('OK', this.settings.banner, { name: 'CAPABILITY', args: this.capabilities().map(rawAtom) }));
  }

  // ---- output ----

  async send(data: Buffer | string | Buffer[]): Promise<void> {
    if (this.conn.closed) return;
    const list = Array.isArray(data) ? data : [data];
    for (const d of list) {
      this.written += d.length;
      try {
        await this.conn.write(d);
      } catch {
        return;
      }
    }
  }

  /** `* <values>` with strings encoded as the client can read them. */
  untagged(parts: readonly ImapValue[]): Promise<void> {
    return this.send(untaggedBuffers(parts, { utf8: this.utf8 }));
  }

  /** A raw untagged line (text without "* " and CRLF). */
  untaggedLine(text: string): Promise<void> {
    return this.send(`* ${text}\r\n`);
  }

  async bye(text: string, code?: string): Promise<void> {
    this.ending = true;
    await this.send(untaggedStatus('BYE', text, code));
    await this.conn.end().catch(() => undefined);
  }

  // ---- input ----

  /**
   * Reads one line from the client (AUTHENTICATE responses, IDLE's DONE). Resolves with null
   * when the connection ends first.
   */
  readLine(): Promise<Buffer | null> {
    if (this.conn.closed) return Promise.resolve(null);
    this.receiver.expectLine();
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      queueMicrotask(() => this.pump());
    });
  }

  /** Called while a command waits in readLine (IDLE): run for every change notice. */
  setChangeHook(fn: (() => void) | null): void {
    this.onChangeHook = fn;
  }

  private onData(chunk: Buffer): void {
    if (this.ending || this.tlsPending) return;
    this.receiver.push(chunk);
    if (this.receiver.pendingBytes > MAX_PENDING_INPUT) this.conn.pause();
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.ending && !this.conn.closed) {
        if (this.busy && !this.lineWaiter) break;
        const ev = this.receiver.next();
        if (!ev) break;
        this.handleEvent(ev);
      }
    } finally {
      this.pumping = false;
    }
    if (this.receiver.pendingBytes <= MAX_PENDING_INPUT && !this.sinkPaused) this.conn.resume();
  }

  private handleEvent(ev: ReceiverEvent): void {
    switch (ev.kind) {
      case 'line': {
        const w = this.lineWaiter;
        this.lineWaiter = null;
        w?.(ev.line);
        return;
      }
      case 'continue':
        void this.send(continuation('Ready for literal data'));
        return;
      case 'error': {
        this.releaseLiterals();
        const text = ev.message;
        if (ev.fatal) {
          void this.bye(text);
          return;
        }
        void this.send(ev.tag ? tagged(ev.tag, ev.status, text, ev.code) : untaggedStatus(ev.status === 'NO' ? 'NO' : 'BAD', text, ev.code));
        this.countBad();
        return;
      }
      case 'command': {
        this.busy = true;
        // Request accounting: the storage requests this command causes (core/store/usage.ts).
        const usage = newUsage();
        this.commandName = ev.command.name;
        void withUsage(usage, () => this.runCommand(ev.command)).finally(() => {
          reportCommandUsage({ protocol: 'imap4', session: this.conn.id, command: this.commandName, usage }, this.services.log);
          this.releaseSinks();
          this.releaseLiterals();
          this.busy = false;
          this.pump();
        });
        return;
      }
    }
  }

  private countBad(): void {
    if (this.state === 'not-authenticated' && ++this.badCommands >= MAX_BAD_BEFORE_LOGIN) {
      void this.bye('Too many invalid commands.');
    }
  }

  private async runCommand(raw: RawCommand): Promise<void> {
    const started = Date.now();
    const before = this.written;
    const parsed = parseCommand(raw, { utf8: this.utf8 });
    let done: Done;
    let name = raw.name;
    let params = '';
    try {
      if (!parsed.ok) {
        done = { status: parsed.status, text: parsed.message, code: parsed.code };
        if (parsed.status === 'BAD') this.countBad();
      } else {
        const cmd = parsed.command;
        name = 'uid' in cmd && cmd.uid ? `UID ${cmd.name}` : cmd.name;
        this.commandName = name;
        params = logParams(cmd);
        const handler = COMMANDS.get(cmd.name) as ImapCommandHandler | undefined;
        if (!handler) {
          done = bad(`${cmd.name} is not supported.`);
        } else if (!handler.states.includes(this.state)) {
          done = bad(stateMessage(this.state, cmd.name));
          this.countBad();
        } else {
          if (THROTTLED.has(cmd.name)) await this.pollBucket.take();
          done = await handler.run(this, cmd, raw.tag);
        }
        if (this.ending || this.conn.closed) return;
        await this.releaseUpdates(cmd);
      }
    } catch (e) {
      // A failure inside one session ends only this session (checklist E41).
      this.services.log?.('error', 'imap command failed', { id: this.conn.id, command: name, err: String(e) });
      await this.bye('Internal server error, closing connection.', 'UNAVAILABLE');
      return;
    }
    if (this.ending || this.conn.closed) return;
    if (this.suppressReply) {
      this.suppressReply = false;
      return;
    }
    await this.send(tagged(raw.tag, done.status, done.text, done.code ?? null, { utf8: this.utf8 }));
    this.logCommand(name, params, started, raw.textSize + raw.literalSize, before, done.status);
    if (this.endAfterReply) {
      this.ending = true;
      await this.conn.end().catch(() => undefined);
    } else if (this.closeAfterReply) {
      await this.bye(this.closeAfterReply);
    }
  }

  /** Untagged updates from other sessions, where RFC 3501 §7.4.1 allows them. */
  async releaseUpdates(cmd?: Command): Promise<void> {
    const view = this.selected;
    if (!view) return;
    if (this.dirty) {
      this.dirty = false;
      await view.sync();
    }
    const noExpunge = cmd && !('uid' in cmd && cmd.uid) && (cmd.name === 'FETCH' || cmd.name === 'STORE' || cmd.name === 'SEARCH');
    const lines = view.flush(!noExpunge, true, this.enabled.has('CONDSTORE'));
    if (lines.length) await this.send(lines.map((l) => `* ${l}\r\n`).join(''));
    if (view.gone) {
      // The folder was deleted or recreated under us.
      await this.bye('The selected mailbox no longer exists.', 'UNAVAILABLE');
    }
  }

  // ---- state changes used by commands ----

  /** STARTTLS: nothing received before the handshake is ever run (invariant 8). */
  async upgradeToTls(reply: Buffer): Promise<boolean> {
    this.tlsPending = true;
    this.receiver.reset();
    try {
      // The tagged OK and the switch to TLS happen in one turn: no byte is read in between.
      await this.conn.startTls(reply);
      return true;
    } catch {
      this.ending = true;
      return false;
    } finally {
      this.receiver.reset();
      this.tlsPending = false;
    }
  }

  /** After the Authenticator said yes. Returns the refusal when the per-user cap is hit. */
  loggedIn(account: Account): Done | null {
    const release = this.services.server.acquireUser(account.id);
    if (!release) return no('Too many connections to this mailbox.', 'LIMIT');
    this.releaseUser = release;
    this.account = account;
    this.state = 'authenticated';
    this.conn.setDeadline(0);
    this.conn.setIdleTimeout(this.settings.authenticatedConnectionTimeout * 1000);
    this.unsubscribe = this.services.bus.subscribe((n) => {
      if (n.kind === 'account' && n.accountId === account.id) void this.recheckAccount();
      else if (n.kind === 'mailbox' && n.accountId === account.id && this.selected?.folder.id === n.folderId) {
        this.dirty = true;
        this.onChangeHook?.();
      } else if (n.kind === 'folders' && n.accountId === account.id && this.selected) {
        this.dirty = true;
        this.onChangeHook?.();
      }
    });
    return null;
  }

  /** A refused login: the same reply for every reason; after a few, the connection ends. */
  async authFailed(): Promise<Done> {
    if (++this.authFailures >= MAX_AUTH_FAILURES) this.closeAfterReply = 'Too many failed logins.';
    return AUTH_FAILED;
  }

  select(view: MailboxView | null): void {
    this.selected = view;
    this.dirty = false;
    this.state = view ? 'selected' : 'authenticated';
  }

  private async recheckAccount(): Promise<void> {
    if (!this.account || this.ending) return;
    const acc = await this.store.getAccount(this.account.id).catch(() => this.account);
    if (!acc || !acc.imap4.enabled || acc.role !== 'user') {
      await this.bye('Access to this mailbox is no longer allowed.');
    }
  }

  private logCommand(command: string, parameters: string, started: number, requestSize: number, before: number, status: string): void {
    this.plog.record({ command, parameters, user: this.account?.address ?? '', started, requestSize, responseSize: this.written - before, context: `${this.state} ${status}` });
  }


  private releaseLiterals(): void {
    if (!this.literalBytes) return;
    appendBudget.give(this.literalBytes);
    this.literalBytes = 0;
    if (this.state !== 'not-authenticated' && !this.ending) this.conn.setDeadline(0);
  }

  /** Streamed messages the command did not claim are let go (their blobs deleted). */
  private releaseSinks(): void {
    for (const k of this.sinks) void k.stage.release();
    this.sinks.clear();
  }

  private cleanup(): void {
    this.ending = true;
    this.receiver.dispose(); // a literal still streaming in is abandoned
    if (!this.busy) this.releaseSinks();
    this.releaseLiterals();
    const w = this.lineWaiter;
    this.lineWaiter = null;
    w?.(null);
    this.releaseUser?.();
    this.releaseUser = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.onChangeHook = null;
  }
}

function rawAtom(s: string): ImapValue {
  return { $: 'raw', text: s };
}

function stateMessage(state: ImapState, name: string): string {
  if (state === 'not-authenticated') return `${name} needs login first.`;
  if (state === 'authenticated') return `${name} needs a selected mailbox.`;
  return `${name} is not allowed now.`;
}

/** Command parameters for the protocol log, with credentials masked. */
function logParams(cmd: Command): string {
  switch (cmd.name) {
    case 'LOGIN':
      return `${cmd.username} *****`;
    case 'AUTHENTICATE':
      return `${cmd.mechanism}${cmd.initialResponse ? ' *****' : ''}`;
    case 'SELECT':
    case 'CREATE':
    case 'DELETE':
    case 'STATUS':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      return cmd.mailbox;
    case 'APPEND':
      return `${cmd.mailbox} ${cmd.messages.map((m) => m.size).join(',')}`;
    case 'RENAME':
      return `${cmd.from} ${cmd.to}`;
    case 'COPY':
    case 'FETCH':
    case 'STORE':
      return JSON.stringify(cmd.set).slice(0, 200);
    default:
      return '';
  }
}

export { rawAtom };
