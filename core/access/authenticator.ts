// Password authentication and the login access policy (DESIGN §5 invariant 7, security
// checklist section C).
//
// Every refusal (unknown user, wrong password, admin/guest/anonymous role, protocol disabled for
// the mailbox) takes the same path: the password hash always runs (against a dummy hash for an
// unknown user), the refusal is counted the same way, and the same failure delay is applied. The
// caller only ever sees `{ ok: false }`; `reason` is for the server's own log.
//
// Throttling, all in bounded in-memory maps:
//   - per client IP (IPv6 grouped by /64): each failure in the window doubles the delay before
//     the failure reply (2 s, 4 s, 8 s … capped at 15 s, like Dovecot); success is never delayed;
//   - per IP ban: after many failures in the window the IP is refused for a while (isBanned()
//     lets listeners refuse it before reading anything);
//   - per account (keyed by the canonical user name whether or not it exists, so the throttle
//     reveals nothing): after N failures in a window, further attempts fail without checking the
//     password until a short lock ends. The lock always expires (no permanent lock-out), and IPs
//     that recently logged in to that account successfully are not held by it, so an attacker
//     cannot keep the owner out from the owner's usual network.
//
// In the cloud this state is per task: an attacker spread over several tasks gets a multiple of
// the allowance. That is good enough for a speed bump; a shared store (DynamoDB counters with a
// TTL) could come later if needed.

import { isIPv4, isIPv6 } from 'node:net';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Account, Store } from '../store/port.js';
import { BoundedMap } from './bounded-map.js';
import { dummyHash, verifyPassword } from './password.js';
import type { AuthRequest, AuthResult } from './types.js';

export type AuthFailureReason = Extract<AuthResult, { ok: false }>['reason'];

export interface AuthOptions {
  /** Delay before the first failure reply from an IP, in ms; doubles with each failure. */
  failureDelayBaseMs: number;
  /** Cap on the failure delay, in ms. */
  failureDelayMaxMs: number;
  /** How long failures from one IP are remembered (delay growth and ban counting), in ms. */
  ipWindowMs: number;
  /** Failures from one IP within ipWindowMs that trigger a temporary ban. */
  banThreshold: number;
  /** Length of an IP ban, in ms. */
  banDurationMs: number;
  /** Failures against one user name (from any IPs) within accountWindowMs that lock it. */
  accountFailureThreshold: number;
  accountWindowMs: number;
  /** How long a locked user name fails without a password check, in ms. */
  accountLockMs: number;
  /** Recent successful IPs remembered per account; they are not held by the account lock. */
  trustedIpsPerAccount: number;
  /** Prefix length by which IPv6 clients are grouped (one subscriber usually holds a /64). */
  ipv6PrefixBits: number;
  /** Caps on the tracked IPs (also bans) and user names; the least recently seen are evicted. */
  maxTrackedIps: number;
  maxTrackedAccounts: number;
  /**
   * Password checks running at once. scrypt at N=2^17 uses ~128 MiB and a thread-pool thread
   * for a few hundred ms; keeping this below the pool size (4) leaves threads for file I/O.
   */
  maxConcurrentHashes: number;
  /** Checks allowed to wait for a slot; past this, attempts fail at once ('throttled'). */
  maxQueuedHashes: number;
  /** Clock, in ms (injectable for tests). */
  now: () => number;
  /** Waits the given ms (injectable for tests). */
  sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_AUTH_OPTIONS: Readonly<AuthOptions> = Object.freeze({
  failureDelayBaseMs: 2_000,
  failureDelayMaxMs: 15_000,
  ipWindowMs: 10 * 60_000,
  banThreshold: 20,
  banDurationMs: 5 * 60_000,
  accountFailureThreshold: 10,
  accountWindowMs: 10 * 60_000,
  accountLockMs: 5 * 60_000,
  trustedIpsPerAccount: 4,
  ipv6PrefixBits: 64,
  maxTrackedIps: 50_000,
  maxTrackedAccounts: 50_000,
  maxConcurrentHashes: 2,
  maxQueuedHashes: 1_000,
  now: () => Date.now(),
  sleep: (ms: number) => sleepTimer(ms).then(() => undefined),
});

/** Longest accepted user name after trimming (an address: 64 + 1 + 255). */
export const MAX_USERNAME_CHARS = 320;

// Refused in user names: controls (C0, DEL, C1), whitespace, lone surrogates, the wildcards
// `%` and `*` (IMAP LIST / SQL LIKE / LDAP patterns) and characters that can only appear in a
// quoted local part or act as expression syntax elsewhere.
const BAD_USERNAME = /[\u0000-\u0020\u007f-\u009f\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff%*()\\"<>,;:[\]]|\p{Cs}/u;

/** Canonical form of a login name (trimmed, lower-cased), or null when it is not acceptable. */
export function canonicalUsername(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  // Cheap cut before any string work on a huge input; generous so padding still gets trimmed.
  if (raw.length > MAX_USERNAME_CHARS * 2) return null;
  const name = raw.trim().toLowerCase();
  if (name.length === 0 || name.length > MAX_USERNAME_CHARS) return null;
  if (BAD_USERNAME.test(name)) return null;
  return name;
}

/** Expands an IPv6 address (zone already removed) to its 8 groups, or null. */
function ipv6Groups(ip: string): number[] | null {
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) return null;
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // Embedded IPv4 in the last 32 bits (e.g. ::ffff:192.0.2.1).
    if (!isIPv4(last)) return null;
    const o = last.split('.').map(Number) as [number, number, number, number];
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) =>
    s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return null;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  return groups.every((g) => Number.isInteger(g)) ? groups : null;
}

/**
 * The key throttling state is kept under for a client address: IPv4 as is, IPv4-mapped IPv6 as
 * IPv4, other IPv6 by its first `prefixBits` bits (an attacker holding a /64 must not get 2^64
 * separate allowances).
 */
export function clientKey(ip: string, prefixBits = 64): string {
  const bare = String(ip).split('%')[0]!.slice(0, 64);
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare)) {
    const g = ipv6Groups(bare.toLowerCase());
    if (g) {
      if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
        return `${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`;
      }
      const bits = Math.max(0, Math.min(128, Math.floor(prefixBits)));
      const masked = g.map((x, i) => {
        const keep = Math.max(0, Math.min(16, bits - i * 16));
        return keep === 0 ? 0 : x & ((0xffff << (16 - keep)) & 0xffff);
      });
      return `${masked.map((x) => x.toString(16)).join(':')}/${bits}`;
    }
  }
  return `?${bare}`;
}

interface IpRecord {
  failures: number;
  windowStart: number;
}

interface AccountRecord {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  /** Client keys that recently logged in successfully, newest last. */
  trusted: string[];
}

/** A counting semaphore with a bounded wait queue. */
class HashSlots {
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}
  get running(): number {
    return this.#running;
  }
  get queued(): number {
    return this.#waiting.length;
  }
  /** Resolves true once a slot is held; false at once when the queue is full. */
  acquire(): Promise<boolean> {
    if (this.#running < this.max) {
      this.#running++;
      return Promise.resolve(true);
    }
    if (this.#waiting.length >= this.maxQueued) return Promise.resolve(false);
    return new Promise((resolve) => this.#waiting.push(() => resolve(true)));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.#running--;
  }
}

export interface AuthStats {
  trackedIps: number;
  trackedAccounts: number;
  bannedIps: number;
  hashesRunning: number;
  hashesQueued: number;
}

export class Authenticator {
  readonly options: Readonly<AuthOptions>;
  readonly #store: Pick<Store, 'getAccountByAddress'>;
  readonly #ips: BoundedMap<string, IpRecord>;
  readonly #bans: BoundedMap<string, number>;
  readonly #accounts: BoundedMap<string, AccountRecord>;
  readonly #slots: HashSlots;

  constructor(store: Pick<Store, 'getAccountByAddress'>, opts: Partial<AuthOptions> = {}) {
    const o: AuthOptions = { ...DEFAULT_AUTH_OPTIONS };
    for (const [k, v] of Object.entries(opts)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
    if (o.failureDelayBaseMs < 0 || o.failureDelayMaxMs < o.failureDelayBaseMs) {
      throw new RangeError('failure delays must satisfy 0 <= base <= max');
    }
    if (o.maxConcurrentHashes < 1 || o.maxQueuedHashes < 0) throw new RangeError('hash slot limits out of range');
    this.options = Object.freeze(o);
    this.#store = store;
    this.#ips = new BoundedMap(o.maxTrackedIps);
    this.#bans = new BoundedMap(o.maxTrackedIps);
    this.#accounts = new BoundedMap(o.maxTrackedAccounts);
    this.#slots = new HashSlots(o.maxConcurrentHashes, o.maxQueuedHashes);
    // Compute the dummy hash now, so the first unknown user is not slower than later ones.
    dummyHash().catch(() => undefined);
  }

  /** Whether an IP is under a temporary ban (listeners may refuse it before any exchange). */
  isBanned(ip: string): boolean {
    return this.#bannedKey(clientKey(ip, this.options.ipv6PrefixBits));
  }

  stats(): AuthStats {
    return {
      trackedIps: this.#ips.size,
      trackedAccounts: this.#accounts.size,
      bannedIps: this.#bans.size,
      hashesRunning: this.#slots.running,
      hashesQueued: this.#slots.queued,
    };
  }

  /**
   * Checks credentials and the access policy. Resolves `{ ok: true, account }` at once on
   * success; every refusal resolves `{ ok: false, reason }` after the failure delay. Rejects only
   * when the store fails (the caller should answer with a temporary failure, not a refusal).
   */
  async authenticate(req: AuthRequest): Promise<AuthResult> {
    const ip = clientKey(req.clientIp, this.options.ipv6PrefixBits);

    if (this.#bannedKey(ip)) return this.#refuse('throttled', ip, null, false);

    const user = canonicalUsername(req.username);
    if (user === null || typeof req.password !== 'string') return this.#refuse('invalid-input', ip, null, true);
    if (req.authzid !== undefined && req.authzid !== '' && canonicalUsername(req.authzid) !== user) {
      return this.#refuse('invalid-input', ip, null, true);
    }

    if (this.#accountLocked(user, ip)) return this.#refuse('throttled', ip, null, true);

    const account = await this.#store.getAccountByAddress(user);

    if (!(await this.#slots.acquire())) return this.#refuse('throttled', ip, null, false);
    let passwordOk: boolean;
    try {
      // Always one scrypt run: the account's hash, or the dummy for an unknown user (and
      // verifyPassword burns a dummy check itself for an empty or unreadable stored hash).
      passwordOk = await verifyPassword(req.password, account ? account.passwordHash : await dummyHash());
    } finally {
      this.#slots.release();
    }

    let reason: AuthFailureReason | null = null;
    if (!account) reason = 'unknown-user';
    else if (!passwordOk) reason = 'bad-credentials';
    // Decided after the hash, on the same path, so these answer exactly like a wrong password.
    else if (account.role !== 'user') reason = 'role';
    else if (!protocolEnabled(account, req.protocol)) reason = 'disabled';

    if (reason !== null || !account) return this.#refuse(reason ?? 'unknown-user', ip, user, true);

    this.#recordSuccess(user, ip);
    return { ok: true, account };
  }

  #bannedKey(ip: string): boolean {
    const until = this.#bans.peek(ip);
    if (until === undefined) return false;
    if (this.options.now() < until) return true;
    this.#bans.delete(ip);
    return false;
  }

  #accountLocked(user: string, ip: string): boolean {
    const rec = this.#accounts.peek(user);
    if (!rec || rec.lockedUntil === 0) return false;
    if (this.options.now() >= rec.lockedUntil) {
      rec.lockedUntil = 0;
      return false;
    }
    return !rec.trusted.includes(ip);
  }

  /** Counts a failure (when `count`), then waits the IP's failure delay and returns the refusal. */
  async #refuse(reason: AuthFailureReason, ip: string, user: string | null, count: boolean): Promise<AuthResult> {
    const delay = count ? this.#recordFailure(ip, user) : this.#currentDelay(ip);
    if (delay > 0) await this.options.sleep(delay);
    return { ok: false, reason };
  }

  #delayFor(failures: number): number {
    const { failureDelayBaseMs: base, failureDelayMaxMs: max } = this.options;
    if (failures <= 0) return base;
    return Math.min(max, base * 2 ** Math.min(failures - 1, 30));
  }

  #currentDelay(ip: string): number {
    if (this.#bannedKey(ip)) return this.options.failureDelayMaxMs;
    const rec = this.#ips.peek(ip);
    const live = rec && this.options.now() - rec.windowStart < this.options.ipWindowMs;
    return this.#delayFor(live ? rec.failures : 0);
  }

  /** Records a failure for the IP (and the user name, when given); returns the delay to apply. */
  #recordFailure(ip: string, user: string | null): number {
    const o = this.options;
    const now = o.now();

    let delay: number;
    if (this.#bannedKey(ip)) {
      delay = o.failureDelayMaxMs;
    } else {
      let rec = this.#ips.get(ip);
      if (!rec || now - rec.windowStart >= o.ipWindowMs) {
        rec = { failures: 0, windowStart: now };
        this.#ips.set(ip, rec);
      }
      rec.failures++;
      delay = this.#delayFor(rec.failures);
      if (rec.failures >= o.banThreshold) {
        this.#bans.set(ip, now + o.banDurationMs);
        this.#ips.delete(ip); // start afresh once the ban ends
      }
    }

    if (user !== null) {
      let acc = this.#accounts.get(user);
      if (!acc) {
        acc = { failures: 0, windowStart: now, lockedUntil: 0, trusted: [] };
        this.#accounts.set(user, acc);
      }
      if (acc.lockedUntil === 0 || now >= acc.lockedUntil) {
        acc.lockedUntil = 0;
        if (now - acc.windowStart >= o.accountWindowMs) {
          acc.failures = 0;
          acc.windowStart = now;
        }
        acc.failures++;
        if (acc.failures >= o.accountFailureThreshold) {
          acc.lockedUntil = now + o.accountLockMs;
          acc.failures = 0;
          acc.windowStart = now;
        }
      }
    }
    return delay;
  }

  #recordSuccess(user: string, ip: string): void {
    const now = this.options.now();
    const acc = this.#accounts.get(user) ?? { failures: 0, windowStart: now, lockedUntil: 0, trusted: [] };
    // The owner got in: forget the account's failure count. The IP's count is kept on purpose
    // (it expires with its window), so logging in to one's own account cannot launder failures
    // made against other accounts from the same IP.
    acc.failures = 0;
    acc.windowStart = now;
    acc.trusted = [...acc.trusted.filter((t) => t !== ip), ip].slice(-Math.max(0, this.options.trustedIpsPerAccount));
    this.#accounts.set(user, acc);
  }
}

function protocolEnabled(account: Account, protocol: AuthRequest['protocol']): boolean {
  const settings = protocol === 'pop3' ? account.pop3 : protocol === 'imap4' ? account.imap4 : undefined;
  return settings?.enabled === true;
}
