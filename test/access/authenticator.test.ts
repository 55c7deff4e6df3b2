import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Authenticator,
  DEFAULT_AUTH_OPTIONS,
  canonicalUsername,
  clientKey,
  type AuthOptions,
} from '../../core/access/authenticator.js';
import { BoundedMap } from '../../core/access/bounded-map.js';
import { dummyHash, hashPassword } from '../../core/access/password.js';
import type { AuthRequest } from '../../core/access/types.js';
import { FakeStore } from './fake-store.js';

// One real hash (N=2^17) for the timing test, where it matters that every path runs the same
// scrypt work. The other tests only exercise policy, so their accounts carry a hash made here at
// the lowest cost the parser accepts (N=2^14), in the documented format, to keep the file fast.
const RIGHT = 'right password';
let HASH = '';
const FAST_HASH = (() => {
  const salt = randomBytes(16);
  const key = scryptSync(RIGHT, salt, 32, { N: 2 ** 14, r: 8, p: 1 });
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(key)}`;
})();

before(async () => {
  [HASH] = await Promise.all([hashPassword(RIGHT), dummyHash()]);
});

function makeStore(hash = FAST_HASH): FakeStore {
  const s = new FakeStore();
  s.add('alice@example.com', hash);
  s.add('bob@example.com', hash);
  s.add('admin@example.com', hash, { role: 'admin' });
  s.add('guest@example.com', hash, { role: 'guest' });
  s.add('anonymous@example.com', hash, { role: 'anonymous' });
  s.add('nopop@example.com', hash, { pop3: false });
  s.add('noimap@example.com', hash, { imap4: false });
  s.add('nohash@example.com', '');
  return s;
}

/** A manual clock plus a sleep that records what it was asked to wait (and waits `real` ms). */
function harness(opts: Partial<AuthOptions> = {}, realSleep = false, hash = FAST_HASH) {
  let t = 1_000_000;
  const slept: number[] = [];
  const store = makeStore(hash);
  const auth = new Authenticator(store, {
    failureDelayBaseMs: 20,
    failureDelayMaxMs: 160,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      if (realSleep) await sleep(ms);
    },
    ...opts,
  });
  return {
    auth,
    store,
    slept,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function req(username: string, password: string, clientIp = '192.0.2.1', extra: Partial<AuthRequest> = {}): AuthRequest {
  return { protocol: 'imap4', username, password, clientIp, ...extra };
}

async function timed<T>(p: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await p();
  return [r, performance.now() - t];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test('defaults: 2 s doubling to 15 s, bounded maps, ban after 20 in 10 min for 5 min', () => {
  assert.equal(DEFAULT_AUTH_OPTIONS.failureDelayBaseMs, 2000);
  assert.equal(DEFAULT_AUTH_OPTIONS.failureDelayMaxMs, 15000);
  assert.equal(DEFAULT_AUTH_OPTIONS.banThreshold, 20);
  assert.equal(DEFAULT_AUTH_OPTIONS.ipWindowMs, 600_000);
  assert.equal(DEFAULT_AUTH_OPTIONS.banDurationMs, 300_000);
  assert.ok(DEFAULT_AUTH_OPTIONS.maxTrackedIps > 0 && DEFAULT_AUTH_OPTIONS.maxTrackedIps <= 100_000);
  const a = new Authenticator(new FakeStore());
  assert.equal(a.options.failureDelayBaseMs, 2000);
});

test('success: the account comes back, no delay, user name canonicalized', async () => {
  const { auth, slept } = harness();
  const r = await auth.authenticate(req('  Alice@Example.COM ', RIGHT, '192.0.2.1', { authzid: 'ALICE@example.com' }));
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.account.address, 'alice@example.com');
  const pop = await auth.authenticate(req('alice@example.com', RIGHT, '192.0.2.1', { protocol: 'pop3', authzid: '' }));
  assert.equal(pop.ok, true);
  assert.deepEqual(slept, []);
});

test('every refusal looks the same and takes about the same time; only the log reason differs', async () => {
  // Distinct IPs per attempt so every refusal gets the same (base) delay.
  const { auth, slept } = harness({ failureDelayBaseMs: 20, accountFailureThreshold: 1000 }, true, HASH);
  const cases = {
    'unknown user': req('nobody@example.com', RIGHT),
    'wrong password': req('alice@example.com', 'wrong password'),
    'admin role (right password)': req('admin@example.com', RIGHT),
    'disabled, wrong password': req('noimap@example.com', 'wrong password'),
    'disabled, right password': req('noimap@example.com', RIGHT),
  };
  const times: Record<string, number[]> = {};
  const reasons: Record<string, string> = {};
  let n = 0;
  // Round-robin, so noise from the shared machine spreads over every case alike. Every case
  // runs the same scrypt work (one full verification), so the medians differ only by noise;
  // the bound below is loose enough for a loaded CI machine and still catches a refusal that
  // skips the hash (which would be ~100x faster).
  for (let round = 0; round < 5; round++) {
    for (const [name, r] of Object.entries(cases)) {
      const [res, ms] = await timed(() => auth.authenticate({ ...r, clientIp: `198.51.100.${++n}` }));
      assert.equal(res.ok, false, name);
      assert.deepEqual(Object.keys(res).sort(), ['ok', 'reason'], name);
      reasons[name] = (res as { reason: string }).reason;
      (times[name] ??= []).push(ms);
    }
  }
  assert.deepEqual(reasons, {
    'unknown user': 'unknown-user',
    'wrong password': 'bad-credentials',
    'admin role (right password)': 'role',
    'disabled, wrong password': 'bad-credentials',
    'disabled, right password': 'disabled',
  });
  assert.ok(slept.every((ms) => ms === 20), `every refusal got the base delay: ${slept}`);
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const values = Object.values(medians);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  assert.ok(hi <= lo * 3, `medians within 3x of each other: ${JSON.stringify(medians)}`);
  assert.ok(lo >= 20, 'the failure delay applies');
});

test('guest, anonymous, pop3-disabled and no-password accounts are refused like a wrong password', async () => {
  const { auth, slept } = harness({ accountFailureThreshold: 1000 });
  const results = await Promise.all([
    auth.authenticate(req('guest@example.com', RIGHT, '203.0.113.1')),
    auth.authenticate(req('anonymous@example.com', RIGHT, '203.0.113.2')),
    auth.authenticate(req('nopop@example.com', RIGHT, '203.0.113.3', { protocol: 'pop3' })),
    auth.authenticate(req('nohash@example.com', '', '203.0.113.4')),
  ]);
  assert.deepEqual(results, [
    { ok: false, reason: 'role' },
    { ok: false, reason: 'role' },
    { ok: false, reason: 'disabled' },
    { ok: false, reason: 'bad-credentials' },
  ]);
  assert.deepEqual(slept, [20, 20, 20, 20]);
});

test('failures from one IP grow the delay (doubling, capped); success is never delayed', async () => {
  const { auth, slept } = harness({ failureDelayBaseMs: 20, failureDelayMaxMs: 100 });
  for (let i = 0; i < 6; i++) await auth.authenticate(req('', 'x', '192.0.2.7'));
  assert.deepEqual(slept, [20, 40, 80, 100, 100, 100]);
  // Other IPs are not affected.
  await auth.authenticate(req('', 'x', '192.0.2.8'));
  assert.equal(slept.at(-1), 20);
  // The right password from the penalized IP goes through at once.
  const before = slept.length;
  const r = await auth.authenticate(req('bob@example.com', RIGHT, '192.0.2.7'));
  assert.equal(r.ok, true);
  assert.equal(slept.length, before, 'no delay on success');
  // ...and does not launder the IP's count: the next failure is still at the cap.
  await auth.authenticate(req('', 'x', '192.0.2.7'));
  assert.equal(slept.at(-1), 100);
});

test('the per-IP count expires with its window; IPv6 addresses are grouped by /64', async () => {
  const { auth, slept, advance } = harness({ ipWindowMs: 60_000 });
  await auth.authenticate(req('', 'x', '2001:db8:1:2::1'));
  await auth.authenticate(req('', 'x', '2001:db8:1:2:ffff::9'));
  await auth.authenticate(req('', 'x', '::ffff:192.0.2.50'));
  await auth.authenticate(req('', 'x', '192.0.2.50'));
  await auth.authenticate(req('', 'x', '2001:db8:1:3::1'));
  assert.deepEqual(slept, [20, 40, 20, 40, 20]);
  advance(60_000);
  await auth.authenticate(req('', 'x', '2001:db8:1:2::1'));
  assert.equal(slept.at(-1), 20);
  assert.equal(clientKey('2001:db8:1:2:3:4:5:6'), clientKey('2001:db8:1:2::'));
  assert.notEqual(clientKey('2001:db8:1:2::'), clientKey('2001:db8:1:3::'));
  assert.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
});

test('real timers: a refusal is delayed by the configured delay, success is not', async () => {
  const store = makeStore();
  const auth = new Authenticator(store, { failureDelayBaseMs: 60, failureDelayMaxMs: 60 });
  const [r, ms] = await timed(() => auth.authenticate(req('%', 'x')));
  assert.equal(r.ok, false);
  assert.ok(ms >= 55, `delayed ${ms} ms`);
  assert.ok(ms < 1000);
});

test('bad user names fail fast and uniformly, without a lookup', async () => {
  const { auth, store, slept } = harness({ banThreshold: 1000 });
  const names = ['', '   ', '%', '*', 'a%b@example.com', 'alice*@example.com', 'x'.repeat(10 * 1024),
    'alice@example.com\0', 'ali\rce@example.com', 'alice @example.com', '(alice)', 'a"b@example.com', 'a\\b'];
  let ip = 0;
  for (const name of names) {
    const [r, ms] = await timed(() => auth.authenticate(req(name, RIGHT, `192.0.2.${++ip}`)));
    assert.deepEqual(r, { ok: false, reason: 'invalid-input' }, JSON.stringify(name.slice(0, 30)));
    assert.ok(ms < 1000, `${ms} ms`);
  }
  // authzid different from the authentication identity (SASL PLAIN) fails, even with the right password.
  const [r] = await timed(() => auth.authenticate(req('alice@example.com', RIGHT, '192.0.2.99', { authzid: 'bob@example.com' })));
  assert.deepEqual(r, { ok: false, reason: 'invalid-input' });
  assert.equal(store.lookups, 0, 'nothing was looked up');
  assert.deepEqual(slept, new Array(names.length + 1).fill(20), 'each still got the failure delay');
  assert.equal(canonicalUsername(' Alice@EXAMPLE.com\t'), 'alice@example.com');
  assert.equal(canonicalUsername('x'.repeat(321)), null);
});

test('one account guessed from many IPs is locked for a while; the lock ends; known IPs pass', async () => {
  const { auth, store, advance } = harness({ accountFailureThreshold: 3, accountWindowMs: 60_000, accountLockMs: 30_000 });
  // The owner logs in from home first.
  assert.equal((await auth.authenticate(req('alice@example.com', RIGHT, '192.0.2.200'))).ok, true);
  for (let i = 1; i <= 3; i++) {
    const r = await auth.authenticate(req('alice@example.com', 'guess' + i, `203.0.113.${i}`));
    assert.deepEqual(r, { ok: false, reason: 'bad-credentials' });
  }
  // Locked: a new IP fails without a password check, even with the right password.
  const lookups = store.lookups;
  const [locked, ms] = await timed(() => auth.authenticate(req('Alice@example.com', RIGHT, '203.0.113.50')));
  assert.deepEqual(locked, { ok: false, reason: 'throttled' });
  assert.equal(store.lookups, lookups, 'no lookup, no hash while locked');
  assert.ok(ms < 5000, `locked refusal is fast: ${ms} ms`);
  // The owner's known IP is not held by the lock.
  assert.equal((await auth.authenticate(req('alice@example.com', RIGHT, '192.0.2.200'))).ok, true);
  // Other accounts are not affected.
  assert.equal((await auth.authenticate(req('bob@example.com', RIGHT, '203.0.113.60'))).ok, true);
  // After the lock, the right password from a new IP works: no permanent lock-out.
  advance(30_000);
  assert.equal((await auth.authenticate(req('alice@example.com', RIGHT, '203.0.113.70'))).ok, true);
});

test('unknown user names are locked exactly like real ones (the lock reveals nothing)', async () => {
  const { auth, store } = harness({ accountFailureThreshold: 1 });
  for (let i = 1; i <= 1; i++) {
    assert.deepEqual(await auth.authenticate(req('ghost@example.com', 'g', `203.0.113.${i}`)), { ok: false, reason: 'unknown-user' });
  }
  const lookups = store.lookups;
  assert.deepEqual(await auth.authenticate(req('ghost@example.com', 'g', '203.0.113.9')), { ok: false, reason: 'throttled' });
  assert.equal(store.lookups, lookups);
});

test('many failures ban the IP for a while; the ban expires', async () => {
  const { auth, store, slept, advance } = harness({ banThreshold: 5, banDurationMs: 60_000, failureDelayMaxMs: 160 });
  for (let i = 0; i < 5; i++) await auth.authenticate(req('*', 'x', '2001:db8:aa:bb::1'));
  assert.equal(auth.isBanned('2001:db8:aa:bb::1'), true);
  assert.equal(auth.isBanned('2001:db8:aa:bb::2'), true, 'same /64');
  assert.equal(auth.isBanned('2001:db8:aa:bc::1'), false);
  assert.equal(auth.stats().bannedIps, 1);
  const lookups = store.lookups;
  const r = await auth.authenticate(req('alice@example.com', RIGHT, '2001:db8:aa:bb::1'));
  assert.deepEqual(r, { ok: false, reason: 'throttled' });
  assert.equal(store.lookups, lookups, 'banned: nothing looked up');
  assert.equal(slept.at(-1), 160, 'banned refusals get the longest delay');
  advance(59_999);
  assert.equal(auth.isBanned('2001:db8:aa:bb::1'), true);
  advance(1);
  assert.equal(auth.isBanned('2001:db8:aa:bb::1'), false);
  assert.equal((await auth.authenticate(req('alice@example.com', RIGHT, '2001:db8:aa:bb::1'))).ok, true);
});

test('tracking state stays bounded under 100,000 distinct IPs', async () => {
  const { auth } = harness({ failureDelayBaseMs: 0, failureDelayMaxMs: 0, maxTrackedIps: 10_000 });
  for (let i = 0; i < 100_000; i++) {
    await auth.authenticate(req('%', 'x', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
  }
  assert.equal(auth.stats().trackedIps, 10_000);
  assert.equal(auth.stats().trackedAccounts, 0);
  // Random IPv6 addresses inside one /64 are one entry.
  const v6 = harness({ failureDelayBaseMs: 0, failureDelayMaxMs: 0, banThreshold: 1e9 }).auth;
  for (let i = 0; i < 10_000; i++) await v6.authenticate(req('%', 'x', `2001:db8:5:6:${((i * 7919) % 65536).toString(16)}::${i.toString(16)}`));
  assert.equal(v6.stats().trackedIps, 1);
  // Default caps hold too.
  const d = harness({ failureDelayBaseMs: 0, failureDelayMaxMs: 0 }).auth;
  for (let i = 0; i < 100_000; i++) {
    await d.authenticate(req('', 'x', `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`));
  }
  assert.equal(d.stats().trackedIps, Math.min(100_000, DEFAULT_AUTH_OPTIONS.maxTrackedIps));
});

test('BoundedMap evicts the least recently touched entry', () => {
  const m = new BoundedMap<string, number>(3);
  m.set('a', 1);
  m.set('b', 2);
  m.set('c', 3);
  m.get('a');
  m.set('d', 4);
  assert.equal(m.size, 3);
  assert.equal(m.peek('b'), undefined);
  assert.equal(m.peek('a'), 1);
  for (let i = 0; i < 100_000; i++) m.set(`k${i}`, i);
  assert.equal(m.size, 3);
  assert.throws(() => new BoundedMap(0), RangeError);
});

test('password checks are capped; past the queue, attempts are refused at once', async () => {
  const { auth } = harness({ maxConcurrentHashes: 1, maxQueuedHashes: 0 });
  const [a, b] = await Promise.all([
    auth.authenticate(req('alice@example.com', RIGHT, '192.0.2.10')),
    auth.authenticate(req('bob@example.com', RIGHT, '192.0.2.11')),
  ]);
  assert.equal(a.ok, true);
  assert.deepEqual(b, { ok: false, reason: 'throttled' });
  assert.equal(auth.stats().hashesRunning, 0);
});

test('a store failure rejects (temporary error), is not counted as a login failure', async () => {
  const { auth, store, slept } = harness();
  store.failWith = new Error('store unavailable');
  await assert.rejects(auth.authenticate(req('alice@example.com', RIGHT)), /store unavailable/);
  assert.deepEqual(slept, []);
  assert.equal(auth.stats().trackedIps, 0);
});
