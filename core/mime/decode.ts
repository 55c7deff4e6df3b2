// Decoding of message text for matching (IMAP SEARCH): transfer encodings (quoted-printable,
// base64), charsets, and RFC 2047 encoded words in header values.
//
// Charsets go through the platform's TextDecoder (WHATWG Encoding Standard: UTF-8, the ISO
// 8859 family, windows-125x, KOI8, Shift_JIS, EUC-JP, ISO-2022-JP, GBK/GB18030, Big5,
// EUC-KR, UTF-16...), so no charset table is carried here. An unknown label falls back to
// UTF-8 when the octets are valid UTF-8 and Latin-1 otherwise: text is never lost, and a
// search still finds its ASCII words.
//
// Header strings in the index are "binary strings" (one char per octet, see types.ts); the
// functions taking a string take that form.

const decoders = new Map<string, TextDecoder | null>();
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

function decoderFor(label: string): TextDecoder | null {
  const key = label.trim().toLowerCase();
  let d = decoders.get(key);
  if (d === undefined) {
    try {
      d = new TextDecoder(key === 'us-ascii' || key === 'ascii' ? 'utf-8' : key);
    } catch {
      d = null;
    }
    if (decoders.size < 256) decoders.set(key, d);
  }
  return d;
}

/** UTF-8 when the octets are valid UTF-8, else Latin-1. */
export function decodeUnknown(bytes: Uint8Array): string {
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** Decodes octets in the named charset (null/unknown: UTF-8 if valid, else Latin-1). */
export function decodeCharset(bytes: Uint8Array, charset: string | null | undefined): string {
  const d = charset ? decoderFor(charset) : null;
  if (!d) return decodeUnknown(bytes);
  // UTF-8 (and US-ASCII, which 8-bit mail often breaks): invalid octets are read as Latin-1
  // rather than replaced. A Latin-1 label on valid non-ASCII UTF-8 is a common mislabel.
  if (d.encoding === 'utf-8') return decodeUnknown(bytes);
  if (d.encoding === 'windows-1252') {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return latin1.decode(bytes);
    try {
      return utf8Fatal.decode(bytes);
    } catch {
      return d.decode(bytes);
    }
  }
  return d.decode(bytes);
}

/**
 * How decodeCharset reads octets in a charset, so text can be matched without decoding it:
 * 'utf8': as UTF-8 when valid, else as Latin-1 (no or an unknown charset, UTF-8, US-ASCII);
 * 'latin1': ASCII as itself, other octets as UTF-8 when valid, else as windows-1252
 * (ISO-8859-1, windows-1252 and their aliases); 'ascii': octets below 0x80 as those ASCII
 * characters, others by the charset's own table (every other ASCII-compatible charset);
 * 'opaque': none of these (UTF-16, ISO-2022-JP).
 */
export type CharsetFamily = 'utf8' | 'latin1' | 'ascii' | 'opaque';

const ASCII_OCTETS = Uint8Array.from({ length: 128 }, (_, i) => i);
const ASCII_TEXT = String.fromCharCode(...ASCII_OCTETS);
/** By encoding name: whether the decoder reads each octet below 0x80 as that ASCII character. */
const asciiIdentity = new Map<string, boolean>();

export function charsetFamily(charset: string | null | undefined): CharsetFamily {
  const d = charset ? decoderFor(charset) : null;
  if (!d || d.encoding === 'utf-8') return 'utf8';
  if (d.encoding === 'windows-1252') return 'latin1';
  // Checked rather than listed: UTF-16 and ISO-2022-JP are not, and some tables move
  // control characters (the platform's IBM866 swaps 0x1A, 0x1C and 0x7F).
  let same = asciiIdentity.get(d.encoding);
  if (same === undefined) {
    same = d.decode(ASCII_OCTETS) === ASCII_TEXT;
    asciiIdentity.set(d.encoding, same);
  }
  return same ? 'ascii' : 'opaque';
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Quoted-printable (RFC 2045 §6.7): `=XX` becomes the octet, a soft line break (`=` at a
 * line end, trailing whitespace allowed) disappears, and anything malformed is kept as is.
 */
export function decodeQuotedPrintable(input: Uint8Array): Buffer {
  const src = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const n = src.length;
  let eq = src.indexOf(0x3d);
  if (eq < 0) return src;
  // The runs between "=" signs are copied natively (a byte-by-byte loop was several times slower).
  const out = Buffer.allocUnsafe(n);
  let o = 0;
  let i = 0;
  while (eq >= 0) {
    o += src.copy(out, o, i, eq);
    i = eq;
    const h = i + 1 < n ? hexVal(src[i + 1]!) : -1;
    const l = i + 2 < n ? hexVal(src[i + 2]!) : -1;
    if (h >= 0 && l >= 0) {
      out[o++] = (h << 4) | l;
      i += 3;
    } else {
      // Soft line break: "=" then optional spaces/tabs then CRLF or LF (or the end).
      let j = i + 1;
      while (j < n && (src[j] === 0x20 || src[j] === 0x09)) j++;
      if (j >= n) i = n;
      else if (src[j] === 0x0a) i = j + 1;
      else if (src[j] === 0x0d && j + 1 < n && src[j + 1] === 0x0a) i = j + 2;
      else {
        out[o++] = 0x3d; // a stray "=" is kept
        i++;
      }
    }
    eq = i < n ? src.indexOf(0x3d, i) : -1;
  }
  o += src.copy(out, o, i, n);
  return out.subarray(0, o);
}

/** Base64 with line breaks and stray characters ignored (Node skips non-alphabet octets). */
export function decodeBase64(input: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1'), 'base64');
}

/** Undoes a Content-Transfer-Encoding (upper-cased name); 7BIT, 8BIT, BINARY and unknown ones pass through. */
export function decodeTransferEncoding(body: Uint8Array, encoding: string): Uint8Array {
  switch (encoding) {
    case 'BASE64':
      return decodeBase64(body);
    case 'QUOTED-PRINTABLE':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

/** Octets of a binary string. */
export function binaryStringBytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** The text of an encoded word's payload (`Q` or `B`), as octets. */
function wordBytes(enc: string, text: string): Buffer {
  if (enc === 'B' || enc === 'b') return Buffer.from(text, 'base64');
  // Q: "_" is a space, "=XX" an octet (RFC 2047 §4.2).
  return decodeQuotedPrintable(Buffer.from(text.replace(/_/g, ' '), 'latin1'));
}

const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * Decodes a header value (a binary string, unfolded or not) for display or matching: RFC 2047
 * encoded words are decoded (whitespace between adjacent encoded words dropped, adjacent words
 * in the same charset joined before decoding so split multi-octet characters survive), and raw
 * 8-bit text is read as UTF-8 when valid, else Latin-1. Malformed words are kept as written.
 */
export function decodeHeaderValue(value: string): string {
  if (value.indexOf('=?') < 0) return hasHighOctet(value) ? decodeUnknown(binaryStringBytes(value)) : value;
  let out = '';
  let last = 0;
  // Pending run of adjacent encoded words in one charset.
  let runCharset: string | null = null;
  let runBytes: Buffer[] = [];
  const flush = () => {
    if (runCharset !== null) out += decodeCharset(Buffer.concat(runBytes), runCharset);
    runCharset = null;
    runBytes = [];
  };
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(value); m; m = ENCODED_WORD.exec(value)) {
    const between = value.slice(last, m.index);
    const adjacent = runCharset !== null && /^[ \t\r\n]*$/.test(between);
    const charset = m[1]!.toLowerCase();
    if (!adjacent) {
      flush();
      out += hasHighOctet(between) ? decodeUnknown(binaryStringBytes(between)) : between;
    } else if (runCharset !== charset) {
      flush();
    }
    runCharset = charset;
    runBytes.push(wordBytes(m[2]!, m[3]!));
    last = m.index + m[0].length;
  }
  flush();
  const rest = value.slice(last);
  out += hasHighOctet(rest) ? decodeUnknown(binaryStringBytes(rest)) : rest;
  return out;
}

function hasHighOctet(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return true;
  return false;
}

/** The form both sides of a case-insensitive text match are put in. */
export function foldForMatch(s: string): string {
  return s.normalize('NFC').toLowerCase();
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The calendar date written in an RFC 5322 Date value, as the sender wrote it (time and zone
 * disregarded, as IMAP SENTBEFORE/SENTON/SENTSINCE want). Accepts the obsolete 2- and 3-digit
 * years; returns null when no date can be read.
 */
export function parseSentDate(value: string | null | undefined): { year: number; month: number; day: number } | null {
  if (!value) return null;
  const m = /(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{2,4})\b/.exec(value);
  if (m) {
    const month = MONTHS.indexOf(m[2]!.toLowerCase());
    let year = Number(m[3]);
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3]!.length === 3) year += 1900;
    const day = Number(m[1]);
    if (month >= 0 && day >= 1 && day <= 31) return { year, month: month + 1, day };
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) return null;
  const d = new Date(t);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}
