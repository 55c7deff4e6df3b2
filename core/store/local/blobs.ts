// Message blobs as files under <dataDir>/blobs/<key>.
//
// A blob is written to <dataDir>/tmp/, fsynced, then hard-linked to its final name (link fails
// if the name exists, so a blob is never overwritten) and the directory is fsynced: once put()
// resolves, the blob survives a power cut, before any metadata points at it.

import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { StoreError, type BlobStore, type ByteRange } from '../port.js';

const KEY_SEGMENT = /^[A-Za-z0-9._-]+$/;
export const MAX_BLOB_KEY_LENGTH = 1024;
const CHUNK = 64 * 1024;

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

  constructor(dataDir: string) {
    this.root = join(dataDir, 'blobs');
    this.tmpDir = join(dataDir, 'tmp');
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

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(key);
    checkRange(range);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw notFound(key);
      throw e;
    }
    try {
      const { size } = await fh.stat();
      const start = Math.min(range?.start ?? 0, size);
      const end = Math.min(range?.end ?? size, size);
      const buf = Buffer.allocUnsafe(end - start);
      let off = 0;
      while (off < buf.length) {
        const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === buf.length ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  stream(key: string, range?: ByteRange): Readable {
    const path = this.pathOf(key);
    checkRange(range);
    async function* chunks(): AsyncGenerator<Buffer> {
      let fh: FileHandle;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        if (isErrno(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw notFound(key);
        throw e;
      }
      try {
        const { size } = await fh.stat();
        let pos = Math.min(range?.start ?? 0, size);
        const end = Math.min(range?.end ?? size, size);
        while (pos < end) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, end - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    }
    return Readable.from(chunks(), { objectMode: false });
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
