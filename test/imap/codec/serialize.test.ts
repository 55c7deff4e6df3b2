import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  binary,
  bytes,
  continuation,
  fetchResponse,
  flagList,
  literal8,
  raw,
  serializeValue,
  stringForm,
  tagged,
  untagged,
  untaggedBuffers,
  untaggedStatus,
  ResponseWriter,
  type ImapValue,
} from '../../../protocol-tasks/imap/codec/serialize.js';
import { Receiver } from '../../../protocol-tasks/imap/codec/receiver.js';
import { compressNumbers, parseSequenceSet, uidsInSet } from '../../../protocol-tasks/imap/codec/sequence.js';
import { encodeMailboxName } from '../../../protocol-tasks/imap/codec/mutf7.js';
import { formatDateTime, parseDateTime } from '../../../protocol-tasks/imap/codec/dates.js';
import { parseCommand } from '../../../protocol-tasks/imap/codec/commands/index.js';
import type { Token } from '../../../protocol-tasks/imap/codec/tokens.js';
import type { CreateCommand, StoreCommand } from '../../../protocol-tasks/imap/codec/commands/types.js';

const s = (v: ImapValue, utf8 = false) => serializeValue(v, { utf8 }).toString('latin1');

/** Feeds `A X <serialized values>` to a receiver and returns the argument tokens. */
function reparse(values: ImapValue[], utf8 = false): Token[] {
  const line = Buffer.concat([Buffer.from('A X '), ...values.flatMap((v, i) => [i ? Buffer.from(' ') : Buffer.alloc(0), serializeValue(v, { utf8 })]), Buffer.from('\r\n')]);
  const r = new Receiver({ maxArgLiteralSize: 1 << 20, maxCommandSize: 1 << 20 });
  const evs = r.feed(line).filter((e) => e.kind !== 'continue');
  assert.equal(evs.length, 1, JSON.stringify(evs));
  const ev = evs[0]!;
  assert.equal(ev.kind, 'command', JSON.stringify(ev));
  return ev.kind === 'command' ? ev.command.args : [];
}

describe('serializer: values', () => {
  it('NIL, numbers, atoms, lists', () => {
    assert.equal(s(null), 'NIL');
    assert.equal(s(42), '42');
    assert.equal(s(12345678901234567890n), '12345678901234567890');
    assert.equal(s([raw('\\Seen'), raw('$Forwarded')]), '(\\Seen $Forwarded)');
    assert.equal(s([]), '()');
    assert.equal(s([1, [2, null], 'x']), '(1 (2 NIL) "x")');
    assert.throws(() => s(-1));
    assert.throws(() => s(1.5));
    assert.throws(() => raw('a\r\nb'));
  });

  it('chooses quoted or literal strings correctly', () => {
    assert.equal(s('hello world'), '"hello world"');
    assert.equal(s(''), '""');
    assert.equal(s('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
    assert.equal(s('a\r\nb'), '{4}\r\na\r\nb');
    assert.equal(s('a\nb'), '{3}\r\na\nb');
    assert.equal(s('a\rb'), '{3}\r\na\rb');
    assert.equal(s('a\0b'), '{3}\r\na\0b');
    assert.equal(s('café'), '{5}\r\ncaf\xc3\xa9');
    assert.equal(Buffer.from(s('café', true), 'latin1').toString('utf8'), '"café"');
    assert.equal(s(bytes(Buffer.from([0x63, 0xe9])), true), '{2}\r\nc\xe9', 'invalid UTF-8 is never quoted');
    assert.equal(s('x'.repeat(1024)), `"${'x'.repeat(1024)}"`);
    assert.equal(s('x'.repeat(1025)), `{1025}\r\n${'x'.repeat(1025)}`);
    assert.equal(s('"'.repeat(20)), `{20}\r\n${'"'.repeat(20)}`);
    assert.equal(s(binary('Ol\xe9')), '{3}\r\nOl\xe9');
    assert.equal(s(Buffer.from('abc')), '{3}\r\nabc');
    assert.equal(s(literal8(Buffer.from('a\0'))), '~{2}\r\na\0');
    assert.equal(stringForm(Buffer.from('tab\there')), 'quoted');
  });
});

describe('serializer: lines', () => {
  it('tagged, untagged, continuation, response codes', () => {
    assert.equal(tagged('A1', 'OK', 'LOGIN completed').toString(), 'A1 OK LOGIN completed\r\n');
    assert.equal(tagged('A2', 'OK', 'APPEND completed', { name: 'APPENDUID', args: [38505, raw(compressNumbers([3955]))] }).toString(), 'A2 OK [APPENDUID 38505 3955] APPEND completed\r\n');
    assert.equal(tagged('A3', 'NO', 'Too big', 'TOOBIG').toString(), 'A3 NO [TOOBIG] Too big\r\n');
    assert.equal(tagged('A4', 'BAD', 'bad\r\nA5 OK injected').toString(), 'A4 BAD bad  A5 OK injected\r\n');
    assert.equal(tagged('A6', 'OK', '').toString(), 'A6 OK Completed\r\n');
    assert.equal(
      untaggedStatus('OK', 'Flags permitted', { name: 'PERMANENTFLAGS', args: [flagList(['\\Seen', '\\*'])] }).toString(),
      '* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted\r\n',
    );
    assert.equal(untaggedStatus('BYE', 'Logging out').toString(), '* BYE Logging out\r\n');
    assert.equal(untagged([3, raw('EXISTS')]).toString(), '* 3 EXISTS\r\n');
    assert.equal(
      untagged([raw('LIST'), [raw('\\HasNoChildren'), raw('\\Sent')], '/', encodeMailboxName('Gesendete Entwürfe')]).toString(),
      '* LIST (\\HasNoChildren \\Sent) "/" "Gesendete Entw&APw-rfe"\r\n',
    );
    assert.equal(untagged([raw('LIST'), [], null, 'INBOX']).toString(), '* LIST () NIL "INBOX"\r\n');
    assert.equal(continuation().toString(), '+ Ready\r\n');
    assert.equal(continuation('').toString(), '+ \r\n');
    assert.throws(() => tagged('A', 'OK', 'x', 'BAD CODE]'));
  });

  it('FETCH responses keep big literals as their own buffers and echo labels', () => {
    const body = Buffer.alloc(100000, 0x61);
    const parts = fetchResponse(12, [
      ['UID', 5],
      ['FLAGS', flagList(['\\Seen'])],
      ['BODY[HEADER.FIELDS (date subject)]', Buffer.from('Date: x\r\n\r\n')],
      ['BODY[]<0>', body],
    ]);
    assert.ok(parts.includes(body), 'the body buffer is not copied');
    const text = Buffer.concat(parts).toString('latin1');
    assert.ok(text.startsWith('* 12 FETCH (UID 5 FLAGS (\\Seen) BODY[HEADER.FIELDS (date subject)] {11}\r\nDate: x\r\n\r\n BODY[]<0> {100000}\r\naaa'));
    assert.ok(text.endsWith('a)\r\n'));
    assert.equal(Buffer.concat(untaggedBuffers([1, raw('FETCH'), [raw('BODY[]'), body]])).length, 100000 + 31);
  });
});

describe('serializer: round-trip properties (serialize -> receiver)', () => {
  const noNul = fc.uint8Array({ maxLength: 1200 }).map((a) => Buffer.from(a.map((b) => (b === 0 ? 1 : b))));

  it('any octet string (no NUL) comes back identical, in the form stringForm chose', () => {
    fc.assert(
      fc.property(noNul, fc.boolean(), (data, utf8) => {
        const [t] = reparse([bytes(data)], utf8);
        assert.ok(t && t.type === 'string');
        assert.deepEqual(t.value, data);
        assert.equal(t.form === 'quoted' ? 'quoted' : 'literal', stringForm(data, { utf8 }));
      }),
      { numRuns: 500 },
    );
  });

  it('binaryString writes a binary string exactly as string() writes its octets', () => {
    const octets = fc.oneof(noNul, fc.constantFrom(Buffer.from('a"b\\c'), Buffer.from('"'.repeat(30)), Buffer.from('caf\xc3\xa9', 'latin1'), Buffer.from('\xe9t\xe9', 'latin1')));
    fc.assert(
      fc.property(octets, fc.boolean(), fc.nat({ max: 3 }), (data, utf8, pieces) => {
        // Several strings and text in one writer: the writer's buffers carry on across them.
        const a = new ResponseWriter({ utf8 });
        const b = new ResponseWriter({ utf8 });
        for (let i = 0; i <= pieces; i++) {
          a.text(`* ${i} `).string(data);
          b.text(`* ${i} `).binaryString(data.toString('latin1'));
        }
        assert.deepEqual(b.toBuffer(), a.toBuffer());
      }),
      { numRuns: 500 },
    );
  });

  it('a writer keeps text, octets and big literals in order across its buffers', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 300 }).map((t) => ['t', t] as const), noNul.map((d) => ['o', d] as const)), { maxLength: 60 }), (ops) => {
        const w = new ResponseWriter();
        const want: Buffer[] = [];
        for (const [k, v] of ops) {
          if (k === 't') {
            w.text(v);
            want.push(Buffer.from(v, 'latin1'));
          } else {
            w.octets(v);
            want.push(v);
          }
        }
        assert.deepEqual(Buffer.concat(w.toBuffers()), Buffer.concat(want));
        assert.deepEqual(w.toBuffers(), [], 'taken out once');
      }),
      { numRuns: 300 },
    );
  });

  it('any Unicode string comes back as its UTF-8 octets', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), (str) => {
        fc.pre(!str.includes('\0'));
        for (const utf8 of [false, true]) {
          const [t] = reparse([str], utf8);
          assert.ok(t && t.type === 'string');
          assert.equal(t.value.toString('utf8'), str);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('nested values keep their structure', () => {
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(null),
        fc.nat(),
        fc.string({ maxLength: 10 }).filter((x) => !x.includes('\0')),
        fc.array(tie('value'), { maxLength: 4 }),
      ),
    }));
    const toPlain = (t: Token): unknown =>
      t.type === 'list' ? t.items.map(toPlain) : t.type === 'atom' ? (t.value === 'NIL' ? null : Number(t.value)) : t.value.toString('utf8');
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (vals) => {
        const tokens = reparse(vals as ImapValue[]);
        assert.deepEqual(tokens.map(toPlain), vals);
      }),
      { numRuns: 300 },
    );
  });

  it('mailbox names: encode -> quoted string -> CREATE parser gives the name back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), (name) => {
        fc.pre(!/[\0\r\n]/.test(name) && !/[\x00-\x1f\x7f]/.test(name));
        const line = Buffer.concat([Buffer.from('A CREATE '), serializeValue(encodeMailboxName(name)), Buffer.from('\r\n')]);
        const ev = new Receiver().feed(line).find((e) => e.kind === 'command');
        assert.ok(ev && ev.kind === 'command');
        const r = parseCommand(ev.command);
        assert.ok(r.ok, r.ok ? '' : r.message);
        const expected = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
        assert.equal((r.command as CreateCommand).mailbox, expected);
      }),
      { numRuns: 500 },
    );
  });

  it('sequence sets: compressNumbers -> STORE parser -> same UIDs', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 100 }), (uids) => {
        const sorted = [...uids].sort((a, b) => a - b);
        const line = `A UID STORE ${compressNumbers(uids)} +FLAGS (\\Seen)\r\n`;
        const ev = new Receiver().feed(Buffer.from(line))[0]!;
        assert.ok(ev.kind === 'command');
        const r = parseCommand(ev.command);
        assert.ok(r.ok);
        assert.deepEqual(uidsInSet((r.command as StoreCommand).set, sorted), sorted);
        assert.deepEqual(uidsInSet(parseSequenceSet(compressNumbers(uids)), Array.from({ length: 1000 }, (_, i) => i + 1)), sorted);
      }),
      { numRuns: 300 },
    );
  });

  it('date-time: formatDateTime -> quoted string -> APPEND parser gives the instant back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) / 1000 }), fc.integer({ min: -720, max: 840 }), (sec, off) => {
        const text = formatDateTime(sec * 1000, off);
        const line = Buffer.concat([Buffer.from('A APPEND x '), serializeValue(text), Buffer.from(' {1+}\r\nx\r\n')]);
        const ev = new Receiver().feed(line).find((e) => e.kind === 'command');
        assert.ok(ev && ev.kind === 'command');
        const r = parseCommand(ev.command);
        assert.ok(r.ok && r.command.name === 'APPEND');
        assert.equal(r.command.messages[0]!.date!.getTime(), sec * 1000);
        assert.equal(parseDateTime(text).offsetMinutes, off);
      }),
      { numRuns: 300 },
    );
  });
});
