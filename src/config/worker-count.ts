// How many data-plane workers a node forks when the config leaves it to us (workers: 0): what
// the container may use, not what the host has. Node 20's os.availableParallelism() (libuv 1.46)
// counts the CPUs of our affinity mask but not the cgroup CPU quota, so in a pod limited to one
// CPU on a 32-CPU host it says 32; each worker costs tens of MB, so that pod would fork itself
// out of its memory limit at start.
//
//   workers = clamp(ceil(min(affinity CPUs, cgroup quota CPUs)), 1, DEFAULT_MAX_WORKERS)
//
// The quota is the smallest along our cgroup's path up to the mount root (a parent's limit
// binds its children): cgroup v2 `cpu.max` ("max 100000" or "QUOTA PERIOD"), cgroup v1
// `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1: none). Files that are missing or unreadable
// mean "no limit known here", never an error: the affinity count still applies.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** Above this a default stops growing (a configured count may go higher). */
export const DEFAULT_MAX_WORKERS = 4;

export interface WorkerCount {
  count: number;
  /** For the start-up log line: where the figure came from. */
  why: string;
}

export interface CpuQuota {
  cpus: number;
  /** The file the binding limit was read from. */
  source: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

interface Mount {
  /** The cgroup path the mount shows at its mount point (not "/" in some containers). */
  root: string;
  point: string;
  fstype: string;
  superOptions: string[];
}

/** /proc/self/mountinfo: "id parent maj:min root point opts [optional...] - fstype source superopts". */
function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const f = left.split(' ');
    const [fstype, , superopts] = right.split(' ');
    if (f[3] === undefined || f[4] === undefined || fstype === undefined) continue;
    mounts.push({ root: unescapeMount(f[3]), point: unescapeMount(f[4]), fstype, superOptions: (superopts ?? '').split(',') });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** /proc/self/cgroup lines "id:controllers:path"; v2 is "0::path". */
function cgroupPath(text: string, version: 1 | 2): string | undefined {
  for (const line of text.split('\n')) {
    const [id, controllers, ...rest] = line.split(':');
    if (id === undefined || controllers === undefined || rest.length === 0) continue;
    const path = rest.join(':');
    if (version === 2 && id === '0' && controllers === '') return path;
    if (version === 1 && controllers.split(',').includes('cpu')) return path;
  }
  return undefined;
}

/** Folders from our cgroup up to the mount point, ours first. */
function cgroupDirs(mount: Mount, path: string): string[] {
  const relative = path.startsWith(mount.root) ? path.slice(mount.root.length) : path;
  const parts = relative.split('/').filter((p) => p !== '');
  const dirs: string[] = [];
  for (let n = parts.length; n >= 0; n--) dirs.push(join(mount.point, ...parts.slice(0, n)));
  return dirs;
}

function v2Limit(dir: string): CpuQuota | undefined {
  const source = join(dir, 'cpu.max');
  const [quota, period] = (read(source) ?? '').trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  return quota !== 'max' && q > 0 && p > 0 ? { cpus: q / p, source } : undefined;
}

function v1Limit(dir: string): CpuQuota | undefined {
  const source = join(dir, 'cpu.cfs_quota_us');
  const q = Number((read(source) ?? '').trim());
  const p = Number((read(join(dir, 'cpu.cfs_period_us')) ?? '').trim());
  return q > 0 && p > 0 ? { cpus: q / p, source } : undefined;
}

function tightest(limits: Array<CpuQuota | undefined>): CpuQuota | undefined {
  return limits.reduce<CpuQuota | undefined>((best, l) => (l !== undefined && (best === undefined || l.cpus < best.cpus) ? l : best), undefined);
}

/** The CPU quota of the cgroup this process runs in (v2, else v1); undefined when there is none. */
export function cgroupCpuQuota(procSelf = '/proc/self'): CpuQuota | undefined {
  const cgroups = read(join(procSelf, 'cgroup')) ?? '';
  const mounts = parseMountinfo(read(join(procSelf, 'mountinfo')) ?? '');
  const limits: Array<CpuQuota | undefined> = [];
  const v2Path = cgroupPath(cgroups, 2);
  const v2Mount = mounts.find((m) => m.fstype === 'cgroup2');
  if (v2Path !== undefined && v2Mount) limits.push(...cgroupDirs(v2Mount, v2Path).map(v2Limit));
  const v1Path = cgroupPath(cgroups, 1);
  const v1Mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes('cpu'));
  if (v1Path !== undefined && v1Mount) limits.push(...cgroupDirs(v1Mount, v1Path).map(v1Limit));
  return tightest(limits);
}

/** The default count, from the affinity mask and the quota, with the reason for the log. */
export function defaultWorkerCount(affinityCpus = availableParallelism(), quota = cgroupCpuQuota()): WorkerCount {
  const usable = quota === undefined ? affinityCpus : Math.min(affinityCpus, quota.cpus);
  const count = Math.max(1, Math.min(DEFAULT_MAX_WORKERS, Math.ceil(usable)));
  const quotaText = quota === undefined ? 'no cgroup CPU quota' : `cgroup CPU quota ${round(quota.cpus)} CPUs (${quota.source})`;
  const capped = Math.ceil(usable) > DEFAULT_MAX_WORKERS ? `, capped at ${DEFAULT_MAX_WORKERS} (set tunmesh.process.workers for more)` : '';
  return { count, why: `${affinityCpus} CPUs in the affinity mask, ${quotaText}${capped}` };
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}
