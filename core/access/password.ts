// Password hashing: scrypt from node:crypto (run asynchronously, on the libuv thread pool).
//
// Stored form (PHC-like, base64 without padding):
//   $scrypt$ln=17,r=8,p=1$<salt>$<hash>
// The parameters are read back from the string, so they can be raised later without
// invalidating existing hashes (needsRehash() tells an admin tool when to re-hash). Parsing is
// strict and refuses absurd parameters, so a corrupt or hostile record cannot make a login
// allocate gigabytes or spin for minutes.
//
// Passwords are Unicode-normalized to NFC before hashing (as RFC 8265's OpaqueString profile
// does), so the same typed password matches whichever normalization a client sends. This is
// fixed for every hash ever written: changing it later would break stored hashes.

import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Longest password accepted, in UTF-8 octets (after NFC). */
export const MAX_PASSWORD_BYTES = 1024;
/** Shortest new password, in Unicode code points (admin tools only; verify accepts any). */
export const MIN_PASSWORD_CHARS = 8;

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/** Parameters for new hashes: N = 2^17, r = 8, p = 1 (about 128 MiB and a few hundred ms). */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 17, r: 8, p: 1 });
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Bounds for parameters read from stored hashes. Below them a hash is too weak to trust; above
// them a single login would cost an unreasonable amount of memory or time.
const LN_MIN = 14;
const LN_MAX = 20;
const R_MAX = 32;
const P_MAX = 16;
/** Largest scrypt working set (128 · r · N octets) a stored hash may ask for: 512 MiB. */
const MEM_MAX = 512 * 1024 * 1024;
/** Largest total work (N · r · p) a stored hash may ask for: 8× the default. */
const WORK_MAX = 2 ** 17 * 8 * 8;
const SALT_MIN = 16;
const SALT_MAX = 64;
const HASH_MIN = 32;
const HASH_MAX = 64;

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+$/;
const PARAMS = /^ln=([1-9][0-9]?),r=([1-9][0-9]?),p=([1-9][0-9]?)$/;

function b64encode(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

/** Strict, canonical unpadded base64; null when anything is off. */
function b64decode(s: string): Buffer | null {
  if (!B64.test(s) || s.length % 4 === 1) return null;
  const buf = Buffer.from(s, 'base64');
  // Re-encoding must give the same text: rejects stray trailing bits and any leniency.
  return b64encode(buf) === s ? buf : null;
}

function paramsAcceptable({ ln, r, p }: ScryptParams): boolean {
  if (!Number.isInteger(ln) || !Number.isInteger(r) || !Number.isInteger(p)) return false;
  if (ln < LN_MIN || ln > LN_MAX || r < 1 || r > R_MAX || p < 1 || p > P_MAX) return false;
  const n = 2 ** ln;
  return 128 * r * n <= MEM_MAX && n * r * p <= WORK_MAX;
}

/** Parses an encoded hash strictly; null when malformed or its parameters are out of bounds. */
export function parsePasswordHash(encoded: string): ParsedHash | null {
  if (typeof encoded !== 'string' || encoded.length > 512) return null;
  const parts = encoded.split('$');
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') return null;
  const m = PARAMS.exec(parts[2]!);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (!paramsAcceptable(params)) return null;
  const salt = b64decode(parts[3]!);
  const hash = b64decode(parts[4]!);
  if (!salt || salt.length < SALT_MIN || salt.length > SALT_MAX) return null;
  if (!hash || hash.length < HASH_MIN || hash.length > HASH_MAX) return null;
  return { params, salt, hash };
}

/** True when a stored hash is unreadable or weaker than the current defaults. */
export function needsRehash(encoded: string): boolean {
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return true;
  const { ln, r, p } = parsed.params;
  const d = DEFAULT_SCRYPT_PARAMS;
  return ln < d.ln || r < d.r || p < d.p || parsed.salt.length < SALT_BYTES || parsed.hash.length < KEY_BYTES;
}

function derive(password: Buffer, salt: Buffer, params: ScryptParams, keylen: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    // OpenSSL needs 128·r·(N+2) for V plus 128·r·p for B; leave headroom above that.
    maxmem: 128 * params.r * (N + 2 + params.p) + 16 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

// Lone UTF-16 surrogates (not valid Unicode; Buffer.from would silently turn them into U+FFFD).
const LONE_SURROGATE = /\p{Cs}/u;

/** The octets to hash, or null when the password is refused (too long, NUL, not Unicode). */
function passwordBytes(pw: unknown): Buffer | null {
  if (typeof pw !== 'string') return null;
  // Every UTF-16 unit encodes to at least one octet: cheap early cut before any other work.
  if (pw.length > MAX_PASSWORD_BYTES) return null;
  if (pw.includes('\0') || LONE_SURROGATE.test(pw)) return null;
  const buf = Buffer.from(pw.normalize('NFC'), 'utf8');
  return buf.length > MAX_PASSWORD_BYTES ? null : buf;
}

/** Hashed in place of a refused password so that refusing it costs the same as checking it. */
const PLACEHOLDER = Buffer.from('refused-password-placeholder', 'utf8');

/** Hashes a password with the default parameters. Throws RangeError if the password is refused. */
export async function hashPassword(pw: string): Promise<string> {
  const bytes = passwordBytes(pw);
  if (!bytes) throw new RangeError('password refused: too long, or contains NUL or invalid Unicode');
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(bytes, salt, DEFAULT_SCRYPT_PARAMS, KEY_BYTES);
  const { ln, r, p } = DEFAULT_SCRYPT_PARAMS;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64encode(salt)}$${b64encode(hash)}`;
}

/**
 * Checks a password against an encoded hash. Never throws for bad input: a refused password
 * (too long, NUL, invalid Unicode) or an unreadable hash gives false, after the same amount of
 * scrypt work as a real check, so the answer time does not tell which case it was.
 */
export async function verifyPassword(pw: string, encoded: string): Promise<boolean> {
  const bytes = passwordBytes(pw);
  let parsed = parsePasswordHash(encoded);
  if (!parsed) {
    // Unreadable (or empty: "no password can match") stored hash: burn a dummy check instead.
    parsed = parsePasswordHash(await dummyHash());
    if (!parsed) return false; // cannot happen: the dummy is ours
    await derive(bytes ?? PLACEHOLDER, parsed.salt, parsed.params, parsed.hash.length);
    return false;
  }
  const key = await derive(bytes ?? PLACEHOLDER, parsed.salt, parsed.params, parsed.hash.length);
  const match = timingSafeEqual(key, parsed.hash);
  return bytes !== null && match;
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random secret nobody knows, computed once (lazily) per process. Checking a
 * password against it costs exactly what checking a real account's password costs, so an
 * unknown user name is not answered faster than a known one.
 */
export function dummyHash(): Promise<string> {
  if (!dummy) {
    dummy = hashPassword(randomBytes(24).toString('base64'));
    // If it failed (e.g. out of memory), let the next caller try again.
    dummy.catch(() => {
      dummy = undefined;
    });
  }
  return dummy;
}

/** Policy for new passwords (admin tools): an error message, or null when acceptable. */
export function validateNewPassword(pw: string): string | null {
  if (typeof pw !== 'string') return 'password must be a string';
  if (pw.length > MAX_PASSWORD_BYTES) return `password must be at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`;
  if (LONE_SURROGATE.test(pw)) return 'password must be valid Unicode';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(pw)) return 'password must not contain control characters';
  const normalized = pw.normalize('NFC');
  if ([...normalized].length < MIN_PASSWORD_CHARS) return `password must be at least ${MIN_PASSWORD_CHARS} characters`;
  if (Buffer.byteLength(normalized, 'utf8') > MAX_PASSWORD_BYTES) {
    return `password must be at most ${MAX_PASSWORD_BYTES} bytes (UTF-8)`;
  }
  return null;
}
