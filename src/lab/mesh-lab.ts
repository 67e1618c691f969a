// A real mesh on one machine, for the demo, the tests and the benchmark: n network namespaces
// on a bridge (underlay 198.18.0.x, mesh 198.19.0.x, no default route), one certificate and
// secret generated for the run (or, with perNodeCerts, a lab CA and a certificate per node), and
// each node a real `tunmesh run` process or, for interop tests, a real original Ruby node
// (src/lab/original.ts) with the same config minus `tunmesh:`.
import { mkdtempSync, writeFileSync, rmSync, openSync, closeSync, readFileSync, appendFileSync, chmodSync, chownSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBridgeLab, killPid, waitFor, keepNamespaces, pingFrom, ProcessOutput, type Lab, type ExecResult, type PingResult, type UnderlayFamilies } from './netns.js';
import { makeLabCredentials, type LabCredentials } from './certs.js';
import { makeLabPki, type LabCertFiles, type LabPki } from './pki.js';
import { labNodeConfigYaml, labNodeUrl, LAB_PROCESS_UID, QUICK_TIMING, type LabNodeSpec, type LabTiming } from './node-config.js';
import { assertTraversable, ensureOriginalBuilt, originalConfigYaml, OriginalProcess, parseOriginalRegistrations } from './original.js';
import { pingStream, pingStreamArgs, type PingStream, type PingStreamOptions } from './ping-stream.js';
import { clientTimeoutS } from './tcp-transfer.js';
import { fetchStatus } from '../cli/status-command.js';
import type { StatusReport } from '../status/report.js';
import { MAIN_NODE_FLAGS } from '../node/node-flags.js';
import { NODE_INFO, REGISTRATIONS } from '../protocol/original-routes.js';

export interface MeshLabOptions {
  tag: string;
  nodes: number;
  workers?: number;
  /** Per node: offer/accept the fast path (default true). */
  fastPath?: (i: number) => boolean;
  /** Per node: tunmesh.data_plane.offload (default: the node's default). */
  offload?: (i: number) => 'auto' | 'on' | 'off';
  /** Per node: tunmesh.data_plane.channel_port (undefined: the node's default). */
  channelPort?: (i: number) => number | undefined;
  timing?: Partial<LabTiming>;
  logLevel?: LabNodeSpec['logLevel'];
  /** Indexes of the nodes others bootstrap from (default [0]). */
  bootstrapFrom?: number[];
  /** Per node: the nodes it bootstraps from (overrides bootstrapFrom), e.g. chains across kinds. */
  bootstrapOf?: (i: number) => number[];
  /** Per node: its bootstrap URLs as written (overrides both), e.g. a DNS name. */
  bootstrapUrlsOf?: (i: number) => string[];
  /** tunmesh.networking.ipv4.allocate: nodes pick their mesh addresses (read back by refreshAddresses()); with `ipv6`, ipv6.allocate too (derived). */
  allocate?: boolean;
  /** Mesh network of the nodes (default 198.19.0.0/16). */
  networkCidr?: string;
  /**
   * One config file for every node, as a pod template gives (needs bootstrapUrlsOf and
   * allocate): node 0's, with its advertise URL and status socket coming from each node's
   * environment instead (TUNMESH_ADVERTISE_URL from the pod IP, a socket in the pod's own files).
   */
  sharedConfig?: boolean;
  port?: number;
  /** Per node: tunmesh.health.first_node (default false). */
  firstNode?: (i: number) => boolean;
  /** networking.ipv4.enable_broadcast on every node. */
  enableBroadcast?: boolean;
  /** tunmesh.auth.legacy_pkcs1_interop on every node. */
  legacyInterop?: boolean;
  /** tunmesh.networking.mtu on every node. */
  mtu?: number;
  /** Per node: tunmesh.networking.mtu (overrides `mtu`; undefined: `mtu`). */
  mtuOf?: (i: number) => number | undefined;
  /** Per node: its cluster secret and the extra ones it accepts (default: the lab's secret alone). */
  clusterSecrets?: (i: number, labSecret: string) => { secret: string; additional?: string[] };
  /** Per node: tun_mesh.monitoring.prometheus.base_labels (default none). */
  baseLabels?: (i: number) => Record<string, string>;
  /** Per node: what start(i) runs (default 'tunmesh'); swap() changes it later. */
  kind?: (i: number) => NodeKind;
  /** Per node: a cgroup folder a tunmesh node joins before it starts (CPU-quota tests). */
  cgroupOf?: (i: number) => string | undefined;
  /**
   * Give every node its own certificate from one lab CA (ECDSA P-256, SAN = its underlay
   * address) and that CA as ca_file_path, instead of the shared self-signed certificate.
   */
  perNodeCerts?: boolean;
  /** Families of the underlay (default 'ipv4'); 'ipv6': advertise URLs are IPv6 literals. */
  underlay?: UnderlayFamilies;
  /** Per node: an IPv6 mesh address (meshAddress6(i) in 2001:2:0:100::/56); default none. */
  ipv6?: (i: number) => boolean;
  /** tun_mesh.control_api.ssl.verify_hostname on every node (the lab cert has the underlay IPs as SANs). */
  verifyHostname?: boolean;
  /** Per node: tunmesh.control_api.listen_address (undefined: every address). */
  listenAddressOf?: (underlayAddress: string, i: number) => string | undefined;
  /** Per node: its own certificate, CA, client_auth and deny file (mutual-TLS tests); default: the lab's shared self-signed certificate. */
  nodeTls?: (i: number, underlayAddress: string) => Promise<LabNodeTls>;
  /** Per node: the tunmesh.firewall block, as written in YAML (undefined: none, all allowed). */
  firewallOf?: (i: number) => Record<string, unknown> | undefined;
}

/** A node's own TLS files and security settings (MeshLabOptions.nodeTls). */
export type LabNodeTls = Pick<LabNodeSpec, 'certPath' | 'keyPath' | 'caPath' | 'clientAuth' | 'denyFile'>;

/** A tunmesh node, or the real original Ruby Tun Mesh v0.7 (interop tests). */
export type NodeKind = 'tunmesh' | 'original';

export interface MeshNode {
  index: number;
  ns: string;
  url: string;
  meshAddress: string;
  /** Its IPv6 mesh address (no prefix), when it has one. */
  meshAddress6?: string;
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
  /** A cgroup folder a tunmesh node joins before exec (so its CPU quota holds from the start). */
  cgroup?: string;
  /** The node's TLS certificate and key (the shared lab ones unless perNodeCerts). */
  tls: LabCertFiles;
  /** Environment of its process besides the lab's (sharedConfig: what differs per pod). */
  env?: Record<string, string>;
}

export interface TransferOptions {
  /** Default: a new port per transfer of this lab (5201, 5202, ...), so several can overlap. */
  port?: number;
  /** Bytes per second; paces the sender so the transfer spans bytes/rate seconds. */
  rate?: number;
  /** Over the nodes' IPv6 mesh addresses (default 4: IPv4). */
  family?: 4 | 6;
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
  /** Average RTT in ms, null when nothing came back. */
  avgRttMs: number | null;
}

/** Compiled entry points (tests run this file under tsx from src/, the demo from dist/). */
const distPath = (rel: string): string => fileURLToPath(new URL(`../${rel}`, import.meta.url)).replace(/\/src\//, '/dist/');
const CLI = distPath('cli/main.js');
/** The compiled CLI the lab runs (`node LAB_CLI status --socket ...`). */
export const LAB_CLI = CLI;
const TRANSFER = distPath('lab/tcp-transfer.js');
const DEVICE = 'tm0';

export interface TransferResult {
  bytes: number;
  seconds: number;
  mbps: number;
  /** The receiver's SHA-256 equals the sender's. */
  intact: boolean;
}

export const meshAddress = (i: number): string => `198.19.0.${i + 1}`;
/** IPv6 mesh: node i is 2001:2:0:100::(i+1)/64 in the mesh network 2001:2:0:100::/56. */
const meshAddress6 = (i: number): string => `2001:2:0:100::${(i + 1).toString(16)}`;
export const MESH6_NETWORK = '2001:2:0:100::/56';
const MESH6_PREFIX = 64;

/** Labs created and not yet cleaned up: a failing test's hook prints their logs (test/helpers/failure-logs.ts). */
const liveLabs = new Set<MeshLab>();

/** The labs alive now, oldest first. */
export function openLabs(): MeshLab[] {
  return [...liveLabs];
}

export class MeshLab {
  /** Next default transfer port. */
  private nextPort = 5201;
  /** The lab folder and key were opened up for the original's unprivileged processes. */
  private preparedForOriginal = false;

  private constructor(
    readonly lab: Lab,
    readonly dir: string,
    readonly creds: LabCredentials,
    readonly nodes: MeshNode[],
    /** The lab CA, with perNodeCerts: tests issue more certificates from it. */
    readonly pki?: LabPki,
  ) {}

  static async create(opts: MeshLabOptions): Promise<MeshLab> {
    const lab = await createBridgeLab(opts.tag, opts.nodes, opts.underlay ?? 'ipv4');
    try {
      const dir = mkdtempSync(join(tmpdir(), `${opts.tag}-`));
      const underlayAddresses = (n: (typeof lab.nodes)[number]): string[] =>
        [n.address, ...(n.address6 !== undefined && n.address6 !== n.address ? [n.address6] : [])];
      // The shared TLS files in a folder of their own: a node watches its certificate's folder
      // (security/file-watch.ts), and in `dir` every node's log line woke every node.
      const creds = await makeLabCredentials(join(dir, 'tls'), opts.verifyHostname ? lab.nodes.flatMap(underlayAddresses) : []);
      const pki = opts.perNodeCerts ? await makeLabPki(join(dir, 'pki')) : undefined;
      const tlsFiles = await Promise.all(lab.nodes.map((ln, i) => pki?.issue(`node${i}`, underlayAddresses(ln)) ?? creds));
      const port = opts.port ?? 4567;
      const timing = { ...QUICK_TIMING, ...opts.timing };
      const urlOf = (i: number): string => labNodeUrl(lab.nodes[i]?.address ?? '', port);
      const seeds = (i: number): string[] => opts.bootstrapUrlsOf?.(i) ?? (opts.bootstrapOf?.(i) ?? opts.bootstrapFrom ?? [0]).map(urlOf);
      const ownTls = await nodeTlsOf(opts, lab);
      const nodes = lab.nodes.map((ln, i) => {
        const node: MeshNode = {
          index: i,
          ns: ln.ns,
          url: labNodeUrl(ln.address, port),
          meshAddress: meshAddress(i),
          ...(opts.ipv6?.(i) ? { meshAddress6: meshAddress6(i) } : {}),
          kind: opts.kind?.(i) ?? 'tunmesh',
          configPath: join(dir, `node${i}.yaml`),
          originalConfigPath: join(dir, `node${i}.original.yaml`),
          pidPath: join(dir, `node${i}.pid`),
          statusSocket: join(dir, `node${i}.sock`),
          logPath: join(dir, `node${i}.log`),
          ...(opts.cgroupOf?.(i) ? { cgroup: opts.cgroupOf(i) } : {}),
          tls: tlsFiles[i] ?? creds,
        };
        const spec: LabNodeSpec = {
          index: i,
          underlayAddress: ln.address,
          meshAddressCidr: opts.allocate ? null : `${meshAddress(i)}/24`,
          networkCidr: opts.networkCidr ?? '198.19.0.0/16',
          bootstrapUrls: seeds(i).filter((u) => u !== node.url),
          port,
          certPath: node.tls.certPath,
          keyPath: node.tls.keyPath,
          ...(pki ? { caPath: pki.caPath } : {}),
          secret: opts.clusterSecrets ? opts.clusterSecrets(i, creds.secret).secret : creds.secret,
          additionalClusterSecrets: opts.clusterSecrets?.(i, creds.secret).additional ?? [],
          statusSocket: node.statusSocket,
          device: DEVICE,
          workers: opts.workers ?? 1,
          fastPath: opts.fastPath ? opts.fastPath(i) : true,
          logLevel: opts.logLevel ?? 'info',
          timing,
          firstNode: opts.firstNode ? opts.firstNode(i) : false,
          enableBroadcast: opts.enableBroadcast ?? false,
          legacyInterop: opts.legacyInterop ?? false,
          ...(opts.mtuOf?.(i) ?? opts.mtu ? { mtu: opts.mtuOf?.(i) ?? opts.mtu } : {}),
          ...(opts.offload ? { offload: opts.offload(i) } : {}),
          ...(opts.channelPort?.(i) !== undefined ? { channelPort: opts.channelPort(i) } : {}),
          ...(opts.baseLabels ? { baseLabels: opts.baseLabels(i) } : {}),
          ...(opts.ipv6?.(i) ? { ipv6: { nodeAddressCidr: opts.allocate ? null : `${meshAddress6(i)}/${MESH6_PREFIX}`, networkCidr: MESH6_NETWORK } } : {}),
          ...(opts.verifyHostname ? { verifyHostname: true } : {}),
          ...(opts.listenAddressOf?.(ln.address, i) ? { listenAddress: opts.listenAddressOf(ln.address, i) } : {}),
          ...ownTls[i],
          ...(opts.firewallOf?.(i) ? { firewall: opts.firewallOf(i) } : {}),
        };
        const yaml = labNodeConfigYaml(spec);
        if (opts.sharedConfig) node.configPath = join(dir, 'shared.yaml');
        if (opts.sharedConfig) node.env = { TUNMESH_ADVERTISE_URL: node.url, TUNMESH_STATUS_SOCKET: node.statusSocket };
        if (!opts.sharedConfig || i === 0) writeFileSync(node.configPath, yaml, { mode: 0o600 });
        // Written for every node, so any of them can be swapped to an original later.
        writeFileSync(node.originalConfigPath, originalConfigYaml(yaml), { mode: 0o600 });
        return node;
      });
      const mesh = new MeshLab(lab, dir, creds, nodes, pki);
      liveLabs.add(mesh);
      return mesh;
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

  /** Starts node i as its kind; resolves once it answers (tunmesh: status socket; original: node_info). */
  async start(i: number, timeoutMs = 30_000): Promise<MeshNode> {
    const node = this.node(i);
    if (this.isRunning(i)) throw new Error(`node ${i} is already running`);
    return node.kind === 'original' ? this.startOriginal(node, timeoutMs) : this.startTunmesh(node, timeoutMs);
  }

  /** `tunmesh run` for the node (output to its log); resolves once its status socket answers. */
  private async startTunmesh(node: MeshNode, timeoutMs: number): Promise<MeshNode> {
    const i = node.index;
    this.logMark(node);
    const logFd = openSync(node.logPath, 'a');
    const argv = [process.execPath, ...MAIN_NODE_FLAGS, CLI, 'run', '--config', node.configPath];
    const env = node.env ? { env: { ...process.env, ...node.env } } : {};
    const child = node.cgroup ? this.spawnInCgroup(node, node.cgroup, argv, logFd) : this.lab.spawn(i, process.execPath, argv.slice(1), { stdio: ['ignore', logFd, logFd], ...env });
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

  /**
   * A node that joins `cgroup` before it starts, so its CPU quota holds from the first line.
   * `ip netns exec` remounts /sys and so hides /sys/fs/cgroup from the node; nsenter enters only
   * the network namespace, as a container runtime would leave cgroupfs in place. sh joins the
   * cgroup and then execs the node in its place: the PID stays the node's.
   */
  private spawnInCgroup(node: MeshNode, cgroup: string, argv: string[], logFd: number): ChildProcess {
    const child = spawn('nsenter', [`--net=/run/netns/${node.ns}`, '--', 'sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, ...argv], { stdio: ['ignore', logFd, logFd] });
    this.lab.track(child.pid);
    return child;
  }

  /**
   * run-node.sh of the original (built first if needed, outside `timeoutMs`) in the node's
   * namespace as a new process group; resolves once GET node_info answers 200 with an id. A
   * node that fails to come up is stopped (its whole group) before this throws.
   */
  private async startOriginal(node: MeshNode, timeoutMs: number): Promise<MeshNode> {
    const runNode = await ensureOriginalBuilt();
    this.prepareForOriginal();
    this.logMark(node);
    const proc = OriginalProcess.start({ ns: node.ns, runNode, configPath: node.originalConfigPath, pidPath: node.pidPath, logPath: node.logPath });
    node.original = proc;
    try {
      await waitFor(
        async () => {
          if (proc.leaderExited) throw new Error(`original node ${node.index} exited (${proc.output.exitCode}): ${this.logTail(node.index)}`);
          return (await this.nodeInfoId(node.index, 2)) ?? false;
        },
        { timeoutMs, intervalMs: 100, what: `original node ${node.index} to answer ${NODE_INFO}` },
      );
    } catch (err) {
      await proc.stop('SIGKILL', 2000).catch(() => undefined);
      throw err;
    }
    return node;
  }

  /**
   * The original drops to the lab's uid before its API process (Puma) opens the TLS key: make
   * the lab folder searchable (not listable) and give that uid the key, still mode 0600.
   */
  private prepareForOriginal(): void {
    if (this.preparedForOriginal) return;
    chmodSync(this.dir, 0o711);
    for (const files of [this.creds, ...this.nodes.map((n) => n.tls)]) {
      chmodSync(dirname(files.keyPath), 0o711);
      chownSync(files.keyPath, LAB_PROCESS_UID, -1);
      chmodSync(files.keyPath, 0o600);
      chmodSync(files.certPath, 0o644);
    }
    assertTraversable(this.dir);
    this.preparedForOriginal = true;
  }

  /** A line in the node's log before each start, so a log spanning swaps reads in order. */
  private logMark(node: MeshNode): void {
    appendFileSync(node.logPath, `--- lab: starting ${node.kind} node ${node.index} at ${new Date().toISOString()} ---\n`);
  }

  /** Whether node i has a live process (tunmesh: its main process; original: any of its group). */
  isRunning(i: number): boolean {
    const node = this.node(i);
    return (node.process !== undefined && !node.process.exited) || (node.original?.running ?? false);
  }

  /** Indexes of the nodes with a live process. */
  running(): number[] {
    return this.nodes.map((n) => n.index).filter((i) => this.isRunning(i));
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
    for (const n of this.nodes) {
      n.process?.child.unref();
      n.original?.detach();
    }
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.start(n.index)));
  }

  /**
   * Send a signal and wait (bounded) for the exit; returns the exit code. An original gets the
   * signal on its whole process group, then SIGKILL if anything is left after `timeoutMs`.
   */
  async stop(i: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    const node = this.node(i);
    if (node.original?.running) return node.original.stop(signal, timeoutMs);
    const p = node.process;
    if (!p || p.exited) return p?.exitCode ?? node.original?.output.exitCode ?? null;
    killPid(p.child.pid as number, signal);
    return p.waitForExit(timeoutMs);
  }

  /**
   * Rolling replacement: stop node i (SIGTERM) and start it as `kind` (default: the other
   * kind) with the same address, URL and config (plus the `tunmesh:` block for tunmesh).
   */
  async swap(i: number, kind: NodeKind = this.node(i).kind === 'original' ? 'tunmesh' : 'original', timeoutMs = 30_000): Promise<MeshNode> {
    const node = this.node(i);
    await this.stop(i, 'SIGTERM', 10_000);
    // The next node opens a TUN device of the same name: wait for the old one to be gone.
    await waitFor(async () => (await this.exec(i, 'ip', ['link', 'show', DEVICE], 5000)).code !== 0, { timeoutMs: 5000, intervalMs: 100, what: `${DEVICE} in node ${i} to be removed` });
    node.kind = kind;
    return this.start(i, timeoutMs);
  }

  /** The node's current id, from GET node_info (either kind). */
  async nodeId(i: number): Promise<string> {
    const id = await this.nodeInfoId(i, 10);
    if (id === undefined) throw new Error(`node ${i} did not answer ${NODE_INFO} with an id`);
    return id;
  }

  private async nodeInfoId(i: number, maxTimeS: number): Promise<string | undefined> {
    const r = await this.exec(i, 'curl', ['-skg', '--max-time', String(maxTimeS), '-w', '\n%{http_code}', `${this.node(i).url}${NODE_INFO}`], (maxTimeS + 3) * 1000);
    const idx = r.stdout.lastIndexOf('\n');
    if (r.code !== 0 || r.stdout.slice(idx + 1) !== '200') return undefined;
    const id = (JSON.parse(r.stdout.slice(0, idx)) as { id?: unknown }).id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  }

  /**
   * Ids of the nodes node i has registered (groomed ones gone): tunmesh from its status socket,
   * an original from its GET /tunmesh/control/v0/registrations (open there).
   */
  async knownPeers(i: number): Promise<string[]> {
    if (this.node(i).kind === 'tunmesh') return (await this.status(i)).peers.map((p) => p.id);
    const r = await this.curl(i, [`${this.node(i).url}${REGISTRATIONS}`]);
    if (r.status !== 200) throw new Error(`original node ${i}: GET registrations answered ${r.status}: ${r.body.slice(0, 300)}`);
    return parseOriginalRegistrations(r.body);
  }

  /** Every listed node (default: the running ones) knows the current id of every other one. */
  async allRegistered(indexes = this.running()): Promise<boolean> {
    const ids = await Promise.all(indexes.map((i) => this.nodeId(i)));
    const known = await Promise.all(indexes.map((i) => this.knownPeers(i)));
    return known.every((peers, k) => ids.every((id, j) => j === k || peers.includes(id)));
  }

  /** Waits (bounded) for allRegistered(); returns the milliseconds it took. */
  async waitForRegistrations(timeoutMs: number, indexes = this.running()): Promise<number> {
    const started = Date.now();
    await waitFor(() => this.allRegistered(indexes), { timeoutMs, intervalMs: 250, what: `nodes ${indexes.join(', ')} to register with each other` });
    return Date.now() - started;
  }

  /** Waits (bounded) until every listed node's data plane runs (its workers are up; allocate: after the claim window). */
  async waitForDataPlane(timeoutMs: number, indexes = this.running()): Promise<void> {
    await waitFor(async () => (await Promise.all(indexes.map((i) => this.status(i)))).every((s) => s.workers > 0), { timeoutMs, intervalMs: 200, what: `the data plane of nodes ${indexes.join(', ')}` });
  }

  /** Reads each running tunmesh node's mesh address back (allocate: the node picked it). */
  async refreshAddresses(): Promise<void> {
    for (const i of this.running()) {
      if (this.node(i).kind !== 'tunmesh') continue;
      const status = await this.status(i);
      this.node(i).meshAddress = status.address.split('/')[0] ?? '';
      if (status.address6 !== null) this.node(i).meshAddress6 = status.address6.split('/')[0] ?? '';
    }
  }

  status(i: number): Promise<StatusReport> {
    return fetchStatus(this.node(i).statusSocket);
  }

  /** Every listed node knows every other one, with an outbound session ('up'). tunmesh nodes only (status socket). */
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
    const r = await this.exec(i, 'curl', ['-skg', '--max-time', '10', '-w', '\n%{http_code}', ...args]);
    const idx = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(idx + 1)), body: r.stdout.slice(0, idx) };
  }

  /** Send `bytes` of random data over TCP from node `from` to node `to` through the mesh. */
  async transfer(from: number, to: number, bytes: number, opts: TransferOptions = {}): Promise<TransferResult> {
    return (await this.startTransfer(from, to, bytes, opts)).done();
  }

  /**
   * Starts a transfer in the background: resolves once the receiver listens and the sender is
   * started; `done()` then waits for both ends (bounded by the sender's pacing plus slack).
   */
  async startTransfer(from: number, to: number, bytes: number, opts: TransferOptions = {}): Promise<TransferHandle> {
    const port = opts.port ?? this.nextPort++;
    const clientS = clientTimeoutS(bytes, opts.rate);
    const host = opts.family === 6 ? this.address6Of(to) : meshAddress(to);
    const serverArgs = [TRANSFER, 'server', host, String(port), String(clientS + 30)];
    const server = new ProcessOutput(this.lab.spawn(to, process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await server.waitForLine(/"listening"/, { timeoutMs: 10_000 });
    } catch (err) {
      killPid(server.child.pid as number);
      throw err;
    }
    const clientArgs = [TRANSFER, 'client', host, String(port), String(bytes), ...(opts.rate ? [String(opts.rate)] : [])];
    const client = new ProcessOutput(this.lab.spawn(from, process.execPath, clientArgs, { stdio: ['ignore', 'pipe', 'pipe'] }));
    const abort = (): void => {
      for (const p of [client, server]) killPid(p.child.pid as number);
    };
    let result: Promise<TransferResult> | undefined;
    const done = async (): Promise<TransferResult> => {
      try {
        return await transferResult(client, server, (clientS + 10) * 1000);
      } finally {
        abort();
      }
    };
    return { done: () => (result ??= done()), abort };
  }

  /** Node i's IPv6 mesh address; throws when it has none. */
  address6Of(i: number): string {
    const a = this.node(i).meshAddress6;
    if (a === undefined) throw new Error(`lab node ${i} has no IPv6 mesh address (MeshLabOptions.ipv6)`);
    return a;
  }

  /** Ping every directed pair of `indexes` (default: the running nodes), all at once; `family` 6: their IPv6 mesh addresses. */
  async pingMatrix(count = 3, indexes = this.running(), family: 4 | 6 = 4): Promise<PairPing[]> {
    const pairs = indexes.flatMap((from) => indexes.filter((to) => to !== from).map((to) => [from, to] as const));
    return Promise.all(
      pairs.map(async ([from, to]) => {
        const address = family === 6 ? this.address6Of(to) : this.node(to).meshAddress;
        const r = await pingFrom(this.node(from).ns, address, { count, intervalS: 0.2, timeoutS: 2 });
        const avg = /= [\d.]+\/([\d.]+)\//.exec(r.output)?.[1];
        return { ...r, from, to, avgRttMs: avg === undefined ? null : Number(avg) };
      }),
    );
  }

  /** A dense ping from node `from` to `toAddress` in the background (default every 10 ms). */
  pingStream(from: number, toAddress: string, opts: PingStreamOptions): PingStream {
    const child = this.lab.spawn(from, 'ping', pingStreamArgs(toAddress, opts), { stdio: ['ignore', 'pipe', 'pipe'] });
    return pingStream(child, opts);
  }

  /** SIGKILLs every process the lab started, at once: for a run being aborted (its exit hook deletes the namespaces). */
  killNow(): void {
    this.lab.killNow();
  }

  async cleanup(keepDir = false): Promise<void> {
    liveLabs.delete(this);
    await Promise.all(this.nodes.map((n) => this.stop(n.index, 'SIGTERM', 8000).catch(() => undefined)));
    // lab.cleanup() kills PIDs; an original must go as a whole group (its API process would
    // otherwise spin on), and stop() SIGKILLs the group after a bounded wait.
    await Promise.all(this.nodes.map((n) => n.original?.stop('SIGKILL', 3000).catch(() => undefined)));
    await this.lab.cleanup();
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Each node's own TLS settings, when the lab gives them (else none: the shared certificate). */
async function nodeTlsOf(opts: MeshLabOptions, lab: Lab): Promise<Array<LabNodeTls | undefined>> {
  const nodeTls = opts.nodeTls;
  if (!nodeTls) return lab.nodes.map(() => undefined);
  return Promise.all(lab.nodes.map((ln, i) => nodeTls(i, ln.address)));
}

/** The client's JSON line, then the server's, and whether their checksums agree. */
async function transferResult(client: ProcessOutput, server: ProcessOutput, timeoutMs: number): Promise<TransferResult> {
  const sentLine = await client.waitForLine(/^\{.*"sha256".*\}$/, { timeoutMs, what: 'the transfer client to finish' });
  const sent = JSON.parse(sentLine[0]) as { bytes: number; sha256: string; seconds: number; mbps: number };
  const got = JSON.parse((await server.waitForLine(/^\{.*"sha256".*\}$/, { timeoutMs: 30_000, what: 'the transfer server to finish' }))[0]) as { bytes: number; sha256: string };
  return { bytes: sent.bytes, seconds: sent.seconds, mbps: sent.mbps, intact: got.sha256 === sent.sha256 && got.bytes === sent.bytes };
}
