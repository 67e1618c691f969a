// The default worker count on a real node under a real CPU quota: a cgroup made for the test
// (v2 cpu.max, or v1 cpu.cfs_quota_us where the cpu controller is v1, as on this machine kind),
// which the node joins before it starts.
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { DEFAULT_MAX_WORKERS } from '../../src/config/worker-count.js';
import { uniquePrefix, waitFor } from '../helpers/netns.js';

/** A new cgroup limited to `cpus` CPUs, or undefined when this machine does not let us make one. */
function cpuLimitedCgroup(name: string, cpus: number): string | undefined {
  const period = 100_000;
  const attempts: Array<{ dir: string; files: Record<string, string> }> = [
    { dir: '/sys/fs/cgroup', files: { 'cpu.max': `${Math.round(cpus * period)} ${period}` } },
    { dir: '/sys/fs/cgroup/cpu', files: { 'cpu.cfs_period_us': String(period), 'cpu.cfs_quota_us': String(Math.round(cpus * period)) } },
    { dir: '/sys/fs/cgroup/cpu,cpuacct', files: { 'cpu.cfs_period_us': String(period), 'cpu.cfs_quota_us': String(Math.round(cpus * period)) } },
  ];
  for (const { dir, files } of attempts) {
    const probe = Object.keys(files)[0] as string;
    if (!existsSync(join(dir, probe === 'cpu.max' ? 'cgroup.controllers' : probe))) continue;
    const path = join(dir, name);
    try {
      mkdirSync(path);
      for (const [file, value] of Object.entries(files)) writeFileSync(join(path, file), value);
      return path;
    } catch {
      try {
        rmdirSync(path);
      } catch {
        // not made, or not empty: nothing of ours to remove
      }
    }
  }
  return undefined;
}

function children(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

describe('default worker count under a real CPU quota', function () {
  this.timeout(90_000);
  let mesh: MeshLab | undefined;
  let cgroup: string | undefined;

  before(async function () {
    const tag = uniquePrefix('tmc');
    cgroup = cpuLimitedCgroup(tag, 0.5);
    if (cgroup === undefined) {
      console.log('      no writable cgroup CPU controller on this machine: skipped');
      this.skip();
    }
    const limited = cgroup;
    mesh = await MeshLab.create({ tag, nodes: 2, workers: 0, cgroupOf: (i) => (i === 0 ? limited : undefined) });
    await mesh.startAll();
  });

  after(async () => {
    await mesh?.cleanup();
    const dir = cgroup;
    // The node has exited; the kernel empties the cgroup a moment later.
    if (dir) await waitFor(() => (rmdirSync(dir), true), { timeoutMs: 5000, intervalMs: 100, what: `cgroup ${dir} to be removable` }).catch(() => undefined);
  });

  it('forks one worker in a 0.5-CPU cgroup, and min(CPUs, 4) beside it without a quota', async () => {
    const m = mesh as MeshLab;
    const [limited, free] = await Promise.all([m.status(0), m.status(1)]);
    expect(limited.workers).to.equal(1);
    expect(children(m.node(0).process?.child.pid as number)).to.have.length(1);
    const expected = Math.min(availableParallelism(), DEFAULT_MAX_WORKERS);
    expect(free.workers).to.equal(expected);
    expect(children(m.node(1).process?.child.pid as number)).to.have.length(expected);
    expect(m.logTail(0, 20_000)).to.match(/cgroup CPU quota 0\.5 CPUs/);
    console.log(`      0.5-CPU cgroup: ${limited.workers} worker; unconstrained on ${availableParallelism()} CPUs: ${free.workers}`);
  });
});
