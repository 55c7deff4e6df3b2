// IMAP dates (RFC 3501 §9):
//   date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
//               e.g. "05-Mar-2026 10:00:00 +0100" (INTERNALDATE, APPEND)
//   date      = date-day "-" date-month "-" date-year, e.g. 1-Feb-1994 (SEARCH)
// Month names are case-insensitive on input and written Jan..Dec. On input a day may be
// written with one digit, two digits or a leading space; output uses two digits.

export class ImapDateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImapDateError';
  }
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const MONTH_INDEX = new Map(MONTHS.map((m, i) => [m.toLowerCase(), i]));

/** Date.UTC without its mapping of years 0-99 to 1900-1999. */
function utc(year: number, month0: number, day: number, h = 0, m = 0, s = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month0, day);
  d.setUTCHours(h, m, s, 0);
  return d.getTime();
}

function daysInMonth(year: number, month0: number): number {
  return new Date(utc(year, month0 + 1, 0)).getUTCDate();
}

/** A calendar date without time or zone (SEARCH BEFORE/ON/SINCE compare dates only). */
export interface ImapDate {
  year: number;
  /** 1..12 */
  month: number;
  /** 1..31 */
  day: number;
}

export interface ImapDateTime {
  /** The instant. */
  date: Date;
  /** The zone offset as sent, in minutes east of UTC (e.g. +0100 -> 60). */
  offsetMinutes: number;
}

function parseDayMonthYear(s: string, what: string): ImapDate {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  if (!m) throw new ImapDateError(`Invalid ${what}: ${s.slice(0, 40)}`);
  const day = Number(m[1]);
  const month0 = MONTH_INDEX.get(m[2]!.toLowerCase());
  const year = Number(m[3]);
  if (month0 === undefined) throw new ImapDateError(`Invalid month in ${what}: ${m[2]}`);
  if (day < 1 || day > daysInMonth(year, month0)) throw new ImapDateError(`Invalid day in ${what}: ${s.slice(0, 40)}`);
  return { year, month: month0 + 1, day };
}

/** Parses a SEARCH date `d-Mon-yyyy` (quotes already removed). */
export function parseSearchDate(s: string): ImapDate {
  return parseDayMonthYear(s, 'date');
}

/** Formats a date as `d-Mon-yyyy`. */
export function formatSearchDate(d: ImapDate): string {
  return `${d.day}-${MONTHS[d.month - 1]}-${String(d.year).padStart(4, '0')}`;
}

/** Milliseconds at 00:00 UTC of the date. */
export function imapDateToUtcMs(d: ImapDate): number {
  return utc(d.year, d.month - 1, d.day);
}

/** The calendar date of an instant as seen in a zone (offset minutes east of UTC). */
export function dateInZone(t: Date | number, offsetMinutes = 0): ImapDate {
  const ms = (typeof t === 'number' ? t : t.getTime()) + offsetMinutes * 60000;
  const d = new Date(ms);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** Compares two dates: negative, 0 or positive. */
export function compareImapDates(a: ImapDate, b: ImapDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** Parses an IMAP date-time (quotes already removed): `05-Mar-2026 10:00:00 +0100`. */
export function parseDateTime(s: string): ImapDateTime {
  const m = /^( ?\d{1,2}-[A-Za-z]{3}-\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) throw new ImapDateError(`Invalid date-time: ${s.slice(0, 40)}`);
  const d = parseDayMonthYear(m[1]!, 'date-time');
  const hh = Number(m[2]);
  const mm = Number(m[3]);
  const ss = Number(m[4]);
  const zh = Number(m[6]);
  const zm = Number(m[7]);
  if (hh > 23 || mm > 59 || ss > 60) throw new ImapDateError(`Invalid time in date-time: ${s.slice(0, 40)}`);
  if (zh > 23 || zm > 59) throw new ImapDateError(`Invalid zone in date-time: ${s.slice(0, 40)}`);
  const offsetMinutes = (m[5] === '-' ? -1 : 1) * (zh * 60 + zm);
  // A leap second (60) is taken as the next second's start.
  const ms = utc(d.year, d.month - 1, d.day, hh, mm, ss) - offsetMinutes * 60000;
  return { date: new Date(ms), offsetMinutes };
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/**
 * Formats an instant as an IMAP date-time in the given zone (minutes east of UTC):
 * `05-Mar-2026 10:00:00 +0100` (without quotes). Seconds are truncated.
 */
export function formatDateTime(t: Date | number, offsetMinutes = 0): string {
  const ms = (typeof t === 'number' ? t : t.getTime()) + offsetMinutes * 60000;
  const d = new Date(ms);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(offsetMinutes);
  return (
    `${pad2(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${String(d.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(off / 60))}${pad2(off % 60)}`
  );
}
