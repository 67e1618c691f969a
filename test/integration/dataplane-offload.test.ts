// TUN offloads end to end on real nodes: two tunmesh nodes with offloads carry TCP as 64 KB
// super-packets on v2 fast-path frames; a third node without offloads joins and the mesh keeps
// working (v1 frames toward it, MTU-sized packets; what it sends is merged again by software GRO).
import { expect } from 'chai';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { uniquePrefix, waitFor, pingFrom } from '../helpers/netns.js';
import { sampleValue } from '../helpers/metrics.js';

async function scrape(mesh: MeshLab, i: number): Promise<string> {
  return (await mesh.curl(i, [`${mesh.node(i).url}/metrics`])).body;
}

async function pingPair(mesh: MeshLab, a: number, b: number): Promise<void> {
  const r = await pingFrom(mesh.node(a).ns, mesh.node(b).meshAddress, { count: 3, intervalS: 0.2, timeoutS: 2 });
  expect(r.received, `node${a} -> node${b}\n${r.output}`).to.equal(r.transmitted);
}

describe('data plane: TUN offloads through the fast path', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    // Node 2 starts later, with offloads off: first a mesh of two offload nodes.
    mesh = await MeshLab.create({ tag: uniquePrefix('tmo'), nodes: 3, offload: (i) => (i === 2 ? 'off' : 'on') });
    await mesh.start(0);
    await mesh.start(1);
    await waitFor(async () => (await mesh.status(0)).peers.some((p) => p.state === 'up'), { timeoutMs: 30_000, intervalMs: 250, what: 'node 0 and 1 to mesh' });
  });
  after(async () => mesh?.cleanup());

  it('announces offloads and uses v2 frames between two offload nodes (status)', async () => {
    const s = await mesh.status(0);
    expect(s.offloads).to.include.members(['csum', 'tso4']);
    expect(s.peers).to.have.length(1);
    expect(s.peers[0]?.path).to.equal('fast');
    expect(s.peers[0]?.offload).to.equal(true);
    await pingPair(mesh, 0, 1);
    await pingPair(mesh, 1, 0);
  });

  it('carries 32 MiB of TCP intact both ways as super-packets', async () => {
    const tx0 = sampleValue(await scrape(mesh, 0), 'tunmesh_offload_super_packets_total', 'direction="tx"');
    const there = await mesh.transfer(0, 1, 32 * 1024 * 1024);
    expect(there.intact).to.equal(true);
    const back = await mesh.transfer(1, 0, 32 * 1024 * 1024);
    expect(back.intact).to.equal(true);
    console.log(`      offload path TCP: ${there.mbps.toFixed(0)} / ${back.mbps.toFixed(0)} Mbit/s`);
    // Worker counters reach the main process every 2 s.
    await waitFor(async () => sampleValue(await scrape(mesh, 0), 'tunmesh_offload_super_packets_total', 'direction="tx"') > tx0 + 10, {
      timeoutMs: 10_000,
      intervalMs: 500,
      what: 'super-packets counted as sent by node 0',
    });
    // Node 1's worker reports on its own 2 s tick: wait for it as for node 0's.
    await waitFor(async () => sampleValue(await scrape(mesh, 1), 'tunmesh_offload_super_packets_total', 'direction="rx"') > 10, {
      timeoutMs: 10_000,
      intervalMs: 500,
      what: 'super-packets counted as received by node 1',
    });
    expect(sampleValue(await scrape(mesh, 1), 'tunmesh_dropped_packets_total', 'reason="malformed"')).to.equal(0);
  });

  it('keeps working when a node without offloads joins: v1 frames toward it, TCP intact every way', async () => {
    await mesh.start(2);
    await mesh.waitForFullMesh(30_000);
    const s0 = await mesh.status(0);
    const id2 = (await mesh.status(2)).id;
    const id1 = (await mesh.status(1)).id;
    expect(s0.peers.find((p) => p.id === id2)?.offload).to.equal(undefined);
    expect(s0.peers.find((p) => p.id === id1)?.offload).to.equal(true);
    expect((await mesh.status(2)).offloads).to.equal(undefined);
    // The offload nodes keep taking super-packets from their kernel and cut them in software for
    // the peer that needs MTU-sized packets: TCP from them to node 2 arrives intact below.
    expect((await mesh.status(0)).offloads).to.include('tso4');
    for (const [a, b] of [[0, 2], [2, 0], [1, 2], [0, 1]] as const) await pingPair(mesh, a, b);
    const merged = async (): Promise<number> => sampleValue(await scrape(mesh, 1), 'tunmesh_offload_coalesced_total', 'kind="segments"');
    const mergedBefore = await merged();
    for (const [a, b] of [[0, 2], [2, 1], [0, 1]] as const) {
      const t = await mesh.transfer(a, b, 8 * 1024 * 1024);
      expect(t.intact, `node${a} -> node${b}`).to.equal(true);
    }
    // Node 2 sends plain packets (v1): node 1 merges consecutive segments before its TUN write
    // (software GRO), and the 8 MiB above arrived intact through it.
    const after = await waitFor(async () => ((await merged()) > mergedBefore + 100 ? merged() : undefined), {
      timeoutMs: 10_000,
      intervalMs: 500,
      what: 'node 1 to count segments merged by software GRO',
    });
    const superPackets = sampleValue(await scrape(mesh, 1), 'tunmesh_offload_coalesced_total', 'kind="super_packets"');
    console.log(`      software GRO on node 1: ${after - mergedBefore} segments merged, ${superPackets} super-packets in all`);
    expect(superPackets).to.be.greaterThan(0).and.lessThan(after);
  });

  it('keeps the kernel offloads on, and TCP intact, after the node without them leaves', async () => {
    await mesh.stop(2);
    await waitFor(async () => (await mesh.status(0)).peers.length === 1, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'node 0 to forget node 2',
    });
    expect((await mesh.status(0)).offloads).to.include('tso4');
    const t = await mesh.transfer(0, 1, 8 * 1024 * 1024);
    expect(t.intact).to.equal(true);
  });
});
