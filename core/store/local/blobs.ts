// Message blobs as files under <dataDir>/blobs/<key>.
//
// A blob is written to <dataDir>/tmp/, fsynced, then hard-linked to its final name (link fails
// if the name exists, so a blob is never overwritten) and the directory is fsynced: once put()
// resolves, the blob survives a power cut, before any metadata points at it.

import { randomUUID } from 'node:crypto';
import { close as fsClose, closeSync, fstatSync, fsyncSync, openSync, read as fsRead, readSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { StoreError, type BlobStore, type ByteRange } from '../port.js';

const KEY_SEGMENT = /^[A-Za-z0-9._-]+$/;
export const MAX_BLOB_KEY_LENGTH = 1024;
const CHUNK = 64 * 1024;

/**
 * Reads of at most this many octets are made synchronously: open, fstat, read and close in one
 * turn of the event loop. A message blob is a few KiB and in the page cache when it is read
 * (it was just written, or a client is reading its mailbox), where the four system calls take
 * microseconds, while four thread-pool round trips took ~0.3 ms per FETCH or RETR (most of
 * its latency, measured with `npm run bench`). Bigger reads go through the thread pool so a
 * cold multi-megabyte read never holds up other sessions. LOCAL_SYNC_READ_BYTES overrides
 * (0: always asynchronous).
 */
export const DEFAULT_SYNC_READ_BYTES = 256 * 1024;

function syncReadLimit(): number {
  const v = process.env.LOCAL_SYNC_READ_BYTES;
  if (v === undefined || v === '') return DEFAULT_SYNC_READ_BYTES;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : DEFAULT_SYNC_READ_BYTES;
}

function readAsync(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fsRead(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

function closeQuietly(fd: number): void {
  fsClose(fd, () => {});
}

/** Fills buf from the file at pos (synchronously); returns the octets read (less at EOF). */
function readFullySync(fd: number, buf: Buffer, pos: number): number {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, pos + off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

/**
 * Throws INVALID unless `key` is made of [A-Za-z0-9._-] segments joined by single '/', with no
 * '.' or '..' segment, no leading or trailing '/', at most 1024 characters. Such a key cannot
 * name anything outside the blob directory.
 */
export function validateBlobKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_BLOB_KEY_LENGTH) {
    throw new StoreError('invalid blob key', 'INVALID');
  }
  for (const seg of key.split('/')) {
    if (!KEY_SEGMENT.test(seg) || seg === '.' || seg === '..' || seg.length > 255) {
      throw new StoreError(`invalid blob key: ${JSON.stringify(key.slice(0, 100))}`, 'INVALID');
    }
  }
  return key;
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

function notFound(key: string): StoreError {
  return new StoreError(`blob not found: ${key}`, 'NOT_FOUND');
}

function checkRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StoreError('invalid byte range', 'INVALID');
  }
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

export class LocalBlobStore implements BlobStore {
  readonly root: string;
  readonly tmpDir: string;

  /** Synchronous reads up to this size (see DEFAULT_SYNC_READ_BYTES). */
  readonly syncReadBytes: number;

  constructor(dataDir: string, opts: { syncReadBytes?: number } = {}) {
    this.root = join(dataDir, 'blobs');
    this.tmpDir = join(dataDir, 'tmp');
    this.syncReadBytes = opts.syncReadBytes ?? syncReadLimit();
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  pathOf(key: string): string {
    return join(this.root, ...validateBlobKey(key).split('/'));
  }

  async put(key: string, data: Buffer | AsyncIterable<Buffer>): Promise<{ size: number }> {
    const path = this.pathOf(key);
    const tmp = join(this.tmpDir, randomUUID());
    let size = 0;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      try {
        if (data instanceof Uint8Array) {
          await writeAll(fh, data);
          size = data.length;
        } else {
          for await (const chunk of data) {
            const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            await writeAll(fh, buf);
            size += buf.length;
          }
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const dir = dirname(path);
      let created: string | undefined;
      try {
        created = await mkdir(dir, { recursive: true });
      } catch (e) {
        // A blob already holds a name this key needs as a directory ('a' against 'a/b').
        if (isErrno(e, 'EEXIST', 'ENOTDIR')) throw new StoreError(`blob key collides with a blob: ${key}`, 'ALREADY_EXISTS');
        throw e;
      }
      try {
        await link(tmp, path);
      } catch (e) {
        if (isErrno(e, 'EEXIST', 'ENOTDIR', 'EISDIR')) throw new StoreError(`blob exists: ${key}`, 'ALREADY_EXISTS');
        throw e;
      }
      // Make the new name durable: its directory, and every directory mkdir just created.
      const last = created === undefined ? dir : dirname(created);
      for (let d = dir; d.length >= last.length && d.startsWith(this.root); d = dirname(d)) await fsyncDir(d);
    } finally {
      await unlink(tmp).catch(() => {});
    }
    return { size };
  }

  /** Opens a blob for reading; NOT_FOUND when it does not exist. */
  private openFd(key: string, path: string): number {
    try {
      return openSync(path, 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw notFound(key);
      throw e;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(key);
    checkRange(range);
    const fd = this.openFd(key, path);
    let sync = true;
    try {
      const size = fstatSync(fd).size;
      const start = Math.min(range?.start ?? 0, size);
      const end = Math.min(range?.end ?? size, size);
      const buf = Buffer.allocUnsafe(end - start);
      if (buf.length <= this.syncReadBytes) {
        const n = readFullySync(fd, buf, start);
        return n === buf.length ? buf : buf.subarray(0, n);
      }
      sync = false;
      return await (async () => {
        try {
          let off = 0;
          while (off < buf.length) {
            const n = await readAsync(fd, buf, off, buf.length - off, start + off);
            if (n === 0) break;
            off += n;
          }
          return off === buf.length ? buf : buf.subarray(0, off);
        } finally {
          closeQuietly(fd);
        }
      })();
    } finally {
      if (sync) closeSync(fd);
    }
  }

  /**
   * The blob (or a range of it) as a stream of chunks of at most 64 KiB. The file is opened on
   * the first read (a missing blob errors the stream with NOT_FOUND). What remains of a small
   * blob is read synchronously in one chunk; bigger ones chunk by chunk through the thread pool.
   */
  stream(key: string, range?: ByteRange): Readable {
    const path = this.pathOf(key);
    checkRange(range);
    const syncMax = this.syncReadBytes;
    const openFd = (): number => this.openFd(key, path);
    const UNOPENED = -1;
    const CLOSED = -2;
    let fd = UNOPENED;
    let pos = 0;
    let end = 0;
    let reading = false;
    let closeWhenSettled = -1;
    const settled = (): void => {
      reading = false;
      if (closeWhenSettled >= 0) {
        closeQuietly(closeWhenSettled);
        closeWhenSettled = -1;
      }
    };
    return new Readable({
      highWaterMark: CHUNK,
      read(this: Readable) {
        if (reading || fd === CLOSED) return;
        if (fd === UNOPENED) {
          try {
            fd = openFd();
            const size = fstatSync(fd).size;
            pos = Math.min(range?.start ?? 0, size);
            end = Math.min(range?.end ?? size, size);
          } catch (e) {
            this.destroy(e as Error);
            return;
          }
        }
        if (pos >= end) {
          this.push(null);
          return;
        }
        const left = end - pos;
        if (left <= syncMax) {
          // The rest in one synchronous read, and the descriptor closed at once (an
          // asynchronous close was a thread-pool round trip per message).
          const buf = Buffer.allocUnsafe(left);
          let n: number;
          try {
            n = readFullySync(fd, buf, pos);
          } catch (e) {
            this.destroy(e as Error);
            return;
          } finally {
            const f = fd;
            fd = CLOSED;
            closeSync(f);
          }
          pos = end;
          if (n > 0) this.push(n === buf.length ? buf : buf.subarray(0, n));
          this.push(null);
          return;
        }
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
        reading = true;
        readAsync(fd, buf, 0, buf.length, pos).then(
          (n) => {
            settled();
            if (this.destroyed) return;
            if (n === 0) {
              this.push(null);
              return;
            }
            pos += n;
            this.push(n === buf.length ? buf : buf.subarray(0, n));
          },
          (e: unknown) => {
            settled();
            this.destroy(e as Error);
          },
        );
      },
      destroy(err, cb) {
        if (fd >= 0) {
          const f = fd;
          fd = CLOSED;
          // An asynchronous read may still use the descriptor: close it once that settles.
          if (reading) closeWhenSettled = f;
          else closeQuietly(f);
        }
        cb(err);
      },
    });
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (e) {
      if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
    }
  }

  // ---- synchronous helpers for use inside a metadata transaction ----

  /** The blob's stat, or null when it does not exist. */
  statSync(key: string): Stats | null {
    try {
      return statSync(this.pathOf(key), { throwIfNoEntry: false }) ?? null;
    } catch (e) {
      if (isErrno(e, 'ENOTDIR')) return null;
      throw e;
    }
  }

  /** Deletes a blob; true if it existed. Makes the removal durable too. */
  deleteSync(key: string): boolean {
    const path = this.pathOf(key);
    try {
      unlinkSync(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) return false;
      throw e;
    }
    try {
      const fd = openSync(dirname(path), 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // The blob is gone from this process's view; a lost removal only leaves an orphan.
    }
    return true;
  }

  /** Every stored blob with its modification time. Maintenance only (walks the directory). */
  async *walk(): AsyncGenerator<{ key: string; mtimeMs: number }> {
    const stack: string[] = [this.root];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isErrno(e, 'ENOENT')) continue;
        throw e;
      }
      for (const ent of entries) {
        const p = join(dir, ent.name);
        if (ent.isDirectory()) stack.push(p);
        else if (ent.isFile()) {
          const st = await stat(p).catch(() => null);
          if (st === null) continue;
          const key = p.slice(this.root.length + 1).split(sep).join('/');
          yield { key, mtimeMs: st.mtimeMs };
        }
      }
    }
  }

  /** Removes temp files of puts that never finished (crash) older than the cut-off. */
  async sweepTemp(cutoffMs: number): Promise<number> {
    let n = 0;
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const p = join(this.tmpDir, name);
      const st = await stat(p).catch(() => null);
      if (st !== null && st.isFile() && Math.floor(st.mtimeMs) <= cutoffMs) {
        await unlink(p).catch(() => {});
        n++;
      }
    }
    return n;
  }
}
