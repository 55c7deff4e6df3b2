import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fieldName, parseHeaderFields, scanHeaderFields, selectHeaderFields } from '../../core/mime/header.js';
import { indexMessage } from '../../core/mime/indexer.js';
import { findSection, sectionRange } from '../../core/mime/sections.js';

const block =
  'Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\n' +
  'From: Alice <alice@example.com>\r\n' +
  'To: bob@example.com,\r\n  carol@example.com\r\n' +
  'Subject: Hello\r\n' +
  'X-Empty:\r\n' +
  'subject : second one\r\n' +
  '\r\n';

describe('parseHeaderFields', () => {
  it('keeps every field with its folding and line ends', () => {
    const fields = parseHeaderFields(block);
    assert.deepEqual(
      fields.map((f) => f.name),
      ['Received', 'From', 'To', 'Subject', 'X-Empty', 'subject'],
    );
    assert.equal(fields[0]!.raw, 'Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\n');
    assert.equal(fields[2]!.raw, 'To: bob@example.com,\r\n  carol@example.com\r\n');
    assert.equal(fields.map((f) => f.raw).join('') + '\r\n', block);
  });

  it('stops at the blank line and copes with bare LF, no blank line and junk lines', () => {
    assert.deepEqual(parseHeaderFields('A: 1\nB: 2\n\nC: body\n'), [
      { name: 'A', raw: 'A: 1\n' },
      { name: 'B', raw: 'B: 2\n' },
    ]);
    assert.deepEqual(parseHeaderFields('A: 1\r\nB: no end'), [
      { name: 'A', raw: 'A: 1\r\n' },
      { name: 'B', raw: 'B: no end' },
    ]);
    assert.deepEqual(parseHeaderFields(' leading fold\r\nnot a field\r\nA:1\r\n\r\n'), [
      { name: '', raw: ' leading fold\r\n' },
      { name: '', raw: 'not a field\r\n' },
      { name: 'A', raw: 'A:1\r\n' },
    ]);
    assert.deepEqual(parseHeaderFields(''), []);
    assert.deepEqual(parseHeaderFields('\r\n'), []);
  });

  it('is linear on a large block', () => {
    const big = 'X-A: 1\r\n'.repeat(200_000) + 'no colon here '.repeat(50_000) + '\r\n\r\n';
    const t0 = performance.now();
    assert.equal(parseHeaderFields(big).length, 200_001);
    // Quadratic work on 200,000 fields would take minutes; linear takes milliseconds.
    assert.ok(performance.now() - t0 < 10_000);
  });
});

describe('selectHeaderFields', () => {
  it('returns the named fields, in message order, case-insensitively, with the blank line', () => {
    assert.equal(selectHeaderFields(block, ['SUBJECT', 'from'], false), 'From: Alice <alice@example.com>\r\nSubject: Hello\r\nsubject : second one\r\n\r\n');
    assert.equal(selectHeaderFields(block, ['to'], false), 'To: bob@example.com,\r\n  carol@example.com\r\n\r\n');
    assert.equal(selectHeaderFields(block, ['X-Missing'], false), '\r\n');
    assert.equal(selectHeaderFields(block, [], false), '\r\n');
  });

  it('returns everything else for HEADER.FIELDS.NOT', () => {
    assert.equal(selectHeaderFields(block, ['received', 'subject', 'x-empty'], true), 'From: Alice <alice@example.com>\r\nTo: bob@example.com,\r\n  carol@example.com\r\n\r\n');
    assert.equal(selectHeaderFields(block, [], true), block);
  });

  it('keeps bare-LF fields as they are and ends a cut-off last field', () => {
    assert.equal(selectHeaderFields('A: 1\nB: 2\n\n', ['b'], false), 'B: 2\n\r\n');
    assert.equal(selectHeaderFields('A: 1\r\nB: 2', ['b'], false), 'B: 2\r\n\r\n');
    assert.equal(selectHeaderFields('junk\r\nA: 1\r\n\r\n', ['junk'], false), '\r\n');
    assert.equal(selectHeaderFields('junk\r\nA: 1\r\n\r\n', ['a'], true), 'junk\r\n\r\n');
  });

  it('works on the stored header of an indexed message', () => {
    const raw = Buffer.from('From: x@y.example\r\nSubject: caf\xe9\r\n\r\nbody', 'latin1');
    const ix = indexMessage(raw);
    const sub = selectHeaderFields(ix.header!, ['Subject'], false);
    assert.deepEqual(Buffer.from(sub, 'latin1'), Buffer.from('Subject: caf\xe9\r\n\r\n', 'latin1'));
  });
});

describe('selectHeaderFields, against the plain definition', () => {
  // The definition: every field whose trimmed name, lower-cased, is one asked for (or is not,
  // for .NOT), with its bytes, a CRLF after a last field cut off, then the blank line.
  function reference(b: string, names: string[], not: boolean): string {
    const wanted = new Set(names.map((n) => n.toLowerCase()));
    let out = '';
    scanHeaderFields(b, (start, colon, end) => {
      const hit = colon >= 0 && wanted.has(fieldName(b, start, colon).toLowerCase());
      if (hit === not) return;
      out += b.slice(start, end);
      if (b.charCodeAt(end - 1) !== 10) out += '\r\n';
    });
    return out + '\r\n';
  }

  it('gives the same octets for any header block and list of names, the list reused or not', () => {
    const name = fc.constantFrom('Subject', 'subject', 'FROM', 'To', 'X-A', 'x-a ', 'Received', 'a', '\xc4ra', '\xe4RA', '');
    const line = fc.oneof(
      fc.tuple(name, fc.constantFrom(':', ' :', '\t:'), fc.string({ maxLength: 12 }).map((v) => v.replace(/[\r\n]/g, ' '))).map(([n, c, v]) => `${n}${c}${v}`),
      fc.constantFrom('junk', ' folded', '\tfolded', '\rx: y', ''),
    );
    const blockArb = fc.tuple(fc.array(line, { maxLength: 8 }), fc.constantFrom('\r\n', '\n'), fc.boolean()).map(([ls, eol, end]) => ls.join(eol) + (end ? eol + eol : ''));
    fc.assert(
      fc.property(blockArb, fc.array(name, { maxLength: 4 }), fc.boolean(), (b, names, not) => {
        assert.equal(selectHeaderFields(b, names, not), reference(b, names, not));
        assert.equal(selectHeaderFields(b, names, not), reference(b, names, not), 'the same list again');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('sectionRange', () => {
  const raw = Buffer.from(
    [
      'Content-Type: multipart/mixed; boundary=o',
      '',
      '--o',
      '',
      'one',
      '--o',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      '',
      'inner body',
      '--o--',
    ].join('\r\n'),
  );
  const ix = indexMessage(raw);
  const get = (path: number[], kind: '' | 'MIME' | 'HEADER' | 'TEXT'): string | null => {
    const r = sectionRange(ix, path, kind);
    return r ? raw.toString('latin1', r.start, r.end) : null;
  };

  it('resolves the top level', () => {
    assert.equal(get([], ''), raw.toString('latin1'));
    assert.equal(get([], 'HEADER'), 'Content-Type: multipart/mixed; boundary=o\r\n\r\n');
    assert.equal(get([], 'TEXT'), raw.toString('latin1', ix.headerSize));
    assert.equal(get([], 'MIME'), null);
  });

  it('resolves parts and refuses what does not exist', () => {
    assert.equal(get([1], ''), 'one');
    assert.equal(get([2], 'HEADER'), 'Subject: inner\r\n\r\n');
    assert.equal(get([2, 1], ''), 'inner body');
    assert.equal(get([1], 'HEADER'), null);
    assert.equal(get([1], 'TEXT'), null);
    assert.equal(get([0], ''), null);
    assert.equal(get([3], ''), null);
    assert.equal(get([1, 1], ''), null);
    assert.equal(get([2, 2], ''), null);
    assert.equal(findSection(ix.root, []), null);
  });
});
