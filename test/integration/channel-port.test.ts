// Fast channels received in the workers (tunmesh.data_plane.channel_port) on real nodes:
//   node 0  default: announces its channel port; its workers receive every channel;
//   node 1  announces the port, but a firewall rule in its namespace (nft) rejects it: peers
//           fall back to its API port, where its main process receives them, and move back to
//           the channel port once the rule is gone;
//   node 2  channel_port 0: announces none; its main process receives, as an older tunmesh node.
// Where each node receives is read from tunmesh_inbound_channels{receiver}; real pings and TCP
// cross every pair; the port serves upgrades only, and main still decides every upgrade.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { MeshLab, meshAddress } from '../../src/lab/mesh-lab.js';
import { killPid, pingFrom, uniquePrefix, waitFor } from '../helpers/netns.js';
import { sampleValue } from '../helpers/metrics.js';
import { formatStatus } from '../../src/cli/status-command.js';
import { RECEIVER_BOUNDS } from '../../src/dataplane/fast/socket-queue.js';

const CHANNEL_PORT = 4568;

async function scrape(mesh: MeshLab, i: number): Promise<string> {
  return (await mesh.curl(i, [`${mesh.node(i).url}/metrics`])).body;
}

/** Inbound channels node `i` holds, by the kind of process receiving them. */
async function inbound(mesh: MeshLab, i: number): Promise<{ worker: number; main: number }> {
  const m = await scrape(mesh, i);
  return { worker: sampleValue(m, 'tunmesh_inbound_channels', 'receiver="worker"'), main: sampleValue(m, 'tunmesh_inbound_channels', 'receiver="main"') };
}

async function pingPair(mesh: MeshLab, a: number, b: number): Promise<void> {
  const r = await pingFrom(mesh.node(a).ns, mesh.node(b).meshAddress, { count: 3, intervalS: 0.2, timeoutS: 2 });
  expect(r.lost, `node${a} -> node${b}\n${r.output}`).to.equal(0);
}

function channelUrl(mesh: MeshLab, i: number): string {
  const u = new URL(mesh.node(i).url);
  u.port = String(CHANNEL_PORT);
  return u.origin;
}

describe('fast channels received in the workers (channel port)', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tcp'), nodes: 3, channelPort: (i) => (i === 2 ? 0 : undefined) });
    // Node 1's channel port is announced but unreachable: a reject rule in its own namespace.
    for (const args of [
      ['add', 'table', 'inet', 'tunmesh_test'],
      ['add', 'chain', 'inet', 'tunmesh_test', 'input', '{ type filter hook input priority 0; }'],
      ['add', 'rule', 'inet', 'tunmesh_test', 'input', 'tcp', 'dport', String(CHANNEL_PORT), 'reject', 'with', 'tcp', 'reset'],
    ]) {
      const r = await mesh.exec(1, 'nft', args);
      expect(r.code, `nft ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    }
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup());

  it('announces the channel port where it listens, and none with channel_port 0', async () => {
    expect((await mesh.status(0)).channelPort).to.equal(CHANNEL_PORT);
    expect((await mesh.status(1)).channelPort).to.equal(CHANNEL_PORT);
    expect((await mesh.status(2)).channelPort).to.equal(undefined);
    expect(formatStatus(await mesh.status(0))).to.contain(`channel port: ${CHANNEL_PORT}`);
  });

  it('carries pings and TCP every way, whichever process receives', async () => {
    for (const [a, b] of [[0, 1], [1, 0], [0, 2], [2, 0], [1, 2], [2, 1]] as const) await pingPair(mesh, a, b);
    for (const [a, b] of [[1, 0], [0, 1], [2, 0]] as const) {
      const t = await mesh.transfer(a, b, 8 * 1024 * 1024);
      expect(t.intact, `TCP node${a} -> node${b}`).to.equal(true);
    }
  });

  it("bounds every channel's kernel receive queue, in a worker and in main, while packets cross it", async () => {
    // Autotuned, a bulk flow grew these to megabytes in front of every small packet (dataplane/fast/socket-queue.ts).
    const bounded = `rb${RECEIVER_BOUNDS.receiveBuffer * 2}`; // the kernel doubles SO_RCVBUF
    const streams = [mesh.pingStream(1, meshAddress(0), { durationS: 4 }), mesh.pingStream(2, meshAddress(0), { durationS: 4 }), mesh.pingStream(0, meshAddress(2), { durationS: 4 })];
    await new Promise((r) => setTimeout(r, 1500));
    const receiveBuffers = async (i: number, port: number): Promise<string[]> => {
      const r = await mesh.exec(i, 'ss', ['-tmnH', 'state', 'established', `( sport = :${port} )`]);
      expect(r.code, r.stderr).to.equal(0);
      return [...r.stdout.matchAll(/\brb(\d+)/g)].map((m) => `rb${m[1]}`);
    };
    // Node 0's workers receive nodes 1 and 2 on the channel port: every socket there is a channel.
    const atWorkers = await receiveBuffers(0, CHANNEL_PORT);
    expect(atWorkers.length, 'channels on node 0\'s channel port').to.be.at.least(2);
    expect(atWorkers.every((rb) => rb === bounded), atWorkers.join(' ')).to.equal(true);
    // Node 2's main receives node 0's channel on the API port, beside API connections (not bounded).
    expect(await receiveBuffers(2, 4567), "node 2's API port").to.include(bounded);
    for (const s of streams) {
      const result = await s.result();
      expect(result.lost - result.trailingUnanswered, result.summary).to.equal(0);
    }
    for (const i of [0, 1, 2]) expect(readFileSync(mesh.node(i).logPath, 'utf8'), `node ${i}'s log`).not.to.contain('queues left unbounded');
  });

  it("receives in the workers on the channel port, and in main on the API port (fallback and channel_port 0)", async () => {
    // Worker gauges reach main every 2 s.
    const want = { 0: { worker: 2, main: 0 }, 1: { worker: 0, main: 2 }, 2: { worker: 0, main: 2 } } as const;
    for (const i of [0, 1, 2] as const) {
      const got = await waitFor(
        async () => {
          const c = await inbound(mesh, i);
          return c.worker === want[i].worker && c.main === want[i].main ? c : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 500, what: `node ${i}: inbound channels ${JSON.stringify(want[i])}` },
      );
      expect(got).to.deep.equal(want[i]);
    }
  });

  it('moves channels back to the channel port once it becomes reachable, without losing a ping', async () => {
    const stream = mesh.pingStream(0, meshAddress(1), { durationS: 24 });
    // Channels open on demand and close when idle: node 2's toward node 1 is kept open too.
    const other = mesh.pingStream(2, meshAddress(1), { durationS: 24 });
    await new Promise((r) => setTimeout(r, 1000));
    const r = await mesh.exec(1, 'nft', ['delete', 'table', 'inet', 'tunmesh_test']);
    expect(r.code, r.stderr).to.equal(0);
    const movedAfter = Date.now();
    // The senders retry the channel port every 15 s (dataplane/fast/port-policy.ts, CHANNEL_PORT_RETRY_MS).
    await waitFor(
      async () => {
        const c = await inbound(mesh, 1);
        return c.worker === 2 && c.main === 0 ? c : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: "node 1's channels back in its workers" },
    );
    console.log(`      channels back on node 1's channel port ${((Date.now() - movedAfter) / 1000).toFixed(1)} s after the rule went`);
    for (const s of [stream, other]) {
      const result = await s.result();
      expect(result.lost - result.trailingUnanswered, result.summary).to.equal(0);
    }
  });

  it('serves upgrades only on the channel port, and main decides each one (refusals counted there)', async () => {
    const other = (await mesh.status(1)).id;
    const notFound = await mesh.curl(1, ['--http1.1', `${channelUrl(mesh, 0)}/health`]);
    expect([notFound.status, JSON.parse(notFound.body).reason]).to.deep.equal([404, 'channel_port_upgrade_only']);
    const before = await scrape(mesh, 0);
    const upgrade = ['--http1.1', '-H', 'Connection: Upgrade', '-H', 'Upgrade: tunmesh-fastpath/1'];
    const badToken = await mesh.curl(1, [...upgrade, '-H', 'Authorization: Bearer not-a-token', `${channelUrl(mesh, 0)}/tunmesh/fastpath/v1/${other}`]);
    expect(badToken.status, badToken.body).to.equal(401);
    const reason = (JSON.parse(badToken.body) as { reason: string }).reason;
    const badPath = await mesh.curl(1, [...upgrade, `${channelUrl(mesh, 0)}/tunmesh/fastpath/v1/`]);
    expect(badPath.status).to.equal(400);
    // The auth-failure counter lives in main's registry: the worker asked main.
    const count = (scrape: string): number => sampleValue(scrape, 'tunmesh_auth_failures_total', `reason="${reason}"`);
    expect(count(await scrape(mesh, 0)), `tunmesh_auth_failures_total{reason="${reason}"}`).to.equal(count(before) + 1);
    await pingPair(mesh, 1, 0);
  });

  it("reopens a worker's channels after it is killed (SIGKILL), on the channel port again", async () => {
    const nodePid = mesh.node(0).process?.child.pid as number;
    const workers = (): number[] => execFileSync('pgrep', ['-P', String(nodePid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    const [victim] = workers();
    expect(victim, 'a worker process').to.be.a('number');
    killPid(victim as number, 'SIGKILL');
    await waitFor(() => workers().some((p) => p !== victim) || undefined, { timeoutMs: 10_000, what: 'a replacement worker' });
    for (const from of [1, 2]) {
      await waitFor(async () => (await pingFrom(mesh.node(from).ns, mesh.node(0).meshAddress, { count: 2, intervalS: 0.2, timeoutS: 1 })).ok || undefined, {
        timeoutMs: 15_000,
        intervalMs: 200,
        what: `pings from node ${from} to node 0 after its worker restarted`,
      });
    }
    await waitFor(async () => ((await inbound(mesh, 0)).worker === 2 ? true : undefined), { timeoutMs: 15_000, intervalMs: 500, what: 'node 0: both channels back in its worker' });
    expect((await inbound(mesh, 0)).main).to.equal(0);
  });
});
