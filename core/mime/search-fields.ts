// Header text for IMAP SEARCH (RFC 3501 §6.4.4: FROM, TO, CC, BCC, SUBJECT, HEADER): the
// decoded, case-folded values of a header field, as the SEARCH command matches them.
//
// A store keeps these values for the fields clients search most (SEARCH_FIELD_NAMES), computed
// once from the header block, so `SEARCH SUBJECT x` reads a few hundred octets per message
// instead of the whole header block, and decodes nothing. Any change to how values are
// decoded or folded (here or in decode.ts / header.ts) must bump SEARCH_FIELDS_VERSION, so
// stored values of an older version are recomputed instead of served.

import { decodeHeaderValue, foldForMatch } from './decode.js';
import { fieldName, scanHeaderFields, unfoldValue } from './header.js';

/** Version of the values below: stored values of another version are stale. */
export const SEARCH_FIELDS_VERSION = 1;

/** The fields whose values are kept (lower case). */
export const SEARCH_FIELD_NAMES = ['subject', 'from', 'to', 'cc', 'bcc'] as const;
export type SearchFieldName = (typeof SEARCH_FIELD_NAMES)[number];

/**
 * Per field: its values (decoded, folded) joined by SEARCH_VALUE_SEPARATOR, or null when the
 * header has no such field. A needle without the separator is in some value exactly when it is
 * in the joined text (see matchSearchField).
 */
export type SearchFields = Record<SearchFieldName, string | null>;

export const SEARCH_VALUE_SEPARATOR = '\n';

export function isSearchFieldName(name: string): name is SearchFieldName {
  return (SEARCH_FIELD_NAMES as readonly string[]).includes(name);
}

/**
 * The decoded, folded values of every field named `name` (lower case) in a header block, in
 * order. Only that field is decoded: a message's trace and signature fields (Received,
 * DKIM-Signature...) are most of its header block and need none of this work.
 */
export function searchFieldValues(block: string, name: string): string[] {
  const out: string[] = [];
  scanHeaderFields(block, (start, colon, end) => {
    // The name may carry whitespace before the colon (obsolete syntax), never less than itself.
    if (colon < 0 || colon - start < name.length) return;
    if (fieldName(block, start, colon).toLowerCase() !== name) return;
    out.push(foldForMatch(decodeHeaderValue(unfoldValue(block, colon, end))));
  });
  return out;
}

/** The values of the kept fields, from a header block (one pass over it). */
export function searchFields(block: string): SearchFields {
  const acc: Record<string, string[]> = {};
  scanHeaderFields(block, (start, colon, end) => {
    if (colon < 0 || colon - start < 2) return;
    const name = fieldName(block, start, colon).toLowerCase();
    if (!isSearchFieldName(name)) return;
    (acc[name] ??= []).push(foldForMatch(decodeHeaderValue(unfoldValue(block, colon, end))));
  });
  const out = {} as SearchFields;
  for (const n of SEARCH_FIELD_NAMES) out[n] = acc[n] ? acc[n]!.join(SEARCH_VALUE_SEPARATOR) : null;
  return out;
}

/**
 * Whether some value of a kept field contains `needle` (already folded): true or false, or
 * null when the joined form cannot tell (the needle holds the separator).
 */
export function matchSearchField(joined: string | null, needle: string): boolean | null {
  if (needle.includes(SEARCH_VALUE_SEPARATOR)) return null;
  return joined !== null && joined.includes(needle);
}
