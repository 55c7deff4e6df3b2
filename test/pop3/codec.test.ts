import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DotStuffer, LineReceiver, multiline, parseCommand, parseMsgNumber } from '../../protocol-tasks/pop3/codec.js';

/** Undoes dot-stuffing of a multi-line response body and checks the terminator. */
function unstuff(wire: Buffer): Buffer {
  const text = wire.toString('latin1');
  assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', 'terminated by CRLF.CRLF');
  const body = text.slice(0, text.length - 3);
  return Buffer.from(body.split('\r\n').map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n'), 'latin1');
}

describe('POP3 line receiver', () => {
  it('splits CRLF and bare LF lines across chunk boundaries', () => {
    const r = new LineReceiver(512);
    assert.deepEqual(r.push(Buffer.from('US')), []);
    assert.deepEqual(r.push(Buffer.from('ER a\r\nPASS b\nQU')), [
      { kind: 'line', line: 'USER a' },
      { kind: 'line', line: 'PASS b' },
    ]);
    assert.deepEqual(r.push(Buffer.from('IT\r\n')), [{ kind: 'line', line: 'QUIT' }]);
  });

  it('reports an over-long line once and never buffers more than the limit', () => {
    const r = new LineReceiver(40);
    const evs = [];
    for (let i = 0; i < 1000; i++) {
      evs.push(...r.push(Buffer.alloc(1000, 0x41)));
      assert.ok(r.buffered <= 40);
    }
    evs.push(...r.push(Buffer.from('\r\nNOOP\r\n')));
    assert.deepEqual(evs, [{ kind: 'too-long' }, { kind: 'line', line: 'NOOP' }]);
  });

  it('reset() drops buffered bytes', () => {
    const r = new LineReceiver(100);
    r.push(Buffer.from('CAPA'));
    r.reset();
    assert.deepEqual(r.push(Buffer.from('\r\n')), [{ kind: 'line', line: '' }]);
  });
});

describe('POP3 command parsing', () => {
  it('upper-cases the keyword and keeps arguments', () => {
    assert.deepEqual(parseCommand('top 1 10'), { name: 'TOP', args: ['1', '10'], line: 'top 1 10' });
  });
  it('refuses NUL, control and 8-bit characters, and odd keywords', () => {
    for (const l of ['USER a\0b', 'USER \x01', 'USER \xe9', '', 'X', 'TOOLONG', '1234']) assert.equal(parseCommand(l), null, l);
  });
  it('message numbers are positive decimals without sign or zero padding', () => {
    assert.equal(parseMsgNumber('1'), 1);
    for (const s of ['0', '-1', '+1', '01', '1a', '99999999999', '']) assert.equal(parseMsgNumber(s), null, s);
  });
});

describe('POP3 dot-stuffing', () => {
  it('stuffs leading dots and terminates', () => {
    assert.equal(multiline(['a', '.b', '..']), 'a\r\n..b\r\n...\r\n.\r\n');
    const d = new DotStuffer();
    const out = Buffer.concat([d.push(Buffer.from('.x\r\n')), d.push(Buffer.from('.')), d.push(Buffer.from('y')), d.finish()]);
    assert.equal(out.toString(), '..x\r\n..y\r\n.\r\n');
  });

  it('round-trips any CRLF message in any chunking (property)', () => {
    const line = fc.string({ unit: fc.constantFrom('.', 'a', ' ', 'Z', '\t'), maxLength: 8 });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 10 }), (lines, cuts) => {
        const msg = Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
        const d = new DotStuffer();
        const parts: Buffer[] = [];
        let at = 0;
        for (const c of cuts) {
          if (at >= msg.length) break;
          parts.push(d.push(msg.subarray(at, at + c)));
          at += c;
        }
        parts.push(d.push(msg.subarray(at)), d.finish());
        const wire = Buffer.concat(parts);
        assert.ok(!/\r\n\.\r\n[\s\S]/.test(wire.toString('latin1')), 'no early terminator');
        assert.deepEqual(unstuff(wire).toString('latin1'), msg.toString('latin1'));
      }),
    );
  });
});
