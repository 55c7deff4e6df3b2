#!/usr/bin/env node
// Bundles the protocol service (protocol-tasks/main.ts) for the Fargate image: one ESM entry,
// code split so that each store adapter is a chunk of its own, loaded only when chosen
// (core/store/open.ts). The SQLite binding stays out of the bundle: the image runs STORE=aws
// and never loads it. Used by protocol-tasks/Dockerfile and by the tests.
//
//   node scripts/build-task.mjs [outdir]     (default dist/task)
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

const outdir = process.argv[2] || 'dist/task';
await rm(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: 'protocol-tasks/main.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  outdir,
  outExtension: { '.js': '.mjs' },
  external: ['better-sqlite3'],
  sourcemap: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.mjs'));
const total = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`bundled ${outputs.length} files, ${(total / 1024 / 1024).toFixed(1)} MiB, into ${outdir}`);
