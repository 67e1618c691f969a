// The data plane end to end on real parts: two network namespaces on a bridge, a real TUN
// device, real TLS, a real forked worker and real session tokens in each; kernel pings and a TCP
// stream cross the tunnel.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  createBridgeLab,
  killPid,
  pingFrom,
  ProcessOutput,
  run,
  tsxArgs,
  uniquePrefix,
  waitFor,
  type Lab,
} from '../helpers/netns.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const PORT = 4567;
const MESH = ['198.19.1.1', '198.19.1.2'] as const;

interface Session {
  id: string;
  secretB64: string;
}

interface Node {
  out: ProcessOutput;
  pid: number;
  send(line: string): void;
}

/** Waits for a stdout line matching re that appeared after `from` lines. */
async function nextLine(node: Node, re: RegExp, from: number, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  return waitFor(
    () => {
      for (const line of node.out.lines().slice(from)) {
        const m = line.match(re);
        if (m !== null) return m;
      }
      if (node.out.exited) throw new Error(`node exited: ${node.out.stderr}`);
      return undefined;
    },
    { timeoutMs, what: `a line matching ${re}` },
  );
}

type MetricJson = Array<{ name: string; values: Array<{ value: number; labels: Record<string, string> }> }>;

async function metric(node: Node, name: string, labels: Record<string, string> = {}): Promise<number> {
  const from = node.out.lines().length;
  node.send('metrics');
  const m = await nextLine(node, /^METRICS (.*)$/, from);
  const all = JSON.parse(m[1]!) as MetricJson;
  const series = all.find((x) => x.name === name)?.values ?? [];
  return series
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((n, v) => n + v.value, 0);
}

describe('dataplane (two namespaces, real TUN, real TLS)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let dir: string;
  const ids = [randomUUID(), randomUUID()] as const;
  // sessions[i]: the session node i uses to send to the other node (issued by the other node).
  const sessions: Session[] = [0, 1].map(() => ({ id: randomUUID(), secretB64: randomBytes(64).toString('base64') }));
  let nodes: Node[] = [];

  before(async () => {
    lab = await createBridgeLab(uniquePrefix('dp'), 2);
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-dp-'));
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=tunmesh', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  });

  after(async () => {
    await stopNodes();
    await lab?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function startNodes(path: 'fast' | 'legacy'): Promise<void> {
    await stopNodes();
    nodes = [0, 1].map((i) => {
      const other = 1 - i;
      const config = {
        selfId: ids[i],
        peerId: ids[other],
        tunName: 'tm0',
        addressCidr: `${MESH[i]}/24`,
        peerAddressCidr: `${MESH[other]}/24`,
        networkCidr: '198.19.0.0/16',
        listenHost: lab.nodes[i]!.address,
        listenPort: PORT,
        peerUrl: `https://${lab.nodes[other]!.address}:${PORT}`,
        path,
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
        outbound: sessions[i],
        inbound: sessions[other],
      };
      const child = lab.spawn(i, process.execPath, tsxArgs(fixture('dataplane-node.ts')), {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, TUNMESH_DP_CONFIG: JSON.stringify(config) },
      });
      return { out: new ProcessOutput(child), pid: child.pid!, send: (line: string) => child.stdin?.write(line + '\n') };
    });
    for (const node of nodes) await nextLine(node, /^READY$/, 0, 30_000);
  }

  async function stopNodes(): Promise<void> {
    for (const node of nodes) killPid(node.pid, 'SIGTERM');
    for (const node of nodes) await node.out.waitForExit(5000).catch(() => killPid(node.pid, 'SIGKILL'));
    nodes = [];
  }

  /** Pings until the path is up (a fresh channel takes a moment), then the measured run. */
  async function pingWorks(from: number, to: number, count = 5): Promise<string> {
    await waitFor(async () => (await pingFrom(lab.nodes[from]!.ns, MESH[to], { count: 1, timeoutS: 1 })).ok, {
      timeoutMs: 15_000,
      what: `first ping ${MESH[from]} -> ${MESH[to]}`,
    });
    const r = await pingFrom(lab.nodes[from]!.ns, MESH[to], { count });
    expect(r.ok, r.output).to.equal(true);
    return /rtt [^\n]*/.exec(r.output)?.[0] ?? r.output;
  }

  /** A raw fast-path client from A to B: upgrade with this session, then send `hex`. */
  function rawClient(sessionId: string, secretB64: string, hex: string): ProcessOutput {
    const args = tsxArgs(fixture('dataplane-raw-client.ts'), lab.nodes[1]!.address, String(PORT), ids[0], ids[1], sessionId, secretB64, hex);
    return new ProcessOutput(lab.spawn(0, process.execPath, args));
  }

  describe('fast path', () => {
    before(() => startNodes('fast'));

    it('carries kernel pings both ways over the upgraded TLS channel', async () => {
      console.log(`      A->B ${await pingWorks(0, 1)}`);
      console.log(`      B->A ${await pingWorks(1, 0)}`);
      expect(await metric(nodes[1]!, 'tunmesh_peer_rx_packets_total', { peer: ids[0] })).to.be.greaterThan(0);
      // Worker counters reach the main process every 2 s.
      await waitFor(async () => (await metric(nodes[0]!, 'tunmesh_channel_reconnects_total', { peer: ids[1] })) > 0, {
        timeoutMs: 10_000,
        what: "the worker's channel-open count in node A's metrics",
      });
    });

    it('carries a 5 MB TCP stream intact', async () => {
      const server = new ProcessOutput(lab.spawn(1, process.execPath, tsxArgs(fixture('dataplane-tcp.ts'), 'server', MESH[1], '7000')));
      await server.waitForLine(/^LISTENING$/, { timeoutMs: 15_000 });
      const client = new ProcessOutput(lab.spawn(0, process.execPath, tsxArgs(fixture('dataplane-tcp.ts'), 'client', MESH[1], '7000', String(5 << 20))));
      const sent = await client.waitForLine(/^SENT (\d+) (\w+) ([\d.]+)$/, { timeoutMs: 60_000 });
      const got = await server.waitForLine(/^RECEIVED (\d+) (\w+)$/, { timeoutMs: 5000 });
      expect(got[1]).to.equal(sent[1]);
      expect(got[2]).to.equal(sent[2]);
      const ms = Number(sent[3]);
      console.log(`      5 MiB in ${ms.toFixed(0)} ms = ${((5 * 8 * 1.048576) / (ms / 1000)).toFixed(1)} Mbit/s`);
    });

    it('restarts a SIGKILLed worker and traffic resumes', async () => {
      const a = nodes[0]!;
      let from = a.out.lines().length;
      a.send('pids');
      const before = Number((await nextLine(a, /^WORKERS (\d+)$/, from))[1]);
      from = a.out.lines().length;
      killPid(before, 'SIGKILL');
      const after = Number((await nextLine(a, /^WORKERS (\d+)$/, from))[1]);
      expect(after).to.not.equal(before);
      console.log(`      after restart: ${await pingWorks(0, 1)}`);
    });

    it('closes a channel that sends an empty frame, counts it as malformed, and keeps working', async () => {
      const malformedBefore = await metric(nodes[1]!, 'tunmesh_dropped_packets_total', { reason: 'malformed' });
      const s = sessions[0]!;
      const client = rawClient(s.id, s.secretB64, '0000');
      await client.waitForLine(/^STATUS 101$/, { timeoutMs: 15_000 });
      await client.waitForLine(/^CLOSED$/, { timeoutMs: 15_000 });
      expect(await metric(nodes[1]!, 'tunmesh_dropped_packets_total', { reason: 'malformed' })).to.equal(malformedBefore + 1);
      await pingWorks(0, 1);
    });

    it('drops a packet above its MTU as oversized and keeps the channel open', async () => {
      const oversizedBefore = await metric(nodes[1]!, 'tunmesh_dropped_packets_total', { reason: 'oversized' });
      const s = sessions[0]!;
      // One 2000-byte frame (the receiver's MTU is 1500), then an empty frame: the second one
      // closes the channel, which proves the first did not.
      const hex = '07d0' + 'ab'.repeat(2000) + '0000';
      const client = rawClient(s.id, s.secretB64, hex);
      await client.waitForLine(/^STATUS 101$/, { timeoutMs: 15_000 });
      await client.waitForLine(/^CLOSED$/, { timeoutMs: 15_000 });
      expect(await metric(nodes[1]!, 'tunmesh_dropped_packets_total', { reason: 'oversized' })).to.equal(oversizedBefore + 1);
      await pingWorks(0, 1);
    });

    it('refuses an upgrade with a token from an unknown session', async () => {
      const client = rawClient(randomUUID(), randomBytes(64).toString('base64'), '');
      await client.waitForLine(/^STATUS 401$/, { timeoutMs: 15_000 });
    });
  });

  describe('legacy (original JSON) path', () => {
    before(() => startNodes('legacy'));

    it('carries kernel pings both ways as Packet JSON POSTs', async () => {
      console.log(`      A->B ${await pingWorks(0, 1)}`);
      console.log(`      B->A ${await pingWorks(1, 0)}`);
      expect(await metric(nodes[1]!, 'tunmesh_peer_rx_packets_total', { peer: ids[0] })).to.be.greaterThan(0);
    });
  });
});
