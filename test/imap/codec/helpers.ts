// Shared helpers for the IMAP codec tests.
import assert from 'node:assert/strict';
import { Receiver, type ReceiverEvent, type ReceiverOptions } from '../../../protocol-tasks/imap/codec/receiver.js';
import { parseCommand, type ParseResult } from '../../../protocol-tasks/imap/codec/commands/index.js';
import type { Command, ParseContext } from '../../../protocol-tasks/imap/codec/commands/types.js';
import type { RawCommand } from '../../../protocol-tasks/imap/codec/tokens.js';

/** Feeds `input` in one chunk and returns every event. */
export function events(input: string | Buffer, opts?: ReceiverOptions): ReceiverEvent[] {
  const r = new Receiver(opts);
  return r.feed(typeof input === 'string' ? Buffer.from(input, 'latin1') : input);
}

/** Feeds `input` split into chunks at the given sizes (cycled). */
export function eventsChunked(input: Buffer, sizes: number[], opts?: ReceiverOptions): ReceiverEvent[] {
  const r = new Receiver(opts);
  const out: ReceiverEvent[] = [];
  let pos = 0;
  let k = 0;
  while (pos < input.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    r.push(input.subarray(pos, pos + n));
    pos += n;
    for (let ev = r.next(); ev; ev = r.next()) out.push(ev);
  }
  return out;
}

/** The one raw command in `line` (CRLF appended when missing). */
export function raw(line: string | Buffer, opts?: ReceiverOptions): RawCommand {
  let buf = typeof line === 'string' ? Buffer.from(line, 'latin1') : line;
  if (buf[buf.length - 1] !== 0x0a) buf = Buffer.concat([buf, Buffer.from('\r\n')]);
  const evs = events(buf, opts).filter((e) => e.kind !== 'continue');
  assert.equal(evs.length, 1, `expected one event for ${JSON.stringify(buf.toString('latin1').slice(0, 80))}: ${JSON.stringify(evs)}`);
  const ev = evs[0]!;
  assert.equal(ev.kind, 'command', `expected a command, got ${JSON.stringify(ev)}`);
  return (ev as { kind: 'command'; command: RawCommand }).command;
}

export function parse(line: string | Buffer, ctx?: ParseContext): ParseResult {
  return parseCommand(raw(line), ctx);
}

/** Parses and asserts success; returns the command. */
export function ok<T extends Command = Command>(line: string | Buffer, ctx?: ParseContext): T {
  const r = parse(line, ctx);
  assert.ok(r.ok, `expected ${JSON.stringify(String(line).slice(0, 120))} to parse: ${r.ok ? '' : r.message}`);
  return r.command as T;
}

/** Parses and asserts a parse failure (BAD unless status given); returns the result. */
export function bad(line: string | Buffer, status: 'BAD' | 'NO' = 'BAD', ctx?: ParseContext) {
  const r = parse(line, ctx);
  assert.ok(!r.ok, `expected ${JSON.stringify(String(line).slice(0, 120))} to fail, got ${JSON.stringify(r.ok && r.command)}`);
  assert.equal(r.status, status);
  return r;
}

/** Expects exactly one receiver error for the input; returns it. */
export function receiverError(input: string | Buffer, opts?: ReceiverOptions) {
  const evs = events(input, opts).filter((e) => e.kind === 'error');
  assert.equal(evs.length, 1, `expected one error: ${JSON.stringify(events(input, opts))}`);
  return evs[0] as Extract<ReceiverEvent, { kind: 'error' }>;
}
