// The benchmark's network: two namespaces joined by one veth pair (no bridge), underlay
// 198.18.1.1/24 <-> 198.18.1.2/24 and 2001:2::1/64 <-> 2001:2::2/64, no default route; and the
// tunnels run over it, one at a time: two `tunmesh run` processes (mesh 198.19.1.x and
// 2001:2:0:100::x), two wireguard-go processes (198.19.2.x and 2001:2:0:200::x), or two nebula
// processes (198.19.3.x, IPv4 only: src/bench/nebula.ts).
import { execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetns, deleteNetns, execInNetns, killPid, run, spawnInNetns, waitFor, type ExecResult } from '../lab/netns.js';
import { labNodeConfigYaml, labNodeUrl, QUICK_TIMING } from '../lab/node-config.js';
import { fetchStatus } from '../cli/status-command.js';
import { MAIN_NODE_FLAGS } from '../node/node-flags.js';
import type { LabCredentials } from '../lab/certs.js';
import { processTree } from './proc.js';

export const UNDERLAY = ['198.18.1.1', '198.18.1.2'] as const;
const TUNMESH_MESH = ['198.19.1.1', '198.19.1.2'] as const;
const WG_MESH = ['198.19.2.1', '198.19.2.2'] as const;
export const UNDERLAY6 = ['2001:2::1', '2001:2::2'] as const;
const TUNMESH_MESH6 = ['2001:2:0:100::1', '2001:2:0:100::2'] as const;
const WG_MESH6 = ['2001:2:0:200::1', '2001:2:0:200::2'] as const;
const WG_PORT = 51820;
const TUNMESH_PORT = 4567;

export const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url)).replace(/\/src\//, '/dist/');

export type Side = 0 | 1;

export class VethPair {
  readonly ns: [string, string];
  private readonly pids = new Set<number>();
  private cleaned = false;

  private constructor(readonly prefix: string) {
    this.ns = [`${prefix}-a`, `${prefix}-b`];
  }

  static async create(prefix: string): Promise<VethPair> {
    const pair = new VethPair(prefix);
    try {
      for (const ns of pair.ns) await createNetns(ns);
      const [a, b] = pair.ns;
      await run('ip', ['-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
      for (const side of [0, 1] as const) {
        await run('ip', ['-n', pair.ns[side], 'addr', 'add', `${UNDERLAY[side]}/24`, 'dev', 'eth0']);
        await run('ip', ['-n', pair.ns[side], '-6', 'addr', 'add', `${UNDERLAY6[side]}/64`, 'dev', 'eth0', 'nodad']);
        await run('ip', ['-n', pair.ns[side], 'link', 'set', 'eth0', 'up']);
      }
    } catch (err) {
      await pair.cleanup().catch(() => undefined);
      throw err;
    }
    return pair;
  }

  track(pid: number | undefined): void {
    if (pid !== undefined) this.pids.add(pid);
  }

  spawn(side: Side, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawnInNetns(this.ns[side], cmd, args, opts);
    this.track(child.pid);
    return child;
  }

  exec(side: Side, cmd: string, args: readonly string[], timeoutMs = 10_000, check = true): Promise<ExecResult> {
    return execInNetns(this.ns[side], cmd, args, { timeoutMs, check });
  }

  /** SIGKILL every process this run started (and their descendants), synchronously. */
  killAll(): void {
    const pids = processTree([...this.pids]);
    for (const pid of pids) killPid(pid, 'SIGKILL');
  }

  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    this.killAll();
    await waitFor(() => [...this.pids].every((p) => !alive(p)), { timeoutMs: 3000, what: 'bench processes to die' }).catch(() => undefined);
    for (const ns of this.ns) await deleteNetns(ns).catch(() => undefined);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM a process, wait (bounded), then SIGKILL it and whatever it left behind. */
export async function stopProcess(pid: number, timeoutMs: number): Promise<void> {
  const tree = processTree([pid]);
  killPid(pid, 'SIGTERM');
  await waitFor(() => !alive(pid) || isZombie(pid), { timeoutMs, intervalMs: 50, what: `process ${pid} to exit` }).catch(() => undefined);
  for (const p of tree) if (alive(p)) killPid(p, 'SIGKILL');
}

function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return true;
  }
}

export interface Tunnel {
  /** Mesh address of each side. */
  addresses: readonly [string, string];
  /** IPv6 mesh address of each side; null: the tunnel carries IPv4 only (nebula). */
  addresses6: readonly [string, string] | null;
  /** The tunnel's root PIDs (their descendants count too). */
  pids(): number[];
  /** Main and worker PIDs of each side, for the memory figures. */
  memoryPids(): { side: Side; role: 'main' | 'worker'; pid: number }[];
  /** What runs, for the tables: version, workers, offloads, MTU. */
  describe(): Promise<string>;
  stop(): Promise<void>;
}

type Offload = 'auto' | 'on' | 'off';

/** Two tunmesh nodes; B bootstraps from A. Resolves when each reaches the other through the mesh. */
export async function startTunmesh(
  pair: VethPair,
  dir: string,
  creds: LabCredentials,
  /** offload: both nodes', or [node A's, node B's]. */
  opts: { fastPath: boolean; offload?: Offload | readonly [Offload, Offload]; workers: number; tag: string; timeoutMs: number; mtu?: number; firewall?: Record<string, unknown> },
): Promise<Tunnel> {
  const mains: ChildProcess[] = [];
  const sockets: string[] = [];
  const logs: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(mains.map((c) => (c.pid === undefined ? undefined : stopProcess(c.pid, 10_000))));
  };
  try {
    for (const side of [0, 1] as const) {
      const config = join(dir, `${opts.tag}-${side}.yaml`);
      const socket = join(dir, `${opts.tag}-${side}.sock`);
      const log = join(dir, `${opts.tag}-${side}.log`);
      writeFileSync(
        config,
        labNodeConfigYaml({
          index: side,
          underlayAddress: UNDERLAY[side],
          meshAddressCidr: `${TUNMESH_MESH[side]}/24`,
          networkCidr: '198.19.0.0/16',
          bootstrapUrls: side === 1 ? [labNodeUrl(UNDERLAY[0], TUNMESH_PORT)] : [],
          port: TUNMESH_PORT,
          certPath: creds.certPath,
          keyPath: creds.keyPath,
          secret: creds.secret,
          statusSocket: socket,
          device: 'tm0',
          workers: opts.workers,
          fastPath: opts.fastPath,
          logLevel: 'warn',
          timing: { ...QUICK_TIMING, groomInterval: 2, reregistration: 5, stale: 30 },
          firstNode: false,
          ...(opts.mtu ? { mtu: opts.mtu } : {}),
          ipv6: { nodeAddressCidr: `${TUNMESH_MESH6[side]}/64`, networkCidr: '2001:2:0:100::/56' },
          ...(opts.offload ? { offload: typeof opts.offload === 'string' ? opts.offload : opts.offload[side] } : {}),
          ...(opts.firewall ? { firewall: opts.firewall } : {}),
        }),
        { mode: 0o600 },
      );
      const fd = openSync(log, 'a');
      const child = pair.spawn(side, process.execPath, [...MAIN_NODE_FLAGS, CLI, 'run', '--config', config], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      mains.push(child);
      sockets.push(socket);
      logs.push(log);
    }
    const tail = (): string => logs.map((l) => (existsSync(l) ? readFileSync(l, 'utf8').slice(-800) : '')).join('\n---\n');
    await waitFor(
      async () => {
        for (const c of mains) if (c.exitCode !== null || c.signalCode !== null) throw new Error(`tunmesh exited: ${tail()}`);
        const st = await Promise.all(sockets.map((s) => fetchStatus(s)));
        return st.every((s) => s.peers.some((p) => p.state === 'up' && p.path === (opts.fastPath ? 'fast' : 'legacy')));
      },
      { timeoutMs: opts.timeoutMs, intervalMs: 200, what: `tunmesh (${opts.tag}) peers up` },
    );
    await waitFor(
      async () => {
        const r = await Promise.all(([0, 1] as const).map((s) => pair.exec(s, 'ping', ['-n', '-c', '1', '-W', '1', TUNMESH_MESH[1 - s] as string], 5000, false)));
        return r.every((x) => x.code === 0);
      },
      { timeoutMs: opts.timeoutMs, intervalMs: 200, what: `pings across tunmesh (${opts.tag})` },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const roots = (): number[] => mains.map((c) => c.pid).filter((p): p is number => p !== undefined);
  return {
    addresses: TUNMESH_MESH,
    addresses6: TUNMESH_MESH6,
    pids: roots,
    describe: () => describeTunmesh(sockets[0] as string, opts.mtu ?? 1500),
    memoryPids: () =>
      mains.flatMap((c, side) => {
        if (c.pid === undefined) return [];
        const tree = processTree([c.pid]);
        return tree.map((pid) => ({ side: side as Side, role: pid === c.pid ? ('main' as const) : ('worker' as const), pid }));
      }),
    stop,
  };
}

/** "workers 2, offloads on (csum,tso4,...; v2 frames with the peer), MTU 1500", from node A's status. */
async function describeTunmesh(socket: string, mtu: number): Promise<string> {
  const s = await fetchStatus(socket);
  const peerOffload = s.peers.some((p) => p.offload === true);
  const offloads = s.offloads && s.offloads.length > 0 ? `offloads on (${s.offloads.join(',')}${peerOffload ? '; v2 frames with the peer' : '; peer without'})` : 'offloads off';
  return `tunmesh ${s.version}, workers ${s.workers}, ${offloads}, MTU ${mtu}${s.channelPort ? `, channel port ${s.channelPort}` : ''}`;
}

/** `wireguard-go --version` -> "v0.0.20220316". */
function wireguardVersion(): string {
  try {
    return /v[0-9][^\s]*/.exec(execFileSync('wireguard-go', ['--version'], { encoding: 'utf8', timeout: 5000 }))?.[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** wg genkey / wg pubkey. */
function wgKeys(): { priv: string; pub: string } {
  const priv = execFileSync('wg', ['genkey'], { encoding: 'utf8', timeout: 5000 }).trim();
  const pub = execFileSync('wg', ['pubkey'], { encoding: 'utf8', input: priv + '\n', timeout: 5000 }).trim();
  return { priv, pub };
}

/** wireguard-go in each namespace (foreground), peers over the veth. */
export async function startWireguard(pair: VethPair, dir: string, suffix: string, timeoutMs: number): Promise<Tunnel> {
  // The UAPI socket lives in /var/run/wireguard/<ifname>.sock, shared by all namespaces: unique names.
  const ifnames = [`wg${suffix}a`, `wg${suffix}b`] as const;
  const keys = [wgKeys(), wgKeys()] as const;
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((c) => (c.pid === undefined ? undefined : stopProcess(c.pid, 5000))));
  };
  try {
    for (const side of [0, 1] as const) {
      const child = pair.spawn(side, 'wireguard-go', ['-f', ifnames[side]], { stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'error' } });
      procs.push(child);
    }
    for (const side of [0, 1] as const) {
      const ifname = ifnames[side];
      await waitFor(() => existsSync(`/var/run/wireguard/${ifname}.sock`), { timeoutMs: 10_000, what: `wireguard-go ${ifname}` });
      const keyFile = join(dir, `${ifname}.key`);
      writeFileSync(keyFile, keys[side].priv + '\n', { mode: 0o600 });
      const other = (1 - side) as Side;
      await pair.exec(side, 'wg', [
        'set', ifname, 'private-key', keyFile, 'listen-port', String(WG_PORT),
        'peer', keys[other].pub, 'endpoint', `${UNDERLAY[other]}:${WG_PORT}`, 'allowed-ips', `${WG_MESH[other]}/32,${WG_MESH6[other]}/128`,
      ]);
      await pair.exec(side, 'ip', ['addr', 'add', `${WG_MESH[side]}/24`, 'dev', ifname]);
      await pair.exec(side, 'ip', ['-6', 'addr', 'add', `${WG_MESH6[side]}/64`, 'dev', ifname, 'nodad']);
      await pair.exec(side, 'ip', ['link', 'set', ifname, 'up']);
    }
    await waitFor(
      async () => (await pair.exec(0, 'ping', ['-n', '-c', '1', '-W', '1', WG_MESH[1]], 5000, false)).code === 0,
      { timeoutMs, intervalMs: 200, what: 'pings across wireguard-go' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    addresses: WG_MESH,
    addresses6: WG_MESH6,
    pids: () => procs.map((c) => c.pid).filter((p): p is number => p !== undefined),
    memoryPids: () => procs.flatMap((c, side) => (c.pid === undefined ? [] : [{ side: side as Side, role: 'main' as const, pid: c.pid }])),
    describe: () => Promise.resolve(`wireguard-go ${wireguardVersion()}, MTU 1420`),
    stop,
  };
}
