// A ByteSource over a file, for indexing messages too big to hold in memory (a large APPEND
// is spooled to a temporary file while it streams to the blob store, then indexed from it).
// Reads go through one window of at most WINDOW octets (synchronous positional reads), so
// the memory used is the window plus what the indexer keeps (header blocks, the index), and
// every byte is read a bounded number of times per nesting level, as from a Buffer.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ByteSource } from './indexer.js';

const WINDOW = 1024 * 1024;

export class FileSource implements ByteSource {
  readonly length: number;
  private win: Buffer;
  private winStart = 0;
  private winLen = 0;

  /** `fd` stays owned by the caller; `length` defaults to the file's size. */
  constructor(
    private readonly fd: number,
    length?: number,
    window = WINDOW,
  ) {
    this.length = length ?? fstatSync(fd).size;
    this.win = Buffer.allocUnsafe(Math.min(window, Math.max(1, this.length)));
  }

  /** Opens a file, runs fn on it and closes it. */
  static with<T>(path: string, fn: (src: FileSource) => T, window = WINDOW): T {
    const fd = openSync(path, 'r');
    try {
      return fn(new FileSource(fd, undefined, window));
    } finally {
      closeSync(fd);
    }
  }

  /** A view of the octets from `pos`, as many as the window holds (at least `min` if the file has them). */
  private view(pos: number, min: number): Buffer {
    const cachedEnd = this.winStart + this.winLen;
    if (pos >= this.winStart && pos < cachedEnd && (cachedEnd - pos >= min || cachedEnd === this.length)) {
      return this.win.subarray(pos - this.winStart, this.winLen);
    }
    if (this.win.length < min) this.win = Buffer.allocUnsafe(min);
    const want = Math.min(this.win.length, this.length - pos);
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, this.win, got, want - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    if (got < want) throw Object.assign(new Error('file shorter than expected'), { code: 'ESHORT', syscall: 'read' });
    this.winStart = pos;
    this.winLen = got;
    return this.win.subarray(0, got);
  }

  byte(i: number): number {
    if (i < 0 || i >= this.length) return undefined as unknown as number;
    return this.view(i, 1)[0]!;
  }

  indexOf(needle: Buffer, from: number, end: number): number {
    const stop = Math.min(end, this.length);
    const n = needle.length;
    let pos = Math.max(0, from);
    // Windows overlap by n - 1 octets, so a match across a window edge is found.
    while (pos + n <= stop) {
      const v = this.view(pos, Math.min(2 * n, stop - pos));
      const len = Math.min(v.length, stop - pos);
      const i = (len === v.length ? v : v.subarray(0, len)).indexOf(needle);
      if (i >= 0) return pos + i;
      if (pos + len >= stop) return -1;
      pos += len - n + 1;
    }
    return -1;
  }

  latin1(start: number, end: number): string {
    if (end <= start) return '';
    if (end - start <= this.win.length) {
      const v = this.view(start, end - start);
      return v.toString('latin1', 0, end - start);
    }
    const buf = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < buf.length) {
      const r = readSync(this.fd, buf, got, buf.length - got, start + got);
      if (r === 0) throw Object.assign(new Error('file shorter than expected'), { code: 'ESHORT', syscall: 'read' });
      got += r;
    }
    return buf.toString('latin1');
  }

  countLf(start: number, end: number): number {
    const stop = Math.min(end, this.length);
    let n = 0;
    let pos = Math.max(0, start);
    while (pos < stop) {
      const v = this.view(pos, 1);
      const len = Math.min(v.length, stop - pos);
      const w = len === v.length ? v : v.subarray(0, len);
      for (let i = w.indexOf(10); i >= 0; i = w.indexOf(10, i + 1)) n++;
      pos += len;
    }
    return n;
  }
}
