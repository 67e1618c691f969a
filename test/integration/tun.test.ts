// The TUN layer against the real kernel: a TUN device in a fresh network namespace, pings
// routed into it, replies written back by Node, queues passed to another process, and the
// errors an operator sees when a privilege or a device is missing.

import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { TunError, openTunDevice } from '../../src/tun/index.js';
import {
  ProcessOutput,
  createBridgeLab,
  execInNetns,
  killPid,
  pingFrom,
  run,
  spawnInNetns,
  tsxArgs,
  uniquePrefix,
  waitFor,
  type Lab,
} from '../helpers/netns.js';

const FIXTURE = 'test/fixtures/tun-echo.ts';
const READY_TIMEOUT_MS = 20_000;

interface Fixture {
  child: ChildProcess;
  out: ProcessOutput;
}

describe('TUN device (real kernel, network namespaces)', function () {
  let lab: Lab;
  let ns: string;

  before(async function () {
    lab = await createBridgeLab(uniquePrefix('tun'), 2);
    ns = lab.nodes[0]!.ns;
  });

  after(async function () {
    await lab?.cleanup();
  });

  /** Starts the fixture in node 0's namespace and waits until its device is configured. */
  async function startEcho(args: string[]): Promise<Fixture> {
    const child = lab.spawn(0, process.execPath, tsxArgs(FIXTURE, 'echo', ...args), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = new ProcessOutput(child);
    await out.waitForLine(/^ready /, { timeoutMs: READY_TIMEOUT_MS, what: 'the fixture to open its TUN device' });
    return { child, out };
  }

  async function stop(f: Fixture): Promise<void> {
    if (f.child.pid !== undefined) killPid(f.child.pid, 'SIGTERM');
    await f.out.waitForExit(5000).catch(() => f.child.pid !== undefined && killPid(f.child.pid));
  }

  async function linkExists(name: string): Promise<boolean> {
    const r = await execInNetns(ns, 'ip', ['-o', 'link', 'show', 'dev', name], { check: false });
    return r.code === 0;
  }

  it('the kernel routes pings into the TUN, Node reads them and the kernel accepts its replies', async function () {
    const f = await startEcho(['--name', 'tme0', '--address', '198.19.7.1/24', '--route', '198.19.0.0/16']);
    try {
      const ping = await pingFrom(ns, '198.19.7.2', { count: 3, timeoutS: 2 });
      expect(ping.received, ping.output).to.equal(3);
      const seen = f.out.lines().filter((l) => /saw icmp-echo-request src=198\.19\.7\.1 dst=198\.19\.7\.2 /.test(l));
      expect(seen, f.out.stdout).to.have.length(3);
    } finally {
      await stop(f);
    }
  });

  it('with offloads, reads carry a virtio_net_hdr and a reply written behind one is accepted', async function () {
    const f = await startEcho(['--name', 'tmo0', '--address', '198.19.6.1/24', '--route', '198.19.0.0/16', '--offload']);
    try {
      // TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 at least (USO too on Linux >= 6.2).
      const offloads = Number((await f.out.waitForLine(/^ready .* vnet=true offloads=(\d+)/, { timeoutMs: 1000 }))[1]);
      expect(offloads & 0x07).to.equal(0x07);
      const ping = await pingFrom(ns, '198.19.6.2', { count: 3, timeoutS: 2 });
      expect(ping.received, ping.output).to.equal(3);
      // A ping is a plain packet: an empty header (no NEEDS_CSUM, gso_type NONE).
      expect(f.out.lines().filter((l) => /read vnet-header flags=0 gso_type=0$/.test(l)).length, f.out.stdout).to.be.at.least(3);
      expect(f.out.lines().filter((l) => /saw icmp-echo-request src=198\.19\.6\.1 dst=198\.19\.6\.2 .*len=84$/.test(l))).to.have.length(3);
    } finally {
      await stop(f);
    }
  });

  it("readNow() hands over, before it returns, the kernel's reply to a packet just written", async function () {
    // The receive path writes a peer's packet and reads at once what the kernel answered within
    // that write (dataplane/tun-batch.ts): here a real echo request to the device's own address.
    const child = lab.spawn(0, process.execPath, tsxArgs(FIXTURE, 'answer', '--name', 'tma0', '--address', '198.19.5.1/24', '--route', '198.19.0.0/16'), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = new ProcessOutput(child);
    const [line] = await out.waitForLine(/^\{.*\}$/, { timeoutMs: READY_TIMEOUT_MS, what: 'the fixture to write a request and read the answer' });
    await out.waitForExit(5000);
    const r = JSON.parse(line) as { written: boolean; withinWrite: string[]; nested: number; idle: number };
    expect(r.written, out.stdout).to.equal(true);
    expect(r.withinWrite, out.stdout).to.deep.equal(['198.19.5.1>198.19.5.2 icmp=0']);
    expect(r.nested, 'a readNow from inside the handler reads nothing').to.equal(0);
    expect(r.idle, 'a readNow with nothing queued hands nothing over').to.equal(0);
  });

  it('routes the whole mesh network into the device, not only the own /24', async function () {
    const f = await startEcho(['--name', 'tme1', '--address', '198.19.8.1/24', '--route', '198.19.0.0/16']);
    try {
      const routes = await execInNetns(ns, 'ip', ['route', 'show', 'dev', 'tme1']);
      expect(routes.stdout).to.match(/^198\.19\.0\.0\/16 .*src 198\.19\.8\.1/m);
      const ping = await pingFrom(ns, '198.19.200.3', { count: 2, timeoutS: 2 });
      expect(ping.received, ping.output).to.equal(2);
      const mtu = await execInNetns(ns, 'ip', ['-o', 'link', 'show', 'dev', 'tme1']);
      expect(mtu.stdout).to.match(/mtu 1400 /);
    } finally {
      await stop(f);
    }
  });

  it('a second queue fd handed to a forked process keeps the device alive and answers alone', async function () {
    const f = await startEcho(['--name', 'tme2', '--address', '198.19.9.1/24', '--queues', '2', '--handoff']);
    try {
      const workerPid = Number((await f.out.waitForLine(/^worker pid=(\d+)/, { timeoutMs: 5000 }))[1]);
      lab.track(workerPid);
      await f.out.waitForLine(/^parent closed all its queue fds/, { timeoutMs: READY_TIMEOUT_MS, what: 'the worker to take over' });
      const ping = await pingFrom(ns, '198.19.9.2', { count: 3, timeoutS: 2 });
      expect(ping.received, ping.output).to.equal(3);
      const workerLines = f.out.lines().filter((l) => l.startsWith('worker saw icmp-echo-request'));
      expect(workerLines, f.out.stdout).to.have.length(3);
      expect(f.out.lines().filter((l) => l.startsWith('queue')), 'the parent read nothing').to.have.length(0);
    } finally {
      await stop(f);
    }
  });

  it('closing every queue removes the device', async function () {
    const f = await startEcho(['--name', 'tme3', '--address', '198.19.10.1/24', '--queues', '3']);
    try {
      expect(await linkExists('tme3')).to.equal(true);
      f.child.stdin!.write('close\n');
      await f.out.waitForLine(/^closed exists=false$/, { timeoutMs: 5000, what: 'the fixture to report the device gone' });
      expect(await linkExists('tme3')).to.equal(false);
    } finally {
      await stop(f);
    }
  });

  it('a reader learns through onError when the device is deleted under it', async function () {
    const f = await startEcho(['--name', 'tme4', '--address', '198.19.11.1/24']);
    try {
      await execInNetns(ns, 'ip', ['link', 'del', 'tme4']);
      const m = await f.out.waitForLine(/^queue0 error code=(\S+) message=(.*)$/, { timeoutMs: 5000, what: 'the queue error' });
      expect(m[1]).to.equal('TUN_IO');
      expect(m[2]).to.match(/device was removed/);
    } finally {
      await stop(f);
    }
  });

  it('a packet longer than the read slot (MTU raised under us) is dropped and counted, not cut short', async function () {
    const f = await startEcho(['--name', 'tme6', '--address', '198.19.12.1/24', '--mtu', '1400']);
    try {
      await execInNetns(ns, 'ip', ['link', 'set', 'dev', 'tme6', 'mtu', '9000']);
      const big = await execInNetns(ns, 'ping', ['-n', '-c', '1', '-W', '1', '-M', 'do', '-s', '3000', '198.19.12.2'], { check: false });
      expect(big.stdout, 'no reply to a truncated packet').to.match(/1 packets transmitted, 0 received/);
      f.child.stdin!.write('stats\n');
      const m = await f.out.waitForLine(/^stats truncated=(\d+)$/, { timeoutMs: 5000 });
      expect(Number(m[1])).to.equal(1);
      const small = await pingFrom(ns, '198.19.12.2', { count: 1 });
      expect(small.received, 'packets within the slot still flow').to.equal(1);
      expect(f.out.lines().filter((l) => /saw icmp-echo-request .* len=3028/.test(l))).to.have.length(0);
    } finally {
      await stop(f);
    }
  });

  it('a name that is taken is refused instead of silently attached to', async function () {
    await execInNetns(ns, 'ip', ['link', 'add', 'tme5', 'type', 'bridge']);
    const r = await execInNetns(ns, process.execPath, tsxArgs(FIXTURE, 'open', '--name', 'tme5'), { timeoutMs: READY_TIMEOUT_MS });
    const outcome = JSON.parse(r.stdout.trim()) as { ok: boolean; code?: string; message?: string };
    expect(outcome.ok).to.equal(false);
    expect(outcome.code).to.equal('TUN_BUSY');
    expect(outcome.message).to.contain('ip link del tme5');
  });

  it('a name longer than 15 bytes is refused before touching the kernel', async function () {
    const err = await openTunDevice({
      name: 'tunmesh-way-too-long',
      queues: 1,
      mtu: 1400,
      addressCidr: '198.19.1.1/24',
      routeCidr: '198.19.0.0/16',
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TunError);
    expect((err as TunError).code).to.equal('TUN_NAME_INVALID');
    expect((err as TunError).message).to.match(/20 bytes long; Linux allows at most 15/);
  });

  describe('without privileges', function () {
    /** Runs the fixture's `open` mode in the namespace under a privilege-dropping wrapper. */
    async function openAs(wrapper: string[]): Promise<{ ok: boolean; code?: string; errno?: number; message?: string }> {
      const r = await execInNetns(ns, wrapper[0]!, [...wrapper.slice(1), process.execPath, ...tsxArgs(FIXTURE, 'open', '--name', 'tmep')], {
        timeoutMs: READY_TIMEOUT_MS,
        check: false,
      });
      expect(r.code, r.stderr).to.equal(0);
      return JSON.parse(r.stdout.trim()) as { ok: boolean; code?: string; errno?: number; message?: string };
    }

    it('root without CAP_NET_ADMIN gets TUN_PERMISSION with the capability hint', async function () {
      const outcome = await openAs(['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--']);
      expect(outcome.ok).to.equal(false);
      expect(outcome.code).to.equal('TUN_PERMISSION');
      expect(outcome.errno).to.equal(1); // EPERM from TUNSETIFF
      expect(outcome.message).to.contain('needs CAP_NET_ADMIN');
      expect(outcome.message).to.contain('--cap-add NET_ADMIN');
    });

    it('an unprivileged user gets TUN_PERMISSION with the capability hint', async function () {
      const outcome = await openAs(['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--']);
      expect(outcome.ok).to.equal(false);
      expect(outcome.code).to.equal('TUN_PERMISSION');
      expect(outcome.message).to.contain('needs CAP_NET_ADMIN');
    });
  });
});

describe('network-namespace lab helpers', function () {
  let lab: Lab | undefined;

  after(async function () {
    await lab?.cleanup();
  });

  it('bridges namespaces so nodes reach each other and nothing else', async function () {
    lab = await createBridgeLab(uniquePrefix('lab'), 3);
    const ping = await pingFrom(lab.nodes[0]!.ns, lab.nodes[2]!.address, { count: 2 });
    expect(ping.ok, ping.output).to.equal(true);
    const routes = await lab.exec(1, 'ip', ['route', 'show', 'default']);
    expect(routes.stdout.trim(), 'no default route').to.equal('');
  });

  it('cleanup kills tracked processes and deletes the namespaces', async function () {
    const l = await createBridgeLab(uniquePrefix('lab'), 1);
    const child = l.spawn(0, 'sleep', ['30']);
    const out = new ProcessOutput(child);
    await l.cleanup();
    await out.waitForExit(5000);
    const list = await run('ip', ['netns', 'list']);
    expect(list.stdout).not.to.contain(l.prefix);
  });

  it('waitFor names what it waited for when time runs out', async function () {
    const err = await waitFor(() => false, { timeoutMs: 100, intervalMs: 20, what: 'the moon to turn blue' }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('timed out after 100 ms waiting for the moon to turn blue');
  });

  it('spawnInNetns runs the command inside the namespace', async function () {
    const l = await createBridgeLab(uniquePrefix('lab'), 1);
    try {
      const child = spawnInNetns(l.nodes[0]!.ns, 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
      l.track(child.pid);
      const out = new ProcessOutput(child);
      await out.waitForExit(5000);
      expect(out.stdout).to.contain('198.18.0.10/24');
    } finally {
      await l.cleanup();
    }
  });
});
