// Streaming IMAP command receiver: bytes in, token trees out. Pure: no sockets, no store.
//
// Use (pull model):
//   receiver.push(chunk)                      // as bytes arrive
//   for (let ev; (ev = receiver.next()); ) {  // until null = needs more input
//     'command'  -> parse it (commands/index.ts) and run it
//     'continue' -> a synchronizing literal was accepted: send "+ Ready" now
//     'line'     -> a line read in line mode (AUTHENTICATE response, IDLE's DONE)
//     'error'    -> answer `status` (tagged when `tag` is known, else `*`); if `fatal`,
//                   send BYE and close: the receiver has stopped reading
//   }
// The receiver parses one command at a time and stops after each event, so the session can
// switch to line mode (AUTHENTICATE, IDLE) or reset() after STARTTLS before any byte that
// follows is looked at. Nothing received after a command is interpreted before the session
// asks for the next event.
//
// Decisions (security checklist B8-B15):
//  - Line ends: CRLF, and a bare LF is accepted as a line end too (as Dovecot, Cyrus and
//    most servers do; some clients and scripts send bare LF). A CR not followed by LF is a
//    bare CR: a CTL character, so the command is BAD. The proxy must do the same.
//  - maxCommandSize bounds the command text: every octet of every line of one command,
//    CRLF included, literal bodies excluded. Going over it is fatal (BAD then BYE) and is
//    detected at the first octet too many, so an endless line is never buffered.
//  - A literal's size is checked before any octet of it is stored, and its body is kept as
//    the octets arrive, so memory follows what was received, never what was claimed.
//    Sizes that are not 1..10 digits or exceed 2^32-1 are BAD.
//  - Streaming literals: the `literalSink` hook may take an admitted literal. Its octets then
//    go to the sink as they arrive (write, then end) instead of being kept, and its string
//    token carries the sink with an empty value. A sink whose command is not delivered as a
//    'command' event (a later syntax error, a refused literal after it, reset, dispose) is
//    aborted. The sink is a callback: the receiver does no I/O and never waits for it (flow
//    control is the caller's: pause the input while the sink is behind).
//  - A refused synchronizing literal ({n}): the error is reported at once (NO [TOOBIG] or
//    BAD), no "+" is sent, and the command ends there; the client does not send the body.
//  - A refused non-synchronizing literal ({n+}): the error is reported at once, then its n
//    octets are read and discarded, and the rest of the command is discarded too (later
//    {m+} literals in it are skipped the same way). If n is over maxSkipSize, or the size
//    is not a valid number (so its end cannot be found), the error is fatal: the session
//    closes the connection. Discarded octets are never parsed as commands.
//  - NUL anywhere (text, quoted string, literal other than literal8) makes the command BAD.
//    CR or LF inside a quoted string, an unterminated quoted string, an unknown escape, a
//    CTL or 8-bit octet in an atom: BAD. 8-bit octets are allowed in quoted strings and
//    literals (UTF8=ACCEPT); the parsers decide whether they are acceptable.
//  - Parentheses (and FETCH section brackets) nest at most maxDepth levels; deeper is BAD,
//    and the rest of the command is discarded without building tokens.
//  - Empty lines between commands are ignored.

import type { AtomToken, ListToken, RawCommand, SectionText, StringToken, Token } from './tokens.js';

export interface ReceiverOptions {
  /** Maximum octets of command text (all lines, CRLF included, literals excluded). Default 10240. */
  maxCommandSize?: number;
  /** Maximum size of a literal in APPEND, and of any literal8. Default 50 MiB. */
  maxLiteralSize?: number;
  /** Maximum size of a literal in any other command (LOGIN, SEARCH, ...). Default 64 KiB. */
  maxArgLiteralSize?: number;
  /** Maximum number of literals in one command. Default 1000. */
  maxLiterals?: number;
  /** Maximum text + literal octets of one command (MULTIAPPEND). Default 2 x maxLiteralSize. */
  maxTotalSize?: number;
  /** Maximum nesting of parentheses and section brackets. Default 64. */
  maxDepth?: number;
  /**
   * Largest refused non-synchronizing literal that is read and discarded (then the command
   * gets its NO/BAD and the connection lives on); larger ones are fatal. Default
   * max(2 x maxLiteralSize, 1 MiB): a client that overshoots the APPEND limit a little gets
   * a clear NO [TOOBIG] rather than a dropped connection it might retry forever.
   */
  maxSkipSize?: number;
  /** Maximum octets of a line read in line mode (CRLF excluded). Default maxCommandSize. */
  maxLineSize?: number;
  /**
   * Called for every literal once its size passed the limits above and before any of its
   * octets is stored. Return a refusal to refuse it (e.g. a global memory budget, or
   * APPEND in the wrong state), or nothing to accept it.
   */
  admitLiteral?: (info: LiteralInfo) => LiteralRefusal | null | undefined | void;
  /**
   * Called for every admitted literal before its first octet: return a sink to receive its
   * octets as they arrive (the receiver then keeps none of them), or nothing to have the
   * receiver keep the literal as usual.
   */
  literalSink?: (info: LiteralInfo) => LiteralSink | null | undefined | void;
}

/** Receives a streamed literal (see ReceiverOptions.literalSink). */
export interface LiteralSink {
  /** The next octets of the literal: a view of pushed input (the receiver never reuses it). */
  write(chunk: Buffer): void;
  /** The last octet arrived. */
  end(): void;
  /** The literal or its command was abandoned; no further call follows. */
  abort(): void;
}

export interface LiteralInfo {
  tag: string | null;
  /** Upper-cased command name, or null if not received yet. */
  command: string | null;
  size: number;
  /** False for {n+} (LITERAL+). */
  sync: boolean;
  /** True for literal8 ~{n}. */
  binary: boolean;
  /** 0-based index of this literal within the command. */
  index: number;
}

export interface LiteralRefusal {
  status: 'NO' | 'BAD';
  /** Response code without brackets, e.g. 'TOOBIG'. */
  code?: string | null;
  message: string;
}

export type ReceiverErrorReason =
  | 'syntax'
  | 'line-too-long'
  | 'bad-literal'
  | 'literal-too-big'
  | 'command-too-big'
  | 'too-many-literals'
  | 'too-deep'
  | 'refused';

export interface ReceiverError {
  kind: 'error';
  /** The command's tag when it was received and valid, else null (answer with `*`). */
  tag: string | null;
  reason: ReceiverErrorReason;
  status: 'BAD' | 'NO';
  /** Response code without brackets (e.g. 'TOOBIG', 'LIMIT'), or null. */
  code: string | null;
  message: string;
  /** The receiver has stopped: send BYE and close the connection. */
  fatal: boolean;
}

export type ReceiverEvent =
  | { kind: 'command'; command: RawCommand }
  | { kind: 'continue'; tag: string | null; size: number }
  | { kind: 'line'; line: Buffer }
  | ReceiverError;

export const DEFAULT_MAX_COMMAND_SIZE = 10240;
export const DEFAULT_MAX_LITERAL_SIZE = 50 * 1024 * 1024;
export const DEFAULT_MAX_ARG_LITERAL_SIZE = 64 * 1024;
export const DEFAULT_MAX_LITERALS = 1000;
export const DEFAULT_MAX_DEPTH = 64;
export const MAX_UINT32 = 4294967295;

// States.
const BETWEEN = 0;
const ATOM = 1;
const QUOTED = 2;
const QUOTED_ESC = 3;
const TILDE = 4;
const LIT_OPEN = 5;
const LIT_CLOSE = 6;
const LIT_CR = 7;
const LIT_BODY = 8;
const CR = 9;
const DISCARD = 10;
const SKIP = 11;

const EMPTY = Buffer.alloc(0);

const SECTION_PREFIXES = new Set(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE']);

interface Frame {
  items: Token[];
  /** Set for a FETCH section bracket frame. */
  section: { prefix: string; raw: string } | null;
}

/** Parses a literal size: 1..10 digits, value <= 2^32-1; null when invalid. */
export function parseLiteralSize(digits: string): number | null {
  if (digits.length < 1 || digits.length > 10) return null;
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const n = Number(digits);
  return n <= MAX_UINT32 ? n : null;
}

function isValidTag(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // ASTRING-CHAR minus "+": no CTL, SP, ( ) { " \ % * +, 7-bit.
    if (c <= 0x20 || c >= 0x7f) return false;
    if (c === 0x28 || c === 0x29 || c === 0x7b || c === 0x22 || c === 0x5c || c === 0x25 || c === 0x2a || c === 0x2b) {
      return false;
    }
  }
  return true;
}

export class Receiver {
  readonly maxCommandSize: number;
  readonly maxLiteralSize: number;
  readonly maxArgLiteralSize: number;
  readonly maxLiterals: number;
  readonly maxTotalSize: number;
  readonly maxDepth: number;
  readonly maxSkipSize: number;
  readonly maxLineSize: number;
  private readonly admit: ReceiverOptions['admitLiteral'];
  private readonly sinkFor: ReceiverOptions['literalSink'];

  // Input queue.
  private queue: Buffer[] = [];
  private qpos = 0;
  private queued = 0;

  private closed = false;
  private lineMode = false;
  private lineParts: Buffer[] = [];
  private lineLen = 0;
  private lineCR = false;

  // Command state.
  private state = BETWEEN;
  private stack: Frame[] = [{ items: [], section: null }];
  private tag: string | null = null;
  private tagChecked = false;
  private textBytes = 0;
  private literalBytes = 0;
  private literals = 0;
  private atom = '';
  private atomSection: SectionText | null = null;
  private quoted: number[] = [];
  private litSpec = '';
  private lit8 = false;
  private litSize = 0;
  private litSync = true;
  private litParts: Buffer[] = [];
  /** The sink of the literal being received, when it streams. */
  private litSink: LiteralSink | null = null;
  /** Sinks of the command in progress (handed over with it, or aborted). */
  private sinks: LiteralSink[] = [];
  private litRemaining = 0;
  private litNul = false;
  private skipRemaining = 0;
  private tail = '';
  private err: ReceiverError | null = null;
  private errEmitted = false;
  private event: ReceiverEvent | null = null;

  constructor(opts: ReceiverOptions = {}) {
    this.maxCommandSize = opts.maxCommandSize ?? DEFAULT_MAX_COMMAND_SIZE;
    this.maxLiteralSize = opts.maxLiteralSize ?? DEFAULT_MAX_LITERAL_SIZE;
    this.maxArgLiteralSize = opts.maxArgLiteralSize ?? DEFAULT_MAX_ARG_LITERAL_SIZE;
    this.maxLiterals = opts.maxLiterals ?? DEFAULT_MAX_LITERALS;
    this.maxTotalSize = opts.maxTotalSize ?? 2 * this.maxLiteralSize;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxSkipSize = opts.maxSkipSize ?? Math.max(2 * this.maxLiteralSize, 1024 * 1024);
    this.maxLineSize = opts.maxLineSize ?? this.maxCommandSize;
    this.admit = opts.admitLiteral;
    this.sinkFor = opts.literalSink;
  }

  /** Queues received bytes. Ignored once a fatal error stopped the receiver. */
  push(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Bytes pushed but not looked at yet (for backpressure: pause the socket above a mark). */
  get pendingBytes(): number {
    return this.queued - this.qpos;
  }

  /**
   * Octets held for the command in progress: command text so far (bounded by
   * maxCommandSize) plus received literal octets (bounded by the literal limits), streamed
   * literals excepted.
   */
  get bufferedBytes(): number {
    return this.textBytes + this.literalBytes - this.streamedBytes + this.lineLen;
  }

  /** Literal octets of the command in progress that went to sinks. */
  private streamedBytes = 0;

  /** True once a fatal error stopped the receiver. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** True while part of a command (or a line in line mode) has been received. */
  get midCommand(): boolean {
    if (this.lineMode) return this.lineLen > 0 || this.lineCR;
    return this.textBytes > 0 || this.state !== BETWEEN;
  }

  /**
   * The next line (up to LF, CR LF stripped) is returned as a 'line' event instead of being
   * parsed as a command: for AUTHENTICATE responses and IDLE's DONE. Call only between
   * commands (after a command event was handled). One line; then command mode resumes.
   */
  expectLine(): void {
    if (this.closed) return;
    if (this.midCommand) throw new Error('expectLine() called in the middle of a command');
    this.lineMode = true;
    this.lineParts = [];
    this.lineLen = 0;
    this.lineCR = false;
  }

  /** Cancels a pending expectLine() (e.g. the command failed before asking for a line). */
  cancelLine(): void {
    this.lineMode = false;
    this.lineParts = [];
    this.lineLen = 0;
    this.lineCR = false;
  }

  /** Ends the receiver for good (the connection closed): open sinks are aborted. */
  dispose(): void {
    this.resetCommand();
    this.queue = [];
    this.qpos = 0;
    this.queued = 0;
    this.closed = true;
  }

  /** Drops every buffered byte and all parse state (after STARTTLS). */
  reset(): void {
    this.queue = [];
    this.qpos = 0;
    this.queued = 0;
    this.closed = false;
    this.cancelLine();
    this.resetCommand();
  }

  /** Returns the next event, or null when more input is needed. */
  next(): ReceiverEvent | null {
    while (!this.event && !this.closed && this.queue.length > 0) {
      const chunk = this.queue[0]!;
      const pos = this.lineMode ? this.stepLine(chunk, this.qpos) : this.step(chunk, this.qpos);
      if (this.closed) break;
      if (pos >= chunk.length) {
        this.queue.shift();
        this.queued -= chunk.length;
        this.qpos = 0;
      } else {
        this.qpos = pos;
      }
    }
    const ev = this.event;
    this.event = null;
    return ev;
  }

  /** Convenience: push a chunk and collect every event it completes (no mode switching). */
  feed(chunk: Buffer): ReceiverEvent[] {
    this.push(chunk);
    const out: ReceiverEvent[] = [];
    for (let ev = this.next(); ev; ev = this.next()) out.push(ev);
    return out;
  }

  // ---------------------------------------------------------------------------------------

  private resetCommand(): void {
    this.abortSinks();
    this.state = BETWEEN;
    this.stack = [{ items: [], section: null }];
    this.tag = null;
    this.tagChecked = false;
    this.textBytes = 0;
    this.literalBytes = 0;
    this.literals = 0;
    this.atom = '';
    this.atomSection = null;
    this.quoted = [];
    this.litSpec = '';
    this.lit8 = false;
    this.litSize = 0;
    this.litSync = true;
    this.litParts = [];
    this.litRemaining = 0;
    this.litNul = false;
    this.skipRemaining = 0;
    this.streamedBytes = 0;
    this.tail = '';
    this.err = null;
    this.errEmitted = false;
  }

  /** Aborts the sinks of the command in progress (it will not be delivered). */
  private abortSinks(): void {
    const list = this.litSink && !this.sinks.includes(this.litSink) ? [...this.sinks, this.litSink] : this.sinks;
    this.sinks = [];
    this.litSink = null;
    for (const sink of list) sink.abort();
  }

  private commandName(): string | null {
    const t = this.stack[0]!.items[1];
    return t && t.type === 'atom' ? t.value.toUpperCase() : null;
  }

  private makeError(
    reason: ReceiverErrorReason,
    message: string,
    status: 'BAD' | 'NO' = 'BAD',
    code: string | null = null,
    fatal = false,
  ): ReceiverError {
    return { kind: 'error', tag: this.tag, reason, status, code, message, fatal };
  }

  private fatal(reason: ReceiverErrorReason, message: string, code: string | null = null): void {
    this.event = this.makeError(reason, message, 'BAD', code, true);
    this.closed = true;
    this.queue = [];
    this.qpos = 0;
    this.queued = 0;
    this.cancelLine();
    this.resetCommand();
  }

  /** Records a syntax-level error and starts discarding the rest of the command. */
  private fail(reason: ReceiverErrorReason, message: string, code: string | null = null, status: 'BAD' | 'NO' = 'BAD'): void {
    if (!this.err) this.err = this.makeError(reason, message, status, code);
    this.abortSinks();
    this.state = DISCARD;
    this.atom = '';
    this.atomSection = null;
    this.quoted = [];
    this.litParts = [];
    this.stack = [{ items: [], section: null }];
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1]!;
  }

  private sectionFrame(): Frame | null {
    for (let i = this.stack.length - 1; i >= 1; i--) {
      if (this.stack[i]!.section) return this.stack[i]!;
    }
    return null;
  }

  private pushToken(tok: Token): void {
    const frame = this.top();
    if (!this.tagChecked && this.stack.length === 1 && frame.items.length === 0) {
      this.tagChecked = true;
      if (tok.type === 'atom' && !tok.section && isValidTag(tok.value)) {
        this.tag = tok.value;
      } else {
        this.fail('syntax', 'Invalid tag');
        return;
      }
    }
    frame.items.push(tok);
  }

  private finishAtom(): void {
    const tok: AtomToken = { type: 'atom', value: this.atom };
    if (this.atomSection) {
      this.atomSection.suffix = this.atom.slice(this.atomSection.prefix.length + this.atomSection.raw.length + 2);
      tok.section = this.atomSection;
    }
    this.atom = '';
    this.atomSection = null;
    this.pushToken(tok);
  }

  /** Appends text octets to the raw text of an open FETCH section, if any. */
  private sectionRaw(ch: string): void {
    const f = this.sectionFrame();
    if (f) f.section!.raw += ch;
  }

  private countText(): boolean {
    this.textBytes++;
    if (this.textBytes > this.maxCommandSize) {
      this.fatal('line-too-long', `Command exceeds ${this.maxCommandSize} octets`, 'TOOBIG');
      return false;
    }
    return true;
  }

  private openList(): void {
    if (this.stack.length > this.maxDepth) {
      this.fail('too-deep', `Nesting deeper than ${this.maxDepth} levels`, 'LIMIT');
      return;
    }
    this.stack.push({ items: [], section: null });
  }

  private closeList(): void {
    const frame = this.top();
    if (this.stack.length === 1 || frame.section) {
      this.fail('syntax', 'Unbalanced parenthesis');
      return;
    }
    this.stack.pop();
    const list: ListToken = { type: 'list', items: frame.items };
    this.pushToken(list);
  }

  /** `[` in a section-eligible atom. */
  private openSection(): void {
    if (this.stack.length > this.maxDepth) {
      this.fail('too-deep', `Nesting deeper than ${this.maxDepth} levels`, 'LIMIT');
      return;
    }
    this.stack.push({ items: [], section: { prefix: this.atom, raw: '' } });
    this.atom = '';
    this.state = BETWEEN;
  }

  /** `]` closing a section (the top frame is the section frame). */
  private closeSection(): void {
    const frame = this.stack.pop()!;
    const { prefix, raw } = frame.section!;
    this.atom = prefix + '[' + raw + ']';
    this.atomSection = { prefix, raw, items: frame.items, suffix: '' };
    this.state = ATOM;
  }

  private lineEnd(): void {
    // A complete command line (no literal pending).
    if (this.stack.length > 1) {
      this.event = this.makeError('syntax', 'Missing closing parenthesis');
      this.resetCommand();
      return;
    }
    const items = this.stack[0]!.items;
    if (items.length === 0) {
      // Empty line: ignored.
      this.resetCommand();
      return;
    }
    const tag = this.tag!;
    const nameTok = items[1];
    if (!nameTok || nameTok.type !== 'atom' || !/^[A-Za-z][A-Za-z0-9._-]*$/.test(nameTok.value)) {
      this.event = this.makeError('syntax', nameTok ? 'Invalid command name' : 'Missing command');
      this.resetCommand();
      return;
    }
    this.event = {
      kind: 'command',
      command: {
        tag,
        name: nameTok.value.toUpperCase(),
        args: items.slice(2),
        textSize: this.textBytes,
        literalSize: this.literalBytes,
      },
    };
    this.sinks = []; // handed over with the command's tokens
    this.resetCommand();
  }

  /** End of a line while discarding: skip a trailing {n+} literal or end the command. */
  private discardLineEnd(): void {
    const m = /~?\{([^{}]*)\}$/.exec(this.tail);
    if (m && m[1]!.endsWith('+')) {
      const n = parseLiteralSize(m[1]!.slice(0, -1));
      if (n === null) {
        this.fatal('bad-literal', 'Invalid non-synchronizing literal size');
        return;
      }
      this.literals++;
      if (this.literals > this.maxLiterals) {
        this.fatal('too-many-literals', `More than ${this.maxLiterals} literals`, 'LIMIT');
        return;
      }
      if (n > this.maxSkipSize) {
        this.fatal('literal-too-big', `Literal of ${n} octets refused`, 'TOOBIG');
        return;
      }
      this.tail = '';
      if (n > 0) {
        this.skipRemaining = n;
        this.state = SKIP;
      }
      return;
    }
    if (!this.errEmitted && this.err) this.event = this.err;
    this.resetCommand();
  }

  /** The line ended after a literal marker {n}: check limits, then read or refuse it. */
  private startLiteral(): void {
    const command = this.commandName();
    const sync = this.litSync;
    const binary = this.lit8;
    const n = this.litSize;
    const index = this.literals;
    this.literals++;
    let refusal: ReceiverError | null = null;
    if (this.literals > this.maxLiterals) {
      refusal = this.makeError('too-many-literals', `More than ${this.maxLiterals} literals in one command`, 'BAD', 'LIMIT');
    } else {
      const big = command === 'APPEND' || binary;
      const limit = big ? this.maxLiteralSize : this.maxArgLiteralSize;
      if (n > limit) {
        refusal = this.makeError('literal-too-big', `Literal of ${n} octets exceeds the limit of ${limit}`, big ? 'NO' : 'BAD', 'TOOBIG');
      } else if (this.textBytes + this.literalBytes + n > this.maxTotalSize) {
        refusal = this.makeError('command-too-big', `Command exceeds ${this.maxTotalSize} octets`, 'NO', 'TOOBIG');
      } else if (this.admit) {
        const r = this.admit({ tag: this.tag, command, size: n, sync, binary, index });
        if (r) refusal = this.makeError('refused', r.message, r.status, r.code ?? null);
      }
    }
    if (refusal) {
      if (sync) {
        // The client waits for "+": it will not send the body. The command ends here.
        this.event = refusal;
        this.resetCommand();
        return;
      }
      if (n > this.maxSkipSize) {
        this.fatal(refusal.reason, refusal.message, refusal.code);
        return;
      }
      this.event = refusal;
      this.err = refusal;
      this.errEmitted = true;
      this.abortSinks();
      this.state = n > 0 ? SKIP : DISCARD;
      this.skipRemaining = n;
      this.tail = '';
      this.stack = [{ items: [], section: null }];
      this.atom = '';
      this.atomSection = null;
      return;
    }
    if (sync) this.event = { kind: 'continue', tag: this.tag, size: n };
    this.litParts = [];
    this.litRemaining = n;
    this.litNul = false;
    this.litSink = (n > 0 && this.sinkFor?.({ tag: this.tag, command, size: n, sync, binary, index })) || null;
    this.state = LIT_BODY;
    if (n === 0) this.finishLiteral();
  }

  private finishLiteral(): void {
    const sink = this.litSink;
    const value = sink ? EMPTY : this.litParts.length === 1 ? this.litParts[0]! : Buffer.concat(this.litParts);
    this.litParts = [];
    this.state = BETWEEN;
    if (this.litNul) {
      this.fail('syntax', 'NUL octet in a literal'); // aborts the sink
      this.tail = '';
      return;
    }
    const tok: StringToken = {
      type: 'string',
      value,
      form: this.lit8 ? 'literal8' : this.litSync ? 'literal' : 'literal+',
    };
    if (sink) {
      this.litSink = null;
      this.sinks.push(sink);
      sink.end();
      tok.sink = sink;
      tok.size = this.litSize;
    }
    this.pushToken(tok);
  }

  /** Processes bytes of `chunk` from `pos` until an event is produced or the chunk ends. */
  private step(chunk: Buffer, pos: number): number {
    let i = pos;
    const len = chunk.length;
    while (i < len) {
      if (this.event || this.closed) return i;
      const st = this.state;
      if (st === LIT_BODY) {
        const take = Math.min(this.litRemaining, len - i);
        if (this.litSink) {
          const part = chunk.subarray(i, i + take);
          if (!this.lit8 && !this.litNul && part.indexOf(0) >= 0) this.litNul = true;
          this.streamedBytes += take;
          this.litSink.write(part);
        } else {
          const part = Buffer.from(chunk.subarray(i, i + take));
          if (!this.lit8 && !this.litNul && part.indexOf(0) >= 0) this.litNul = true;
          this.litParts.push(part);
        }
        this.litRemaining -= take;
        this.literalBytes += take;
        i += take;
        if (this.litRemaining === 0) this.finishLiteral();
        continue;
      }
      if (st === SKIP) {
        const take = Math.min(this.skipRemaining, len - i);
        this.skipRemaining -= take;
        i += take;
        if (this.skipRemaining === 0) {
          this.state = DISCARD;
          this.tail = '';
        }
        continue;
      }
      const b = chunk[i]!;
      if (!this.countText()) return i + 1;
      i++;
      this.byte(b);
    }
    return i;
  }

  /** One octet of command text (already counted). May re-dispatch after a state change. */
  private byte(b: number): void {
    switch (this.state) {
      case BETWEEN:
        return this.between(b);
      case ATOM:
        return this.atomByte(b);
      case QUOTED:
        if (b === 0x22) {
          this.sectionRaw('"');
          const tok: StringToken = { type: 'string', value: Buffer.from(this.quoted), form: 'quoted' };
          this.quoted = [];
          this.state = BETWEEN;
          this.pushToken(tok);
        } else if (b === 0x5c) {
          this.sectionRaw('\\');
          this.state = QUOTED_ESC;
        } else if (b === 0x0d || b === 0x0a) {
          this.fail('syntax', 'CR or LF in a quoted string (unterminated quoted string)');
          this.byte(b);
        } else if (b === 0) {
          this.fail('syntax', 'NUL octet in a quoted string');
        } else {
          this.sectionRaw(String.fromCharCode(b));
          this.quoted.push(b);
        }
        return;
      case QUOTED_ESC:
        if (b === 0x22 || b === 0x5c) {
          this.sectionRaw(String.fromCharCode(b));
          this.quoted.push(b);
          this.state = QUOTED;
        } else {
          this.fail('syntax', 'Invalid escape in a quoted string');
          this.byte(b);
        }
        return;
      case TILDE:
        if (b === 0x7b) {
          this.lit8 = true;
          this.litSpec = '';
          this.state = LIT_OPEN;
        } else {
          this.atom = '~';
          this.state = ATOM;
          this.atomByte(b);
        }
        return;
      case LIT_OPEN:
        if (b === 0x7d) {
          const spec = this.litSpec;
          const plus = spec.endsWith('+');
          const n = parseLiteralSize(plus ? spec.slice(0, -1) : spec);
          if (n === null) {
            this.fail('bad-literal', 'Invalid literal size.');
            this.tail = '{' + spec + '}';
            return;
          }
          this.litSize = n;
          this.litSync = !plus;
          this.state = LIT_CLOSE;
        } else if (b === 0x0d || b === 0x0a || this.litSpec.length > 20) {
          this.fail('bad-literal', 'Invalid literal');
          this.tail = '{' + this.litSpec;
          this.byte(b);
        } else {
          this.litSpec += String.fromCharCode(b);
        }
        return;
      case LIT_CLOSE:
        if (b === 0x0d) this.state = LIT_CR;
        else if (b === 0x0a) this.startLiteral();
        else {
          this.fail('syntax', 'A literal must end the line');
          this.byte(b);
        }
        return;
      case LIT_CR:
        if (b === 0x0a) this.startLiteral();
        else {
          this.fail('syntax', 'Bare CR');
          this.byte(b);
        }
        return;
      case CR:
        if (b === 0x0a) this.lineEnd();
        else {
          this.fail('syntax', 'Bare CR in command');
          this.byte(b);
        }
        return;
      case DISCARD:
        if (b === 0x0a) this.discardLineEnd();
        else if (b !== 0x0d) {
          this.tail += String.fromCharCode(b);
          if (this.tail.length > 32) this.tail = this.tail.slice(-24);
        }
        return;
    }
  }

  private between(b: number): void {
    // The tag and the command name must be atoms: refuse anything else before a "+" is sent.
    if (this.stack.length === 1 && this.stack[0]!.items.length < 2) {
      if (b === 0x28 || b === 0x29 || b === 0x22 || b === 0x7b) {
        this.fail('syntax', this.stack[0]!.items.length === 0 ? 'Invalid tag' : 'Invalid command name');
        return;
      }
      if (b === 0x7e) {
        // "~" is an ordinary atom character here (a tag may start with it), never literal8.
        this.state = ATOM;
        this.atom = '~';
        return;
      }
    }
    switch (b) {
      case 0x20:
        this.sectionRaw(' ');
        return;
      case 0x28: // (
        this.sectionRaw('(');
        this.openList();
        return;
      case 0x29: // )
        this.sectionRaw(')');
        this.closeList();
        return;
      case 0x22: // "
        this.sectionRaw('"');
        this.quoted = [];
        this.state = QUOTED;
        return;
      case 0x7b: // {
        if (this.sectionFrame()) {
          this.fail('syntax', 'Literal inside a section specification');
          return;
        }
        this.lit8 = false;
        this.litSpec = '';
        this.state = LIT_OPEN;
        return;
      case 0x7e: // ~
        if (this.sectionFrame()) {
          this.sectionRaw('~');
          this.atom = '~';
          this.state = ATOM;
          return;
        }
        this.state = TILDE;
        return;
      case 0x0d:
        this.state = CR;
        return;
      case 0x0a:
        this.lineEnd();
        return;
      case 0x5d: // ]
        if (this.top().section) {
          this.closeSection();
          return;
        }
        break;
    }
    if (b <= 0x20 || b >= 0x7f) {
      this.fail('syntax', b === 0 ? 'NUL octet in command' : 'Invalid character in command');
      return;
    }
    this.state = ATOM;
    this.atom = '';
    this.atomByte(b);
  }

  private atomByte(b: number): void {
    switch (b) {
      case 0x20:
      case 0x0d:
      case 0x0a:
      case 0x28:
      case 0x29:
        this.state = BETWEEN;
        this.finishAtom(); // may fail (invalid tag): then the state is DISCARD
        this.byte(b);
        return;
      case 0x22:
      case 0x7b:
        this.fail('syntax', `Unexpected ${String.fromCharCode(b)} in atom`);
        return;
      case 0x5b: // [
        if (
          !this.atomSection &&
          !this.sectionFrame() &&
          !(this.stack.length === 1 && this.stack[0]!.items.length === 0) &&
          SECTION_PREFIXES.has(this.atom.toUpperCase())
        ) {
          this.openSection();
          return;
        }
        break;
      case 0x5d: // ]
        if (this.top().section) {
          this.finishAtom();
          if (this.state === DISCARD) return;
          this.closeSection();
          return;
        }
        break;
    }
    if (b < 0x20 || b >= 0x7f) {
      this.fail('syntax', b === 0 ? 'NUL octet in command' : 'Invalid character in atom');
      return;
    }
    const ch = String.fromCharCode(b);
    this.sectionRaw(ch);
    this.atom += ch;
  }

  /** Line mode: collect up to LF. */
  private stepLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(0x0a, pos);
    const end = lf < 0 ? chunk.length : lf;
    let take = end - pos;
    if (this.lineLen + take > this.maxLineSize + 1) {
      this.fatal('line-too-long', `Line exceeds ${this.maxLineSize} octets`, 'TOOBIG');
      return chunk.length;
    }
    if (take > 0) {
      this.lineParts.push(Buffer.from(chunk.subarray(pos, end)));
      this.lineLen += take;
    }
    if (lf < 0) return chunk.length;
    let line = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > this.maxLineSize) {
      this.fatal('line-too-long', `Line exceeds ${this.maxLineSize} octets`, 'TOOBIG');
      return chunk.length;
    }
    this.cancelLine();
    this.event = { kind: 'line', line };
    return lf + 1;
  }
}
