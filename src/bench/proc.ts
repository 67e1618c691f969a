// CPU time and memory of processes, from /proc.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards, 0-based here). */
function statFields(stat: string): string[] {
  const close = stat.lastIndexOf(')');
  return stat.slice(close + 2).trim().split(/\s+/);
}

/** utime + stime + cutime + cstime of a /proc/<pid>/stat line, in clock ticks. */
export function cpuTicksOfStat(stat: string): number {
  const f = statFields(stat);
  // after "pid (comm) ": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
  return [11, 12, 13, 14].reduce((a, i) => a + Number(f[i] ?? 0), 0);
}

export function ppidOfStat(stat: string): number {
  return Number(statFields(stat)[1]);
}

function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** The PIDs and all their live descendants. */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat === undefined) continue;
    const ppid = ppidOfStat(stat);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [...roots];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    if (out.includes(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU seconds (user + system, own + reaped children) of the trees under `roots`. */
export function cpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const pid of processTree(roots)) {
    const stat = readStat(pid);
    if (stat !== undefined) ticks += cpuTicksOfStat(stat);
  }
  return ticks / ticksPerSecond();
}

/** A `Name:   123 kB` line of /proc/<pid>/status or smaps_rollup, in bytes (undefined if absent). */
export function kbField(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** A /proc or /sys file's text; undefined when it is missing or unreadable (a process gone, no cgroup). */
export function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** VmRSS of a process in bytes (undefined if it is gone). */
export function rssBytes(pid: number): number | undefined {
  const status = readOptional(`/proc/${pid}/status`);
  return status === undefined ? undefined : kbField(status, 'VmRSS');
}
