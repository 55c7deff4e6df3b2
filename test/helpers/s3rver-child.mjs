// Runs s3rver on 127.0.0.1 (a free port) for test/helpers/aws-local.ts, in a process of its
// own because s3rver makes listing continuation tokens with DES, which Node 17+ only offers
// with --openssl-legacy-provider (the parent starts this file with that flag). Prints
// {"port":N} once listening; exits when its stdin closes (the parent went away) or on SIGTERM.
//   node --openssl-legacy-provider test/helpers/s3rver-child.mjs <directory>
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.argv[2], vhostBuckets: false });
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
const stop = () => server.close().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
