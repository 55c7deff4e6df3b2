// Delivery of a message that arrives in pieces (a large IMAP APPEND literal), with bounded
// memory whatever its size: the same steps as deliverMessage (deliver.ts), spread over time.
//
//   write(chunk) ... end()   octets as they arrive from the client
//     -> line ends normalised to CRLF on the fly (a CR is carried across chunk edges)
//     -> a spool file (temporary, 0600) that the MIME indexer reads back at the end
//     -> the blob store, as a stream: on S3 a multipart upload whose parts go out while later
//        octets are still arriving (aws/blobs.ts), locally a file
//   done()                   { blobKey, size, index } once the blob is stored and indexed
//   claim() / release()      the caller appends it (metadata second, as always) or lets go:
//                            an unclaimed blob is deleted (and the orphan sweep would find it)
//
// Memory: what write() has accepted and the pipeline has not yet taken (`backlog`: the caller
// pauses its input above `highWaterMark` and resumes on `onDrain`), the blob stream's small
// queue, and the blob store's part buffers. The spool file is read back in windows.

import { randomUUID } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../mime/file-source.js';
import { indexMessage } from '../mime/indexer.js';
import type { MessageIndex } from '../mime/types.js';
import { MAX_MESSAGE_SIZE, MessageTooLargeError, newBlobKey } from './deliver.js';
import type { Store } from './port.js';

export interface StagedMessage {
  blobKey: string;
  /** Size after line-end normalisation. */
  size: number;
  index: MessageIndex;
}

export interface StageOptions {
  /** Where the spool file goes. Default: the OS temp directory (TMPDIR). */
  tmpDir?: string;
  /** Largest message after normalisation. Default MAX_MESSAGE_SIZE. */
  maxSize?: number;
  /** Backlog above which the writer should pause. Default 1 MiB. */
  highWaterMark?: number;
}

/** Octets queued towards the blob store before the pipeline waits for it. */
const BLOB_QUEUE_BYTES = 1024 * 1024;

class AbortedError extends Error {
  constructor() {
    super('message upload abandoned');
    this.name = 'AbortedError';
  }
}

/** A bounded hand-over of chunks from the pipeline to blobs.put() (an async iterable). */
class Channel {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private failure: unknown = null;
  private readerWake: (() => void) | null = null;
  private writerWake: (() => void) | null = null;

  async push(chunk: Buffer): Promise<void> {
    while (this.bytes >= BLOB_QUEUE_BYTES && this.failure === null) await new Promise<void>((r) => (this.writerWake = r));
    if (this.failure !== null) throw this.failure;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.wakeReader();
  }

  end(): void {
    this.ended = true;
    this.wakeReader();
  }

  /** The reader's next read throws `e` (the put fails and cleans up after itself). */
  fail(e: unknown): void {
    if (this.failure === null) this.failure = e;
    this.wakeReader();
    this.wakeWriter();
  }

  /** The reader stopped early (the put failed): pushes fail from now on. */
  readerGone(e: unknown): void {
    this.fail(e);
  }

  private wakeReader(): void {
    const w = this.readerWake;
    this.readerWake = null;
    w?.();
  }

  private wakeWriter(): void {
    const w = this.writerWake;
    this.writerWake = null;
    w?.();
  }

  async *read(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const c = this.chunks.shift();
      if (c !== undefined) {
        this.bytes -= c.length;
        this.wakeWriter();
        yield c;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.readerWake = r));
    }
  }
}

export class MessageStage {
  readonly blobKey: string;
  readonly highWaterMark: number;
  private readonly maxSize: number;
  private readonly spoolPath: string;
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private aborted = false;
  /** The pipeline stopped (stored, failed or abandoned): later octets are dropped. */
  private finished = false;
  private wake: (() => void) | null = null;
  private drainWaiters: Array<() => void> = [];
  private lastCR = false;
  private size = 0;
  private blobStored = false;
  private claimed = false;
  private released = false;
  private readonly result: Promise<StagedMessage>;

  constructor(
    private readonly store: Store,
    accountId: string,
    opts: StageOptions = {},
  ) {
    this.blobKey = newBlobKey(accountId);
    this.maxSize = opts.maxSize ?? MAX_MESSAGE_SIZE;
    this.highWaterMark = opts.highWaterMark ?? 1024 * 1024;
    this.spoolPath = join(opts.tmpDir ?? tmpdir(), `mail-stage-${randomUUID()}`);
    this.result = this.run();
    this.result.catch(() => undefined); // observed through done()
  }

  /** Octets accepted by write() and not yet taken by the pipeline. */
  get backlog(): number {
    return this.queued;
  }

  write(chunk: Buffer): void {
    if (this.ended || this.aborted || this.finished || chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.poke();
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  /** Abandons the message: the pipeline stops, the blob (if any) and the spool are removed. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.queue = [];
    this.queued = 0;
    this.poke();
    this.flushDrain();
    void this.release();
  }

  /** Calls fn once the backlog is at or below half the high-water mark (at once if it is). */
  onDrain(fn: () => void): void {
    if (this.queued <= this.highWaterMark / 2 || this.aborted) fn();
    else this.drainWaiters.push(fn);
  }

  /** The stored and indexed message (rejects with MessageTooLargeError, a StoreError...). */
  done(): Promise<StagedMessage> {
    return this.result;
  }

  /** done(), and the caller now owns the blob: release() will not delete it. */
  async claim(): Promise<StagedMessage> {
    const r = await this.result;
    this.claimed = true;
    return r;
  }

  /** Lets go of an unclaimed message: its blob is deleted once stored. Idempotent. */
  async release(): Promise<void> {
    if (this.claimed || this.released) return;
    this.released = true;
    if (!this.ended) {
      this.aborted = true;
      this.poke();
    }
    await this.result.catch(() => undefined);
    if (this.blobStored && !this.claimed) await this.store.blobs.delete(this.blobKey).catch(() => undefined);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private flushDrain(): void {
    const list = this.drainWaiters;
    this.drainWaiters = [];
    for (const fn of list) fn();
  }

  /** Bare LF -> CRLF, with the previous chunk's last octet remembered. */
  private normalize(chunk: Buffer): Buffer {
    let bare = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
      if (i === 0 ? !this.lastCR : chunk[i - 1] !== 13) bare++;
    }
    let out = chunk;
    if (bare > 0) {
      out = Buffer.allocUnsafe(chunk.length + bare);
      let o = 0;
      let from = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
        if (i === 0 ? !this.lastCR : chunk[i - 1] !== 13) {
          o += chunk.copy(out, o, from, i);
          out[o++] = 13;
          from = i;
        }
      }
      chunk.copy(out, o, from);
    }
    this.lastCR = chunk[chunk.length - 1] === 13;
    return out;
  }

  private async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.aborted) throw new AbortedError();
      const c = this.queue.shift();
      if (c !== undefined) {
        this.queued -= c.length;
        if (this.queued <= this.highWaterMark / 2 && this.drainWaiters.length > 0) this.flushDrain();
        return c;
      }
      if (this.ended) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private async run(): Promise<StagedMessage> {
    let fh: FileHandle | null = null;
    const channel = new Channel();
    let put: Promise<{ size: number }> | null = null;
    try {
      fh = await open(this.spoolPath, 'wx+', 0o600);
      put = this.store.blobs.put(this.blobKey, channel.read());
      put.then(
        () => (this.blobStored = true),
        (e) => channel.readerGone(e),
      );
      for (;;) {
        const chunk = await this.next();
        if (chunk === null) break;
        const out = this.normalize(chunk);
        this.size += out.length;
        if (this.size > this.maxSize) throw new MessageTooLargeError(this.size);
        let off = 0;
        while (off < out.length) off += (await fh.write(out, off, out.length - off, this.size - out.length + off)).bytesWritten;
        await channel.push(out);
      }
      channel.end();
      await put;
      if (this.aborted) throw new AbortedError();
      // Indexed from the spool file, read back in windows (the message is never all in memory).
      const index = indexMessage(new FileSource(fh.fd, this.size));
      return { blobKey: this.blobKey, size: this.size, index };
    } catch (e) {
      channel.fail(e);
      if (put) await put.catch(() => undefined);
      if (this.blobStored) {
        await this.store.blobs.delete(this.blobKey).catch(() => undefined);
        this.blobStored = false;
      }
      throw e;
    } finally {
      this.finished = true;
      this.queue = [];
      this.queued = 0;
      this.flushDrain();
      if (fh) await fh.close().catch(() => undefined);
      await unlink(this.spoolPath).catch(() => undefined);
    }
  }
}
