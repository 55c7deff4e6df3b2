// POP3 codec: pure bytes <-> commands/responses. No I/O, no store.
//
// Line ends: CRLF is the protocol's; a bare LF is accepted as a line end too (many clients'
// test scripts send it), and a CR not followed by LF is part of the line (then rejected as a
// control character by parseCommand). The IMAP codec and the front-end proxy do the same.

export interface Pop3Command {
  /** Upper-cased keyword. */
  name: string;
  /** Arguments split on single spaces (RFC 1939 §3); empty strings kept for strictness. */
  args: string[];
  /** The line as received, without the line end (for AUTH continuation and logs). */
  line: string;
}

export type ReceiverEvent =
  | { kind: 'line'; line: string }
  /** The line exceeded the limit; its bytes up to the next line end are discarded. */
  | { kind: 'too-long' };

/**
 * Splits incoming bytes into lines, never holding more than `maxLine` bytes of one line.
 * A line over the limit is reported once and skipped up to its line end.
 */
export class LineReceiver {
  private buf: Buffer = Buffer.alloc(0);
  private skipping = false;

  constructor(private maxLine: number) {}

  setMaxLine(n: number): void {
    this.maxLine = n;
  }

  /** Drops everything buffered (after STLS). */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.skipping = false;
  }

  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): ReceiverEvent[] {
    const out: ReceiverEvent[] = [];
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const lf = data.indexOf(0x0a);
      if (lf < 0) {
        if (this.skipping) {
          data = Buffer.alloc(0);
        } else if (data.length > this.maxLine) {
          out.push({ kind: 'too-long' });
          this.skipping = true;
          data = Buffer.alloc(0);
        }
        break;
      }
      const end = lf > 0 && data[lf - 1] === 0x0d ? lf - 1 : lf;
      if (this.skipping) {
        this.skipping = false;
      } else if (end > this.maxLine) {
        out.push({ kind: 'too-long' });
      } else {
        out.push({ kind: 'line', line: data.subarray(0, end).toString('latin1') });
      }
      data = data.subarray(lf + 1);
    }
    this.buf = Buffer.from(data);
    return out;
  }
}

/** Parses a command line; null when it is not a well-formed POP3 command. */
export function parseCommand(line: string): Pop3Command | null {
  // Control characters (NUL, bare CR, ...) and 8-bit bytes are never valid in a command.
  if (/[^\x20-\x7e]/.test(line)) return null;
  if (line.length === 0) return null;
  const parts = line.split(' ');
  const name = parts[0]!.toUpperCase();
  if (!/^[A-Z]{3,4}$/.test(name)) return null;
  return { name, args: parts.slice(1), line };
}

/** Parses a message number argument: a positive decimal without sign or leading zeros. */
export function parseMsgNumber(s: string | undefined): number | null {
  if (s === undefined || !/^[1-9][0-9]{0,9}$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffffffff ? n : null;
}

/** Parses a non-negative decimal (TOP line count). */
export function parseNonNegative(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffffffff ? n : null;
}

export function ok(text = ''): string {
  return text ? `+OK ${text}\r\n` : '+OK\r\n';
}

export function err(text: string, code?: string): string {
  return code ? `-ERR [${code}] ${text}\r\n` : `-ERR ${text}\r\n`;
}

/** A multi-line response body from text lines (already free of CR/LF). */
export function multiline(lines: string[]): string {
  return lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join('') + '.\r\n';
}

/**
 * Dot-stuffs message bytes for a multi-line response, streaming: feed chunks in order, then
 * call finish() for the terminator. Lines that begin with '.' get another '.'; a message
 * that does not end with a line end gets CRLF before the terminating '.'.
 */
export class DotStuffer {
  private atLineStart = true;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let segStart = 0;
    if (this.atLineStart && chunk[0] === 0x2e) parts.push(DOT);
    // Lines that start with '.': a native search for LF '.', not a look at every line.
    for (let lf = chunk.indexOf(LF_DOT); lf >= 0; lf = chunk.indexOf(LF_DOT, lf + 1)) {
      parts.push(chunk.subarray(segStart, lf + 1), DOT);
      segStart = lf + 1;
    }
    this.atLineStart = chunk[chunk.length - 1] === 0x0a;
    if (parts.length === 0) return chunk;
    parts.push(chunk.subarray(segStart));
    return Buffer.concat(parts);
  }

  finish(): Buffer {
    return this.atLineStart ? TERMINATOR : CRLF_TERMINATOR;
  }
}

const DOT = Buffer.from('.');
const LF_DOT = Buffer.from('\n.');
const TERMINATOR = Buffer.from('.\r\n');
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n');
