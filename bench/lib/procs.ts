// Process accounting for the server under test, from /proc (Linux):
//   - the process tree under a root pid (Dovecot forks a process per connection);
//   - memory as PSS (proportional set size: shared pages split between their users), summed
//     over the tree, from /proc/<pid>/smaps_rollup;
//   - CPU time of the tree: utime + stime of live processes plus cutime + cstime (children
//     already reaped), so a Dovecot process that served a command and exited still counts.

import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ on Linux

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] = state (field 3); ppid = field 4; utime..cstime = fields 14..17.
  const ppid = Number(rest[1]);
  const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
  return { pid, ppid, ticks };
}

/** The root and all its descendants that are alive now. */
export function processTree(root: number): Stat[] {
  const all: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const s = readStat(Number(name));
    if (s) all.push(s);
  }
  const children = new Map<number, Stat[]>();
  for (const s of all) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const rootStat = all.find((s) => s.pid === root);
  if (!rootStat) return [];
  const out: Stat[] = [rootStat];
  for (let i = 0; i < out.length; i++) for (const ch of children.get(out[i]!.pid) ?? []) out.push(ch);
  return out;
}

/** CPU seconds used by the tree so far (live processes plus reaped children). */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const s of processTree(root)) ticks += s.ticks;
  return ticks / CLK_TCK;
}

export interface TreeMemory {
  /** Sum of PSS over the tree, in KiB. */
  pssKiB: number;
  /** Sum of RSS, in KiB (for reference). */
  rssKiB: number;
  processes: number;
}

export function treeMemory(root: number): TreeMemory {
  let pss = 0;
  let rss = 0;
  let n = 0;
  for (const s of processTree(root)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${s.pid}/smaps_rollup`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    const p = /^Pss:\s+(\d+) kB/m.exec(text);
    const r = /^Rss:\s+(\d+) kB/m.exec(text);
    if (p) pss += Number(p[1]);
    if (r) rss += Number(r[1]);
    n++;
  }
  return { pssKiB: pss, rssKiB: rss, processes: n };
}

export function loadAverage(): number[] {
  try {
    return readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}
