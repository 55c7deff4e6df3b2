// Message blobs as S3 objects under BUCKET.blobPrefix + key.
//
// Immutable: put() refuses a key that exists. On AWS that is one conditional PUT
// (If-None-Match: *, S3's conditional writes). s3rver, the local stand-in, ignores that header,
// so the local set-up turns `conditionalPut` off and put() does HEAD then PUT instead: racy
// between two writers of one key, which only matters for a caller that reuses keys (the
// delivery path makes each key from a random UUID). Never use that mode against AWS.
//
// Reads: whole objects or ranged GETs (Range: bytes=a-b) for body sections; stream() hands
// the response body through without holding it. list() walks the prefix page by page with
// StartAfter (not continuation tokens) and is for the orphan sweep only, never a protocol path.
//
// Streamed puts (a large APPEND arriving from a client) are sent as they arrive: up to one
// part (multipartPartSize, default 8 MiB) is gathered; a stream that ends within it becomes
// one PUT, a longer one becomes a multipart upload whose parts go out while later octets are
// still arriving (one part in flight while the next fills, so memory stays at two parts
// whatever the message size). Completion is conditional (If-None-Match: *) like a PUT; a
// failed or abandoned upload is aborted, and the bucket's lifecycle rule aborts any that a
// crash left behind (tables.ts BUCKET.abortIncompleteMultipartDays).

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { StoreError, type BlobStore, type ByteRange } from '../port.js';
import { validateBlobKey } from '../local/blobs.js';
import { awsErrorName, httpStatus, mapAwsError } from './errors.js';
import { BUCKET } from './tables.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Default BUCKET.blobPrefix ('blobs/'). */
  prefix?: string;
  /** If-None-Match: * on PUT (AWS). false: HEAD then PUT (s3rver; local only). Default true. */
  conditionalPut?: boolean;
  /** Largest blob put() accepts, in octets. Default 80 MiB. */
  maxBlobSize?: number;
  /** Part size of multipart uploads of streamed puts (S3's minimum is 5 MiB). Default 8 MiB. */
  multipartPartSize?: number;
}

/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

function checkRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StoreError('invalid byte range', 'INVALID');
  }
}

function isNotFound(e: unknown): boolean {
  const n = awsErrorName(e);
  return n === 'NoSuchKey' || n === 'NotFound' || httpStatus(e) === 404;
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly conditionalPut: boolean;
  private readonly maxBlobSize: number;
  readonly partSize: number;

  constructor(
    private readonly s3: S3Client,
    opts: S3BlobStoreOptions,
  ) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? BUCKET.blobPrefix;
    this.conditionalPut = opts.conditionalPut ?? true;
    this.maxBlobSize = opts.maxBlobSize ?? 80 * 1024 * 1024;
    this.partSize = Math.max(MIN_PART_SIZE, opts.multipartPartSize ?? 8 * 1024 * 1024);
  }

  objectKey(key: string): string {
    return this.prefix + validateBlobKey(key);
  }

  async put(key: string, data: Buffer | AsyncIterable<Buffer>): Promise<{ size: number }> {
    const Key = this.objectKey(key);
    if (!(data instanceof Uint8Array)) return this.putStream(key, data);
    const body = Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (body.length > this.maxBlobSize) throw new StoreError(`blob over ${this.maxBlobSize} octets`, 'LIMIT');
    try {
      if (!this.conditionalPut && (await this.head(key)) !== null) throw new StoreError(`blob exists: ${key}`, 'ALREADY_EXISTS');
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: body,
          ContentLength: body.length,
          ContentType: 'application/octet-stream',
          ...(this.conditionalPut ? { IfNoneMatch: '*' } : {}),
        }),
      );
    } catch (e) {
      if (awsErrorName(e) === 'PreconditionFailed' || httpStatus(e) === 412) throw new StoreError(`blob exists: ${key}`, 'ALREADY_EXISTS');
      throw mapAwsError(e, 'blob put');
    }
    return { size: body.length };
  }

  /** A streamed put: one PUT if it ends within one part, else a multipart upload as it arrives. */
  private async putStream(key: string, data: AsyncIterable<Buffer>): Promise<{ size: number }> {
    const Key = this.objectKey(key);
    const partSize = this.partSize;
    let part: Buffer = Buffer.allocUnsafe(partSize);
    let fill = 0;
    let size = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    let inFlight: Promise<void> | null = null;
    /** The buffer of the part in flight: two buffers take turns, so no part becomes garbage. */
    let sending: Buffer | null = null;
    const sendPart = (body: Buffer): Promise<void> => {
      const PartNumber = parts.length + 1;
      const entry: CompletedPart = { PartNumber };
      parts.push(entry);
      return this.s3
        .send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber, Body: body, ContentLength: body.length }))
        .then((r) => {
          entry.ETag = r.ETag;
        });
    };
    try {
      for await (const chunk of data) {
        let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        size += buf.length;
        if (size > this.maxBlobSize) throw new StoreError(`blob over ${this.maxBlobSize} octets`, 'LIMIT');
        while (buf.length > 0) {
          const n = Math.min(buf.length, partSize - fill);
          buf.copy(part, fill, 0, n);
          fill += n;
          buf = buf.subarray(n);
          if (fill < partSize) break;
          // A full part: start the upload if this is the first, then send it while the next fills.
          if (uploadId === undefined) {
            if (!this.conditionalPut && (await this.head(key)) !== null) throw new StoreError(`blob exists: ${key}`, 'ALREADY_EXISTS');
            const r = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ContentType: 'application/octet-stream' }));
            uploadId = r.UploadId;
          }
          if (inFlight) await inFlight; // the previous part is sent: its buffer is free again
          inFlight = sendPart(part);
          inFlight.catch(() => undefined); // awaited below; an early failure must not go unhandled
          const free = sending ?? Buffer.allocUnsafe(partSize);
          sending = part;
          part = free;
          fill = 0;
        }
      }
      if (uploadId === undefined) return await this.put(key, part.subarray(0, fill));
      if (inFlight) await inFlight;
      if (fill > 0) await sendPart(part.subarray(0, fill));
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...(this.conditionalPut ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return { size };
    } catch (e) {
      if (uploadId !== undefined) {
        if (inFlight) await inFlight.catch(() => undefined);
        await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId })).catch(() => undefined);
      }
      if (awsErrorName(e) === 'PreconditionFailed' || httpStatus(e) === 412) throw new StoreError(`blob exists: ${key}`, 'ALREADY_EXISTS');
      throw mapAwsError(e, 'blob put');
    }
  }

  /** The blob's size, or null when it does not exist. */
  async head(key: string): Promise<{ size: number; lastModified: number } | null> {
    const Key = this.objectKey(key);
    try {
      const r = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { size: r.ContentLength ?? 0, lastModified: r.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapAwsError(e, 'blob head');
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    const Key = this.objectKey(key);
    checkRange(range);
    if (range !== undefined && range.end === range.start) {
      if ((await this.head(key)) === null) throw new StoreError(`blob not found: ${key}`, 'NOT_FOUND');
      return Buffer.alloc(0);
    }
    try {
      const r = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
      );
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) throw new StoreError(`blob not found: ${key}`, 'NOT_FOUND');
      // A range that starts at or past the end: the local adapter answers empty, so do we.
      if (awsErrorName(e) === 'InvalidRange' || httpStatus(e) === 416) return Buffer.alloc(0);
      throw mapAwsError(e, 'blob get');
    }
  }

  stream(key: string, range?: ByteRange): Readable {
    const Key = this.objectKey(key);
    checkRange(range);
    const self = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      if (range !== undefined && range.end === range.start) {
        if ((await self.head(key)) === null) throw new StoreError(`blob not found: ${key}`, 'NOT_FOUND');
        return;
      }
      let body: AsyncIterable<Uint8Array>;
      try {
        const r = await self.s3.send(
          new GetObjectCommand({ Bucket: self.bucket, Key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
        );
        body = r.Body as unknown as AsyncIterable<Uint8Array>;
      } catch (e) {
        if (isNotFound(e)) throw new StoreError(`blob not found: ${key}`, 'NOT_FOUND');
        if (awsErrorName(e) === 'InvalidRange' || httpStatus(e) === 416) return;
        throw mapAwsError(e, 'blob get');
      }
      try {
        for await (const c of body) yield Buffer.isBuffer(c) ? c : Buffer.from(c);
      } catch (e) {
        throw mapAwsError(e, 'blob read');
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (e) {
      if (isNotFound(e)) return;
      throw mapAwsError(e, 'blob delete');
    }
  }

  /** Every blob under the prefix with its last-modified time. Maintenance only (lists the bucket). */
  async *list(): AsyncGenerator<{ key: string; lastModified: number }> {
    let startAfter: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1000, ...(startAfter ? { StartAfter: startAfter } : {}) }),
        );
      } catch (e) {
        throw mapAwsError(e, 'blob listing');
      }
      const contents = page.Contents ?? [];
      for (const o of contents) {
        if (o.Key === undefined || !o.Key.startsWith(this.prefix)) continue;
        yield { key: o.Key.slice(this.prefix.length), lastModified: o.LastModified?.getTime() ?? 0 };
      }
      if (!page.IsTruncated || contents.length === 0) return;
      startAfter = contents[contents.length - 1]!.Key;
    }
  }
}
