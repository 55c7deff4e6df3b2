import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver, type ReceiverEvent } from '../../../protocol-tasks/imap/codec/receiver.js';
import type { AtomToken, ListToken, StringToken } from '../../../protocol-tasks/imap/codec/tokens.js';
import { events, eventsChunked, raw, receiverError } from './helpers.js';

const kinds = (evs: ReceiverEvent[]) => evs.map((e) => (e.kind === 'command' ? `command:${e.command.tag}` : e.kind === 'error' ? `error:${e.tag}` : e.kind));

describe('receiver: tokens', () => {
  it('splits tag, upper-cased command name and arguments', () => {
    const c = raw('a1 capability');
    assert.equal(c.tag, 'a1');
    assert.equal(c.name, 'CAPABILITY');
    assert.deepEqual(c.args, []);
  });

  it('accepts Apple Mail tags like 1.854, and other ASTRING-CHAR tags', () => {
    const c = raw('1.854 CAPABILITY');
    assert.equal(c.tag, '1.854');
    assert.equal(raw('~a] NOOP').tag, '~a]');
  });

  it('tokenizes atoms, quoted strings with escapes and nested lists', () => {
    const c = raw('A LOGIN "us\\"er" "p\\\\w" (a (b "c") ())');
    assert.equal(c.args.length, 3);
    assert.deepEqual((c.args[0] as StringToken).value.toString(), 'us"er');
    assert.deepEqual((c.args[1] as StringToken).value.toString(), 'p\\w');
    const l = c.args[2] as ListToken;
    assert.equal(l.type, 'list');
    assert.equal((l.items[0] as AtomToken).value, 'a');
    assert.equal(((l.items[1] as ListToken).items[1] as StringToken).value.toString(), 'c');
    assert.deepEqual((l.items[2] as ListToken).items, []);
  });

  it('keeps 8-bit octets in quoted strings (UTF8=ACCEPT decides later)', () => {
    const c = raw(Buffer.concat([Buffer.from('A SELECT "'), Buffer.from('Déjà', 'utf8'), Buffer.from('"')]));
    assert.equal((c.args[0] as StringToken).value.toString('utf8'), 'Déjà');
  });

  it('keeps FETCH sections exactly as sent, spaces and parentheses included', () => {
    const c = raw('A UID FETCH 1:* (UID body.peek[HEADER.FIELDS (date  Subject "X-Y")]<0.2000> BODY[] BINARY.SIZE[1])');
    const items = (c.args[2] as ListToken).items as AtomToken[];
    assert.equal(items[1]!.value, 'body.peek[HEADER.FIELDS (date  Subject "X-Y")]<0.2000>');
    assert.deepEqual(
      { prefix: items[1]!.section!.prefix, raw: items[1]!.section!.raw, suffix: items[1]!.section!.suffix },
      { prefix: 'body.peek', raw: 'HEADER.FIELDS (date  Subject "X-Y")', suffix: '<0.2000>' },
    );
    assert.equal(items[1]!.section!.items.length, 2);
    assert.equal(items[2]!.value, 'BODY[]');
    assert.equal(items[2]!.section!.raw, '');
    assert.equal(items[3]!.section!.prefix, 'BINARY.SIZE');
  });

  it('treats brackets in other atoms as plain characters ([Gmail]/Sent)', () => {
    const c = raw('A SELECT [Gmail]/Sent');
    assert.equal((c.args[0] as AtomToken).value, '[Gmail]/Sent');
    assert.equal((c.args[0] as AtomToken).section, undefined);
  });

  it('refuses a literal inside a section', () => {
    const e = receiverError('A FETCH 1 BODY[HEADER.FIELDS ({4}\r\n');
    assert.equal(e.status, 'BAD');
  });

  it('ignores empty lines between commands', () => {
    assert.deepEqual(kinds(events('\r\n\r\nA NOOP\r\n\nB NOOP\r\n')), ['command:A', 'command:B']);
  });

  it('reports unbalanced parentheses as BAD with the tag', () => {
    assert.equal(receiverError('A FETCH 1 (FLAGS\r\n').tag, 'A');
    assert.equal(receiverError('A FETCH 1 FLAGS)\r\n').tag, 'A');
  });

  it('refuses invalid tags without a tag, and a missing command with it', () => {
    for (const line of ['* NOOP', '+ NOOP', '"x" NOOP', '(a) NOOP', 'a%b NOOP']) {
      const e = receiverError(line + '\r\n');
      assert.equal(e.tag, null, line);
      assert.equal(e.status, 'BAD');
    }
    const e = receiverError('A\r\n');
    assert.equal(e.tag, 'A');
    assert.equal(receiverError('A {3}\r\n').tag, 'A');
  });
});

describe('receiver: literals', () => {
  const append = Buffer.from('A3 APPEND Sent (\\Seen) {12}\r\nline1\r\nline2 {4+}\r\nabcd\r\nA4 NOOP\r\n');

  it('asks for continuation of a synchronizing literal, then yields the command', () => {
    const evs = events(append);
    assert.deepEqual(kinds(evs), ['continue', 'command:A3', 'command:A4']);
    const cmd = (evs[1] as Extract<ReceiverEvent, { kind: 'command' }>).command;
    assert.equal((cmd.args[2] as StringToken).value.toString(), 'line1\r\nline2');
    assert.equal((cmd.args[2] as StringToken).form, 'literal');
    assert.equal((cmd.args[3] as StringToken).form, 'literal+');
    assert.equal(cmd.literalSize, 16);
  });

  it('gives the same result for every chunk split', () => {
    const whole = JSON.stringify(events(append));
    for (const sizes of [[1], [2], [3], [5, 1], [7, 13, 2]]) {
      assert.equal(JSON.stringify(eventsChunked(append, sizes)), whole, `sizes ${sizes}`);
    }
  });

  it('reads literal8 and allows NUL in it, but not in a plain literal', () => {
    const evs = events('A APPEND x UTF8 (~{3}\r\na\0b)\r\nB APPEND x {3}\r\na\0b\r\nC NOOP\r\n');
    assert.deepEqual(kinds(evs), ['continue', 'command:A', 'continue', 'error:B', 'command:C']);
    const a = (evs[1] as Extract<ReceiverEvent, { kind: 'command' }>).command;
    const lit = (a.args[2] as ListToken).items[0] as StringToken;
    assert.equal(lit.form, 'literal8');
    assert.deepEqual([...lit.value], [0x61, 0, 0x62]);
  });

  it('accepts an empty literal', () => {
    const c = raw('A LOGIN {0}\r\n {0}\r\n\r\n');
    assert.equal((c.args[0] as StringToken).value.length, 0);
    assert.equal((c.args[1] as StringToken).value.length, 0);
  });

  it('calls admitLiteral before storing, and honours a refusal', () => {
    const seen: unknown[] = [];
    const r = new Receiver({
      admitLiteral: (info) => {
        seen.push(info);
        return info.command === 'APPEND' ? { status: 'NO', code: 'TRYCREATE', message: 'No such mailbox' } : null;
      },
    });
    const evs = r.feed(Buffer.from('A APPEND x {5}\r\nB LOGIN {1}\r\nu p\r\n'));
    assert.deepEqual(kinds(evs), ['error:A', 'continue', 'command:B']);
    assert.equal((evs[0] as Extract<ReceiverEvent, { kind: 'error' }>).code, 'TRYCREATE');
    assert.deepEqual(seen[0], { tag: 'A', command: 'APPEND', size: 5, sync: true, binary: false, index: 0 });
  });
});

describe('receiver: line mode, pipelining and reset', () => {
  it('stops after each command so AUTHENTICATE can read its response line', () => {
    const r = new Receiver();
    r.push(Buffer.from('A AUTHENTICATE PLAIN\r\nAHVzZXIAcGFzcw==\r\nB NOOP\r\n'));
    const a = r.next();
    assert.equal(a?.kind, 'command');
    r.expectLine();
    const line = r.next();
    assert.equal(line?.kind, 'line');
    assert.equal((line as { line: Buffer }).line.toString(), 'AHVzZXIAcGFzcw==');
    const b = r.next();
    assert.equal(b?.kind === 'command' && b.command.tag, 'B');
    assert.equal(r.next(), null);
  });

  it('reads IDLE DONE as a line, with bare LF too', () => {
    const r = new Receiver();
    r.push(Buffer.from('8.569 IDLE\r\n'));
    assert.equal(r.next()?.kind, 'command');
    r.expectLine();
    assert.equal(r.next(), null);
    r.push(Buffer.from('DO'));
    assert.equal(r.next(), null);
    assert.equal(r.midCommand, true);
    r.push(Buffer.from('NE\n'));
    const ev = r.next();
    assert.equal(ev?.kind === 'line' && ev.line.toString(), 'DONE');
  });

  it('bounds line-mode lines', () => {
    const r = new Receiver({ maxCommandSize: 1024 });
    r.expectLine();
    r.push(Buffer.alloc(5000, 0x41));
    const ev = r.next();
    assert.equal(ev?.kind === 'error' && ev.fatal, true);
  });

  it('reset() drops everything received after STARTTLS (invariant 8)', () => {
    const r = new Receiver();
    r.push(Buffer.from('A STARTTLS\r\nB LOGIN evil injected\r\nC APPEND x {5}\r\n'));
    const a = r.next();
    assert.equal(a?.kind === 'command' && a.command.name, 'STARTTLS');
    r.reset();
    assert.equal(r.pendingBytes, 0);
    assert.equal(r.next(), null);
    r.push(Buffer.from('D CAPABILITY\r\n'));
    const d = r.next();
    assert.equal(d?.kind === 'command' && d.command.tag, 'D');
  });

  it('reset() also drops a partial command', () => {
    const r = new Receiver();
    r.push(Buffer.from('A LOGIN "half'));
    assert.equal(r.next(), null);
    r.reset();
    r.push(Buffer.from('B NOOP\r\n'));
    const ev = r.next();
    assert.equal(ev?.kind === 'command' && ev.command.tag, 'B');
  });
});

describe('receiver: checklist B8 (literal sizes)', () => {
  for (const spec of ['{4294967296}', '{99999999999999999999}', '{-1}', '{1a}', '{}', '{ 5}', '{5 }']) {
    it(`APPEND INBOX ${spec} is BAD before any +`, () => {
      const evs = events(`A APPEND INBOX ${spec}\r\nB NOOP\r\n`);
      assert.deepEqual(kinds(evs), ['error:A', 'command:B']);
      const e = evs[0] as Extract<ReceiverEvent, { kind: 'error' }>;
      assert.equal(e.status, 'BAD');
      assert.equal(e.fatal, false);
    });
  }

  it('a literal over the APPEND limit gets NO [TOOBIG] before any +, and nothing is allocated', () => {
    let admitted = 0;
    const r = new Receiver({ maxLiteralSize: 1000, admitLiteral: () => void admitted++ });
    const evs = r.feed(Buffer.from('A APPEND INBOX {4294967295}\r\nB NOOP\r\n'));
    assert.deepEqual(kinds(evs), ['error:A', 'command:B']);
    const e = evs[0] as Extract<ReceiverEvent, { kind: 'error' }>;
    assert.deepEqual([e.status, e.code, e.fatal], ['NO', 'TOOBIG', false]);
    assert.equal(admitted, 0);
    assert.equal(r.bufferedBytes, 0);
  });

  it('literals of other commands have their own, smaller limit', () => {
    const e = receiverError('A LOGIN {100000}\r\n', { maxArgLiteralSize: 65536 });
    assert.deepEqual([e.status, e.code], ['BAD', 'TOOBIG']);
  });

  it('{4294967295} within the limits is accepted (the claim is not allocated up front)', () => {
    const r = new Receiver({ maxLiteralSize: 2 ** 32, maxTotalSize: 2 ** 33 });
    r.push(Buffer.from('A APPEND INBOX {4294967295}\r\nabc'));
    assert.equal(r.next()?.kind, 'continue');
    assert.equal(r.next(), null);
    assert.ok(r.bufferedBytes < 100, `buffered ${r.bufferedBytes}`);
  });
});

describe('receiver: checklist B9 (refused non-synchronizing literal)', () => {
  it('discards the refused {5000+} literal bytes; nothing in them runs as a command', () => {
    const body = 'X1 DELETE INBOX\r\n'.repeat(400).slice(0, 5000);
    const input = Buffer.from(`A APPEND INBOX {5000+}\r\n${body} {10+}\r\nX2 DELETE\r\n\r\nB NOOP\r\n`);
    for (const sizes of [[100000], [1], [7, 333]]) {
      const evs = eventsChunked(input, sizes, { maxLiteralSize: 4096 });
      assert.deepEqual(kinds(evs), ['error:A', 'command:B'], `sizes ${sizes}`);
      const e = evs[0] as Extract<ReceiverEvent, { kind: 'error' }>;
      assert.deepEqual([e.status, e.code, e.fatal], ['NO', 'TOOBIG', false]);
    }
  });

  it('the error is reported as soon as the literal is refused, before its bytes arrive', () => {
    const r = new Receiver({ maxLiteralSize: 4096 });
    r.push(Buffer.from('A APPEND INBOX {5000+}\r\n'));
    const ev = r.next();
    assert.equal(ev?.kind, 'error');
    assert.equal(r.midCommand, true);
  });

  it('a refused non-synchronizing literal too big to skip closes the connection', () => {
    const r = new Receiver({ maxLiteralSize: 4096, maxSkipSize: 8192 });
    const evs = r.feed(Buffer.from('A APPEND INBOX {100000+}\r\nX DELETE INBOX\r\n'));
    assert.deepEqual(kinds(evs), ['error:A']);
    assert.equal((evs[0] as Extract<ReceiverEvent, { kind: 'error' }>).fatal, true);
    assert.equal(r.isClosed, true);
    assert.deepEqual(r.feed(Buffer.from('B NOOP\r\n')), []);
  });

  it('a non-synchronizing literal with an invalid size closes the connection', () => {
    for (const spec of ['{1a+}', '{99999999999+}', '{-1+}']) {
      const evs = events(`A APPEND INBOX ${spec}\r\nX DELETE INBOX\r\n`);
      assert.equal(evs.length, 1, spec);
      assert.equal((evs[0] as Extract<ReceiverEvent, { kind: 'error' }>).fatal, true, spec);
    }
  });

  it('a non-synchronizing literal after a syntax error is skipped too', () => {
    const evs = events('A LOGIN "bad\0" {17+}\r\nX1 DELETE INBOX\r\n\r\nB NOOP\r\n');
    assert.deepEqual(kinds(evs), ['error:A', 'command:B']);
  });
});

describe('receiver: checklist B10 (literal count)', () => {
  it('100,000 tiny synchronizing literals: refused at the cap', () => {
    const r = new Receiver({ maxCommandSize: 1 << 20 });
    let input = 'A SEARCH';
    for (let i = 0; i < 100000; i++) input += ' {1}\r\nx';
    const evs = r.feed(Buffer.from(input + '\r\n'));
    const errors = evs.filter((e) => e.kind === 'error');
    assert.ok(errors.length >= 1);
    assert.equal((errors[0] as Extract<ReceiverEvent, { kind: 'error' }>).reason, 'too-many-literals');
    assert.equal(evs.filter((e) => e.kind === 'command' && e.command.tag === 'A').length, 0);
    assert.equal(evs.filter((e) => e.kind === 'continue').length, 1000);
  });

  it('100,000 tiny non-synchronizing literals: capped, connection closed, memory bounded', () => {
    const r = new Receiver();
    r.push(Buffer.from('A SEARCH'));
    const chunk = Buffer.from(' {1+}\r\nx'.repeat(1000));
    let fatal = false;
    let maxBuffered = 0;
    for (let i = 0; i < 100 && !fatal; i++) {
      r.push(chunk);
      for (let ev = r.next(); ev; ev = r.next()) {
        assert.notEqual(ev.kind, 'command');
        if (ev.kind === 'error' && ev.fatal) fatal = true;
      }
      maxBuffered = Math.max(maxBuffered, r.bufferedBytes);
    }
    assert.ok(fatal);
    assert.ok(maxBuffered < 20000, `buffered ${maxBuffered}`);
  });

  it('total command size is capped (MULTIAPPEND)', () => {
    const e = receiverError('A APPEND x {600}\r\n' + 'a'.repeat(600) + ' {600}\r\n', { maxLiteralSize: 1000, maxTotalSize: 1000 });
    assert.deepEqual([e.reason, e.code], ['command-too-big', 'TOOBIG']);
  });
});

describe('receiver: checklist B11 (line length)', () => {
  it('accepts an 8,000-octet command line', () => {
    const set = Array.from({ length: 2000 }, (_, i) => i * 3 + 1).join(',').slice(0, 7900).replace(/,[0-9]*$/, '');
    const c = raw(`A UID FETCH ${set} (FLAGS)`);
    assert.equal(c.name, 'UID');
    assert.ok(c.textSize > 7000);
  });

  it('cuts a 10 MB line without CRLF at the limit, without buffering it', () => {
    const r = new Receiver({ maxCommandSize: 10240 });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    chunk.write('A1 SEARCH TEXT ', 0);
    let error: ReceiverEvent | null = null;
    let pushed = 0;
    let maxBuffered = 0;
    while (pushed < 10 * 1024 * 1024) {
      r.push(chunk);
      pushed += chunk.length;
      for (let ev = r.next(); ev; ev = r.next()) error = ev;
      maxBuffered = Math.max(maxBuffered, r.bufferedBytes, r.pendingBytes);
      if (error) break;
    }
    assert.ok(error && error.kind === 'error');
    assert.equal(error.fatal, true);
    assert.equal(error.reason, 'line-too-long');
    assert.equal(error.tag, 'A1');
    assert.equal(pushed, 64 * 1024, 'detected in the first chunk');
    assert.ok(maxBuffered <= 10240, `buffered ${maxBuffered}`);
    // Later input is ignored.
    r.push(chunk);
    assert.equal(r.pendingBytes, 0);
    assert.equal(r.next(), null);
  });

  it('counts every line of a command but not literal bodies', () => {
    const big = 'x'.repeat(50000);
    const c = raw(`A APPEND INBOX {${big.length}}\r\n${big}`, { maxCommandSize: 1024 });
    assert.equal(c.literalSize, 50000);
    const e = receiverError(`A LOGIN {3}\r\nabc ${'y'.repeat(600)} {3}\r\nabc ${'z'.repeat(600)}\r\n`, { maxCommandSize: 1024 });
    assert.equal(e.fatal, true);
  });
});

describe('receiver: checklist B12 (nesting)', () => {
  it('100,000 nested parentheses: BAD, the process survives, the next command works', () => {
    const r = new Receiver({ maxCommandSize: 1 << 20 });
    const evs = r.feed(Buffer.from('A SEARCH ' + '('.repeat(100000) + 'ALL' + ')'.repeat(100000) + '\r\nB NOOP\r\n'));
    assert.deepEqual(kinds(evs), ['error:A', 'command:B']);
    const e = evs[0] as Extract<ReceiverEvent, { kind: 'error' }>;
    assert.equal(e.reason, 'too-deep');
  });

  it('with the default line limit it ends the connection', () => {
    const e = receiverError('A STORE 1 FLAGS ' + '('.repeat(100000) + '\r\n');
    assert.ok(e.reason === 'too-deep' || e.fatal);
  });

  it('64 levels are accepted', () => {
    const c = raw('A SEARCH ' + '('.repeat(64) + 'ALL' + ')'.repeat(64));
    let depth = 0;
    let t = c.args[0];
    while (t && t.type === 'list') {
      depth++;
      t = t.items[0];
    }
    assert.equal(depth, 64);
  });
});

describe('receiver: checklist B14 (quotes, CR/LF, NUL)', () => {
  const cases: Array<[string, string]> = [
    ['unterminated quote', 'A LOGIN "user\r\n'],
    ['CR inside quoted string', 'A LOGIN "us\rer" pass\r\n'],
    ['LF inside quoted string', 'A LOGIN "us\ner" pass\r\n'],
    ['NUL inside quoted string', 'A LOGIN "us\0er" pass\r\n'],
    ['NUL in an atom', 'A LOGIN us\0er pass\r\n'],
    ['NUL between tokens', 'A LOGIN \0 pass\r\n'],
    ['NUL in the command name', 'A LOG\0IN user pass\r\n'],
    ['NUL in a literal', 'A LOGIN {4}\r\nu\0er pass\r\n'],
    ['invalid escape', 'A LOGIN "a\\b" pass\r\n'],
    ['8-bit octet in an atom', 'A LOGIN \xe9 pass\r\n'],
    ['control character in an atom', 'A LOGIN a\x01b pass\r\n'],
  ];
  for (const [name, line] of cases) {
    it(`${name}: BAD with the tag, nothing truncated, next command fine`, () => {
      const evs = events(line + 'B NOOP\r\n');
      assert.deepEqual(
        evs.map((e) => (e.kind === 'error' ? `${e.status}:${e.tag}:${e.fatal}` : e.kind === 'command' ? `cmd:${e.command.tag}` : e.kind)),
        line.includes('{4}')
          ? ['continue', 'BAD:A:false', 'cmd:B']
          : // A bare LF ends the line: what follows it is a line of its own (here BAD too).
            line.includes('\n"') || line.includes('s\ne')
            ? ['BAD:A:false', 'BAD:null:false', 'cmd:B']
            : ['BAD:A:false', 'cmd:B'],
      );
    });
  }
});

describe('receiver: checklist B15 (line ends)', () => {
  it('accepts a bare LF as a line end (documented choice)', () => {
    assert.deepEqual(kinds(events('A NOOP\nB LOGIN {1}\nx y\nC NOOP\r\n')), ['command:A', 'continue', 'command:B', 'command:C']);
  });

  it('refuses a bare CR (BAD), once, and resynchronizes at the next LF', () => {
    const evs = events('A NOOP\rB NOOP\r\nC NOOP\r\n');
    assert.deepEqual(kinds(evs), ['error:A', 'command:C']);
    assert.equal((evs[0] as Extract<ReceiverEvent, { kind: 'error' }>).status, 'BAD');
  });

  it('a CR split from its LF across chunks is still CRLF', () => {
    assert.deepEqual(kinds(eventsChunked(Buffer.from('A NOOP\r\nB NOOP\r\n'), [7, 1])), ['command:A', 'command:B']);
  });
});
