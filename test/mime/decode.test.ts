// Text decoding for matching: quoted-printable, base64, charsets, RFC 2047 encoded words, sent dates.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeBase64,
  decodeCharset,
  decodeHeaderValue,
  decodeQuotedPrintable,
  foldForMatch,
  parseSentDate,
} from '../../core/mime/decode.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('MIME text decoding', () => {
  it('quoted-printable: octets, soft breaks (with trailing blanks), malformed escapes kept', () => {
    assert.equal(decodeQuotedPrintable(b('caf=E9 =C3=A9')).toString('latin1'), 'caf\xe9 \xc3\xa9');
    assert.equal(decodeQuotedPrintable(b('long=\r\nline=  \r\nend=\nx=')).toString(), 'longlineendx');
    assert.equal(decodeQuotedPrintable(b('a=ZZb =4')).toString(), 'a=ZZb =4');
    assert.equal(decodeQuotedPrintable(b('=3d=3D')).toString(), '==');
  });

  it('base64 ignores line breaks and junk', () => {
    assert.equal(decodeBase64(b('SGVs\r\nbG8g\r\nd29y bGQ=\r\n')).toString(), 'Hello world');
  });

  it('charsets: labels through TextDecoder, unknown ones fall back to UTF-8 or Latin-1', () => {
    assert.equal(decodeCharset(b('\xe9'), 'iso-8859-1'), 'é');
    assert.equal(decodeCharset(b('\xb1'), 'ISO-8859-2'), 'ą');
    assert.equal(decodeCharset(b('\xc3\xa9'), 'us-ascii'), 'é', 'UTF-8 in a US-ASCII part');
    assert.equal(decodeCharset(b('\xe9'), 'utf-8'), 'é', 'invalid UTF-8 read as Latin-1, not replaced');
    assert.equal(decodeCharset(b('\xc3\xa9'), 'x-unknown'), 'é');
    assert.equal(decodeCharset(b('\xe9'), null), 'é');
    assert.equal(decodeCharset(Buffer.from('жук', 'utf8'), 'utf-8'), 'жук');
  });

  it('encoded words: B and Q, adjacent words joined, split multi-octet characters survive', () => {
    assert.equal(decodeHeaderValue('=?UTF-8?B?w4Rrc2Vs?= <a@b>'), 'Äksel <a@b>');
    assert.equal(decodeHeaderValue('=?iso-8859-1?q?caf=E9_cr=E8me?='), 'café crème');
    assert.equal(decodeHeaderValue('=?UTF-8?Q?Gr=C3=BC?=  \r\n =?UTF-8?Q?=C3=9Fe?= x'), 'Grüße x');
    // "é" (C3 A9) split over two words.
    assert.equal(decodeHeaderValue('=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?='), 'café');
    assert.equal(decodeHeaderValue('a =?UTF-8?Q?b?= c'), 'a b c', 'spaces next to plain text stay');
    assert.equal(decodeHeaderValue('=?UTF-8*en?Q?hi?='), 'hi', 'RFC 2231 language tag');
    assert.equal(decodeHeaderValue('=?UTF-8?X?bad?= =?broken'), '=?UTF-8?X?bad?= =?broken');
    assert.equal(decodeHeaderValue(b('M\xc3\xbcller').toString('latin1')), 'Müller', 'raw 8-bit UTF-8');
    assert.equal(decodeHeaderValue('M\xfcller'), 'Müller', 'raw Latin-1');
  });

  it('folding for matching is NFC plus lower case', () => {
    assert.equal(foldForMatch('CAFE\u0301'), 'café');
  });

  it('sent dates as written, obsolete years, no date', () => {
    assert.deepEqual(parseSentDate('Mon, 02 Mar 2026 23:30:00 -0500'), { year: 2026, month: 3, day: 2 });
    assert.deepEqual(parseSentDate('2 Mar 26 10:00 GMT'), { year: 2026, month: 3, day: 2 });
    assert.deepEqual(parseSentDate('Tue, 1 Jul 99 10:52:37 +0200'), { year: 1999, month: 7, day: 1 });
    assert.deepEqual(parseSentDate('Thu, 5 September 2024 10:00:00 +0000'), { year: 2024, month: 9, day: 5 });
    assert.equal(parseSentDate('garbage'), null);
    assert.equal(parseSentDate(null), null);
  });
});

describe('quoted-printable decoding, against a byte-by-byte reference', () => {
  function hex(c: number): number {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x37;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  }
  /** RFC 2045 §6.7 as the decoder documents it, one octet at a time. */
  function reference(input: Uint8Array): Buffer {
    const out: number[] = [];
    for (let i = 0; i < input.length; i++) {
      const c = input[i]!;
      if (c !== 0x3d) {
        out.push(c);
        continue;
      }
      const h = i + 1 < input.length ? hex(input[i + 1]!) : -1;
      const l = i + 2 < input.length ? hex(input[i + 2]!) : -1;
      if (h >= 0 && l >= 0) {
        out.push((h << 4) | l);
        i += 2;
        continue;
      }
      let j = i + 1;
      while (j < input.length && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j >= input.length) break;
      if (input[j] === 0x0a) i = j;
      else if (input[j] === 0x0d && input[j + 1] === 0x0a) i = j + 1;
      else out.push(c);
    }
    return Buffer.from(out);
  }

  it('gives the same octets on arbitrary input', async () => {
    const fc = (await import('fast-check')).default;
    const octet = fc.constantFrom(0x3d, 0x3d, 0x20, 0x09, 0x0d, 0x0a, 0x41, 0x61, 0x46, 0x66, 0x30, 0x39, 0x47, 0x7a, 0xc3, 0x00);
    fc.assert(
      fc.property(fc.array(octet, { maxLength: 40 }), fc.boolean(), (arr, plain) => {
        const bytes = Uint8Array.from(arr);
        const input = plain ? bytes : Buffer.from(bytes);
        assert.deepEqual(decodeQuotedPrintable(input), reference(bytes));
      }),
      { numRuns: 5000 },
    );
  });
});
