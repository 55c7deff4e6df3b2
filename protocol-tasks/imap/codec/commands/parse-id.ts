// ID ("field" "value" ...) | ID NIL (RFC 2971). Tolerant: atoms are accepted in place of
// strings, and up to MAX_ID_PAIRS pairs (the RFC says 30) with long values truncated.

import { ParseError, type Args } from './reader.js';
import type { IdCommand } from './types.js';

export const MAX_ID_PAIRS = 64;
const MAX_ID_FIELD = 64;
const MAX_ID_VALUE = 1024;

const decoder = new TextDecoder('utf-8');

/** ID values are informational: decoded leniently (bad UTF-8 becomes U+FFFD) and truncated. */
function text(t: Buffer, max: number): string {
  const s = decoder.decode(t.length > max * 4 ? t.subarray(0, max * 4) : t);
  return s.length > max ? s.slice(0, max) : s;
}

export function parseId(args: Args): IdCommand {
  const t = args.peek();
  if (t?.type !== 'list') {
    const v = args.nstring('ID parameters');
    if (v !== null) throw new ParseError('ID: expected a list or NIL');
    args.end();
    return { name: 'ID', params: null };
  }
  const items = args.list('ID parameters');
  args.end();
  if (items.length % 2 !== 0) throw new ParseError('ID: field without value');
  if (items.length / 2 > MAX_ID_PAIRS) throw new ParseError('ID: too many fields');
  const params: Array<[string, string | null]> = [];
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i]!;
    const v = items[i + 1]!;
    if (k.type === 'list' || v.type === 'list') throw new ParseError('ID: invalid field');
    const key = k.type === 'string' ? k.value : Buffer.from(k.value, 'latin1');
    const value = v.type === 'atom' && v.value.toUpperCase() === 'NIL' ? null : v.type === 'string' ? v.value : Buffer.from(v.value, 'latin1');
    params.push([text(key, MAX_ID_FIELD), value === null ? null : text(value, MAX_ID_VALUE)]);
  }
  return { name: 'ID', params };
}
