// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by file, and the
// inclusive time of functions, so a profile of the server under the bench can be read
// without a GUI.
//   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [--window results.json phase-substring]
// With --window, only the samples taken while that phase ran on our server count (the bench
// records each phase's CLOCK_MONOTONIC window when run with --cpu-prof; V8 stamps samples
// with the same clock).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const argv = process.argv.slice(2);
const wi = argv.indexOf('--window');
const windowArg = wi >= 0 ? argv.splice(wi, 3).slice(1) : null;
const file = argv[0];
const top = Number(argv[1] ?? 30);
if (!file) {
  console.error('usage: profile-summary <file.cpuprofile> [top]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
let from = -Infinity;
let to = Infinity;
if (windowArg) {
  const res = JSON.parse(readFileSync(windowArg[0]!, 'utf8')) as { profileWindows?: Array<{ phase: string; startUs: number; endUs: number }> };
  const w = (res.profileWindows ?? []).filter((x) => x.phase.includes(windowArg[1]!));
  if (w.length === 0) throw new Error(`no phase matching '${windowArg[1]}' in ${windowArg[0]}`);
  from = Math.min(...w.map((x) => x.startUs));
  to = Math.max(...w.map((x) => x.endUs));
  console.log(`window: ${w.map((x) => x.phase).join(', ')} (${((to - from) / 1000).toFixed(0)} ms)`);
}
const selfUs = new Map<number, number>();
let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i] ?? 0;
  if (t < from || t > to) continue;
  selfUs.set(prof.samples[i]!, (selfUs.get(prof.samples[i]!) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const short = (url: string) => url.replace(/^file:\/\//, '').replace(/.*\/work\/main\//, '').replace(/.*node_modules\//, 'nm/');
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const selfBy = new Map<string, number>();
const fileBy = new Map<string, number>();
const inclBy = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + us);
  const f = short(n.callFrame.url) || `(${n.callFrame.functionName})`;
  fileBy.set(f, (fileBy.get(f) ?? 0) + us);
  // Inclusive: every distinct function on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    inclBy.set(l, (inclBy.get(l) ?? 0) + us);
  }
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(v / 1000).toFixed(0).padStart(8)} ms ${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
show('self time by function', selfBy);
show('self time by file', fileBy);
show('inclusive time by function', inclBy);
