// Substring matching of message text for IMAP SEARCH BODY and TEXT, deciding from the raw
// octets whenever that gives the same answer as decoding, and decoding only when it may not.
//
// The reference semantics (what a match means) are those of decoding every text part
// (transfer encoding, then charset: decode.ts), folding it (foldForMatch: NFC, then lower
// case) and looking for the folded needle in it. Decoding a 100 MB mailbox that way is most
// of a BODY search's time, and almost all of its text is US-ASCII or UTF-8 that cannot
// contain the needle. So, per part, after undoing the transfer encoding (base64 and
// quoted-printable are decoded: a word can be split by a soft line break or encoded):
//
// - octets all below 0x80 in a charset that reads them as ASCII: the folded text is those
//   octets lower-cased (NFC leaves ASCII alone), so an ASCII needle is looked for with a
//   case-insensitive ASCII search of the octets, and a needle with any other character
//   cannot occur;
// - other octets, in UTF-8 or Latin-1 (what decodeCharset reads as UTF-8 when valid, else
//   Latin-1 or windows-1252), and an ASCII needle: the needle can only occur if its letters
//   are in the octets as ASCII (case aside), or come from one of the few characters whose
//   folded form holds ASCII (FOLDS_TO_ASCII: KELVIN SIGN folds to "k" and so on), which are
//   looked for as UTF-8 sequences. Neither: no match, without decoding. Either: the part is
//   decoded and folded, and the answer is the reference one;
// - anything else (another charset with 8-bit octets, UTF-16, ISO-2022-JP, encoded words in
//   an attached message's header, a needle with other characters and a part with 8-bit
//   octets): decoded and folded.
//
// Parts are matched one by one, stopping once every needle is found. The reference joins the
// parts' texts with "\n" before looking, which only matters to a needle holding "\n": such a
// needle is looked for in the joined, decoded text.

import { isAscii } from 'node:buffer';
import { charsetFamily, decodeCharset, decodeHeaderValue, decodeTransferEncoding, decodeUnknown, foldForMatch } from './decode.js';

/**
 * Characters other than ASCII whose folded form (foldForMatch) contains an ASCII character,
 * by that character. The whole of Unicode is checked against this table by a test.
 */
export const FOLDS_TO_ASCII: Readonly<Record<string, readonly string[]>> = {
  ';': ['\u037e'], // GREEK QUESTION MARK: NFC is ";"
  '`': ['\u1fef'], // GREEK VARIA: NFC is "`"
  i: ['\u0130'], // LATIN CAPITAL LETTER I WITH DOT ABOVE: lower case is "i" + U+0307
  k: ['\u212a'], // KELVIN SIGN: NFC is "K"
};

/** What a range of message octets holds, and so how it is decoded. */
export interface TextSource {
  /** 'text': a text part's body; 'header': a header block (of an attached message); 'raw': undecoded octets. */
  kind: 'text' | 'header' | 'raw';
  /** Content-Transfer-Encoding, upper-cased (kind 'text'). */
  encoding: string;
  /** The part's charset parameter (kind 'text'). */
  charset: string | null;
}

export interface TextChunk extends TextSource {
  data: Uint8Array;
}

/** The decoded, unfolded text of a range, as SEARCH reads it (the reference decoding). */
export function decodeForSearch(data: Uint8Array, src: TextSource): string {
  if (src.kind === 'text') return decodeCharset(decodeTransferEncoding(data, src.encoding), src.charset);
  if (src.kind === 'header') return decodeHeaderValue(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'));
  return decodeUnknown(data);
}

interface Needle {
  /** Folded (foldForMatch). */
  text: string;
  /** Case-insensitive search of an ASCII needle in a Latin-1 string of the octets; null for other needles. */
  ascii: RegExp | null;
  /** UTF-8 forms of the characters folding to one of the needle's ASCII characters. */
  specials: Buffer[];
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;

function prepare(folded: string): Needle {
  let ascii = true;
  for (let i = 0; i < folded.length; i++) {
    if (folded.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  const specials: Buffer[] = [];
  if (ascii) {
    for (const [ch, sources] of Object.entries(FOLDS_TO_ASCII)) {
      if (folded.includes(ch)) for (const s of sources) specials.push(Buffer.from(s, 'utf8'));
    }
  }
  // Without the u flag, a case-insensitive pattern of ASCII characters matches only ASCII
  // characters (ECMAScript Canonicalize keeps non-ASCII out), as ASCII folding does.
  return { text: folded, ascii: ascii ? new RegExp(folded.replace(REGEX_SPECIAL, '\\$&'), 'i') : null, specials };
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Per chunk: the octets after the transfer encoding, and what is known of their text. */
class ChunkView {
  private latin?: string;
  private folded?: string;
  readonly bytes: Buffer;
  readonly asciiOnly: boolean;
  /**
   * 'ascii': octets below 0x80 are read as those ASCII characters; 'utf8': besides, other
   * octets are read as UTF-8 when valid, else as Latin-1 or windows-1252; 'opaque': neither.
   */
  readonly family: 'utf8' | 'ascii' | 'opaque';

  constructor(private readonly chunk: TextChunk) {
    const src = chunk;
    this.bytes = asBuffer(src.kind === 'text' ? decodeTransferEncoding(src.data, src.encoding) : src.data);
    this.asciiOnly = isAscii(this.bytes);
    if (src.kind === 'text') {
      const f = charsetFamily(src.charset);
      this.family = f === 'utf8' || f === 'latin1' ? 'utf8' : f;
    } else if (src.kind === 'header') {
      // decodeHeaderValue reads a value without encoded words as UTF-8 when valid, else Latin-1.
      this.family = this.bytes.indexOf('=?') < 0 ? 'utf8' : 'opaque';
    } else {
      this.family = 'utf8';
    }
  }

  latin1(): string {
    return (this.latin ??= this.bytes.toString('latin1'));
  }

  /** The reference form: decoded and folded. */
  foldedText(): string {
    if (this.folded === undefined) {
      const c = this.chunk;
      const text = c.kind === 'text' ? decodeCharset(this.bytes, c.charset) : decodeForSearch(this.bytes, c);
      this.folded = foldForMatch(text);
    }
    return this.folded;
  }

  /** Whether the chunk's folded text contains the needle. */
  contains(n: Needle): boolean {
    if (this.asciiOnly && this.family !== 'opaque') {
      // The folded text is the octets in lower case.
      return n.ascii !== null && n.ascii.test(this.latin1());
    }
    if (n.ascii !== null && this.family === 'utf8') {
      if (!n.ascii.test(this.latin1()) && !n.specials.some((s) => this.bytes.indexOf(s) >= 0)) return false;
    }
    return this.foldedText().includes(n.text);
  }
}

/**
 * The needles (already folded) of one SEARCH, matched against the text chunks of one message
 * at a time.
 */
export class TextMatcher {
  private readonly perPart: Needle[] = [];
  /** Needles holding "\n", looked for in the joined text. */
  private readonly joined: string[] = [];
  /** The empty needle: in every text, even none. */
  private readonly empty: boolean;

  constructor(needles: Iterable<string>) {
    let empty = false;
    for (const n of new Set(needles)) {
      if (n === '') empty = true;
      else if (n.includes('\n')) this.joined.push(n);
      else this.perPart.push(prepare(n));
    }
    this.empty = empty;
  }

  /** The needles the chunks' texts contain (a needle is found in the joined text of all of them). */
  match(chunks: readonly TextChunk[]): Set<string> {
    const found = new Set<string>();
    if (this.empty) found.add('');
    let left = this.perPart.length;
    const views: ChunkView[] = [];
    for (const chunk of chunks) {
      if (left === 0 && this.joined.length === 0) break;
      const v = new ChunkView(chunk);
      views.push(v);
      for (const n of this.perPart) {
        if (found.has(n.text)) continue;
        if (v.contains(n)) {
          found.add(n.text);
          left--;
        }
      }
    }
    if (this.joined.length > 0) {
      const text = views.map((v) => v.foldedText()).join('\n');
      for (const n of this.joined) if (text.includes(n)) found.add(n);
    }
    return found;
  }
}
