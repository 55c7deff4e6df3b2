// Runs s3rver on 127.0.0.1 (a free port) for test/helpers/aws-local.ts, in a process of its
// own because s3rver makes listing continuation tokens with DES, which Node 17+ only offers
// with --openssl-legacy-provider (the parent starts this file with that flag). Prints
// {"port":N} once listening; exits when its stdin closes (the parent went away) or on SIGTERM.
//   node --openssl-legacy-provider test/helpers/s3rver-child.mjs <directory>
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');

// s3rver 3.7's FilesystemStore.putObject answers a PUT once it has read the body, before the
// file is written (for a Buffer body, at once): a HEAD or GET right after the reply can find
// no object or an empty one, about once in 3,000 PUTs (the 10,000-message bench:aws run
// tripped on it). Same steps, but the answer waits until the file is written and closed.
const FilesystemStore = require('s3rver/lib/stores/filesystem');
FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(objectPath), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const body = Buffer.isBuffer(object.content) ? Readable.from([object.content], { objectMode: false }) : object.content;
  const count = new Transform({
    transform(chunk, encoding, callback) {
      md5.update(chunk, encoding);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  await pipeline(body, count, createWriteStream(objectPath));
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[2], vhostBuckets: false });
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
const stop = () => server.close().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
