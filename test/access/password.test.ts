import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SCRYPT_PARAMS,
  MAX_PASSWORD_BYTES,
  hashPassword,
  needsRehash,
  parsePasswordHash,
  validateNewPassword,
  verifyPassword,
} from '../../core/access/password.js';

// scrypt at N=2^17 costs a few hundred ms per call: hash once and share it.
const PASSWORD = 'Corr\u00e9ct horse battery'; // é precomposed (NFC)
const DECOMPOSED = 'Corre\u0301ct horse battery'; // e + combining acute (NFD)
const hashed = hashPassword(PASSWORD);

const PHC = /^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;

test('hash format: $scrypt$ln=17,r=8,p=1$<16-byte salt>$<32-byte key>', async () => {
  const h = await hashed;
  assert.match(h, PHC);
  const parsed = parsePasswordHash(h);
  assert.ok(parsed);
  assert.deepEqual(parsed.params, { ln: 17, r: 8, p: 1 });
  assert.deepEqual({ ...DEFAULT_SCRYPT_PARAMS }, { ln: 17, r: 8, p: 1 });
  assert.equal(2 ** parsed.params.ln, 131072);
  assert.equal(parsed.salt.length, 16);
  assert.equal(parsed.hash.length, 32);
  assert.equal(needsRehash(h), false);
});

test('two hashes of one password differ (random salt)', async () => {
  const [a, b] = await Promise.all([hashed, hashPassword(PASSWORD)]);
  assert.notEqual(a, b);
  assert.notEqual(a.split('$')[3], b.split('$')[3]);
});

test('verify: right password true, wrong false, NFC-equivalent input true', async () => {
  const h = await hashed;
  assert.equal(await verifyPassword(PASSWORD, h), true);
  assert.equal(await verifyPassword(DECOMPOSED, h), true);
  assert.equal(await verifyPassword(PASSWORD + ' ', h), false);
  assert.equal(await verifyPassword('', h), false);
});

test('oversize, NUL and invalid-Unicode passwords are refused before hashing', async () => {
  const big = 'a'.repeat(MAX_PASSWORD_BYTES + 1);
  const bigUtf8 = '\u00e9'.repeat(513); // 513 chars, 1026 octets
  for (const bad of [big, bigUtf8, 'pass\0word', 'pass\ud800word']) {
    await assert.rejects(hashPassword(bad), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.ok(!(e as Error).message.includes(bad.slice(0, 8)), 'error must not echo the password');
      return true;
    });
  }
  const h = await hashed;
  // verify refuses too: false, even when the "password" is the right one with a NUL appended.
  assert.equal(await verifyPassword(PASSWORD + '\0', h), false);
  assert.equal(await verifyPassword(big, h), false);
});

test('verify on a refused password costs about as much as a real check (same scrypt work)', async () => {
  const h = await hashed;
  const time = async (pw: string) => {
    const t = performance.now();
    await verifyPassword(pw, h);
    return performance.now() - t;
  };
  const wrong = await time('wrong password');
  const oversize = await time('x'.repeat(5000));
  // Flat within a generous factor (the machine is shared and noisy).
  assert.ok(oversize > wrong * 0.4 && oversize < wrong * 2.5, `wrong ${wrong.toFixed(0)} ms, oversize ${oversize.toFixed(0)} ms`);
});

test('strict parsing: malformed or absurd encodings are refused', async () => {
  const h = await hashed;
  const [, , , salt, key] = h.split('$');
  const bad = [
    '',
    'plain',
    `$scrypt$ln=17,r=8,p=1$${salt}`,
    `$scrypt$ln=17,r=8,p=1$${salt}$${key}$`,
    `$argon2id$ln=17,r=8,p=1$${salt}$${key}`,
    `scrypt$ln=17,r=8,p=1$${salt}$${key}`,
    `$scrypt$r=8,ln=17,p=1$${salt}$${key}`, // parameter order is fixed
    `$scrypt$ln=017,r=8,p=1$${salt}$${key}`,
    `$scrypt$ln=17,r=8,p=1,x=1$${salt}$${key}`,
    `$scrypt$ln=30,r=8,p=1$${salt}$${key}`, // 2^30: 1 TiB of memory
    `$scrypt$ln=21,r=8,p=1$${salt}$${key}`,
    `$scrypt$ln=10,r=8,p=1$${salt}$${key}`, // too weak to trust
    `$scrypt$ln=17,r=99,p=1$${salt}$${key}`,
    `$scrypt$ln=17,r=8,p=99$${salt}$${key}`,
    `$scrypt$ln=17,r=0,p=1$${salt}$${key}`,
    `$scrypt$ln=17,r=8,p=1$${salt}==$${key}`, // padding not allowed
    `$scrypt$ln=17,r=8,p=1$${salt}$${key}=`,
    `$scrypt$ln=17,r=8,p=1$${salt!.slice(0, 8)}$${key}`, // salt too short
    `$scrypt$ln=17,r=8,p=1$${salt}$${key!.slice(0, 20)}`, // key too short
    `$scrypt$ln=17,r=8,p=1$${salt!.replace(/.$/, '-')}$${key}`, // not base64
    `$scrypt$ln=17,r=8,p=1$${salt}$${key!.slice(0, -1)}B`, // non-canonical trailing bits
    `$scrypt$ln=17,r=8,p=1$${'A'.repeat(600)}$${key}`,
  ];
  for (const b of bad) assert.equal(parsePasswordHash(b), null, b);
  assert.ok(parsePasswordHash(h));
  // A raised cost (within bounds) still parses, so parameters can go up later.
  assert.ok(parsePasswordHash(`$scrypt$ln=18,r=8,p=1$${salt}$${key}`));
  assert.equal(needsRehash(`$scrypt$ln=16,r=8,p=1$${salt}$${key}`), true);
  assert.equal(needsRehash('garbage'), true);
});

test('verify against an empty or malformed stored hash is false (after dummy work), never throws', async () => {
  assert.equal(await verifyPassword(PASSWORD, ''), false);
  assert.equal(await verifyPassword(PASSWORD, '$scrypt$ln=40,r=8,p=1$AAAA$AAAA'), false);
});

test('validateNewPassword: 8–1024, no control characters', () => {
  assert.equal(validateNewPassword('eight ch'), null);
  assert.equal(validateNewPassword('\u00e9'.repeat(512)), null); // 1024 octets
  assert.equal(validateNewPassword('p\u00e4ssw\u00f6rd'), null);
  assert.match(validateNewPassword('seven c')!, /at least 8/);
  assert.match(validateNewPassword('')!, /at least 8/);
  assert.match(validateNewPassword('\u{1F600}'.repeat(7))!, /at least 8/); // 7 code points
  assert.match(validateNewPassword('a'.repeat(1025))!, /at most 1024/);
  assert.match(validateNewPassword('\u00e9'.repeat(513))!, /at most 1024/);
  assert.match(validateNewPassword('password\0')!, /control/);
  assert.match(validateNewPassword('pass\tword')!, /control/);
  assert.match(validateNewPassword('pass\u0085word')!, /control/);
  assert.match(validateNewPassword('password\ud800')!, /Unicode/);
});
