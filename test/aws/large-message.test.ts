// Large messages on the AWS adapter (DynamoDB Local + s3rver): a streamed blob put becomes a
// multipart upload (one PUT when it fits one part; a failed part aborts the upload), and a
// 50 MB APPEND then its full FETCH, through a real server process, keep that process's
// resident memory growth under 64 MB: the literal streams to S3 while it arrives and the
// FETCH streams from S3 to the client.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { createMailbox } from '../../core/admin/mailboxes.js';
import { attachMeter } from '../../core/store/aws/metering.js';
import { AwsStore } from '../../core/store/aws/store.js';
import { localClients, startAwsLocal, type AwsLocal, type AwsSpace } from '../helpers/aws-local.js';
import { startServerProcess } from '../helpers/aws-server-process.js';

let local: AwsLocal;
let space: AwsSpace;
before(async () => {
  local = await startAwsLocal();
  space = await local.createSpace();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = local.dynamodbEndpoint;
  process.env.AWS_ENDPOINT_URL_S3 = local.s3Endpoint;
});
after(async () => {
  await space?.drop().catch(() => undefined);
  await local?.stop();
});

async function* chunksOf(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('streamed blob puts on S3', () => {
  it('one PUT within a part, a multipart upload beyond (ranged reads across part edges), an aborted upload on failure', async () => {
    const { ddb, s3 } = localClients(local.dynamodbEndpoint, local.s3Endpoint);
    const meter = attachMeter({ s3 });
    let failParts = 0;
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if ((context as { commandName?: string }).commandName === 'UploadPartCommand' && failParts > 0) {
          failParts--;
          throw new S3ServiceException({ name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Service Unavailable' });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failParts', priority: 'high' },
    );
    const store = new AwsStore({ names: space.names, bucket: space.bucket, dynamodb: ddb, s3, conditionalPut: false });
    try {
      const small = randomBytes(3 * 1024 * 1024);
      meter.reset();
      assert.deepEqual(await store.blobs.put('acct/small', chunksOf(small, 64 * 1024)), { size: small.length });
      assert.deepEqual(meter.snapshot().s3, { HeadObjectCommand: 1, PutObjectCommand: 1 });
      assert.ok((await store.blobs.get('acct/small')).equals(small));

      const big = randomBytes(21 * 1024 * 1024 + 123); // 8 + 8 + 5 MiB + 123
      meter.reset();
      assert.deepEqual(await store.blobs.put('acct/big', chunksOf(big, 60_000)), { size: big.length });
      assert.deepEqual(meter.snapshot().s3, {
        HeadObjectCommand: 1,
        CreateMultipartUploadCommand: 1,
        UploadPartCommand: 3,
        CompleteMultipartUploadCommand: 1,
      });
      assert.ok((await store.blobs.get('acct/big')).equals(big), 'whole object byte-exact');
      const edge = 8 * 1024 * 1024;
      assert.ok((await store.blobs.get('acct/big', { start: edge - 100, end: edge + 100 })).equals(big.subarray(edge - 100, edge + 100)), 'ranged GET across a part edge');

      failParts = 1;
      meter.reset();
      await assert.rejects(store.blobs.put('acct/failed', chunksOf(big, 60_000)), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE');
      assert.equal(meter.snapshot().s3.AbortMultipartUploadCommand, 1, 'the upload is aborted');
      assert.equal(await store.blobs.head('acct/failed'), null, 'no object');
      assert.ok(await store.blobs.put('acct/failed', chunksOf(big.subarray(0, 9 * 1024 * 1024), 60_000)), 'a retry succeeds');
    } finally {
      await store.close();
      ddb.destroy();
      s3.destroy();
    }
  });
});

async function status(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)![1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** A minimal streaming IMAP client: big literals are sent with backpressure and read without being kept. */
class BigClient {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private n = 0;
  private constructor(private readonly sock: tls.TLSSocket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    sock.on('close', () => this.wake?.());
  }

  static async connect(port: number): Promise<BigClient> {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', () => resolve());
      sock.once('error', reject);
    });
    const c = new BigClient(sock);
    await c.line();
    return c;
  }

  private async more(): Promise<void> {
    if (this.sock.destroyed) throw new Error('connection closed');
    await new Promise<void>((r) => {
      this.wake = r;
      setTimeout(r, 1000);
    });
    this.wake = null;
  }

  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.more();
    }
  }

  /** Reads n octets, handing each piece to fn (nothing is kept). */
  async octets(n: number, fn: (b: Buffer) => void): Promise<void> {
    while (n > 0) {
      if (this.buf.length === 0) await this.more();
      const take = Math.min(n, this.buf.length);
      fn(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      n -= take;
    }
  }

  async write(data: Buffer | string): Promise<void> {
    if (!this.sock.write(data)) await new Promise<void>((r) => this.sock.once('drain', () => r()));
  }

  async cmd(text: string): Promise<{ tagged: string; untagged: string[] }> {
    const tag = `B${++this.n}`;
    await this.write(`${tag} ${text}\r\n`);
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + ' ')) return { tagged: l, untagged };
      untagged.push(l);
    }
  }

  async append(data: Buffer): Promise<string> {
    const tag = `B${++this.n}`;
    await this.write(`${tag} APPEND INBOX {${data.length}}\r\n`);
    const cont = await this.line();
    assert.match(cont, /^\+/, 'continuation');
    for (let i = 0; i < data.length; i += 256 * 1024) await this.write(data.subarray(i, i + 256 * 1024));
    await this.write('\r\n');
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + ' ')) return l;
    }
  }

  /** UID FETCH uid (BODY.PEEK[]): the literal's size and SHA-256, read as it streams. */
  async fetchBody(uid: number): Promise<{ size: number; sha256: string; tagged: string }> {
    const tag = `B${++this.n}`;
    await this.write(`${tag} UID FETCH ${uid} (BODY.PEEK[])\r\n`);
    let size = -1;
    const hash = createHash('sha256');
    for (;;) {
      const l = await this.line();
      if (l.startsWith(tag + ' ')) return { size, sha256: hash.digest('hex'), tagged: l };
      const m = /BODY\[\] \{(\d+)\}$/.exec(l);
      if (m) {
        size = Number(m[1]);
        await this.octets(size, (b) => hash.update(b));
      }
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A message of `size` octets: headers, a short text part and a base64 attachment (CRLF). */
function largeMessage(size: number): Buffer {
  const head = Buffer.from(
    'From: Big Sender <big@example.org>\r\nTo: big@example.test\r\nSubject: 50 MB\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="=big="\r\n\r\n--=big=\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n' +
      '--=big=\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n' +
      'Content-Disposition: attachment; filename="big.bin"\r\n\r\n',
    'latin1',
  );
  const tail = Buffer.from('\r\n--=big=--\r\n', 'latin1');
  const lines = Math.floor((size - head.length - tail.length) / 78);
  const body = Buffer.alloc(lines * 78 + ((size - head.length - tail.length) % 78));
  const b64 = randomBytes(57 * 1024).toString('base64'); // 77,824 chars: reused line material
  for (let i = 0, o = 0; i < lines; i++, o += 78) {
    body.write(b64.substr((i * 76) % (b64.length - 76), 76), o, 'latin1');
    body[o + 76] = 13;
    body[o + 77] = 10;
  }
  body.fill(0x41, lines * 78); // pad to the exact size
  return Buffer.concat([head, body, tail]);
}

describe('a 50 MB APPEND and its full FETCH through a server process on the AWS adapter', () => {
  it('keep the server\'s resident memory growth under 64 MB', async () => {
    const admin = new AwsStore({ names: space.names, bucket: space.bucket, region: local.region, credentials: local.credentials, conditionalPut: false });
    await createMailbox(admin, { address: 'big@example.test', password: 'correct horse battery' });
    const server = await startServerProcess(local, space);
    const pid = server.child.pid!;
    const c = await BigClient.connect(server.ports.imaps);
    try {
      assert.match((await c.cmd('LOGIN big@example.test "correct horse battery"')).tagged, /OK/);
      assert.match((await c.cmd('SELECT INBOX')).tagged, /OK/);
      // Warm-up: the same paths once with 12 MB (streamed, multipart), so code loading and
      // first-use allocations are not counted below.
      const warm = largeMessage(12 * 1024 * 1024);
      const w = await c.append(warm);
      assert.match(w, /OK \[APPENDUID \d+ 1\]/);
      assert.equal((await c.fetchBody(1)).size, warm.length);

      const big = largeMessage(50 * 1024 * 1024);
      const expected = createHash('sha256').update(big).digest('hex');
      await new Promise((r) => setTimeout(r, 500));
      const base = await status(pid);
      // Reset the kernel's peak-RSS mark for the process (Linux 4.0+); otherwise sample.
      let exactPeak = true;
      try {
        await writeFile(`/proc/${pid}/clear_refs`, '5');
      } catch {
        exactPeak = false;
      }
      let sampled = base.rss;
      const sampler = setInterval(() => {
        void status(pid)
          .then((st) => (sampled = Math.max(sampled, st.rss)))
          .catch(() => undefined);
      }, 20);
      const t0 = Date.now();
      const tagged = await c.append(big);
      const tAppend = Date.now() - t0;
      assert.match(tagged, /OK \[APPENDUID \d+ 2\]/, tagged);
      const t1 = Date.now();
      const got = await c.fetchBody(2);
      const tFetch = Date.now() - t1;
      clearInterval(sampler);
      assert.match(got.tagged, /OK/);
      assert.equal(got.size, big.length);
      assert.equal(got.sha256, expected, 'BODY[] is the message byte-exact');
      const end = await status(pid);
      const peak = exactPeak ? Math.max(end.hwm, sampled) : sampled;
      const growth = peak - base.rss;
      const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
      console.log(
        `50 MB APPEND (${tAppend} ms) + full FETCH (${tFetch} ms) on the AWS adapter: server RSS ${mb(base.rss)} MB before, ` +
          `peak ${mb(peak)} MB (${exactPeak ? 'VmHWM' : 'sampled'}), growth ${mb(growth)} MB (limit 64 MB)`,
      );
      assert.ok(growth < 64 * 1024 * 1024, `resident memory grew by ${mb(growth)} MB`);
      // The metadata of the big message came from the stored index (no blob read).
      const env = await c.cmd('UID FETCH 2 (RFC822.SIZE BODYSTRUCTURE)');
      assert.match(env.untagged.join(''), new RegExp(`RFC822\\.SIZE ${big.length}`));
      assert.match(env.untagged.join(''), /"application" "octet-stream" NIL NIL NIL "base64" \d+ NIL \("attachment" \("filename" "big\.bin"\)\)/i);
      await c.cmd('LOGOUT').catch(() => undefined);
    } finally {
      c.close();
      await server.stop();
      await admin.close();
    }
  });
});
