// A real mesh on one machine, for the demo, the tests and the benchmark: n network namespaces
// on a bridge (underlay 198.18.0.x, mesh 198.19.0.x, no default route), one certificate and
// secret generated for the run, and each node a real `tunmesh run` process or, for interop
// tests, a real original Ruby node (src/lab/original.ts) with the same config minus `tunmesh:`.
import { mkdtempSync, writeFileSync, rmSync, openSync, closeSync, readFileSync, appendFileSync, chmodSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBridgeLab, killPid, waitFor, keepNamespaces, pingFrom, ProcessOutput, type Lab, type ExecResult, type PingResult } from './netns.js';
import { makeLabCredentials, type LabCredentials } from './certs.js';
import { labNodeConfigYaml, labNodeUrl, LAB_PROCESS_UID, QUICK_TIMING, type LabNodeSpec, type LabTiming } from './node-config.js';
import { assertTraversable, ensureOriginalBuilt, originalConfigYaml, OriginalProcess, parseOriginalRegistrations } from './original.js';
import { pingStream, pingStreamArgs, type PingStream, type PingStreamOptions } from './ping-stream.js';
import { clientTimeoutS } from './tcp-transfer.js';
import { fetchStatus } from '../cli/status-command.js';
import type { StatusReport } from '../node/status.js';

export interface MeshLabOptions {
  tag: string;
  nodes: number;
  workers?: number;
  /** Per node: offer/accept the fast path (default true). */
  fastPath?: (i: number) => boolean;
  timing?: Partial<LabTiming>;
  logLevel?: LabNodeSpec['logLevel'];
  /** Indexes of the nodes others bootstrap from (default [0]). */
  bootstrapFrom?: number[];
  port?: number;
  /** Per node: tunmesh.health.first_node (default false). */
  firstNode?: (i: number) => boolean;
  /** networking.ipv4.enable_broadcast on every node. */
  enableBroadcast?: boolean;
  /** tunmesh.auth.legacy_pkcs1_interop on every node. */
  legacyInterop?: boolean;
  /** tunmesh.networking.mtu on every node. */
  mtu?: number;
  /** Per node: its cluster secret and the extra ones it accepts (default: the lab's secret alone). */
  clusterSecrets?: (i: number, labSecret: string) => { secret: string; additional?: string[] };
  /** Per node: tun_mesh.monitoring.prometheus.base_labels (default none). */
  baseLabels?: (i: number) => Record<string, string>;
  /** Per node: what start(i) runs (default 'tunmesh'); swap() changes it later. */
  kind?: (i: number) => NodeKind;
}

/** A tunmesh node, or the real original Ruby Tun Mesh v0.7 (interop tests). */
export type NodeKind = 'tunmesh' | 'original';

export interface MeshNode {
  index: number;
  ns: string;
  url: string;
  meshAddress: string;
  kind: NodeKind;
  /** tunmesh's config: the original's YAML plus the `tunmesh:` block. */
  configPath: string;
  /** The original's config: the same file without the `tunmesh:` block. */
  originalConfigPath: string;
  /** run-node.sh's PIDFILE (the original's process group id). */
  pidPath: string;
  statusSocket: string;
  /** Both kinds append here, each start preceded by a `--- lab: ...` line. */
  logPath: string;
  process?: ProcessOutput;
  original?: OriginalProcess;
}

export interface TransferOptions {
  /** Default: a new port per transfer of this lab (5201, 5202, ...), so several can overlap. */
  port?: number;
  /** Bytes per second; paces the sender so the transfer spans bytes/rate seconds. */
  rate?: number;
}

export interface TransferHandle {
  /** Resolves when the client is done and the receiver has printed its checksum (bounded). */
  done(): Promise<TransferResult>;
  /** Kills both ends. */
  abort(): void;
}

export interface PairPing extends PingResult {
  from: number;
  to: number;
  lost: number;
  /** Average RTT in ms, null when nothing came back. */
  avgRttMs: number | null;
}

/** Compiled entry points (tests run this file under tsx from src/, the demo from dist/). */
const distPath = (rel: string): string => fileURLToPath(new URL(`../${rel}`, import.meta.url)).replace(/\/src\//, '/dist/');
const CLI = distPath('cli/main.js');
const TRANSFER = distPath('lab/tcp-transfer.js');
const DEVICE = 'tm0';
const NODE_INFO = '/tunmesh/control/v0/node_info';

export interface TransferResult {
  bytes: number;
  seconds: number;
  mbps: number;
  /** The receiver's SHA-256 equals the sender's. */
  intact: boolean;
}

export const meshAddress = (i: number): string => `198.19.0.${i + 1}`;

export class MeshLab {
  private constructor(
    readonly lab: Lab,
    readonly dir: string,
    readonly creds: LabCredentials,
    readonly nodes: MeshNode[],
  ) {}

  static async create(opts: MeshLabOptions): Promise<MeshLab> {
    const lab = await createBridgeLab(opts.tag, opts.nodes);
    try {
      const dir = mkdtempSync(join(tmpdir(), `${opts.tag}-`));
      const creds = await makeLabCredentials(dir);
      const port = opts.port ?? 4567;
      const timing = { ...QUICK_TIMING, ...opts.timing };
      const seeds = (opts.bootstrapFrom ?? [0]).map((i) => labNodeUrl(lab.nodes[i]?.address ?? '', port));
      const nodes = lab.nodes.map((ln, i) => {
        const node: MeshNode = {
          index: i,
          ns: ln.ns,
          url: labNodeUrl(ln.address, port),
          meshAddress: meshAddress(i),
          configPath: join(dir, `node${i}.yaml`),
          statusSocket: join(dir, `node${i}.sock`),
          logPath: join(dir, `node${i}.log`),
        };
        const spec: LabNodeSpec = {
          index: i,
          underlayAddress: ln.address,
          meshAddressCidr: `${meshAddress(i)}/24`,
          networkCidr: '198.19.0.0/16',
          bootstrapUrls: seeds.filter((u) => u !== node.url),
          port,
          certPath: creds.certPath,
          keyPath: creds.keyPath,
          secret: opts.clusterSecrets ? opts.clusterSecrets(i, creds.secret).secret : creds.secret,
          additionalClusterSecrets: opts.clusterSecrets?.(i, creds.secret).additional ?? [],
          statusSocket: node.statusSocket,
          device: 'tm0',
          workers: opts.workers ?? 1,
          fastPath: opts.fastPath ? opts.fastPath(i) : true,
          logLevel: opts.logLevel ?? 'info',
          timing,
          firstNode: opts.firstNode ? opts.firstNode(i) : false,
          enableBroadcast: opts.enableBroadcast ?? false,
          legacyInterop: opts.legacyInterop ?? false,
          ...(opts.mtu ? { mtu: opts.mtu } : {}),
          ...(opts.baseLabels ? { baseLabels: opts.baseLabels(i) } : {}),
        };
        writeFileSync(node.configPath, labNodeConfigYaml(spec), { mode: 0o600 });
        return node;
      });
      return new MeshLab(lab, dir, creds, nodes);
    } catch (err) {
      await lab.cleanup();
      throw err;
    }
  }

  node(i: number): MeshNode {
    const n = this.nodes[i];
    if (!n) throw new Error(`no lab node ${i}`);
    return n;
  }

  /** Start `tunmesh run` for node i (output to its log file); resolves once its status socket answers. */
  async start(i: number, timeoutMs = 30_000): Promise<MeshNode> {
    const node = this.node(i);
    const logFd = openSync(node.logPath, 'a');
    const child = this.lab.spawn(i, process.execPath, [CLI, 'run', '--config', node.configPath], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    node.process = new ProcessOutput(child);
    await waitFor(
      async () => {
        if (node.process?.exited) throw new Error(`node ${i} exited (${node.process.exitCode}): ${this.logTail(i)}`);
        return (await fetchStatus(node.statusSocket).catch(() => undefined)) ?? false;
      },
      { timeoutMs, intervalMs: 100, what: `node ${i} to start` },
    );
    return node;
  }

  logTail(i: number, chars = 2000): string {
    try {
      return readFileSync(this.node(i).logPath, 'utf8').slice(-chars);
    } catch {
      return '(no log)';
    }
  }

  /** Leave the mesh running after this process exits (demo --keep). */
  detach(): void {
    keepNamespaces([...this.nodes.map((n) => n.ns), this.lab.bridgeNs]);
    for (const n of this.nodes) n.process?.child.unref();
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n.index)));
  }

  /** Send a signal and wait (bounded) for the exit; returns the exit code. */
  async stop(i: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    const p = this.node(i).process;
    if (!p || p.exited) return p?.exitCode ?? null;
    killPid(p.child.pid as number, signal);
    return p.waitForExit(timeoutMs);
  }

  status(i: number): Promise<StatusReport> {
    return fetchStatus(this.node(i).statusSocket);
  }

  /** Every running node knows every other running node, with an outbound session ('up'). */
  async fullMesh(indexes = this.nodes.map((n) => n.index)): Promise<boolean> {
    const statuses = await Promise.all(indexes.map((i) => this.status(i)));
    const ids = new Set(statuses.map((s) => s.id));
    return statuses.every((s) => {
      const up = s.peers.filter((p) => p.state === 'up' && ids.has(p.id));
      return up.length === ids.size - 1;
    });
  }

  async waitForFullMesh(timeoutMs: number, indexes?: number[], onProgress?: (up: number, want: number) => void): Promise<number> {
    const started = Date.now();
    await waitFor(
      async () => {
        const ok = await this.fullMesh(indexes);
        if (onProgress) {
          const all = await Promise.all((indexes ?? this.nodes.map((n) => n.index)).map((i) => this.status(i)));
          onProgress(all.reduce((a, s) => a + s.peers.filter((p) => p.state === 'up').length, 0), all.length * (all.length - 1));
        }
        return ok;
      },
      { timeoutMs, intervalMs: 200, what: 'a full mesh' },
    );
    return Date.now() - started;
  }

  exec(i: number, cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecResult> {
    return this.lab.exec(i, cmd, args, { timeoutMs, check: false });
  }

  /** curl from inside node i's namespace (-k: the lab certificate is self-signed). */
  async curl(i: number, args: string[]): Promise<{ status: number; body: string }> {
    const r = await this.exec(i, 'curl', ['-sk', '--max-time', '10', '-w', '\n%{http_code}', ...args]);
    const idx = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(idx + 1)), body: r.stdout.slice(0, idx) };
  }

  /** Send `bytes` of random data over TCP from node `from` to node `to` through the mesh. */
  async transfer(from: number, to: number, bytes: number, port = 5201): Promise<TransferResult> {
    const server = new ProcessOutput(this.lab.spawn(to, process.execPath, [TRANSFER, 'server', meshAddress(to), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await server.waitForLine(/"listening"/, { timeoutMs: 10_000 });
      const r = await this.exec(from, process.execPath, [TRANSFER, 'client', meshAddress(to), String(port), String(bytes)], 90_000);
      if (r.code !== 0) throw new Error(`transfer client failed: ${r.stderr.trim()}`);
      const sent = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { bytes: number; sha256: string; seconds: number; mbps: number };
      const got = JSON.parse((await server.waitForLine(/^\{.*"sha256".*\}$/, { timeoutMs: 30_000 }))[0]) as { bytes: number; sha256: string };
      return { bytes: sent.bytes, seconds: sent.seconds, mbps: sent.mbps, intact: got.sha256 === sent.sha256 && got.bytes === sent.bytes };
    } finally {
      killPid(server.child.pid as number);
    }
  }

  async cleanup(keepDir = false): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n.index, 'SIGTERM', 8000).catch(() => undefined)));
    await this.lab.cleanup();
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
