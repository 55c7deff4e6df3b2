import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  compareImapDates,
  dateInZone,
  formatDateTime,
  formatSearchDate,
  ImapDateError,
  imapDateToUtcMs,
  parseDateTime,
  parseSearchDate,
} from '../../../protocol-tasks/imap/codec/dates.js';

describe('IMAP dates', () => {
  it('parses the date-time Thunderbird sends with APPEND', () => {
    const dt = parseDateTime('05-Mar-2026 10:00:00 +0100');
    assert.equal(dt.date.toISOString(), '2026-03-05T09:00:00.000Z');
    assert.equal(dt.offsetMinutes, 60);
    assert.equal(parseDateTime(' 5-mar-2026 10:00:00 -0130').date.toISOString(), '2026-03-05T11:30:00.000Z');
    assert.equal(parseDateTime('5-Mar-2026 10:00:00 +0000').date.toISOString(), '2026-03-05T10:00:00.000Z');
  });

  it('formats date-times with two-digit days and the zone', () => {
    assert.equal(formatDateTime(new Date('2026-03-05T09:00:00Z'), 60), '05-Mar-2026 10:00:00 +0100');
    assert.equal(formatDateTime(new Date('2026-03-05T09:00:00Z'), -330), '05-Mar-2026 03:30:00 -0530');
    assert.equal(formatDateTime(Date.UTC(1999, 11, 31, 23, 59, 59)), '31-Dec-1999 23:59:59 +0000');
  });

  for (const s of ['32-Jan-2026 10:00:00 +0000', '29-Feb-2025 10:00:00 +0000', '05-Foo-2026 10:00:00 +0000', '05-Mar-2026 24:00:00 +0000', '05-Mar-2026 10:60:00 +0000', '05-Mar-2026 10:00:00 +0160', '05-Mar-2026 10:00:00', '05-Mar-26 10:00:00 +0000', '05-Mar-2026  10:00:00 +0000', '005-Mar-2026 10:00:00 +0000', '']) {
    it(`refuses date-time ${JSON.stringify(s)}`, () => assert.throws(() => parseDateTime(s), ImapDateError));
  }

  it('parses and formats SEARCH dates', () => {
    assert.deepEqual(parseSearchDate('1-Feb-1994'), { year: 1994, month: 2, day: 1 });
    assert.deepEqual(parseSearchDate('01-sep-2019'), { year: 2019, month: 9, day: 1 });
    assert.deepEqual(parseSearchDate('29-Feb-2024'), { year: 2024, month: 2, day: 29 });
    assert.equal(formatSearchDate({ year: 1994, month: 2, day: 1 }), '1-Feb-1994');
    assert.equal(imapDateToUtcMs({ year: 1994, month: 2, day: 1 }), Date.UTC(1994, 1, 1));
    assert.equal(imapDateToUtcMs({ year: 50, month: 1, day: 1 }), new Date('0050-01-01T00:00:00Z').getTime());
    assert.deepEqual(dateInZone(new Date('2026-03-05T23:30:00Z'), 60), { year: 2026, month: 3, day: 6 });
    assert.ok(compareImapDates({ year: 2026, month: 3, day: 5 }, { year: 2026, month: 3, day: 6 }) < 0);
    for (const s of ['29-Feb-2023', '1-Feb-94', '1 Feb 1994', '0-Feb-1994', '1-Feb-1994 ']) {
      assert.throws(() => parseSearchDate(s), ImapDateError, s);
    }
  });

  it('property: formatDateTime -> parseDateTime round-trips (to the second, any zone)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: new Date('0001-01-02T00:00:00Z').getTime(), max: Date.UTC(9999, 11, 30) }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (ms, off) => {
          const t = Math.floor(ms / 1000) * 1000;
          const text = formatDateTime(t, off);
          const back = parseDateTime(text);
          assert.equal(back.date.getTime(), t, text);
          assert.equal(back.offsetMinutes, off);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('property: formatSearchDate -> parseSearchDate round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => {
        const d = dateInZone(ms);
        assert.deepEqual(parseSearchDate(formatSearchDate(d)), d);
      }),
      { numRuns: 500 },
    );
  });
});
