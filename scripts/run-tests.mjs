#!/usr/bin/env node
// Runs every test file under test/ through Node's test runner with tsx.
// Node 20 runs zero tests when given no file arguments or a quoted glob, so the files are
// listed here explicitly. Extra arguments are passed through (e.g. a single file).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args : find('test').sort();
if (files.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}
// A hung test file (a server handle left open after a failed hook) must not eat CI's whole
// time budget: each test has a time limit, and the whole run a wall-clock limit.
const TEST_TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS || 10 * 60_000);
const RUN_TIMEOUT_MS = Number(process.env.RUN_TIMEOUT_MS || 45 * 60_000);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files],
  { stdio: 'inherit', detached: true, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
);
const killAll = (signal) => {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
};
const timer = setTimeout(() => {
  console.error(`run-tests: the run exceeded ${RUN_TIMEOUT_MS / 60_000} minutes; stopping it`);
  killAll('SIGKILL');
}, RUN_TIMEOUT_MS);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => killAll(sig));
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  killAll('SIGKILL'); // leftovers of the run (servers a test forgot), never this process
  process.exit(code ?? (signal ? 1 : 1));
});
