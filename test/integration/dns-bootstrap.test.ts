// Discovery through one DNS name with a record per node, as a Kubernetes headless Service gives
// it: a real DNS server (dnsmasq) in the lab, records changed while the mesh runs.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { uniquePrefix, waitFor } from '../helpers/netns.js';
import { DnsServer } from '../helpers/dns.js';

const NAME = 'mesh.tunmesh.test';
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
    mesh = await MeshLab.create({ tag: uniquePrefix('tmd'), nodes: 10, bootstrapUrlsOf: () => [`https://${NAME}:4567`] });
    dns = await DnsServer.start(mesh.lab, { [NAME]: [] });
  });
  after(async () => {
    await dns?.cleanup();
    await mesh?.cleanup();
  });

  it('6 nodes whose only bootstrap URL is the name form a full mesh, each skipping its own record', async () => {
    dns.set(NAME, addresses(range(0, 6)));
    await Promise.all(range(0, 6).map((i) => mesh.start(i)));
    const ms = await mesh.waitForFullMesh(60_000, range(0, 6));
    console.log(`      6 nodes: full mesh ${ms} ms after the last one started`);
    const pings = await mesh.pingMatrix(2, range(0, 6));
    expect(pings.filter((p) => p.lost > 0), 'pairs that lost pings').to.deep.equal([]);
    expect(readFileSync(mesh.node(0).logPath, 'utf8')).to.match(new RegExp(`"url":"https://${NAME.replace(/\./g, '\\.')}:4567/? \\(198\\.18\\.0\\.\\d+\\)"`));
  });

  it('scales to 10 as records are added, and back to 4 as nodes stop and records go', async () => {
    dns.set(NAME, addresses(range(0, 10)));
    await Promise.all(range(6, 10).map((i) => mesh.start(i)));
    const up = await mesh.waitForFullMesh(60_000, range(0, 10));
    console.log(`      10 nodes: full mesh ${up} ms after the new ones started`);

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
    expect(readFileSync(mesh.node(0).logPath, 'utf8')).to.contain('bootstrap name did not resolve');

    await mesh.start(4); // its only way in is the name, and nothing answers it yet
    await new Promise((r) => setTimeout(r, 2000));
    expect(await mesh.knownPeers(4)).to.deep.equal([]);
    expect(readFileSync(mesh.node(4).logPath, 'utf8')).to.contain(`${NAME} did not resolve`);
    dns.set(NAME, addresses(range(0, 5)));
    await dns.resume();
    await mesh.waitForFullMesh(60_000, range(0, 5));
  });
});
