import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  compressNumbers,
  compressNumbersInOrder,
  formatIntervals,
  formatSequenceSet,
  intervalsContain,
  intervalsSize,
  parseSequenceSet,
  resolveSeqSet,
  seqSetOutOfRange,
  SequenceSetError,
  uidIndexRanges,
  uidsInSet,
} from '../../../protocol-tasks/imap/codec/sequence.js';
import { bad, ok } from './helpers.js';
import type { FetchCommand } from '../../../protocol-tasks/imap/codec/commands/types.js';

describe('sequence sets: parsing (checklist B13)', () => {
  for (const s of ['0', '1:0', '0:5', '4294967296', '1,,5', '1:', ':5', 'a', '', ',', '1,', ',1', '1:2:3', '01', '-1', '1:*x', '**', '1 2', '99999999999']) {
    it(`${JSON.stringify(s)} is invalid`, () => {
      assert.throws(() => parseSequenceSet(s), SequenceSetError);
    });
  }

  it('1:4294967295, *:1, *, 5:2 and lists are valid', () => {
    assert.deepEqual(parseSequenceSet('1:4294967295'), [{ from: 1, to: 4294967295 }]);
    assert.deepEqual(parseSequenceSet('*:1'), [{ from: '*', to: 1 }]);
    assert.deepEqual(parseSequenceSet('*'), [{ from: '*', to: '*' }]);
    assert.deepEqual(parseSequenceSet('5:2,7,9:*'), [
      { from: 5, to: 2 },
      { from: 7, to: 7 },
      { from: 9, to: '*' },
    ]);
  });

  it('commands with invalid sets are BAD, valid huge ones parse', () => {
    for (const s of ['0', '1:0', '4294967296', '1,,5', '1:', ':5', 'a']) {
      bad(`A UID FETCH ${s} (FLAGS)`);
      bad(`A FETCH ${s} (FLAGS)`);
      bad(`A STORE ${s} +FLAGS (\\Seen)`);
      bad(`A UID SEARCH UID ${s}`);
    }
    const f = ok<FetchCommand>('A UID FETCH 1:4294967295 (FLAGS)');
    assert.deepEqual(f.set, [{ from: 1, to: 4294967295 }]);
    ok('A FETCH *:1 (FLAGS)');
  });
});

describe('sequence sets: evaluation as ranges', () => {
  it('resolves * to the message count and clips to it', () => {
    assert.deepEqual(resolveSeqSet(parseSequenceSet('1:*'), 10), [[1, 10]]);
    assert.deepEqual(resolveSeqSet(parseSequenceSet('*:1'), 10), [[1, 10]]);
    assert.deepEqual(resolveSeqSet(parseSequenceSet('8:20,2,3,4'), 10), [
      [2, 4],
      [8, 10],
    ]);
    assert.deepEqual(resolveSeqSet(parseSequenceSet('1:*'), 0), []);
    assert.deepEqual(resolveSeqSet(parseSequenceSet('1:4294967295'), 3), [[1, 3]]);
    assert.equal(seqSetOutOfRange(parseSequenceSet('1:5'), 4), true);
    assert.equal(seqSetOutOfRange(parseSequenceSet('1:*'), 4), false);
    assert.equal(seqSetOutOfRange(parseSequenceSet('*'), 0), true);
  });

  it('UID 1:4294967295 and *:1 over a large mailbox are evaluated without looping over 4 billion numbers', () => {
    const uids = Array.from({ length: 100000 }, (_, i) => i * 7 + 3);
    const t0 = performance.now();
    for (let k = 0; k < 20; k++) {
      assert.equal(uidsInSet(parseSequenceSet('1:4294967295'), uids).length, 100000);
      assert.equal(uidsInSet(parseSequenceSet('*:1'), uids).length, 100000);
      assert.deepEqual(uidsInSet(parseSequenceSet('4294967295:4294967290'), uids), []);
    }
    // Completing at all proves it: a loop over 4 billion numbers would not finish.
    void t0;
  });

  it('n:* includes the highest UID even when n is above it (RFC 3501 §6.4.8)', () => {
    assert.deepEqual(uidsInSet(parseSequenceSet('559:*'), [1, 5, 9]), [9]);
    assert.deepEqual(uidsInSet(parseSequenceSet('559:*'), []), []);
    assert.deepEqual(uidsInSet(parseSequenceSet('*'), [1, 5, 9]), [9]);
    assert.deepEqual(uidsInSet(parseSequenceSet('2:6,6,1'), [1, 5, 9]), [1, 5]);
    assert.deepEqual(uidIndexRanges(parseSequenceSet('2:6,9'), [1, 5, 6, 9]), [
      [1, 2],
      [3, 3],
    ]);
  });

  it('property: uidsInSet equals a naive filter', () => {
    const num = fc.integer({ min: 1, max: 60 });
    const elem = fc.oneof(num.map(String), fc.tuple(fc.oneof(num.map(String), fc.constant('*')), fc.oneof(num.map(String), fc.constant('*'))).map(([a, b]) => `${a}:${b}`), fc.constant('*'));
    fc.assert(
      fc.property(fc.array(elem, { minLength: 1, maxLength: 6 }), fc.uniqueArray(fc.integer({ min: 1, max: 50 }), { maxLength: 30 }), (parts, uidList) => {
        const uids = [...uidList].sort((a, b) => a - b);
        const set = parseSequenceSet(parts.join(','));
        const max = uids.length ? uids[uids.length - 1]! : 0;
        const naive = uids.filter((u) =>
          set.some((r) => {
            const a = r.from === '*' ? max : r.from;
            const b = r.to === '*' ? max : r.to;
            return u >= Math.min(a, b) && u <= Math.max(a, b);
          }),
        );
        assert.deepEqual(uidsInSet(set, uids), naive);
        const ivs = resolveSeqSet(set, 40);
        for (let n = 1; n <= 40; n++) {
          const inSet = set.some((r) => {
            const a = r.from === '*' ? 40 : r.from;
            const b = r.to === '*' ? 40 : r.to;
            return n >= Math.min(a, b) && n <= Math.max(a, b);
          });
          assert.equal(intervalsContain(ivs, n), inSet);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('sequence sets: compression and round-trip', () => {
  it('compresses sorted or unsorted lists', () => {
    assert.equal(compressNumbers([1, 2, 3, 5]), '1:3,5');
    assert.equal(compressNumbers([5, 3, 1, 2, 2]), '1:3,5');
    assert.equal(compressNumbers([]), '');
    assert.equal(compressNumbers([7]), '7');
    assert.equal(compressNumbersInOrder([10, 11, 12, 4, 5]), '10:12,4:5');
    assert.equal(formatIntervals([[1, 3], [5, 5]]), '1:3,5');
  });

  it('property: compress -> parse -> evaluate gives the same numbers', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 4294967295 }), { minLength: 1, maxLength: 50 }), (list) => {
        const sorted = [...list].sort((a, b) => a - b);
        const text = compressNumbers(list);
        const set = parseSequenceSet(text);
        assert.deepEqual(uidsInSet(set, sorted), sorted);
        assert.equal(intervalsSize(resolveSeqSet(set, 4294967295)), sorted.length);
      }),
      { numRuns: 300 },
    );
  });

  it('property: parse(format(parse(s))) equals parse(s) for valid sets', () => {
    const n = fc.oneof(fc.integer({ min: 1, max: 4294967295 }).map(String), fc.constant('*'));
    const elem = fc.oneof(n, fc.tuple(n, n).map(([a, b]) => `${a}:${b}`));
    fc.assert(
      fc.property(fc.array(elem, { minLength: 1, maxLength: 10 }), (parts) => {
        const s = parts.join(',');
        const set = parseSequenceSet(s);
        assert.deepEqual(parseSequenceSet(formatSequenceSet(set)), set);
      }),
      { numRuns: 300 },
    );
  });
});
