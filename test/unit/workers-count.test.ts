// The default worker count from fake cgroup trees: /proc/self/{cgroup,mountinfo} and the cgroup
// files laid out in a temporary folder, as a container would show them.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cgroupCpuQuota, defaultWorkerCount, DEFAULT_MAX_WORKERS } from '../../src/config/worker-count.js';

let root: string;

function put(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

/** A fake /proc/self for a v2 or v1 mount at `point` (inside the temp folder). */
function proc(opts: { cgroup: string; mounts: Array<{ root: string; point: string; fstype: string; superopts: string }> }): string {
  put('proc/self/cgroup', opts.cgroup);
  put(
    'proc/self/mountinfo',
    opts.mounts.map((m, i) => `${30 + i} 1 0:${26 + i} ${m.root} ${join(root, m.point)} rw,nosuid - ${m.fstype} cgroup ${m.superopts}`).join('\n') + '\n',
  );
  return join(root, 'proc/self');
}

const v2 = (point = 'sys/fs/cgroup', mountRoot = '/') => ({ root: mountRoot, point, fstype: 'cgroup2', superopts: 'rw,nsdelegate' });
const v1cpu = (point = 'sys/fs/cgroup/cpu,cpuacct', mountRoot = '/') => ({ root: mountRoot, point, fstype: 'cgroup', superopts: 'rw,cpu,cpuacct' });

describe('default worker count (cgroup CPU quota and affinity)', () => {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'tm-cgroup-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('cgroup v2: rounds a 1.5 CPU quota up to 2 workers', () => {
    const self = proc({ cgroup: '0::/kubepods/pod1/ctr\n', mounts: [v2()] });
    put('sys/fs/cgroup/kubepods/pod1/ctr/cpu.max', '150000 100000\n');
    const quota = cgroupCpuQuota(self);
    expect(quota?.cpus).to.equal(1.5);
    expect(defaultWorkerCount(32, quota).count).to.equal(2);
  });

  it('cgroup v2: a parent\'s tighter limit binds ("max" below it)', () => {
    const self = proc({ cgroup: '0::/kubepods/pod1/ctr\n', mounts: [v2()] });
    put('sys/fs/cgroup/kubepods/pod1/ctr/cpu.max', 'max 100000\n');
    put('sys/fs/cgroup/kubepods/pod1/cpu.max', '50000 100000\n');
    const quota = cgroupCpuQuota(self);
    expect(quota?.cpus).to.equal(0.5);
    expect(quota?.source).to.match(/pod1\/cpu\.max$/);
    const workers = defaultWorkerCount(32, quota);
    expect(workers.count).to.equal(1);
    expect(workers.why).to.match(/32 CPUs in the affinity mask, cgroup CPU quota 0.5 CPUs/);
  });

  it('cgroup v2 in a cgroup namespace: the mount shows our cgroup at its root', () => {
    const self = proc({ cgroup: '0::/\n', mounts: [v2()] });
    put('sys/fs/cgroup/cpu.max', '300000 100000\n');
    expect(defaultWorkerCount(32, cgroupCpuQuota(self)).count).to.equal(3);
  });

  it('cgroup v1: reads cpu.cfs_quota_us / cpu.cfs_period_us below a mount whose root is our pod', () => {
    const self = proc({ cgroup: '12:cpu,cpuacct:/kubepods/pod1/ctr\n11:memory:/kubepods/pod1/ctr\n', mounts: [v1cpu('sys/fs/cgroup/cpu,cpuacct', '/kubepods/pod1')] });
    put('sys/fs/cgroup/cpu,cpuacct/ctr/cpu.cfs_quota_us', '250000\n');
    put('sys/fs/cgroup/cpu,cpuacct/ctr/cpu.cfs_period_us', '100000\n');
    expect(cgroupCpuQuota(self)?.cpus).to.equal(2.5);
    expect(defaultWorkerCount(32, cgroupCpuQuota(self)).count).to.equal(3);
  });

  it('no quota (-1, "max", or no files): the affinity mask decides, capped at the default maximum', () => {
    const self = proc({ cgroup: '12:cpu,cpuacct:/\n0::/\n', mounts: [v1cpu(), v2('sys/fs/cgroup/unified')] });
    put('sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us', '-1\n');
    put('sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us', '100000\n');
    expect(cgroupCpuQuota(self)).to.equal(undefined);
    expect(cgroupCpuQuota(join(root, 'no/such/proc'))).to.equal(undefined);
    const big = defaultWorkerCount(32, undefined);
    expect(big.count).to.equal(DEFAULT_MAX_WORKERS);
    expect(big.why).to.match(/no cgroup CPU quota, capped at 4/);
    expect(defaultWorkerCount(2, undefined).count).to.equal(2);
  });

  it('takes the affinity mask when it is tighter than the quota, and never less than one worker', () => {
    expect(defaultWorkerCount(2, { cpus: 3, source: 'cpu.max' }).count).to.equal(2);
    expect(defaultWorkerCount(8, { cpus: 0.1, source: 'cpu.max' }).count).to.equal(1);
  });
});
