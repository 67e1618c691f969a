// Interop with the real original Tun Mesh v0.7 (Ruby, unmodified; built from ../shared/original
// by src/lab/original.ts), never an imitation: mixed meshes, bootstrap chains across kinds,
// session rotation between kinds, restarts of either kind, and a rolling replacement.
import { expect } from 'chai';
import { MeshLab, type NodeKind, type PairPing } from '../../src/lab/mesh-lab.js';
import { ensureOriginalBuilt } from '../../src/lab/original.js';
import type { PingStreamResult } from '../../src/lab/ping-stream.js';
import { uniquePrefix, waitFor } from '../helpers/netns.js';
import { seriesShapes } from '../helpers/metrics.js';

const ORIGINAL_START_MS = 60_000;

/** Every directed pair of the running nodes answers `count` pings; polls until so (bounded). */
async function waitForPings(mesh: MeshLab, timeoutMs: number): Promise<PairPing[]> {
  let last: PairPing[] = [];
  await waitFor(
    async () => {
      last = await mesh.pingMatrix(2);
      return last.every((p) => p.ok);
    },
    { timeoutMs, intervalMs: 500, what: 'every directed pair to ping' },
  ).catch((err: unknown) => {
    const failing = last.filter((p) => !p.ok).map((p) => `${p.from}->${p.to}`);
    throw new Error(`${String(err)}; failing pairs: ${failing.join(' ')}`);
  });
  return last;
}

/** Loss before the end of a stream (ping -w leaves the last one or two echoes in flight). */
const lostBeforeEnd = (r: PingStreamResult): number => r.lost - r.trailingUnanswered;

const kindsOf = (mesh: MeshLab): NodeKind[] => mesh.nodes.map((n) => n.kind);

before(async function () {
  // Builds the original once (apt-get installs Ruby on a new machine: allow for it).
  this.timeout(600_000);
  await ensureOriginalBuilt();
});

describe('interop with the real original: a mixed mesh of two original and two tunmesh nodes', function () {
  this.timeout(240_000);
  let mesh: MeshLab;
  let convergedMs = 0;

  before(async () => {
    // Bootstrap chains cross kinds both ways: tunmesh 1 -> original 0, original 2 -> tunmesh 1,
    // tunmesh 3 -> original 2; the rest is learned from registrations.
    const kinds: NodeKind[] = ['original', 'tunmesh', 'original', 'tunmesh'];
    mesh = await MeshLab.create({ tag: uniquePrefix('tmo'), nodes: 4, legacyInterop: true, kind: (i) => kinds[i]!, bootstrapOf: (i) => (i === 0 ? [] : [i - 1]) });
    const started = Date.now();
    await mesh.startAll();
    await waitForPings(mesh, 60_000);
    convergedMs = Date.now() - started;
  });
  after(async () => mesh?.cleanup());

  it('every directed pair pings, across kinds', async () => {
    const pairs = await mesh.pingMatrix(3);
    const lost = pairs.filter((p) => p.lost > 0).map((p) => `${p.from}->${p.to} lost ${p.lost}`);
    console.log(`      all 12 directed pairs answered ${convergedMs} ms after the four nodes were started; ${lost.length ? lost.join(', ') : 'no echo lost'}`);
    expect(pairs).to.have.length(12);
    // Every pair answers. The original now and then loses one echo when all 12 pairs ping at
    // once, between two originals as well (and counts it nowhere), so a single loss on a pair
    // with an original is reported, not failed; tunmesh to tunmesh loses nothing.
    for (const p of pairs) {
      const bothTunmesh = mesh.node(p.from).kind === 'tunmesh' && mesh.node(p.to).kind === 'tunmesh';
      expect(p.received, `${p.from} -> ${p.to}: ${p.output}`).to.be.at.least(bothTunmesh ? p.transmitted : 1);
    }
  });

  it('carries TCP intact in both directions between kinds', async () => {
    const toOriginal = await mesh.transfer(1, 0, 1 << 20);
    const fromOriginal = await mesh.transfer(2, 3, 1 << 20);
    console.log(`      tunmesh -> original ${toOriginal.mbps.toFixed(1)} Mbit/s, original -> tunmesh ${fromOriginal.mbps.toFixed(1)} Mbit/s`);
    expect(toOriginal.intact).to.equal(true);
    expect(fromOriginal.intact).to.equal(true);
  });

  it('answers /health 200 everywhere, tunmesh with the original\'s keys', async () => {
    const bodies = await Promise.all(mesh.nodes.map((n) => mesh.curl(n.index, [`${n.url}/health`])));
    bodies.forEach((b, i) => expect(b.status, `node ${i}: ${b.body}`).to.equal(200));
    const original = JSON.parse(bodies[0]!.body) as Record<string, Record<string, boolean>>;
    const ours = JSON.parse(bodies[1]!.body) as Record<string, Record<string, boolean>>;
    for (const [component, fields] of Object.entries(original)) {
      expect(ours, component).to.have.property(component);
      for (const field of Object.keys(fields)) expect(ours[component], `${component}.${field}`).to.have.property(field, true);
    }
  });

  it('shows the JSON path toward originals and the fast path between tunmesh nodes', async () => {
    const ids = await Promise.all(mesh.nodes.map((n) => mesh.nodeId(n.index)));
    for (const i of [1, 3]) {
      const peers = (await mesh.status(i)).peers;
      for (const [j, kind] of kindsOf(mesh).entries()) {
        if (j === i) continue;
        const peer = peers.find((p) => p.id === ids[j]);
        expect(peer?.state, `node ${i} -> node ${j}`).to.equal('up');
        expect(peer?.path, `node ${i} -> node ${j} (${kind})`).to.equal(kind === 'original' ? 'legacy' : 'fast');
      }
    }
  });

  it('exports every metric name and label set the original exports', async () => {
    const original = await mesh.curl(0, [`${mesh.node(0).url}/metrics`]);
    const ours = await mesh.curl(1, [`${mesh.node(1).url}/metrics`]);
    expect(original.status).to.equal(200);
    expect(ours.status).to.equal(200);
    const theirs = seriesShapes(original.body);
    const mine = seriesShapes(ours.body);
    // Traffic has crossed node 0 both ways, so its per-peer series exist (enable_node_packet_metrics).
    expect([...theirs].some((s) => s.startsWith('remote_rx_packets_by_source_node'))).to.equal(true);
    const missing = [...theirs].filter((s) => !mine.has(s));
    expect(missing, 'series shapes the original exports and tunmesh does not').to.deep.equal([]);
  });

  it('grooms an original restarted with a new id and meshes with the new one', async () => {
    const oldId = await mesh.nodeId(2);
    await mesh.stop(2, 'SIGKILL');
    await mesh.start(2, ORIGINAL_START_MS);
    const newId = await mesh.nodeId(2);
    expect(newId).to.not.equal(oldId);
    await waitFor(
      async () => {
        const views = await Promise.all([1, 3].map((i) => mesh.status(i)));
        return views.every((s) => s.peers.some((p) => p.id === newId && p.state === 'up') && !s.peers.some((p) => p.id === oldId));
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'tunmesh nodes to replace the restarted original' },
    );
    await waitForPings(mesh, 30_000);
  });

  it('is met again by the originals when a tunmesh node restarts with a new id', async () => {
    const oldId = await mesh.nodeId(1);
    await mesh.stop(1, 'SIGKILL');
    await mesh.start(1);
    const newId = await mesh.nodeId(1);
    expect(newId).to.not.equal(oldId);
    await waitFor(
      async () => {
        const known = await Promise.all([0, 2].map((i) => mesh.knownPeers(i)));
        return known.every((ids) => ids.includes(newId));
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the originals to register the restarted tunmesh node' },
    );
    await waitForPings(mesh, 30_000);
  });
});

describe('interop with the real original: sessions rotating between kinds under a 10 ms ping stream', function () {
  this.timeout(240_000);
  // Every link rotates its session every ~6 s (max age 8 s - validity 2 s), in both kinds.
  const timing = { sessionMaxAge: 8, validityWindow: 2, earlyValidityWindow: 2 };
  const streamS = 20;
  let mesh: MeshLab;

  before(async () => {
    const kinds: NodeKind[] = ['original', 'tunmesh', 'original', 'tunmesh'];
    mesh = await MeshLab.create({ tag: uniquePrefix('tmq'), nodes: 4, legacyInterop: true, timing, kind: (i) => kinds[i]!, bootstrapOf: (i) => (i === 0 ? [] : [i - 1]) });
    await mesh.startAll();
    await waitForPings(mesh, 60_000);
  });
  after(async () => mesh?.cleanup());

  it('loses no echo across rotations, tunmesh -> original and original -> tunmesh', async () => {
    const streams = [
      { label: 'tunmesh 1 -> original 0', stream: mesh.pingStream(1, mesh.node(0).meshAddress, { durationS: streamS }) },
      { label: 'original 2 -> tunmesh 3', stream: mesh.pingStream(2, mesh.node(3).meshAddress, { durationS: streamS }) },
    ];
    const results = await Promise.all(streams.map(async (s) => ({ label: s.label, r: await s.stream.result() })));
    const rotations = await Promise.all([1, 3].map(async (i) => (await mesh.curl(i, [`${mesh.node(i).url}/metrics`])).body));
    const rotated = rotations.map((m) => Number(/^tunmesh_session_events_total\{[^}]*event="rotated"[^}]*\} (\d+)/m.exec(m)?.[1] ?? 0));
    for (const { label, r } of results) {
      console.log(`      ${label}: ${r.transmitted} echoes, ${lostBeforeEnd(r)} lost, longest silence ${r.longestGap.seconds.toFixed(3)} s`);
    }
    console.log(`      sessions rotated by the tunmesh nodes meanwhile: ${rotated.join(', ')}`);
    expect(Math.min(...rotated)).to.be.at.least(2 * Math.floor(streamS / 6) - 1);
    for (const { label, r } of results) {
      expect(r.transmitted, label).to.be.above(streamS * 20);
      expect(lostBeforeEnd(r), `${label}: ${r.summary}`).to.equal(0);
    }
  });
});

describe('interop with the real original: rolling replacement of three original nodes', function () {
  this.timeout(300_000);
  let mesh: MeshLab;

  before(async () => {
    // Each node lists the others as bootstrap URLs (docs/operations.md, "Migrating from the
    // original"): a replacement then registers itself at start, instead of waiting for the
    // originals to groom its predecessor (stale_threshold) and bootstrap again.
    const others = (i: number): number[] => [0, 1, 2].filter((j) => j !== i);
    mesh = await MeshLab.create({ tag: uniquePrefix('tmw'), nodes: 3, legacyInterop: true, kind: () => 'original', bootstrapOf: others });
    await mesh.startAll();
    await waitForPings(mesh, 60_000);
  });
  after(async () => mesh?.cleanup());

  it('swaps each node for tunmesh under pings and a TCP transfer, ending on the fast path', async () => {
    // A paced transfer that spans all three swaps, from node 1 to node 2 (both swapped under it).
    const rate = 32 * 1024;
    const transfer = await mesh.startTransfer(1, 2, rate * 45, { rate });
    const perSwap: string[] = [];
    for (const k of [0, 1, 2]) {
      const others = [0, 1, 2].filter((i) => i !== k);
      const streams = others.map((i) => mesh.pingStream(i, mesh.node(k).meshAddress, { durationS: 12 }));
      await new Promise((r) => setTimeout(r, 1000));
      const started = Date.now();
      await mesh.swap(k, 'tunmesh');
      await waitForPings(mesh, 45_000);
      const healedMs = Date.now() - started;
      const results = await Promise.all(streams.map((s) => s.result()));
      const lost = results.map(lostBeforeEnd);
      const silence = Math.max(...results.map((r) => r.longestGap.seconds));
      perSwap.push(`node ${k}: ${lost.join(' + ')} echoes lost of ${results.map((r) => r.transmitted).join(' + ')}, longest silence ${silence.toFixed(2)} s, all pairs pinging ${healedMs} ms after the swap began`);
    }
    const moved = await transfer.done();
    for (const line of perSwap) console.log(`      ${line}`);
    console.log(`      TCP ${moved.bytes} bytes across the three swaps in ${moved.seconds.toFixed(1)} s: ${moved.intact ? 'intact' : 'CORRUPT'}`);
    expect(moved.intact).to.equal(true);
    expect(kindsOf(mesh)).to.deep.equal(['tunmesh', 'tunmesh', 'tunmesh']);
    await mesh.waitForFullMesh(30_000);
    for (const i of [0, 1, 2]) {
      for (const p of (await mesh.status(i)).peers) expect(p.path, `node ${i} -> ${p.id}`).to.equal('fast');
    }
  });
});

describe('interop with the real original, legacy PKCS#1 interop disabled (the default)', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmj'), nodes: 2, kind: (i) => (i === 0 ? 'original' : 'tunmesh') });
    await mesh.startAll();
  });
  after(async () => mesh?.cleanup());

  it('registers with it but never hands it, or accepts from it, a PKCS#1 v1.5 wrapped secret', async () => {
    const originalId = await mesh.nodeId(0);
    await waitFor(async () => (await mesh.status(1)).peers.some((p) => p.id === originalId), { timeoutMs: 30_000, intervalMs: 250, what: 'the original to register' });
    const ping = await mesh.pingMatrix(2);
    expect(ping.every((p) => p.received === 0)).to.equal(true);
    const peer = (await mesh.status(1)).peers.find((p) => p.id === originalId);
    expect(peer?.state).to.not.equal('up');
    expect(mesh.logTail(1, 200_000)).to.match(/legacy_pkcs1_interop/);
  });
});
