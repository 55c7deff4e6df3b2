// APPEND mailbox [(flags)] [date-time] literal (RFC 3501 §6.3.11), repeated for MULTIAPPEND
// (RFC 3502); the literal may be a literal8 ~{n} (RFC 3516) or UTF8 (~{n}) (RFC 6855).

import { ImapDateError, parseDateTime } from '../dates.js';
import { Args, ParseError, flagsOf } from './reader.js';
import type { LiteralSinkRef } from '../tokens.js';
import type { AppendCommand, AppendMessage, ParseContext } from './types.js';

/** Maximum number of messages in one MULTIAPPEND. */
export const MAX_APPEND_MESSAGES = 1000;

export function parseAppend(args: Args, ctx: ParseContext): AppendCommand {
  const mailbox = args.mailbox(ctx);
  const messages: AppendMessage[] = [];
  do {
    if (messages.length >= MAX_APPEND_MESSAGES) throw new ParseError('APPEND: too many messages', 'NO', 'LIMIT');
    let flags: string[] = [];
    let date: Date | null = null;
    let dateOffsetMinutes = 0;
    if (args.peek()?.type === 'list') flags = flagsOf(args.list('flags'), 'APPEND');
    const t = args.peek();
    if (t?.type === 'string' && t.form === 'quoted') {
      args.next('date-time');
      try {
        const dt = parseDateTime(t.value.toString('latin1'));
        date = dt.date;
        dateOffsetMinutes = dt.offsetMinutes;
      } catch (e) {
        if (e instanceof ImapDateError) throw new ParseError(`APPEND: ${e.message}`);
        throw e;
      }
    }
    let data: Buffer;
    let sink: LiteralSinkRef | null = null;
    let size: number;
    let binary = false;
    let utf8 = false;
    const kw = args.peekKeyword();
    if (kw === 'UTF8') {
      args.next('UTF8');
      const inner = new Args(args.list('UTF8 message'), 'APPEND');
      const m = inner.next('message literal');
      if (m.type !== 'string' || m.form !== 'literal8') throw new ParseError('APPEND: UTF8 needs a literal8 ~{n}');
      inner.end();
      data = m.value;
      sink = m.sink ?? null;
      size = m.sink ? m.size ?? 0 : m.value.length;
      binary = true;
      utf8 = true;
    } else {
      const m = args.next('message literal');
      if (m.type !== 'string' || m.form === 'quoted') throw new ParseError('APPEND: the message must be a literal');
      data = m.value;
      sink = m.sink ?? null;
      size = m.sink ? m.size ?? 0 : m.value.length;
      binary = m.form === 'literal8';
    }
    messages.push({ flags, date, dateOffsetMinutes, data, sink, size, binary, utf8 });
  } while (!args.done);
  return { name: 'APPEND', mailbox, messages };
}
