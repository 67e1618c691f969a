// A Deployment's mesh: one config file for every node (no per-node values: the advertise URL
// and status socket come from each node's environment, as the pod IP and the pod's own files),
// discovery through one DNS name with a record per node, as a Kubernetes headless Service gives
// it (a real DNS server, dnsmasq, in the lab, records changed while the mesh runs), and mesh
// addresses the nodes pick themselves (tunmesh.networking.ipv4.allocate).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { MESH6_NETWORK, MeshLab } from '../../src/lab/mesh-lab.js';
import { labNodeUrl } from '../../src/lab/node-config.js';
import { addressChoice, allocationSeed, derivedIpv6 } from '../../src/config/allocate.js';
import { underlayAddress, uniquePrefix, waitFor } from '../helpers/netns.js';
import { DnsServer } from '../helpers/dns.js';

const NAME = 'mesh.tunmesh.test';
/** What ipv6.allocate makes of an IPv4 address in the lab's IPv6 network. */
const deriveFrom = (ipv4: string): string => (derivedIpv6(MESH6_NETWORK, ipv4).split('/')[0] ?? '');
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

describe('bootstrap from a DNS name with a record per node (dnsmasq)', function () {
  this.timeout(240_000);
  let mesh: MeshLab;
  let dns: DnsServer;
  const addresses = (indexes: number[]): string[] => indexes.map((i) => mesh.lab.nodes[i]!.address);

  /** Every listed node knows exactly the others (nothing half-joined, nobody gone still listed). */
  const exactly = async (indexes: number[]): Promise<boolean> => {
    const ids = await Promise.all(indexes.map((i) => mesh.nodeId(i)));
    const peers = await Promise.all(indexes.map((i) => mesh.knownPeers(i)));
    return peers.every((p, k) => p.length === ids.length - 1 && ids.every((id, j) => j === k || p.includes(id)));
  };

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmd'), nodes: 10, bootstrapUrlsOf: () => [`https://${NAME}:4567`], allocate: true, sharedConfig: true, ipv6: () => true });
    dns = await DnsServer.start(mesh.lab, { [NAME]: [] });
  });
  after(async () => {
    await dns?.cleanup();
    await mesh?.cleanup();
  });

  it('6 nodes with one config, whose only bootstrap URL is the name, form a full mesh with distinct addresses', async () => {
    dns.set(NAME, addresses(range(0, 6)));
    expect(new Set(mesh.nodes.map((n) => n.configPath)).size).to.equal(1);
    await Promise.all(range(0, 6).map((i) => mesh.start(i)));
    const ms = await mesh.waitForFullMesh(60_000, range(0, 6));
    console.log(`      6 nodes: full mesh ${ms} ms after the last one started`);
    await mesh.waitForDataPlane(30_000, range(0, 6));
    await mesh.refreshAddresses();
    const own = range(0, 6).map((i) => mesh.node(i).meshAddress);
    expect(new Set(own).size, `addresses ${own.join(' ')}`).to.equal(6);
    for (const address of own) expect(address).to.match(/^198\.19\.\d+\.\d+$/);
    const pings = await mesh.pingMatrix(2, range(0, 6));
    expect(pings.filter((p) => p.lost > 0), 'pairs that lost pings').to.deep.equal([]);
    // IPv6 addresses derived from the allocated IPv4 ones (tunmesh.networking.ipv6.allocate): distinct, and they carry pings.
    const own6 = range(0, 6).map((i) => mesh.address6Of(i));
    expect(own6.map((a, k) => a === deriveFrom(own[k] ?? ''))).to.deep.equal(own6.map(() => true));
    const pings6 = await mesh.pingMatrix(2, range(0, 6), 6);
    expect(pings6.filter((p) => p.lost > 0), 'pairs that lost IPv6 pings').to.deep.equal([]);
    expect(readFileSync(mesh.node(0).logPath, 'utf8')).to.match(new RegExp(`"url":"https://${NAME.replace(/\./g, '\\.')}:4567/? \\(198\\.18\\.0\\.\\d+\\)"`));
  });

  it('scales to 10 as records are added, and back to 4 as nodes stop and records go', async () => {
    dns.set(NAME, addresses(range(0, 10)));
    await Promise.all(range(6, 10).map((i) => mesh.start(i)));
    const up = await mesh.waitForFullMesh(60_000, range(0, 10));
    console.log(`      10 nodes: full mesh ${up} ms after the new ones started`);
    await mesh.waitForDataPlane(30_000, range(0, 10));
    await mesh.refreshAddresses();
    expect(new Set(range(0, 10).map((i) => mesh.node(i).meshAddress)).size).to.equal(10);

    dns.set(NAME, addresses(range(0, 4)));
    await Promise.all(range(4, 10).map((i) => mesh.stop(i, 'SIGKILL')));
    const started = Date.now();
    await waitFor(() => exactly(range(0, 4)), { timeoutMs: 60_000, intervalMs: 250, what: 'the 4 survivors to list only each other' });
    console.log(`      back to 4: survivors list only each other after ${Date.now() - started} ms`);
    expect(await mesh.fullMesh(range(0, 4))).to.equal(true);
  });

  it('a DNS server that goes away does not stop the running mesh; a node started meanwhile retries', async () => {
    await dns.stop();
    const before = await Promise.all(range(0, 4).map((i) => mesh.knownPeers(i)));
    await new Promise((r) => setTimeout(r, 5000)); // several re-resolutions (bootstrap_retry_interval 1 s) fail
    expect(await Promise.all(range(0, 4).map((i) => mesh.knownPeers(i)))).to.deep.equal(before);
    const pings = await mesh.pingMatrix(2, range(0, 4));
    expect(pings.filter((p) => p.lost > 0), 'pairs that lost pings').to.deep.equal([]);
    // Logged as a failed re-resolution, or as a failed bootstrap when the group's nodes were among those just stopped.
    expect(readFileSync(mesh.node(0).logPath, 'utf8')).to.contain(`${NAME} did not resolve`);

    await mesh.start(4); // its only way in is the name, and nothing answers it yet
    await new Promise((r) => setTimeout(r, 2000));
    expect(await mesh.knownPeers(4)).to.deep.equal([]);
    expect(readFileSync(mesh.node(4).logPath, 'utf8')).to.contain(`${NAME} did not resolve`);
    dns.set(NAME, addresses(range(0, 5)));
    await dns.resume();
    await mesh.waitForFullMesh(60_000, range(0, 5));
    await mesh.waitForDataPlane(30_000, range(0, 5));
  });
});

describe('two nodes whose allocated first choices collide', function () {
  this.timeout(120_000);
  let mesh: MeshLab;
  let pair: [number, number];
  let network: string;

  before(async () => {
    // The seed is the host name (shared by the lab's namespaces) and the advertise URL: find two
    // lab nodes whose first choices are the same address in a small network.
    const url = (i: number): string => labNodeUrl(underlayAddress(i), 4567);
    const found = findCollision(url);
    if (found === null) throw new Error('no two lab URLs collide in /26../29 networks (the choice function changed?)');
    [network, pair] = [found.network, found.pair];
    const [a, b] = pair;
    mesh = await MeshLab.create({ tag: uniquePrefix('tmc'), nodes: Math.max(a, b) + 1, allocate: true, networkCidr: network, bootstrapOf: (i) => (i === a ? [b] : [a]) });
  });
  after(async () => mesh?.cleanup());

  it('exactly one moves, by the rule both apply (the lower id keeps it); pings cross and both ends agree', async () => {
    const [a, b] = pair;
    const first = addressChoice(network, allocationSeed(mesh.node(a).url)).split('/')[0];
    await Promise.all([mesh.start(a), mesh.start(b)]);
    await mesh.waitForFullMesh(60_000, [a, b]);
    await mesh.waitForDataPlane(30_000, [a, b]);
    await mesh.refreshAddresses();
    const [sa, sb] = await Promise.all([mesh.status(a), mesh.status(b)]);
    const held = [sa, sb].map((s) => s.address.split('/')[0]);
    console.log(`      first choice ${first} in ${network}: node ${a} (${sa.id.slice(0, 8)}) holds ${held[0]}, node ${b} (${sb.id.slice(0, 8)}) holds ${held[1]}`);
    expect(held.filter((x) => x === first), 'nodes on the first choice').to.have.length(1);
    const keeper = held[0] === first ? sa : sb;
    const moverLog = readFileSync(mesh.node(keeper === sa ? b : a).logPath, 'utf8');
    const keeperLog = readFileSync(mesh.node(keeper === sa ? a : b).logPath, 'utf8');
    // The mover gave way to the keeper's id, which was lower than the id it had then.
    const move = moverLog.split('\n').find((l) => l.includes('allocated address in use: starting again at the next free one'));
    expect(move, 'the move in the mover\'s log').to.not.equal(undefined);
    const { keeper: keptBy, address } = JSON.parse(move!) as { keeper: string; address: string };
    expect([keptBy, address]).to.deep.equal([keeper.id, first]);
    const started = moverLog.split('\n').find((l) => l.includes('"message":"starting node"'));
    const oldId = started === undefined ? '' : (JSON.parse(started) as { id: string }).id;
    expect(keeper.id < oldId, `keeper ${keeper.id} < mover's first id ${oldId}`).to.equal(true);
    expect(keeperLog).to.not.contain('allocated address in use');
    // Both ends agree: each lists the other at the address the other holds.
    expect(sa.peers.map((p) => [p.id, p.address.split('/')[0]])).to.deep.equal([[sb.id, held[1]]]);
    expect(sb.peers.map((p) => [p.id, p.address.split('/')[0]])).to.deep.equal([[sa.id, held[0]]]);
    const pings = await mesh.pingMatrix(3, [a, b]);
    expect(pings.filter((p) => p.lost > 0), 'pairs that lost pings').to.deep.equal([]);
  });
});

/** Two lab node indexes (< 8) whose first choices coincide in a /29../26 network, and that network. */
function findCollision(url: (i: number) => string): { network: string; pair: [number, number] } | null {
  for (const prefix of [29, 28, 27, 26]) {
    const network = `198.19.0.0/${prefix}`;
    const choices = range(0, 8).map((i) => addressChoice(network, allocationSeed(url(i))));
    for (const i of range(0, 8)) {
      const j = choices.findIndex((c, k) => k > i && c === choices[i]);
      if (j > i) return { network, pair: [i, j] };
    }
  }
  return null;
}

describe('two nodes that took the same address apart and then meet (a partition healing)', function () {
  this.timeout(120_000);
  let mesh: MeshLab;
  let dns: DnsServer;
  let pair: [number, number];
  let network: string;

  before(async () => {
    const found = findCollision((i) => labNodeUrl(underlayAddress(i), 4567));
    if (found === null) throw new Error('no two lab URLs collide in /26../29 networks');
    [network, pair] = [found.network, found.pair];
    mesh = await MeshLab.create({ tag: uniquePrefix('tmp'), nodes: Math.max(...pair) + 1, allocate: true, networkCidr: network, bootstrapUrlsOf: () => [`https://${NAME}:4567`] });
    dns = await DnsServer.start(mesh.lab, { [NAME]: [] });
  });
  after(async () => {
    await dns?.cleanup();
    await mesh?.cleanup(!!process.env.KEEP_LAB_DIR);
  });

  it('the one that must move exits 75 (unprivileged by then); restarted, as an orchestrator does, it moves', async () => {
    const [a, b] = pair;
    await Promise.all([mesh.start(a), mesh.start(b)]);
    await mesh.waitForDataPlane(30_000, [a, b]); // each alone past its claim window, on the same first choice
    const before = await Promise.all([mesh.status(a), mesh.status(b)]);
    expect(before[0]!.address).to.equal(before[1]!.address);

    dns.set(NAME, [mesh.lab.nodes[a]!.address, mesh.lab.nodes[b]!.address]);
    const exited = await waitFor(() => [a, b].find((i) => mesh.node(i).process?.exited), { timeoutMs: 30_000, intervalMs: 100, what: 'the node that must move to exit' });
    expect(mesh.node(exited).process?.exitCode).to.equal(75);
    const survivor = exited === a ? b : a;
    expect(mesh.node(survivor).process?.exited).to.equal(false);
    expect(readFileSync(mesh.node(exited).logPath, 'utf8')).to.contain('allocated address taken by a node that keeps it: exiting');

    await mesh.start(exited);
    await mesh.waitForFullMesh(60_000, [a, b]);
    await mesh.waitForDataPlane(30_000, [a, b]);
    await mesh.refreshAddresses();
    expect(mesh.node(exited).meshAddress).to.not.equal(mesh.node(survivor).meshAddress);
    expect((await mesh.status(survivor)).address).to.equal(before[0]!.address);
    const pings = await mesh.pingMatrix(3, [a, b]);
    expect(pings.filter((p) => p.lost > 0), 'pairs that lost pings').to.deep.equal([]);
  });
});
