// Modified UTF-7 mailbox names (RFC 3501 §5.1.3).
//
// Printable US-ASCII (0x20-0x7e) stands for itself, except "&", written "&-". Any other
// character is written as "&" + modified base64 (RFC 2045 alphabet with "," for "/", no
// padding) of its UTF-16BE code units + "-".
//
// Decoding is strict: a name is valid only if it is exactly what encodeMailboxName() would
// produce for the decoded text. So these are refused: raw octets outside 0x20-0x7e, a shift
// without its "-" (`&Jjo`), a bad base64 character (`&Jjo!`), a shift that encodes printable
// ASCII (`&AGE-` for "a"), two adjacent shifts (`&AGE-&AGE-`, not minimal), leftover bits
// that are not zero or a partial code unit, and unpaired surrogates.

export class MailboxNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailboxNameError';
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

function isDirect(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

function encodeUnits(units: number[]): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const u of units) {
    acc = (acc << 16) | u;
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out += B64[(acc >> bits) & 0x3f];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B64[(acc << (6 - bits)) & 0x3f];
  return out;
}

/** Checks that a JS string is well-formed UTF-16 (no lone surrogates). */
function assertWellFormed(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new MailboxNameError('Unpaired surrogate in mailbox name');
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new MailboxNameError('Unpaired surrogate in mailbox name');
    }
  }
}

/** Encodes a Unicode mailbox name to modified UTF-7. Throws on unpaired surrogates. */
export function encodeMailboxName(name: string): string {
  assertWellFormed(name);
  let out = '';
  let pending: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isDirect(c)) {
      if (pending.length > 0) {
        out += '&' + encodeUnits(pending) + '-';
        pending = [];
      }
      out += c === 0x26 ? '&-' : name[i];
    } else {
      pending.push(c);
    }
  }
  if (pending.length > 0) out += '&' + encodeUnits(pending) + '-';
  return out;
}

/** Decodes a modified UTF-7 mailbox name strictly; throws MailboxNameError when invalid. */
export function decodeMailboxName(wire: string): string {
  let out = '';
  let i = 0;
  let lastShiftEnd = -1;
  while (i < wire.length) {
    const c = wire.charCodeAt(i);
    if (!isDirect(c)) throw new MailboxNameError('Mailbox name contains a character outside printable US-ASCII');
    if (c !== 0x26) {
      out += wire[i];
      i++;
      continue;
    }
    // "&"
    const end = wire.indexOf('-', i + 1);
    if (end < 0) throw new MailboxNameError('Unterminated "&" shift in mailbox name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (lastShiftEnd === i) throw new MailboxNameError('Adjacent "&" shifts in mailbox name (not minimal)');
    let acc = 0;
    let bits = 0;
    const units: number[] = [];
    for (let j = i + 1; j < end; j++) {
      const ch = wire.charCodeAt(j);
      const v = ch < 128 ? B64_INDEX[ch]! : -1;
      if (v < 0) throw new MailboxNameError('Invalid character in "&" shift of mailbox name');
      acc = (acc << 6) | v;
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        units.push((acc >> bits) & 0xffff);
        acc &= (1 << bits) - 1;
      }
    }
    if (bits >= 6 || acc !== 0) throw new MailboxNameError('Invalid "&" shift length or padding in mailbox name');
    if (units.length === 0) throw new MailboxNameError('Empty "&" shift in mailbox name');
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (isDirect(u)) throw new MailboxNameError('"&" shift encodes a printable ASCII character');
      if (u >= 0xd800 && u <= 0xdbff) {
        const next = units[k + 1];
        if (next === undefined || next < 0xdc00 || next > 0xdfff) throw new MailboxNameError('Unpaired surrogate in mailbox name');
        out += String.fromCharCode(u, next);
        k++;
        continue;
      }
      if (u >= 0xdc00 && u <= 0xdfff) throw new MailboxNameError('Unpaired surrogate in mailbox name');
      out += String.fromCharCode(u);
    }
    i = end + 1;
    lastShiftEnd = i;
  }
  return out;
}

/** True if `wire` is a valid modified UTF-7 mailbox name. */
export function isValidMailboxName(wire: string): boolean {
  try {
    decodeMailboxName(wire);
    return true;
  } catch {
    return false;
  }
}
