// The local blob store's read paths: small reads are synchronous (one turn of the event loop),
// big ones go through the thread pool chunk by chunk. Both must return the same bytes for every
// range, report a missing blob as NOT_FOUND, and never leak a file descriptor.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBlobStore } from '../../core/store/local/blobs.js';
import { StoreError } from '../../core/store/port.js';

async function collect(stream: NodeJS.ReadableStream): Promise<{ data: Buffer; chunks: number }> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return { data: Buffer.concat(parts), chunks: parts.length };
}

async function openFds(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

describe('local blob store reads', () => {
  let dir: string;
  const small = pattern(3000);
  const big = pattern(300 * 1024 + 17);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mab-blobs-'));
    const s = new LocalBlobStore(dir);
    await s.init();
    await s.put('acct/small', small);
    await s.put('acct/big', big);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Threshold 0: everything asynchronous; 1 MiB: everything synchronous; default: mixed.
  for (const syncReadBytes of [0, 1024 * 1024, undefined]) {
    const label = syncReadBytes === undefined ? 'default threshold' : `threshold ${syncReadBytes}`;
    it(`get and stream return the same bytes for every range (${label})`, async () => {
      const s = new LocalBlobStore(dir, syncReadBytes === undefined ? {} : { syncReadBytes });
      const fds = await openFds();
      for (const [key, data] of [['acct/small', small], ['acct/big', big]] as const) {
        assert.deepEqual(await s.get(key), data);
        assert.deepEqual((await collect(s.stream(key))).data, data);
        for (const [start, end] of [
          [0, 0],
          [0, 1],
          [17, 2500],
          [data.length - 10, data.length],
          [data.length - 10, data.length + 5000],
          [data.length + 3, data.length + 9],
          [65536 - 3, 65536 + 70000],
        ]) {
          const want = data.subarray(Math.min(start!, data.length), Math.min(end!, data.length));
          assert.deepEqual(await s.get(key, { start: start!, end: end! }), want, `get ${key} ${start}-${end}`);
          assert.deepEqual((await collect(s.stream(key, { start: start!, end: end! }))).data, want, `stream ${key} ${start}-${end}`);
        }
      }
      assert.equal(await openFds(), fds, 'every descriptor was closed');
    });
  }

  it('a small blob streams as one chunk; a big one in chunks of at most 64 KiB', async () => {
    const s = new LocalBlobStore(dir, { syncReadBytes: 256 * 1024 });
    assert.equal((await collect(s.stream('acct/small'))).chunks, 1);
    const bigStream = await collect(new LocalBlobStore(dir, { syncReadBytes: 0 }).stream('acct/big'));
    assert.equal(bigStream.chunks, Math.ceil(big.length / 65536));
  });

  it('a missing blob is NOT_FOUND from get and from the stream, on both paths', async () => {
    for (const syncReadBytes of [0, 1024 * 1024]) {
      const s = new LocalBlobStore(dir, { syncReadBytes });
      await assert.rejects(s.get('acct/none'), (e: unknown) => e instanceof StoreError && e.code === 'NOT_FOUND');
      await assert.rejects(collect(s.stream('acct/none')), (e: unknown) => e instanceof StoreError && e.code === 'NOT_FOUND');
    }
  });

  it('a stream destroyed half way closes its descriptor', async () => {
    const s = new LocalBlobStore(dir, { syncReadBytes: 0 });
    const fds = await openFds();
    for (let i = 0; i < 20; i++) {
      const st = s.stream('acct/big');
      const it = st[Symbol.asyncIterator]();
      await it.next();
      st.destroy();
    }
    // Closing after an in-flight read settles is asynchronous: give it a few turns.
    for (let i = 0; i < 50 && (await openFds()) !== fds; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await openFds(), fds);
  });

  it('invalid ranges and keys are refused before touching the disk', async () => {
    const s = new LocalBlobStore(dir);
    await assert.rejects(s.get('acct/small', { start: 5, end: 2 }), (e: unknown) => e instanceof StoreError && e.code === 'INVALID');
    assert.throws(() => s.stream('../etc/passwd'), (e: unknown) => e instanceof StoreError && e.code === 'INVALID');
  });
});
