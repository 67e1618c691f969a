// The data plane on real nodes: pings and bulk TCP through 3-node meshes in namespaces, over
// the fast path, over the original's JSON path, and over a mesh that mixes the two.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { uniquePrefix, waitFor, pingFrom, killPid } from '../helpers/netns.js';
import { sampleValue } from '../helpers/metrics.js';

async function pingAllPairs(mesh: MeshLab): Promise<void> {
  for (const a of mesh.nodes) {
    for (const b of mesh.nodes) {
      if (a === b) continue;
      const r = await pingFrom(a.ns, b.meshAddress, { count: 3, intervalS: 0.2, timeoutS: 2 });
      expect(r.lost, `node${a.index} -> node${b.index}\n${r.output}`).to.equal(0);
    }
  }
}


describe('data plane: 3-node mesh over the fast path', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmf'), nodes: 3 });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup());

  it('pings every pair both ways', async () => {
    expect((await mesh.status(0)).peers.every((p) => p.path === 'fast')).to.equal(true);
    await pingAllPairs(mesh);
  });

  it('reports every peer\'s data channel as up in the status and metrics', async () => {
    await waitFor(
      async () => {
        const s = await mesh.status(0);
        return s.peers.length === 2 && s.peers.every((p) => p.channelsUp === s.workers);
      },
      { timeoutMs: 10_000, intervalMs: 250, what: 'node 0 to report its channels up (workers report every 2 s)' },
    );
    const scrape = (await mesh.curl(0, [`${mesh.node(0).url}/metrics`])).body;
    expect(sampleValue(scrape, 'tunmesh_peer_channels_up', `peer="${(await mesh.status(1)).id}"`)).to.equal(1);
  });

  it("a scrape asks the workers for their counters then and there: packets just sent are in it", async () => {
    const peer = `peer="${(await mesh.status(1)).id}"`;
    const sent = async (): Promise<number> => sampleValue((await mesh.curl(0, [`${mesh.node(0).url}/metrics`])).body, 'tunmesh_peer_tx_packets_total', peer);
    const before = await sent();
    const r = await pingFrom(mesh.node(0).ns, mesh.node(1).meshAddress, { count: 5, intervalS: 0.05, timeoutS: 2 });
    expect(r.received, r.output).to.equal(5);
    // No wait: the workers' series are collected for this scrape (they used to be pushed every 2 s).
    expect(await sent()).to.be.at.least(before + 5);
  });

  it('carries 8 MiB of TCP intact to the far end', async () => {
    const t = await mesh.transfer(0, 2, 8 * 1024 * 1024);
    expect(t.intact).to.equal(true);
    console.log(`      fast path TCP: ${t.mbps.toFixed(0)} Mbit/s`);
    // tunmesh status shows it as a send rate toward node 2 (averaged over ~10 s).
    const to2 = (await mesh.status(2)).id;
    const rate = await waitFor(async () => (await mesh.status(0)).peers.find((p) => p.id === to2 && p.txBytesPerSecond > 100_000)?.txBytesPerSecond, {
      timeoutMs: 10_000,
      intervalMs: 250,
      what: 'a send rate toward node 2 in the status',
    });
    console.log(`      status send rate toward node 2: ${(rate / 1e6).toFixed(2)} MB/s over the window`);
  });

  it('drops a packet to an unknown mesh address with a no_route counter and stays healthy', async () => {
    const before = sampleValue((await mesh.curl(0, [`${mesh.node(0).url}/metrics`])).body, 'tunmesh_dropped_packets_total', 'reason="no_route"');
    const r = await pingFrom(mesh.node(0).ns, '198.19.0.99', { count: 3, intervalS: 0.2, timeoutS: 1 });
    expect(r.received).to.equal(0);
    await waitFor(
      async () => sampleValue((await mesh.curl(0, [`${mesh.node(0).url}/metrics`])).body, 'tunmesh_dropped_packets_total', 'reason="no_route"') >= before + 3,
      { timeoutMs: 10_000, intervalMs: 500, what: 'no_route drops to be counted' },
    );
    expect((await mesh.curl(1, [`${mesh.node(0).url}/health`])).status).to.equal(200);
    // IPv6 is off on the device: no kernel IPv6 chatter reaches the data plane.
    expect(sampleValue((await mesh.curl(0, [`${mesh.node(0).url}/metrics`])).body, 'tunmesh_dropped_packets_total', 'reason="unsupported"')).to.equal(0);
  });

  it('replaces a worker killed with SIGKILL and traffic resumes', async () => {
    const nodePid = mesh.node(1).process?.child.pid as number;
    const workers = () => execFileSync('pgrep', ['-P', String(nodePid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    const [victim] = workers();
    expect(victim, 'a worker process').to.be.a('number');
    killPid(victim as number, 'SIGKILL');
    await waitFor(() => workers().some((p) => p !== victim) || undefined, { timeoutMs: 10_000, what: 'a replacement worker' });
    await waitFor(async () => (await pingFrom(mesh.node(1).ns, mesh.node(0).meshAddress, { count: 2, intervalS: 0.2, timeoutS: 1 })).ok || undefined, {
      timeoutMs: 15_000,
      intervalMs: 200,
      what: 'pings from node1 after its worker restarted',
    });
    await pingAllPairs(mesh);
  });

  it('keeps traffic between two nodes flowing while a third is killed and restarted', async () => {
    const ping = pingFrom(mesh.node(0).ns, mesh.node(1).meshAddress, { count: 40, intervalS: 0.1, timeoutS: 2 });
    await new Promise((r) => setTimeout(r, 500));
    await mesh.stop(2, 'SIGKILL');
    await mesh.start(2);
    const r = await ping;
    expect(r.lost, r.output).to.equal(0);
    await mesh.waitForFullMesh(20_000);
    await pingAllPairs(mesh);
  });
});

describe('data plane: the original JSON path, forced by config', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmo'), nodes: 3, fastPath: () => false });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup());

  it('pings every pair both ways over per-packet JSON POSTs', async () => {
    expect((await mesh.status(0)).peers.every((p) => p.path === 'legacy')).to.equal(true);
    await pingAllPairs(mesh);
  });

  it('carries 2 MiB of TCP intact', async () => {
    const t = await mesh.transfer(1, 0, 2 * 1024 * 1024);
    expect(t.intact).to.equal(true);
    console.log(`      original path TCP: ${t.mbps.toFixed(1)} Mbit/s`);
  });
});

describe('data plane: a mesh mixing fast-path and original-path nodes', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmx'), nodes: 3, fastPath: (i) => i !== 2 });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup());

  it('uses the fast path where both ends offer it and the original path otherwise', async () => {
    const s0 = await mesh.status(0);
    const s2 = await mesh.status(2);
    const id1 = (await mesh.status(1)).id;
    expect(s0.peers.find((p) => p.id === id1)?.path).to.equal('fast');
    expect(s0.peers.find((p) => p.id === s2.id)?.path).to.equal('legacy');
    expect(s2.peers.every((p) => p.path === 'legacy')).to.equal(true);
  });

  it('reaches every node from every node', async () => {
    await pingAllPairs(mesh);
  });
});

describe('data plane: broadcast (a known gap of the original)', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmb'), nodes: 3, enableBroadcast: true });
    for (const n of mesh.nodes) await mesh.exec(n.index, 'sysctl', ['-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0']);
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup());

  for (const [what, address] of [
    ['the mesh network broadcast 198.19.255.255', '198.19.255.255'],
    ['the local subnet broadcast 198.19.0.255', '198.19.0.255'],
  ] as const) {
    it(`delivers a ping to ${what} to every other node`, async () => {
      const r = await mesh.exec(0, 'ping', ['-n', '-b', '-c', '3', '-i', '0.3', '-w', '4', address], 15_000);
      for (const peer of [mesh.node(1), mesh.node(2)]) {
        expect(r.stdout, `a reply from ${peer.meshAddress}`).to.contain(`from ${peer.meshAddress}`);
      }
    });
  }
});

describe('data plane: a 9000-byte tunnel MTU on every node', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmu'), nodes: 2, mtu: 9000 });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup());

  it('carries 8000-byte pings unfragmented (DF set) both ways, and TCP intact', async () => {
    for (const [from, to] of [[0, 1], [1, 0]] as const) {
      const r = await mesh.exec(from, 'ping', ['-n', '-c', '3', '-i', '0.2', '-s', '8000', '-M', 'do', '-w', '5', mesh.node(to).meshAddress]);
      expect(r.stdout, r.stdout + r.stderr).to.match(/3 received/);
    }
    const t = await mesh.transfer(0, 1, 8 * 1024 * 1024);
    expect(t.intact).to.equal(true);
    console.log(`      TCP at MTU 9000: ${t.mbps.toFixed(0)} Mbit/s`);
  });
});
