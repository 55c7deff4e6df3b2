// Sequence sets (RFC 3501 §9 sequence-set): parsing, evaluation as ranges, compression.
//
//   sequence-set = (seq-number / seq-range) ["," sequence-set]
//   seq-range    = seq-number ":" seq-number
//   seq-number   = nz-number / "*"          nz-number = 1..4294967295, no leading zero
//
// Decision on `0` and inverted ranges: RFC 3501 makes `n:m` equal to `m:n` (so `*:1` and
// `5:2` are valid and mean 1:* and 2:5), but 0 is not a seq-number. So `0`, `0:5` and
// `1:0` are BAD (security checklist B13: `1:0` is BAD because it contains 0, not because
// it is inverted). Leading zeros (`01`), empty elements (`1,,5`), open ranges (`1:`, `:5`),
// values over 2^32-1 and anything but digits, `*`, `:` and `,` are BAD too.
//
// Nothing here loops over the numbers a set names: sets are evaluated as ranges, and
// matched against sorted UID lists by binary search.

export type SeqNumber = number | '*';

export interface SeqRange {
  /** As sent: `from` is the first number of the range, `to` the second (equal for a single number). */
  from: SeqNumber;
  to: SeqNumber;
}

export type SequenceSet = SeqRange[];

/** A closed interval [lo, hi], lo <= hi. */
export type Interval = [number, number];

export const MAX_SEQ = 4294967295;

export class SequenceSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SequenceSetError';
  }
}

/** Maximum number of elements (comma-separated parts) accepted in one set. */
export const MAX_SET_ELEMENTS = 10000;

function parseSeqNumber(s: string, whole: string): SeqNumber {
  if (s === '*') return '*';
  if (s.length === 0) throw new SequenceSetError(`Invalid sequence set ${whole}: empty number`);
  if (s.length > 10) throw new SequenceSetError(`Invalid sequence set ${whole}: number too large`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new SequenceSetError(`Invalid sequence set ${whole}`);
  }
  if (s.charCodeAt(0) === 0x30) {
    throw new SequenceSetError(s.length === 1 ? `Invalid sequence set ${whole}: 0 is not a valid number` : `Invalid sequence set ${whole}: leading zero`);
  }
  const n = Number(s);
  if (n > MAX_SEQ) throw new SequenceSetError(`Invalid sequence set ${whole}: number too large`);
  return n;
}

/** Parses a sequence set; throws SequenceSetError when it is not valid. */
export function parseSequenceSet(text: string): SequenceSet {
  const shown = text.length > 40 ? text.slice(0, 40) + '...' : text;
  if (text.length === 0) throw new SequenceSetError('Empty sequence set');
  const parts = text.split(',');
  if (parts.length > MAX_SET_ELEMENTS) throw new SequenceSetError('Sequence set has too many elements');
  const out: SequenceSet = [];
  for (const part of parts) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      const n = parseSeqNumber(part, shown);
      out.push({ from: n, to: n });
    } else {
      if (part.indexOf(':', colon + 1) >= 0) throw new SequenceSetError(`Invalid sequence set ${shown}`);
      out.push({ from: parseSeqNumber(part.slice(0, colon), shown), to: parseSeqNumber(part.slice(colon + 1), shown) });
    }
  }
  return out;
}

/** True when `text` looks like a sequence set (used to tell a set from a SEARCH key). */
export function looksLikeSequenceSet(text: string): boolean {
  return /^[0-9*][0-9*:,]*$/.test(text);
}

/** The set in wire form (as parsed: `*` kept, range order kept). */
export function formatSequenceSet(set: SequenceSet): string {
  return set.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
}

/** Sorts and merges intervals (adjacent ones too). */
export function mergeIntervals(list: Interval[]): Interval[] {
  if (list.length <= 1) return list.map((r) => [r[0], r[1]] as Interval);
  const sorted = list.map((r) => [r[0], r[1]] as Interval).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Interval[] = [sorted[0]!];
  for (let i = 1; i < sorted.length; i++) {
    const cur = sorted[i]!;
    const last = out[out.length - 1]!;
    if (cur[0] <= last[1] + 1) {
      if (cur[1] > last[1]) last[1] = cur[1];
    } else {
      out.push(cur);
    }
  }
  return out;
}

/**
 * Replaces `*` with `max` and orders each range; returns sorted, merged intervals.
 * With max = 0 (empty mailbox), `*` is 0 and ranges are cut to start at 1; a range made only
 * of `*` then disappears.
 */
export function setToIntervals(set: SequenceSet, max: number): Interval[] {
  const list: Interval[] = [];
  for (const r of set) {
    const a = r.from === '*' ? max : r.from;
    const b = r.to === '*' ? max : r.to;
    let lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (hi < 1) continue;
    if (lo < 1) lo = 1;
    list.push([lo, hi]);
  }
  return mergeIntervals(list);
}

/**
 * Message sequence numbers: resolves `*` to `count` (the number of messages) and returns
 * the sorted, merged intervals clipped to 1..count. Use seqSetOutOfRange() to detect
 * numbers over count (RFC 3501 wants BAD for those; RFC 9051 relaxes it).
 */
export function resolveSeqSet(set: SequenceSet, count: number): Interval[] {
  const out: Interval[] = [];
  for (const iv of setToIntervals(set, count)) {
    if (iv[0] > count) break;
    out.push([iv[0], Math.min(iv[1], count)]);
  }
  return out;
}

/** True if the set names a sequence number above `count` (or any number when count is 0). */
export function seqSetOutOfRange(set: SequenceSet, count: number): boolean {
  for (const r of set) {
    if (count === 0) return true;
    if (r.from !== '*' && r.from > count) return true;
    if (r.to !== '*' && r.to > count) return true;
  }
  return false;
}

/** Number of values in sorted, merged intervals. */
export function intervalsSize(list: Interval[]): number {
  let n = 0;
  for (const [lo, hi] of list) n += hi - lo + 1;
  return n;
}

/** True if `n` is in the sorted, merged intervals (binary search). */
export function intervalsContain(list: Interval[], n: number): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const iv = list[mid]!;
    if (n < iv[0]) hi = mid - 1;
    else if (n > iv[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** First index i with sorted[i] >= x. */
function lowerBound(sorted: ArrayLike<number>, x: number, from = 0): number {
  let lo = from;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * UIDs: the UIDs of `sortedUids` (ascending) that the set names, ascending, without
 * duplicates. `*` is `maxUid` (default: the last UID, or 0 for an empty mailbox), so a range
 * n:* includes the highest UID even when n is above it (RFC 3501 §6.4.8). Cost:
 * O(ranges x log(uids) + result), never proportional to the numbers a range spans.
 */
export function uidsInSet(set: SequenceSet, sortedUids: ArrayLike<number>, maxUid?: number): number[] {
  const max = maxUid ?? (sortedUids.length > 0 ? sortedUids[sortedUids.length - 1]! : 0);
  const out: number[] = [];
  let start = 0;
  for (const [lo, hi] of setToIntervals(set, max)) {
    let i = lowerBound(sortedUids, lo, start);
    while (i < sortedUids.length && sortedUids[i]! <= hi) out.push(sortedUids[i++]!);
    start = i;
    if (start >= sortedUids.length) break;
  }
  return out;
}

/** Index ranges [first, last] (0-based, inclusive) into `sortedUids` covered by the set. */
export function uidIndexRanges(set: SequenceSet, sortedUids: ArrayLike<number>, maxUid?: number): Interval[] {
  const max = maxUid ?? (sortedUids.length > 0 ? sortedUids[sortedUids.length - 1]! : 0);
  const out: Interval[] = [];
  for (const [lo, hi] of setToIntervals(set, max)) {
    const a = lowerBound(sortedUids, lo);
    const b = lowerBound(sortedUids, hi + 1) - 1;
    if (a <= b) out.push([a, b]);
  }
  return out;
}

/**
 * Compresses numbers into sequence-set form: [1,2,3,5] -> "1:3,5". The input need not be
 * sorted; duplicates are dropped. Empty input gives ''.
 */
export function compressNumbers(nums: ArrayLike<number>): string {
  if (nums.length === 0) return '';
  let sorted = true;
  for (let i = 1; i < nums.length; i++) {
    if (nums[i]! <= nums[i - 1]!) {
      sorted = false;
      break;
    }
  }
  const list = sorted ? nums : Array.from(nums).sort((a, b) => a - b);
  const parts: string[] = [];
  let lo = list[0]!;
  let hi = lo;
  for (let i = 1; i < list.length; i++) {
    const n = list[i]!;
    if (n === hi) continue;
    if (n === hi + 1) {
      hi = n;
      continue;
    }
    parts.push(lo === hi ? String(lo) : `${lo}:${hi}`);
    lo = hi = n;
  }
  parts.push(lo === hi ? String(lo) : `${lo}:${hi}`);
  return parts.join(',');
}

/**
 * Compresses numbers keeping their order (for COPYUID, where source and destination UIDs
 * correspond pairwise): runs of consecutive ascending numbers become ranges.
 */
export function compressNumbersInOrder(nums: ArrayLike<number>): string {
  if (nums.length === 0) return '';
  const parts: string[] = [];
  let lo = nums[0]!;
  let hi = lo;
  for (let i = 1; i < nums.length; i++) {
    const n = nums[i]!;
    if (n === hi + 1) {
      hi = n;
      continue;
    }
    parts.push(lo === hi ? String(lo) : `${lo}:${hi}`);
    lo = hi = n;
  }
  parts.push(lo === hi ? String(lo) : `${lo}:${hi}`);
  return parts.join(',');
}

/** Intervals in wire form: [[1,3],[5,5]] -> "1:3,5". */
export function formatIntervals(list: Interval[]): string {
  return list.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}:${hi}`)).join(',');
}
