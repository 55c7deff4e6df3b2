// SEARCH text matching (core/mime/match.ts): the shortcuts taken on raw octets give the same
// answers as decoding and folding everything (the reference), for every transfer encoding,
// charset family and needle; the table of non-ASCII characters folding to ASCII is complete.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { charsetFamily, foldForMatch } from '../../core/mime/decode.js';
import { FOLDS_TO_ASCII, TextMatcher, decodeForSearch, type TextChunk } from '../../core/mime/match.js';
import { quotedPrintable } from '../../core/mime/samples.js';

/** What a needle means: decode every chunk, join with "\n", fold, look. */
function reference(chunks: TextChunk[], needle: string): boolean {
  return foldForMatch(chunks.map((c) => decodeForSearch(c.data, c)).join('\n')).includes(needle);
}

function matches(chunks: TextChunk[], needle: string): boolean {
  const folded = foldForMatch(needle);
  return new TextMatcher([folded]).match(chunks).has(folded);
}

const text = (s: string, encoding = '7BIT', charset: string | null = 'utf-8'): TextChunk => {
  let data: Buffer;
  const bytes = charset && /^(iso-8859-1|latin1|windows-1252)$/i.test(charset) ? Buffer.from(s, 'latin1') : Buffer.from(s, 'utf8');
  if (encoding === 'BASE64') data = Buffer.from(bytes.toString('base64').replace(/.{76}/g, '$&\r\n'), 'latin1');
  else if (encoding === 'QUOTED-PRINTABLE') data = Buffer.from(quotedPrintable(bytes.toString(charset && /8859-1|latin1|1252/i.test(charset) ? 'latin1' : 'utf8')), 'latin1');
  else data = bytes;
  return { kind: 'text', encoding, charset, data };
};

describe('SEARCH text matching', () => {
  it('every character outside ASCII whose folded form holds ASCII is in FOLDS_TO_ASCII', () => {
    const found: Record<string, string[]> = {};
    for (let cp = 0x80; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      const f = foldForMatch(ch);
      for (const c of f) if (c.charCodeAt(0) < 0x80) (found[c] ??= []).push(ch);
    }
    for (const [c, list] of Object.entries(found)) {
      for (const ch of list) {
        assert.ok(FOLDS_TO_ASCII[c]?.includes(ch), `U+${ch.codePointAt(0)!.toString(16)} folds to ${JSON.stringify(c)}, missing from the table`);
      }
    }
    // Latin-1 and windows-1252 (the fallbacks of 8-bit text) hold none of them.
    const high = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i));
    for (const label of ['latin1', 'windows-1252']) {
      const s = foldForMatch(new TextDecoder(label).decode(high));
      assert.ok(![...s].some((c) => c.charCodeAt(0) < 0x80), label);
    }
  });

  it('charsets of the "ascii" family read octets below 0x80 as ASCII', () => {
    const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
    const labels = ['ibm866', 'iso-8859-2', 'iso-8859-5', 'iso-8859-7', 'iso-8859-8', 'iso-8859-9', 'iso-8859-15', 'koi8-r', 'koi8-u', 'macintosh',
      'windows-874', 'windows-1250', 'windows-1251', 'windows-1253', 'windows-1254', 'windows-1255', 'windows-1256', 'x-mac-cyrillic',
      'gbk', 'gb18030', 'big5', 'euc-jp', 'shift_jis', 'euc-kr', 'iso-2022-jp', 'utf-16le', 'utf-16be'];
    for (const label of labels) {
      const same = new TextDecoder(label).decode(ascii) === ascii.toString('latin1');
      assert.equal(charsetFamily(label), same ? 'ascii' : 'opaque', label);
    }
    for (const label of ['iso-8859-2', 'koi8-r', 'windows-1251', 'iso-8859-9']) assert.equal(charsetFamily(label), 'ascii', label);
    assert.equal(charsetFamily('UTF-16LE'), 'opaque');
    assert.equal(charsetFamily('iso-2022-jp'), 'opaque');
    assert.equal(charsetFamily('ISO-8859-1'), 'latin1');
    assert.equal(charsetFamily('us-ascii'), 'utf8');
    assert.equal(charsetFamily('x-unknown-charset'), 'utf8');
    assert.equal(charsetFamily(null), 'utf8');
  });

  it('finds words in quoted-printable (across a soft line break), base64 and 8-bit charsets, in any case', () => {
    const long = `${'filler '.repeat(10)}zanzibarite${' more'.repeat(20)}`;
    const qp = text(long, 'QUOTED-PRINTABLE');
    assert.ok(Buffer.from(qp.data).toString('latin1').includes('=\r\n'), 'the sample has soft line breaks');
    // Put the soft break inside the word: the raw octets no longer hold it.
    const split: TextChunk = { kind: 'text', encoding: 'QUOTED-PRINTABLE', charset: 'us-ascii', data: Buffer.from('see zanzi=\r\nbarite=20notes\r\n') };
    assert.ok(matches([split], 'ZANZIBARITE'));
    assert.ok(matches([qp], 'Zanzibarite'));
    assert.ok(matches([text('Grüße aus München, ÜBERMORGEN', 'BASE64')], 'übermorgen'));
    assert.ok(matches([text('Grüße aus München', 'QUOTED-PRINTABLE')], 'MÜNCHEN'));
    assert.ok(matches([text('Le café est prêt', 'QUOTED-PRINTABLE', 'iso-8859-1')], 'CAFÉ EST'));
    assert.ok(matches([text('ΟΔΥΣΣΕΥΣ', '8BIT')], 'οδυσσευς'), 'Greek capital letters fold');
    assert.ok(matches([{ kind: 'text', encoding: '8BIT', charset: 'iso-8859-9', data: Buffer.from([0x49, 0x53, 0x54, 0x41, 0x4e, 0x42, 0x55, 0x4c, 0x20, 0xdd]) }], 'istanbul'));
    assert.ok(matches([{ kind: 'text', encoding: '8BIT', charset: 'utf-16le', data: Buffer.from('Hello zanzibarite', 'utf16le') }], 'ZANZIBARITE'));
    assert.ok(!matches([text('plain ascii words', '7BIT', 'us-ascii')], 'wörds'));
    assert.ok(!matches([text('nothing here', 'BASE64')], 'zanzibarite'));
  });

  it('characters folding to ASCII are found as the reference finds them', () => {
    // KELVIN SIGN is "k" once folded; İ is "i" + U+0307.
    assert.ok(matches([text('300 \u212aelvin', '8BIT')], 'kelvin'));
    assert.ok(matches([text('\u212aELVIN', 'BASE64')], 'KELVIN'));
    assert.ok(matches([text('ANKARA \u0130', '8BIT')], 'ankara i'));
    assert.ok(!matches([text('\u0130STANBUL', '8BIT')], 'istanbul'), 'U+0307 follows the i');
    assert.ok(matches([text('a\u037e b', 'QUOTED-PRINTABLE')], 'a;'));
    // NFC joins a letter with a combining mark after it: the plain word is no longer there.
    assert.equal(matches([text('cafe\u0301', '8BIT')], 'cafe'), reference([text('cafe\u0301', '8BIT')], 'cafe'));
    assert.ok(matches([text('cafe\u0301', '8BIT')], 'café'));
  });

  it('an attached header is decoded (encoded words), raw octets read as UTF-8 or Latin-1', () => {
    const hdr: TextChunk = { kind: 'header', encoding: '7BIT', charset: null, data: Buffer.from('Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\n') };
    assert.ok(matches([hdr], 'GRÜßE'));
    assert.ok(matches([{ kind: 'raw', encoding: '7BIT', charset: null, data: Buffer.from([0x63, 0x61, 0x66, 0xe9]) }], 'CAFÉ'));
  });

  it('several needles, the empty needle and needles holding a line break', () => {
    const chunks = [text('first part ends'), text('second part starts', 'BASE64')];
    const m = new TextMatcher(['first', 'second', 'third', '', 'ends\nsecond']);
    assert.deepEqual([...m.match(chunks)].sort(), ['', 'ends\nsecond', 'first', 'second']);
    assert.deepEqual([...new TextMatcher(['']).match([])], ['']);
  });

  it('agrees with the reference on random text, encodings, charsets and needles', () => {
    const alphabet = ['a', 'b', 'K', 'k', 'i', 'I', ';', '`', ' ', '\r\n', 'é', 'É', 'e\u0301', '\u0301', '\u212a', '\u0130', '\u037e', '\u1fef', 'Σ', 'σ', 'ς', 'ü', '字', '=', '=?', '?='];
    const str = fc.array(fc.constantFrom(...alphabet), { maxLength: 30 }).map((a) => a.join(''));
    const chunk = fc
      .record({
        s: str,
        encoding: fc.constantFrom('7BIT', '8BIT', 'QUOTED-PRINTABLE', 'BASE64'),
        charset: fc.constantFrom(null, 'utf-8', 'us-ascii', 'iso-8859-1', 'iso-8859-9', 'shift_jis', 'utf-16le', 'x-bogus'),
        kind: fc.constantFrom('text' as const, 'text' as const, 'header' as const, 'raw' as const),
      })
      .map(({ s, encoding, charset, kind }): { s: string; c: TextChunk } => {
        if (kind !== 'text') return { s, c: { kind, encoding: '7BIT', charset: null, data: Buffer.from(s, 'utf8') } };
        if (charset === 'utf-16le') return { s, c: { kind, encoding: '8BIT', charset, data: Buffer.from(s, 'utf16le') } };
        if (charset === 'iso-8859-9' || charset === 'shift_jis') return { s, c: { kind, encoding: '8BIT', charset, data: Buffer.from(s, 'latin1') } };
        return { s, c: text(s, encoding, charset) };
      });
    // Needles: random strings, and pieces of the chunks' text in another case.
    const pick = fc.record({ i: fc.nat(), a: fc.nat(), b: fc.nat(), upper: fc.boolean() });
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 4 }), fc.array(str, { maxLength: 2 }), fc.array(pick, { maxLength: 3 }), (cs, rnd, picks) => {
        const chunks = cs.map((x) => x.c);
        const raw = [...rnd];
        for (const p of picks) {
          if (cs.length === 0) break;
          const src = cs[p.i % cs.length]!.s;
          const a = p.a % (src.length + 1);
          const piece = src.slice(a, a + (p.b % 12));
          raw.push(p.upper ? piece.toUpperCase() : piece);
        }
        const needles = raw.map(foldForMatch);
        const found = new TextMatcher(needles).match(chunks);
        for (const n of needles) assert.equal(found.has(n), reference(chunks, n), `needle ${JSON.stringify(n)}`);
      }),
      { numRuns: 3000 },
    );
  });
});
