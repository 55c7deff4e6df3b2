// Header block helpers shared by the indexer and by IMAP FETCH BODY[HEADER.FIELDS (...)].
//
// A header block is a binary string (one char per octet, latin1) running from the first
// header line up to and including the blank line that ends it. Lines may end in CRLF or in a
// bare LF; offsets and bytes are never normalised here. Every scan is a single forward pass,
// so the cost is linear in the block size whatever its shape.

/**
 * Visits each field of a header block, in order, stopping at the blank line that ends the
 * block (or at its end). `start` is where the field begins, `colon` the index of its first
 * colon (-1 when the first line has none, a malformed line), and `end` the index just after
 * the line end of its last (folded) line. The visitor returns false to stop early.
 * Returns the index where the fields stop: the blank line, or block.length.
 */
export function scanHeaderFields(block: string, visit: (start: number, colon: number, end: number) => boolean | void): number {
  const len = block.length;
  let pos = 0;
  let fieldStart = -1;
  let fieldColon = -1;
  while (pos < len) {
    const c = block.charCodeAt(pos);
    // The blank line (LF or CRLF alone) ends the header.
    if (c === 10 || (c === 13 && pos + 1 < len && block.charCodeAt(pos + 1) === 10)) break;
    const nl = block.indexOf('\n', pos);
    const lineEnd = nl < 0 ? len : nl + 1;
    if ((c === 32 || c === 9) && fieldStart >= 0) {
      pos = lineEnd; // folded continuation of the current field
      continue;
    }
    if (fieldStart >= 0 && visit(fieldStart, fieldColon, pos) === false) return pos;
    fieldStart = pos;
    fieldColon = -1;
    // Find the colon on this line only (never past it, so the scan stays linear).
    for (let i = pos; i < lineEnd; i++) {
      if (block.charCodeAt(i) === 58) {
        fieldColon = i;
        break;
      }
    }
    pos = lineEnd;
  }
  if (fieldStart >= 0) visit(fieldStart, fieldColon, pos);
  return pos;
}

function isWsp(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/** Trims spaces, tabs, CR and LF from both ends. */
export function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** The field name as written (surrounding whitespace removed); '' for a line with no colon. */
export function fieldName(block: string, start: number, colon: number): string {
  return colon < 0 ? '' : trimWsp(block.slice(start, colon));
}

/**
 * The unfolded value of a field: the text after the colon with every line break that
 * precedes a folded line removed (RFC 5322 section 2.2.3), and leading/trailing whitespace
 * trimmed. `maxLength` caps the octets taken from the raw field (before unfolding).
 */
export function unfoldValue(block: string, colon: number, end: number, maxLength = Infinity): string {
  const from = colon + 1;
  const to = end - from > maxLength ? from + maxLength : end;
  let v = block.slice(from, to);
  if (v.indexOf('\n') >= 0) v = v.replace(/\r?\n/g, '');
  return trimWsp(v);
}

export interface HeaderField {
  /** Field name as written (case kept, whitespace before the colon removed); '' if malformed. */
  name: string;
  /** The whole field as in the message: name, colon, value, folding and line ends. */
  raw: string;
}

/** Splits a header block into its fields, keeping each one's original bytes. */
export function parseHeaderFields(block: string): HeaderField[] {
  const out: HeaderField[] = [];
  scanHeaderFields(block, (start, colon, end) => {
    out.push({ name: fieldName(block, start, colon), raw: block.slice(start, end) });
  });
  return out;
}

/**
 * The subset of a header block for IMAP BODY[HEADER.FIELDS (names)] (not = false) or
 * BODY[HEADER.FIELDS.NOT (names)] (not = true), RFC 3501 section 6.4.5: names match
 * case-insensitively, the fields keep their order and bytes (folding included), and the result
 * ends with the blank line CRLF. A last field cut off without a line end gets a CRLF so the
 * blank line stays a line of its own. Malformed lines (no colon) never match a name, so they
 * appear only in the .NOT form.
 */
export function selectHeaderFields(block: string, names: readonly string[], not: boolean): string {
  const sel = selectorOf(names);
  let out = '';
  scanHeaderFields(block, (start, colon, end) => {
    let hit = false;
    if (colon >= 0) {
      // The name as fieldName() gives it, compared only when its length is one asked for.
      let a = start;
      let b = colon;
      while (a < b && isWsp(block.charCodeAt(a))) a++;
      while (b > a && isWsp(block.charCodeAt(b - 1))) b--;
      hit = sel.lengths.has(b - a) && sel.wanted.has(block.slice(a, b).toLowerCase());
    }
    if (hit === not) return;
    out += block.slice(start, end);
    if (block.charCodeAt(end - 1) !== 10) out += '\r\n';
  });
  return out + '\r\n';
}

interface Selector {
  /** The names asked for, lower-cased. */
  wanted: Set<string>;
  /** Their lengths (a field name of another length is not looked at further). */
  lengths: Set<number>;
}

/** Per list of names (a FETCH asks the same list of every message): made once. */
const selectors = new WeakMap<readonly string[], Selector>();

function selectorOf(names: readonly string[]): Selector {
  let sel = selectors.get(names);
  if (sel === undefined) {
    sel = { wanted: new Set(), lengths: new Set() };
    for (const n of names) {
      const lower = n.toLowerCase();
      sel.wanted.add(lower);
      sel.lengths.add(lower.length);
    }
    selectors.set(names, sel);
  }
  return sel;
}
