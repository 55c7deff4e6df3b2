// The receiver's streaming literal path (ReceiverOptions.literalSink): a literal taken by a
// sink is handed over octet-exact as it arrives and never kept; the token carries the sink;
// a sink whose command is not delivered is aborted, exactly once, and never after end().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommand } from '../../../protocol-tasks/imap/codec/commands/index.js';
import type { AppendCommand } from '../../../protocol-tasks/imap/codec/commands/types.js';
import { Receiver, type LiteralInfo, type LiteralSink, type ReceiverEvent } from '../../../protocol-tasks/imap/codec/receiver.js';
import type { StringToken } from '../../../protocol-tasks/imap/codec/tokens.js';

class RecordingSink implements LiteralSink {
  chunks: Buffer[] = [];
  ended = 0;
  aborted = 0;
  calls: string[] = [];
  constructor(readonly info: LiteralInfo) {}
  write(chunk: Buffer): void {
    assert.equal(this.ended + this.aborted, 0, 'no write after end or abort');
    this.chunks.push(Buffer.from(chunk));
    this.calls.push('write');
  }
  end(): void {
    this.ended++;
    this.calls.push('end');
  }
  abort(): void {
    this.aborted++;
    this.calls.push('abort');
  }
  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function streaming(min = 1, opts: { command?: string } = {}) {
  const sinks: RecordingSink[] = [];
  const r = new Receiver({
    literalSink: (info) => {
      if (info.size < min || (opts.command && info.command !== opts.command)) return null;
      const s = new RecordingSink(info);
      sinks.push(s);
      return s;
    },
  });
  const run = (input: Buffer | string, sizes = [1 << 30]): ReceiverEvent[] => {
    const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
    const out: ReceiverEvent[] = [];
    let pos = 0;
    let k = 0;
    while (pos < buf.length) {
      const n = Math.max(1, sizes[k++ % sizes.length]!);
      r.push(buf.subarray(pos, pos + n));
      pos += n;
      for (let ev = r.next(); ev; ev = r.next()) out.push(ev);
    }
    return out;
  };
  return { r, sinks, run };
}

const commands = (evs: ReceiverEvent[]) => evs.filter((e): e is Extract<ReceiverEvent, { kind: 'command' }> => e.kind === 'command');

describe('receiver: streamed literals', () => {
  it('hands an APPEND literal to the sink octet-exact, in any chunking, and keeps none of it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 }), fc.boolean(), (body, sizes, plus) => {
        const msg = Buffer.from(body).map((b) => (b === 0 ? 1 : b)); // a NUL would make the command BAD
        const { r, sinks, run } = streaming();
        const input = Buffer.concat([Buffer.from(`A1 APPEND INBOX (\\Seen) {${msg.length}${plus ? '+' : ''}}\r\n`), msg, Buffer.from('\r\nA2 NOOP\r\n')]);
        const evs = run(input, sizes);
        const cmds = commands(evs);
        assert.deepEqual(cmds.map((c) => c.command.tag), ['A1', 'A2']);
        assert.equal(evs.filter((e) => e.kind === 'continue').length, plus ? 0 : 1);
        assert.equal(sinks.length, 1);
        const s = sinks[0]!;
        assert.ok(s.data.equals(msg), 'octet-exact');
        assert.equal(s.calls.at(-1), 'end');
        assert.equal(s.aborted, 0);
        assert.equal(s.info.command, 'APPEND');
        assert.equal(s.info.size, msg.length);
        const tok = cmds[0]!.command.args[2] as StringToken;
        assert.equal(tok.sink, s);
        assert.equal(tok.size, msg.length);
        assert.equal(tok.value.length, 0, 'the token holds no octets');
        assert.equal(cmds[0]!.command.literalSize, msg.length);
        assert.equal(r.bufferedBytes, 0);
        const parsed = parseCommand(cmds[0]!.command, { utf8: false });
        assert.ok(parsed.ok);
        const m = (parsed.command as AppendCommand).messages[0]!;
        assert.equal(m.sink, s);
        assert.equal(m.size, msg.length);
        assert.deepEqual(m.flags, ['\\Seen']);
      }),
      { numRuns: 200 },
    );
  });

  it('holds streamed octets nowhere while they arrive', () => {
    const { r, sinks } = streaming();
    r.push(Buffer.from('A1 APPEND INBOX {100000}\r\n'));
    assert.equal(r.next()?.kind, 'continue');
    for (let i = 0; i < 99; i++) {
      r.push(Buffer.alloc(1000, 0x61));
      assert.equal(r.next(), null);
      assert.ok(r.bufferedBytes < 100, `buffered ${r.bufferedBytes}`);
    }
    assert.equal(sinks[0]!.data.length, 99_000);
    r.push(Buffer.from('a'.repeat(1000) + '\r\n'));
    assert.equal(r.next()?.kind, 'command');
    assert.equal(sinks[0]!.ended, 1);
  });

  it('MULTIAPPEND: one sink per literal; small ones stay in the token when the hook declines', () => {
    const { run, sinks } = streaming(10);
    const evs = run('A1 APPEND INBOX {12}\r\nhello world!  {3}\r\nabc (\\Flagged) {10+}\r\n0123456789\r\n');
    const c = commands(evs)[0]!.command;
    assert.equal(sinks.length, 2);
    assert.equal(sinks[0]!.data.toString(), 'hello world!');
    assert.equal(sinks[1]!.data.toString(), '0123456789');
    assert.equal((c.args[2] as StringToken).value.toString(), 'abc');
    const parsed = parseCommand(c, { utf8: false });
    assert.ok(parsed.ok);
    const msgs = (parsed.command as AppendCommand).messages;
    assert.deepEqual(msgs.map((m) => [m.size, m.sink !== null]), [[12, true], [3, false], [10, true]]);
  });

  it('aborts the sinks of a command that is not delivered: a syntax error after the literal, a later refused literal, NUL, reset, dispose', () => {
    // A syntax error after the literal (unbalanced parenthesis).
    {
      const { run, sinks } = streaming();
      const evs = run('A1 APPEND INBOX {5}\r\nhello )\r\nA2 NOOP\r\n');
      assert.deepEqual(evs.filter((e) => e.kind !== 'continue').map((e) => e.kind), ['error', 'command']);
      assert.deepEqual(sinks[0]!.calls.slice(-2), ['end', 'abort']);
    }
    // A second literal refused by the limits: the first one's sink is aborted.
    {
      const sinks: RecordingSink[] = [];
      const r = new Receiver({
        maxLiteralSize: 100,
        literalSink: (info) => {
          const s = new RecordingSink(info);
          sinks.push(s);
          return s;
        },
      });
      const evs = r.feed(Buffer.from('A1 APPEND INBOX {5+}\r\nhello {500+}\r\n' + 'x'.repeat(500) + '\r\nA2 NOOP\r\n'));
      assert.deepEqual(evs.map((e) => e.kind), ['error', 'command']);
      assert.equal(sinks.length, 1);
      assert.equal(sinks[0]!.aborted, 1);
    }
    // A NUL inside a (non-literal8) streamed literal makes the command BAD.
    {
      const { run, sinks } = streaming();
      const evs = run(Buffer.from('A1 APPEND INBOX {5}\r\nhe\0lo\r\n', 'latin1'));
      assert.equal(evs.filter((e) => e.kind === 'error').length, 1);
      assert.equal(sinks[0]!.aborted, 1);
      assert.equal(sinks[0]!.ended, 0);
    }
    // Mid-literal: reset() (STARTTLS cannot happen here, but the contract holds) and dispose().
    for (const end of ['reset', 'dispose'] as const) {
      const { r, run, sinks } = streaming();
      run('A1 APPEND INBOX {50}\r\n0123456789');
      assert.equal(sinks[0]!.data.length, 10);
      r[end]();
      assert.deepEqual(sinks[0]!.calls, ['write', 'abort']);
      r.push(Buffer.from('x'.repeat(40) + '\r\n'));
      if (end === 'dispose') assert.equal(r.next(), null, 'a disposed receiver reads nothing more');
      assert.equal(sinks[0]!.aborted, 1, 'aborted once');
    }
    // A delivered command's sinks are the command's: the receiver never aborts them later.
    {
      const { r, run, sinks } = streaming();
      run('A1 APPEND INBOX {3}\r\nabc\r\n');
      r.reset();
      r.dispose();
      assert.deepEqual(sinks[0]!.calls, ['write', 'end']);
    }
  });

  it('literal8 (BINARY / UTF8 APPEND) streams too, NULs allowed', () => {
    const { run, sinks } = streaming();
    const body = Buffer.from('a\0b\0c', 'latin1');
    const evs = run(Buffer.concat([Buffer.from('A1 APPEND INBOX UTF8 (~{5}\r\n'), body, Buffer.from(')\r\n')]));
    const c = commands(evs)[0]!.command;
    assert.ok(sinks[0]!.data.equals(body));
    const parsed = parseCommand(c, { utf8: true });
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const m = (parsed.command as AppendCommand).messages[0]!;
    assert.equal(m.sink, sinks[0]);
    assert.equal(m.utf8, true);
  });

  it('only literals the hook accepts stream: other commands keep theirs', () => {
    const { run, sinks } = streaming(1, { command: 'APPEND' });
    const c = commands(run('A1 LOGIN {5}\r\nalice {3}\r\npwd\r\n'))[0]!.command;
    assert.equal(sinks.length, 0);
    assert.equal((c.args[0] as StringToken).value.toString(), 'alice');
  });
});
